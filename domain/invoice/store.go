package invoice

import (
	"context"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// Store is what the invoice service needs from persistence. Every method is
// scoped by tenant (another tenant's ids are domain.ErrNotFound); inside
// InTx they run in that transaction.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	AppendEvents(ctx context.Context, events ...domain.Event) error
	// NextNumber returns the tenant's next value of a document counter.
	NextNumber(ctx context.Context, tenant domain.TenantID, name string) (int64, error)
	// LockOrderToInvoice locks the order row until the transaction ends
	// (serialising the invoicing of one order) and returns it with its
	// customer and lines. domain.ErrNotFound when there is no such order.
	LockOrderToInvoice(ctx context.Context, tenant domain.TenantID, orderID string) (Source, error)
	// InvoiceForOrder returns the invoice of an order, domain.ErrNotFound
	// when it has none.
	InvoiceForOrder(ctx context.Context, tenant domain.TenantID, orderID string) (Invoice, error)
	// InsertInvoice stores the invoice and its lines. domain.ErrConflict
	// when the order already has an invoice (or the number is taken).
	InsertInvoice(ctx context.Context, inv Invoice) error
	// GetInvoice returns an invoice with its lines and deliveries.
	GetInvoice(ctx context.Context, tenant domain.TenantID, id string) (Invoice, error)
	// LockInvoice is GetInvoice that also locks the invoice row until the
	// transaction ends (lines and deliveries are not loaded).
	LockInvoice(ctx context.Context, tenant domain.TenantID, id string) (Invoice, error)
	// SetInvoiceBalance writes amount_paid, status, paid_at and updated_at.
	SetInvoiceBalance(ctx context.Context, inv Invoice) error
	ListInvoices(ctx context.Context, tenant domain.TenantID, f Filter) ([]Invoice, error)
	InsertInvoicePayment(ctx context.Context, p Payment) error
	ListInvoicePayments(ctx context.Context, tenant domain.TenantID, invoiceID string, f PaymentFilter) ([]Payment, error)
	// InvoiceDelivery returns domain.ErrNotFound when nothing was recorded
	// for that invoice and channel yet.
	InvoiceDelivery(ctx context.Context, tenant domain.TenantID, invoiceID, channel string) (Delivery, error)
	// PutInvoiceDelivery inserts or replaces the delivery of (invoice,
	// channel). domain.ErrNotFound when the invoice is not the tenant's.
	PutInvoiceDelivery(ctx context.Context, d Delivery) error
}

// Money bounds: NUMERIC(20,4) holds 16 integer digits and 4 decimals.
var maxMoney = decimal.New(1, 16)
