package crm

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// Customer is someone a tenant sells to (DESIGN.md §4.8).
type Customer struct {
	ID       string          `json:"id"`
	TenantID domain.TenantID `json:"-"`
	Name     string          `json:"name"`
	Email    string          `json:"email"` // lower-cased; "" when unknown
	// PaymentTermsDays is how long an invoice of this customer has until it
	// is due (default 30).
	PaymentTermsDays int        `json:"payment_terms_days"`
	Statistics       Statistics `json:"statistics"`
	LeadID           *string    `json:"lead_id"` // the lead it was converted from
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

// Statistics summarise a customer's orders, invoices and payments. They are
// recomputed from those rows (RecomputeStatistics), never incremented, so
// replaying any event leaves them right.
type Statistics struct {
	TotalOrders        int64           `json:"total_orders"`        // orders of any status
	TotalSpent         decimal.Decimal `json:"total_spent"`         // Σ payments on its invoices
	OutstandingBalance decimal.Decimal `json:"outstanding_balance"` // Σ total − paid over unpaid invoices
	LastOrderAt        *time.Time      `json:"last_order_at"`
	LastPaymentAt      *time.Time      `json:"last_payment_at"`
}

// LeadStatus is open until the lead is converted, once, into a customer.
type LeadStatus string

const (
	LeadStatusOpen      LeadStatus = "open"
	LeadStatusConverted LeadStatus = "converted"
)

// Lead is a prospective customer.
type Lead struct {
	ID          string          `json:"id"`
	TenantID    domain.TenantID `json:"-"`
	Name        string          `json:"name"`
	Email       string          `json:"email"`
	Status      LeadStatus      `json:"status"`
	CustomerID  *string         `json:"customer_id"` // set on conversion
	ConvertedAt *time.Time      `json:"converted_at"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// ListParams pages through customers or leads ordered by id (ids are
// time-ordered, so this is creation order).
type ListParams struct {
	After string // exclusive cursor: an id, "" for the start
	Limit int
	// Status filters leads ("" for all); customers ignore it.
	Status LeadStatus
}

var decimalZero = decimal.Zero
