package procurement

import "github.com/shopspring/decimal"

// PurchaseOrderApproved is written when a pending purchase order is approved.
type PurchaseOrderApproved struct {
	PurchaseOrderID string          `json:"purchase_order_id"`
	Number          string          `json:"number"`
	VendorID        string          `json:"vendor_id"`
	VendorName      string          `json:"vendor_name"`
	Total           decimal.Decimal `json:"total"`
	RequestedBy     string          `json:"requested_by"`
	ApprovedBy      string          `json:"approved_by"`
}

func (PurchaseOrderApproved) EventType() string { return "PurchaseOrderApproved" }
func (e PurchaseOrderApproved) Aggregate() (string, string) {
	return "purchase_order", e.PurchaseOrderID
}

// ReceivedLine is one product received, with the stock movement it made.
type ReceivedLine struct {
	LineNo      int             `json:"line_no"` // the purchase order line
	ProductID   string          `json:"product_id"`
	Quantity    int64           `json:"quantity"`
	UnitCost    decimal.Decimal `json:"unit_cost"`
	BatchNumber string          `json:"batch_number,omitempty"`
	ExpiryDate  string          `json:"expiry_date,omitempty"` // YYYY-MM-DD
	MovementID  string          `json:"movement_id"`
}

// GoodsReceived is written for every receipt against a purchase order.
type GoodsReceived struct {
	ReceiptID       string         `json:"receipt_id"`
	PurchaseOrderID string         `json:"purchase_order_id"`
	Number          string         `json:"number"`
	VendorID        string         `json:"vendor_id"`
	LocationID      string         `json:"location_id"`
	Lines           []ReceivedLine `json:"lines"`
	FullyReceived   bool           `json:"fully_received"`
}

func (GoodsReceived) EventType() string             { return "GoodsReceived" }
func (e GoodsReceived) Aggregate() (string, string) { return "purchase_order", e.PurchaseOrderID }
