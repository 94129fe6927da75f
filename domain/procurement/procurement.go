package procurement

import (
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// Vendor is a supplier the tenant buys from. Names are unique per tenant.
type Vendor struct {
	ID        string          `json:"id"`
	TenantID  domain.TenantID `json:"-"`
	Name      string          `json:"name"`
	Email     string          `json:"email"`
	CreatedAt time.Time       `json:"created_at"`
}

// Status is where a purchase order is in its life.
type Status string

// Purchase order statuses: pending → approved → partially_received → received.
const (
	StatusPending           Status = "pending"
	StatusApproved          Status = "approved"
	StatusPartiallyReceived Status = "partially_received"
	StatusReceived          Status = "received"
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusApproved, StatusPartiallyReceived, StatusReceived:
		return true
	}
	return false
}

// receivable reports whether goods may be received against an order in s.
func (s Status) receivable() bool {
	return s == StatusApproved || s == StatusPartiallyReceived
}

// Line is one product ordered. LineNo counts from 1 in the order given.
type Line struct {
	LineNo           int             `json:"line_no"`
	ProductID        string          `json:"product_id"`
	Quantity         int64           `json:"quantity"`
	UnitCost         decimal.Decimal `json:"unit_cost"`
	ReceivedQuantity int64           `json:"received_quantity"`
}

// outstanding is what is still to be received on the line.
func (l Line) outstanding() int64 { return l.Quantity - l.ReceivedQuantity }

// PurchaseOrder asks a vendor for goods. Total is Σ quantity × unit cost,
// exact.
type PurchaseOrder struct {
	ID          string          `json:"id"`
	TenantID    domain.TenantID `json:"-"`
	Number      string          `json:"number"` // PO-000001, per tenant
	VendorID    string          `json:"vendor_id"`
	Status      Status          `json:"status"`
	Lines       []Line          `json:"lines"`
	Total       decimal.Decimal `json:"total"`
	RequestedBy domain.UserID   `json:"requested_by"`
	ApprovedBy  domain.UserID   `json:"approved_by"` // "" until approved
	ApprovedAt  *time.Time      `json:"approved_at"`
	ReceivedAt  *time.Time      `json:"received_at"` // when the last line was completed
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// Receipt is one delivery of goods against a purchase order. Each of its
// lines made one stock movement in.
type Receipt struct {
	ID              string          `json:"id"`
	TenantID        domain.TenantID `json:"-"`
	PurchaseOrderID string          `json:"purchase_order_id"`
	LocationID      string          `json:"location_id"`
	ReceivedBy      domain.UserID   `json:"received_by"`
	ReceivedAt      time.Time       `json:"received_at"`
	Lines           []ReceiptLine   `json:"lines"`
}

// ReceiptLine is one quantity of one purchase order line received. A
// receipt may receive a line in several batches, hence several lines with
// the same LineNo.
type ReceiptLine struct {
	LineNo      int             `json:"line_no"` // the purchase order line
	ProductID   string          `json:"product_id"`
	Quantity    int64           `json:"quantity"`
	UnitCost    decimal.Decimal `json:"unit_cost"`
	BatchNumber string          `json:"batch_number"`
	ExpiryDate  *time.Time      `json:"-"` // a date (UTC midnight)
	MovementID  string          `json:"movement_id"`
}

// receiptLineJSON is ReceiptLine as clients see it: the expiry date as
// YYYY-MM-DD.
type receiptLineJSON struct {
	LineNo      int             `json:"line_no"`
	ProductID   string          `json:"product_id"`
	Quantity    int64           `json:"quantity"`
	UnitCost    decimal.Decimal `json:"unit_cost"`
	BatchNumber string          `json:"batch_number"`
	ExpiryDate  *string         `json:"expiry_date"`
	MovementID  string          `json:"movement_id"`
}

// MarshalJSON writes expiry_date as a date, or null.
func (l ReceiptLine) MarshalJSON() ([]byte, error) {
	out := receiptLineJSON{
		LineNo: l.LineNo, ProductID: l.ProductID, Quantity: l.Quantity, UnitCost: l.UnitCost,
		BatchNumber: l.BatchNumber, MovementID: l.MovementID,
	}
	if l.ExpiryDate != nil {
		d := l.ExpiryDate.Format(dateLayout)
		out.ExpiryDate = &d
	}
	return json.Marshal(out)
}

// VendorFilter pages through vendors ordered by id (creation order).
type VendorFilter struct {
	After string // exclusive cursor: a vendor id, "" for the start
	Limit int
}

// OrderFilter pages through purchase orders ordered by id (creation order).
type OrderFilter struct {
	VendorID string // optional
	Status   Status // optional
	After    string // exclusive cursor: a purchase order id
	Limit    int
}

// ReceiptFilter pages through the receipts of one purchase order ordered
// by id (receipt order).
type ReceiptFilter struct {
	After string
	Limit int
}
