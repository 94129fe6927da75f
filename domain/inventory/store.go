package inventory

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/product"
)

// Store is what the inventory service needs from persistence. Every method
// is scoped by tenant; inside InTx they run in that transaction.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	AppendEvents(ctx context.Context, events ...domain.Event) error
	LockProduct(ctx context.Context, tenant domain.TenantID, id string) (product.Product, error)
	// LockProductAt is LockProduct that also reads the tenant's location
	// locationID ("" = the default one) in the same round trip; the zero
	// Location when the tenant has no such location (yet).
	LockProductAt(ctx context.Context, tenant domain.TenantID, productID, locationID string) (product.Product, Location, error)
	// MoveStockLevel adds delta to the on hand of one product at one
	// location and returns the new on hand; applied is false (nothing
	// changed) when that would go below zero. For delta < 0, batched says
	// whether the product has batches holding stock there.
	MoveStockLevel(ctx context.Context, tenant domain.TenantID, productID, locationID string, delta int64) (after int64, batched, applied bool, err error)
	// DefaultLocation returns the tenant's "main" location, creating it on
	// first use (concurrent callers get the same one).
	DefaultLocation(ctx context.Context, tenant domain.TenantID) (Location, error)
	GetLocation(ctx context.Context, tenant domain.TenantID, id string) (Location, error)
	ListLocations(ctx context.Context, tenant domain.TenantID) ([]Location, error)
	// InsertLocation fails with domain.ErrConflict on a duplicate code.
	InsertLocation(ctx context.Context, l Location) error
	// StockLevel is the on hand of one product at one location (0 if none).
	StockLevel(ctx context.Context, tenant domain.TenantID, productID, locationID string) (int64, error)
	// SetProductStock writes the product's total on hand and low-stock flag.
	SetProductStock(ctx context.Context, tenant domain.TenantID, productID string, onHand int64, lowStock bool) error
	InsertMovement(ctx context.Context, m Movement) error
	// WriteMovement is InsertMovement, SetProductStock (of m's product)
	// and AppendEvents together, in one round trip where the backend
	// allows: what Record writes once the level has moved.
	WriteMovement(ctx context.Context, m Movement, onHand int64, lowStock bool, events ...domain.Event) error
	ListMovements(ctx context.Context, tenant domain.TenantID, f MovementFilter) ([]Movement, error)
	// GetProduct returns a live product of the tenant (domain.ErrNotFound
	// otherwise).
	GetProduct(ctx context.Context, tenant domain.TenantID, id string) (product.Product, error)

	// AddToBatch adds b.Quantity (> 0) to the batch with b's key, creating
	// it at that quantity when new.
	AddToBatch(ctx context.Context, b Batch) error
	// StockBatches returns the batches of one product at one location that
	// hold stock (quantity > 0), first expiry first.
	StockBatches(ctx context.Context, tenant domain.TenantID, productID, locationID string) ([]Batch, error)
	// SetBatchQuantity writes the quantity (>= 0) of an existing batch.
	SetBatchQuantity(ctx context.Context, key BatchKey, quantity int64) error
	// ListBatches returns the product's batches that hold stock, at every
	// location, first expiry first, with their location codes.
	ListBatches(ctx context.Context, tenant domain.TenantID, productID string) ([]Batch, error)
}
