package sales

import "github.com/shopspring/decimal"

// EventLine is one order line as carried by the order events.
type EventLine struct {
	ProductID string          `json:"product_id"`
	SKU       string          `json:"sku"`
	Quantity  int64           `json:"quantity"`
	UnitPrice decimal.Decimal `json:"unit_price"`
	Amount    decimal.Decimal `json:"amount"` // quantity × unit price
}

// OrderCreated is written when a pending order is created.
type OrderCreated struct {
	OrderID    string          `json:"order_id"`
	Number     string          `json:"number"`
	CustomerID string          `json:"customer_id"`
	Lines      []EventLine     `json:"lines"`
	Total      decimal.Decimal `json:"total"`
	CreatedBy  string          `json:"created_by"`
}

func (OrderCreated) EventType() string             { return "OrderCreated" }
func (e OrderCreated) Aggregate() (string, string) { return "order", e.OrderID }

// OrderApproved is written when a pending order is approved.
type OrderApproved struct {
	OrderID    string          `json:"order_id"`
	Number     string          `json:"number"`
	CustomerID string          `json:"customer_id"`
	Total      decimal.Decimal `json:"total"`
	CreatedBy  string          `json:"created_by"`
	ApprovedBy string          `json:"approved_by"`
}

func (OrderApproved) EventType() string             { return "OrderApproved" }
func (e OrderApproved) Aggregate() (string, string) { return "order", e.OrderID }

// OrderFulfilled is written when an approved order is fulfilled; its lines
// are what UpdateInventoryOnSale takes out of stock.
type OrderFulfilled struct {
	OrderID     string          `json:"order_id"`
	Number      string          `json:"number"`
	CustomerID  string          `json:"customer_id"`
	Lines       []EventLine     `json:"lines"`
	Total       decimal.Decimal `json:"total"`
	CreatedBy   string          `json:"created_by"`
	FulfilledBy string          `json:"fulfilled_by"`
}

func (OrderFulfilled) EventType() string             { return "OrderFulfilled" }
func (e OrderFulfilled) Aggregate() (string, string) { return "order", e.OrderID }
