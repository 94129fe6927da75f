package invoice

import "github.com/shopspring/decimal"

// InvoiceGenerated is written when the invoice of an order is created.
type InvoiceGenerated struct {
	InvoiceID     string          `json:"invoice_id"`
	Number        string          `json:"number"`
	OrderID       string          `json:"order_id"`
	OrderNumber   string          `json:"order_number"`
	CustomerID    string          `json:"customer_id"`
	CustomerName  string          `json:"customer_name"`
	CustomerEmail string          `json:"customer_email"`
	Total         decimal.Decimal `json:"total"`
	DueDate       string          `json:"due_date"` // YYYY-MM-DD
	// OrderCreatedBy is the user who created the order: the one told.
	OrderCreatedBy string `json:"order_created_by"`
}

func (InvoiceGenerated) EventType() string             { return "InvoiceGenerated" }
func (e InvoiceGenerated) Aggregate() (string, string) { return "invoice", e.InvoiceID }

// InvoicePaymentReceived is written for every payment; Settled is true when
// it brought the outstanding balance to zero.
type InvoicePaymentReceived struct {
	PaymentID   string          `json:"payment_id"`
	InvoiceID   string          `json:"invoice_id"`
	Number      string          `json:"number"`
	CustomerID  string          `json:"customer_id"`
	Amount      decimal.Decimal `json:"amount"`
	Method      string          `json:"method"`
	Reference   string          `json:"reference"`
	AmountPaid  decimal.Decimal `json:"amount_paid"` // after this payment
	Outstanding decimal.Decimal `json:"outstanding"` // after this payment
	Settled     bool            `json:"settled"`

	// The invoiced order and who created it (told of its payments).
	OrderID        string `json:"order_id"`
	OrderCreatedBy string `json:"order_created_by"`
}

func (InvoicePaymentReceived) EventType() string             { return "InvoicePaymentReceived" }
func (e InvoicePaymentReceived) Aggregate() (string, string) { return "invoice", e.InvoiceID }

// InvoiceOverdue is raised by the overdue detector, once per invoice and
// threshold (days past the due date).
type InvoiceOverdue struct {
	InvoiceID    string          `json:"invoice_id"`
	Number       string          `json:"number"`
	CustomerID   string          `json:"customer_id"`
	CustomerName string          `json:"customer_name"`
	Total        decimal.Decimal `json:"total"`
	Outstanding  decimal.Decimal `json:"outstanding"`
	DueDate      string          `json:"due_date"` // YYYY-MM-DD
	DaysOverdue  int             `json:"days_overdue"`
	Threshold    int             `json:"threshold"` // the threshold crossed, in days
}

func (InvoiceOverdue) EventType() string             { return "InvoiceOverdue" }
func (e InvoiceOverdue) Aggregate() (string, string) { return "invoice", e.InvoiceID }
