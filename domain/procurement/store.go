package procurement

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
)

// Store is what the procurement service needs from persistence. Every
// method is scoped by tenant (a foreign id is domain.ErrNotFound); inside
// InTx they run in that transaction.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	AppendEvents(ctx context.Context, events ...domain.Event) error
	// NextNumber returns the tenant's next value of counter name.
	NextNumber(ctx context.Context, tenant domain.TenantID, name string) (int64, error)

	// InsertVendor fails with domain.ErrConflict on a duplicate name.
	InsertVendor(ctx context.Context, v Vendor) error
	GetVendor(ctx context.Context, tenant domain.TenantID, id string) (Vendor, error)
	ListVendors(ctx context.Context, tenant domain.TenantID, f VendorFilter) ([]Vendor, error)

	// GetProduct returns a live (not deleted) product.
	GetProduct(ctx context.Context, tenant domain.TenantID, id string) (product.Product, error)
	DefaultLocation(ctx context.Context, tenant domain.TenantID) (inventory.Location, error)
	GetLocation(ctx context.Context, tenant domain.TenantID, id string) (inventory.Location, error)

	// InsertPurchaseOrder stores the order with its lines.
	InsertPurchaseOrder(ctx context.Context, po PurchaseOrder) error
	GetPurchaseOrder(ctx context.Context, tenant domain.TenantID, id string) (PurchaseOrder, error)
	// LockPurchaseOrder is GetPurchaseOrder that also locks the order until
	// the transaction ends: every change of an order locks it first, so
	// approvals and receipts of one order never interleave.
	LockPurchaseOrder(ctx context.Context, tenant domain.TenantID, id string) (PurchaseOrder, error)
	ListPurchaseOrders(ctx context.Context, tenant domain.TenantID, f OrderFilter) ([]PurchaseOrder, error)
	// UpdatePurchaseOrder writes status, approved_by, approved_at,
	// received_at, updated_at and each line's received quantity.
	UpdatePurchaseOrder(ctx context.Context, po PurchaseOrder) error

	// InsertReceipt stores the receipt with its lines; their movements
	// must already be in the ledger.
	InsertReceipt(ctx context.Context, r Receipt) error
	// ListReceipts lists the receipts of one purchase order (which the
	// caller has checked exists), with their lines.
	ListReceipts(ctx context.Context, tenant domain.TenantID, orderID string, f ReceiptFilter) ([]Receipt, error)
}

// StockRecorder records stock movements (*inventory.Service). Called inside
// the receipt's transaction, it joins it: the movements and their events
// commit or roll back with the receipt.
type StockRecorder interface {
	Record(ctx context.Context, actor domain.Actor, in inventory.RecordInput) (inventory.Movement, error)
}
