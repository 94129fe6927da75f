package extsync

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
)

// Key names the natural key FindByKey looks up.
type Key string

const (
	KeySKU         Key = "sku"          // a live product by SKU
	KeyEmail       Key = "email"        // a customer by (lower-cased) email
	KeyOrderNumber Key = "order_number" // the sales order an external order number became
)

// Store is what syncs need from persistence. Every method is scoped by
// tenant: another tenant's row is domain.ErrNotFound. Inside InTx the
// methods run in that transaction.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error

	// PutSyncConfig inserts or replaces the tenant's configuration.
	PutSyncConfig(ctx context.Context, c Config) error
	// GetSyncConfig: domain.ErrNotFound when the tenant has none.
	GetSyncConfig(ctx context.Context, tenant domain.TenantID) (Config, error)

	InsertSyncRun(ctx context.Context, r Run) error
	GetSyncRun(ctx context.Context, tenant domain.TenantID, id string) (Run, error)
	// LockSyncRun is GetSyncRun that also locks the row until the
	// transaction ends (call it inside InTx).
	LockSyncRun(ctx context.Context, tenant domain.TenantID, id string) (Run, error)
	// UpdateSyncRun writes the progress fields: status, endpoint,
	// next_url, counts, errors, attempts, last_error and the times.
	UpdateSyncRun(ctx context.Context, r Run) error
	// ListSyncRuns lists the tenant's runs newest first.
	ListSyncRuns(ctx context.Context, tenant domain.TenantID, p ListParams) ([]Run, error)

	// LockBreaker returns the breaker of (tenant, endpoint), creating it
	// closed when new, and locks it until the transaction ends (call it
	// inside InTx).
	LockBreaker(ctx context.Context, tenant domain.TenantID, endpoint string) (Breaker, error)
	GetBreaker(ctx context.Context, tenant domain.TenantID, endpoint string) (Breaker, error)
	SaveBreaker(ctx context.Context, b Breaker) error
	// ResetBreaker forgets the breaker of (tenant, endpoint).
	ResetBreaker(ctx context.Context, tenant domain.TenantID, endpoint string) error

	// FindByKey returns the id of the row with that natural key;
	// domain.ErrNotFound when there is none.
	FindByKey(ctx context.Context, tenant domain.TenantID, key Key, value string) (string, error)
	// InsertOrderRef records that an external order number became orderID;
	// domain.ErrConflict when the number is already known.
	InsertOrderRef(ctx context.Context, tenant domain.TenantID, number, orderID string) error

	// For setting stock levels: the product row lock serialises this with
	// every other movement of the product.
	LockProduct(ctx context.Context, tenant domain.TenantID, id string) (product.Product, error)
	DefaultLocation(ctx context.Context, tenant domain.TenantID) (inventory.Location, error)
	StockLevel(ctx context.Context, tenant domain.TenantID, productID, locationID string) (int64, error)
}
