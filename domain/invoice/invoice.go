package invoice

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// Invoice statuses (DESIGN.md §4.8). Overdue is set by the overdue
// detector; a payment is accepted on open and overdue invoices, and the one
// that settles the balance makes the invoice paid.
const (
	StatusOpen    = "open"
	StatusPaid    = "paid"
	StatusOverdue = "overdue"
)

// Delivery channels and statuses (table invoice_deliveries).
const (
	ChannelEmail = "email"

	DeliveryPending = "pending"
	DeliverySent    = "sent"
	DeliveryFailed  = "failed"
	DeliverySkipped = "skipped"
)

// Payment methods accepted by RecordPayment.
var Methods = []string{"bank_transfer", "card", "cash", "check", "other"}

// Invoice is what a customer owes for one order. Money is exact decimal,
// JSON encoded as a string; Outstanding is Total − AmountPaid.
type Invoice struct {
	ID           string          `json:"id"`
	TenantID     domain.TenantID `json:"-"`
	Number       string          `json:"number"` // INV-000001, per tenant
	OrderID      string          `json:"order_id"`
	OrderNumber  string          `json:"order_number"`
	CustomerID   string          `json:"customer_id"`
	CustomerName string          `json:"customer_name"`
	Status       string          `json:"status"`
	Total        decimal.Decimal `json:"total"`
	AmountPaid   decimal.Decimal `json:"amount_paid"`
	Outstanding  decimal.Decimal `json:"outstanding"`
	DueDate      string          `json:"due_date"` // YYYY-MM-DD
	Lines        []Line          `json:"lines"`
	// Deliveries tell how the invoice reached the customer, per channel.
	Deliveries []Delivery `json:"deliveries"`
	PaidAt     *time.Time `json:"paid_at"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	// OrderCreatedBy is the user who created the order: the one told
	// about the invoice and its payments. Internal.
	OrderCreatedBy domain.UserID `json:"-"`
}

// settle recomputes Outstanding from Total and AmountPaid.
func (inv *Invoice) settle() { inv.Outstanding = inv.Total.Sub(inv.AmountPaid) }

// Line is one invoice line, copied from the order line of the same number.
type Line struct {
	LineNo      int             `json:"line_no"`
	ProductID   string          `json:"product_id"`
	Description string          `json:"description"`
	Quantity    int64           `json:"quantity"`
	UnitPrice   decimal.Decimal `json:"unit_price"`
	Amount      decimal.Decimal `json:"amount"` // quantity × unit price
}

// Payment is money received against an invoice.
type Payment struct {
	ID         string          `json:"id"`
	TenantID   domain.TenantID `json:"-"`
	InvoiceID  string          `json:"invoice_id"`
	Amount     decimal.Decimal `json:"amount"`
	Method     string          `json:"method"`
	Reference  string          `json:"reference"`
	ActorID    domain.UserID   `json:"actor_id"`
	ReceivedAt time.Time       `json:"received_at"`
}

// Delivery is the state of sending an invoice over one channel.
type Delivery struct {
	TenantID  domain.TenantID `json:"-"`
	InvoiceID string          `json:"-"`
	Channel   string          `json:"channel"`
	Recipient string          `json:"recipient"`
	Status    string          `json:"status"` // pending, sent, failed, skipped
	Attempts  int             `json:"attempts"`
	Error     string          `json:"error"` // the last failure, or why it was skipped
	MessageID string          `json:"message_id"`
	SentAt    *time.Time      `json:"sent_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// Source is an order as read to invoice it: the order, its customer and its
// lines. The sales module owns these rows; invoicing only reads them.
type Source struct {
	OrderID          string
	OrderNumber      string
	Status           string // pending, approved, fulfilled
	CustomerID       string
	CustomerName     string
	CustomerEmail    string
	PaymentTermsDays int
	CreatedBy        domain.UserID
	Lines            []SourceLine
}

// SourceLine is one order line with its product's name.
type SourceLine struct {
	LineNo      int
	ProductID   string
	SKU         string
	ProductName string
	Quantity    int64
	UnitPrice   decimal.Decimal
}

// Filter selects and pages invoices, ordered by id (creation order).
type Filter struct {
	OrderID    string // optional
	CustomerID string // optional
	Status     string // optional: open, paid or overdue
	After      string // exclusive cursor: an invoice id, "" for the start
	Limit      int
}

// PaymentFilter pages through the payments of one invoice, oldest first.
type PaymentFilter struct {
	After string // exclusive cursor: a payment id, "" for the start
	Limit int
}
