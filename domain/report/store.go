package report

import (
	"context"
	"io"
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// Store is what reports need from persistence: their own rows, the
// requester's user, and read access to the tenant's ERP rows (Source).
// Every method is scoped by tenant: another tenant's report id is
// domain.ErrNotFound.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	InsertReport(ctx context.Context, r Report) error
	GetReport(ctx context.Context, tenant domain.TenantID, id string) (Report, error)
	// LockReport is GetReport that also locks the row until the
	// transaction ends, so two runs of one job take turns.
	LockReport(ctx context.Context, tenant domain.TenantID, id string) (Report, error)
	// UpdateReport writes status, file, error, generated_at and failed_at.
	UpdateReport(ctx context.Context, r Report) error
	// ListReports lists the tenant's reports newest first (by id).
	ListReports(ctx context.Context, tenant domain.TenantID, p ListParams) ([]Report, error)
	// GetUser returns domain.ErrNotFound for a user the tenant does not know.
	GetUser(ctx context.Context, tenant domain.TenantID, id domain.UserID) (domain.User, error)
	Source
}

// Source reads the tenant's rows a report is computed from. The Each*
// methods call fn once per row, in the order documented, and stop at fn's
// first error, returning it; fn must not call the store (the rows hold the
// connection). Instants are UTC; a zero Window.Start means "since the
// beginning".
type Source interface {
	// ReadSnapshot runs fn in a read-only transaction that sees one
	// consistent snapshot of the database (repeatable read), so a report's
	// figures agree with each other while writers carry on.
	ReadSnapshot(ctx context.Context, fn func(ctx context.Context) error) error

	// EachOrder: orders created in w, by created_at then id.
	EachOrder(ctx context.Context, tenant domain.TenantID, w Window, fn func(OrderRow) error) error
	// EachOrderLine: the lines of the orders created in w, with their
	// product's name, by order then line number.
	EachOrderLine(ctx context.Context, tenant domain.TenantID, w Window, fn func(OrderLineRow) error) error
	// EachProductStock: products that existed at w.End (created before it,
	// not deleted by then), with their on hand at w.End (the ledger's sum)
	// and their movements in w, by SKU then id.
	EachProductStock(ctx context.Context, tenant domain.TenantID, w Window, fn func(ProductStockRow) error) error
	// EachBatch: batches holding stock now whose expiry date is on or
	// before expiringBy, by expiry date, SKU, location code, batch number.
	EachBatch(ctx context.Context, tenant domain.TenantID, expiringBy time.Time, fn func(BatchRow) error) error
	// EachInvoice: invoices created in w, with their customer, by
	// created_at then id.
	EachInvoice(ctx context.Context, tenant domain.TenantID, w Window, fn func(InvoiceRow) error) error
	// EachPayment: payments received in w, with their invoice's customer,
	// by received_at then id.
	EachPayment(ctx context.Context, tenant domain.TenantID, w Window, fn func(PaymentRow) error) error
	// EachCustomer: customers created before end, by id.
	EachCustomer(ctx context.Context, tenant domain.TenantID, end time.Time, fn func(CustomerRow) error) error
	// EachPurchaseOrder: purchase orders created in w, with their vendor,
	// by created_at then id.
	EachPurchaseOrder(ctx context.Context, tenant domain.TenantID, w Window, fn func(PurchaseOrderRow) error) error
	// EachPurchaseOrderLine: the lines of the purchase orders created in
	// w, with their product and the quantity received by w.End (goods
	// receipts before it), by purchase order then line number.
	EachPurchaseOrderLine(ctx context.Context, tenant domain.TenantID, w Window, fn func(PurchaseOrderLineRow) error) error
}

// OrderRow is a sales order as a report reads it.
type OrderRow struct {
	ID          string
	Number      string
	CustomerID  string
	Total       decimal.Decimal
	CreatedAt   time.Time
	ApprovedAt  *time.Time
	FulfilledAt *time.Time
}

// OrderLineRow is one line of a sales order.
type OrderLineRow struct {
	OrderID     string
	ProductID   string
	SKU         string // as ordered
	ProductName string
	Quantity    int64
	Amount      decimal.Decimal
}

// ProductStockRow is a product's stock position for a window.
type ProductStockRow struct {
	ProductID    string
	SKU          string
	Name         string
	ReorderLevel int64
	OnHand       int64 // Σ movements before Window.End
	MovementsIn  int64 // movements in the window with quantity > 0
	MovementsOut int64 // ... with quantity < 0
	UnitsIn      int64 // Σ their quantities
	UnitsOut     int64 // Σ |their quantities|
}

// BatchRow is a batch of stock with an expiry date.
type BatchRow struct {
	ProductID    string
	SKU          string
	ProductName  string
	LocationID   string
	LocationCode string
	BatchNumber  string
	ExpiryDate   time.Time // a date (UTC midnight)
	Quantity     int64
}

// InvoiceRow is an invoice with its customer.
type InvoiceRow struct {
	ID           string
	Number       string
	CustomerID   string
	CustomerName string
	Total        decimal.Decimal
	DueDate      time.Time // a date (UTC midnight)
	CreatedAt    time.Time
}

// PaymentRow is a payment with its invoice's customer.
type PaymentRow struct {
	ID         string
	InvoiceID  string
	CustomerID string
	Amount     decimal.Decimal
	ReceivedAt time.Time
}

// CustomerRow is a customer.
type CustomerRow struct {
	ID        string
	Name      string
	Email     string
	CreatedAt time.Time
}

// PurchaseOrderRow is a purchase order with its vendor.
type PurchaseOrderRow struct {
	ID         string
	Number     string
	VendorID   string
	VendorName string
	Total      decimal.Decimal
	CreatedAt  time.Time
	ApprovedAt *time.Time
}

// PurchaseOrderLineRow is one purchase order line and how much of it was
// received by the end of the window.
type PurchaseOrderLineRow struct {
	PurchaseOrderID  string
	LineNo           int
	ProductID        string
	SKU              string
	ProductName      string
	Quantity         int64
	UnitCost         decimal.Decimal
	ReceivedQuantity int64
}

// Files keeps report documents. Paths are derived from the tenant and
// the report id only, so no tenant's file can land in, or be read from,
// another tenant's folder.
type Files interface {
	// Write writes the document produced by write as the file of report
	// id of tenant, atomically (a temporary file renamed over the old
	// one), and returns its path relative to the storage root. Writing
	// again replaces the file.
	Write(ctx context.Context, tenant domain.TenantID, id string, write func(w io.Writer) error) (string, error)
	// Open opens that file; domain.ErrNotFound when it does not exist.
	Open(ctx context.Context, tenant domain.TenantID, id string) (io.ReadSeekCloser, time.Time, error)
}

// Notifier sends notifications (*notification.Service). Inside InTx it
// joins the transaction.
type Notifier interface {
	SendToUsers(ctx context.Context, tenant domain.TenantID, users []domain.UserID, d notification.Draft) ([]domain.Notification, error)
}

// Dispatcher queues a background job (workers/jobs.Dispatcher): inside
// InTx it joins the transaction.
type Dispatcher interface {
	Dispatch(ctx context.Context, tenant domain.TenantID, job string, payload any) (string, error)
}
