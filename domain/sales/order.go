package sales

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// Status of an order: pending → approved → fulfilled, never backwards.
type Status string

const (
	StatusPending   Status = "pending"
	StatusApproved  Status = "approved"
	StatusFulfilled Status = "fulfilled"
)

// Valid reports whether s is one of the three statuses.
func (s Status) Valid() bool {
	return s == StatusPending || s == StatusApproved || s == StatusFulfilled
}

// Order is a sales order (DESIGN.md §4.8).
type Order struct {
	ID          string          `json:"id"`
	TenantID    domain.TenantID `json:"-"`
	Number      string          `json:"number"` // SO-000001, per tenant
	CustomerID  string          `json:"customer_id"`
	Status      Status          `json:"status"`
	Lines       []Line          `json:"lines"`
	Total       decimal.Decimal `json:"total"` // Σ line amounts
	CreatedBy   domain.UserID   `json:"created_by"`
	ApprovedBy  domain.UserID   `json:"approved_by"`
	ApprovedAt  *time.Time      `json:"approved_at"`
	FulfilledBy domain.UserID   `json:"fulfilled_by"`
	FulfilledAt *time.Time      `json:"fulfilled_at"`
	// StockOutAt is when the fulfilled order's stock went out (the
	// UpdateInventoryOnSale listener); until then the order reserves it.
	StockOutAt *time.Time `json:"stock_out_at"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// Line is one product of an order at the price agreed when it was made.
type Line struct {
	LineNo    int             `json:"line_no"` // 1-based
	ProductID string          `json:"product_id"`
	SKU       string          `json:"sku"` // the product's SKU when ordered
	Quantity  int64           `json:"quantity"`
	UnitPrice decimal.Decimal `json:"unit_price"`
	Amount    decimal.Decimal `json:"amount"` // quantity × unit price, exact
}

// Filter selects and pages orders, ordered by id (creation order).
type Filter struct {
	CustomerID string // optional
	Status     Status // optional
	After      string // exclusive cursor: an order id, "" for the start
	Limit      int
}

// EventLines converts order lines to their event form.
func EventLines(lines []Line) []EventLine {
	out := make([]EventLine, len(lines))
	for i, l := range lines {
		out[i] = EventLine{ProductID: l.ProductID, SKU: l.SKU, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Amount: l.Amount}
	}
	return out
}
