package product

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
)

// Store is what the product service needs from persistence. Every method is
// scoped by tenant. Inside InTx the methods run in that transaction (carried
// by ctx); a nested InTx joins the outer one.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	// AppendEvents writes events to the outbox; call it inside InTx.
	AppendEvents(ctx context.Context, events ...domain.Event) error
	// InsertProduct fails with domain.ErrConflict when the tenant already
	// has a live product with that SKU.
	InsertProduct(ctx context.Context, p Product) error
	// GetProduct returns domain.ErrNotFound for a missing, deleted or
	// foreign product.
	GetProduct(ctx context.Context, tenant domain.TenantID, id string) (Product, error)
	// LockProduct is GetProduct that also locks the row until the
	// transaction ends (SELECT ... FOR UPDATE; SQLite serialises writers).
	LockProduct(ctx context.Context, tenant domain.TenantID, id string) (Product, error)
	// UpdateProduct writes sku, name, price, reorder_level, updated_at.
	// domain.ErrConflict on a duplicate SKU.
	UpdateProduct(ctx context.Context, p Product) error
	// SetProductStock writes the total on hand and the low-stock flag.
	SetProductStock(ctx context.Context, tenant domain.TenantID, productID string, onHand int64, lowStock bool) error
	// DeleteProduct soft-deletes; the ledger keeps referring to it.
	DeleteProduct(ctx context.Context, tenant domain.TenantID, id string) error
	ListProducts(ctx context.Context, tenant domain.TenantID, p ListParams) ([]Product, error)
}
