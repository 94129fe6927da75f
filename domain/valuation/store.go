package valuation

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
)

// Store is what valuations need from persistence. Every method is scoped
// by tenant: another tenant's valuation, product or location is
// domain.ErrNotFound. Inside InTx the methods run in that transaction.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	// GetProduct returns a live product of the tenant.
	GetProduct(ctx context.Context, tenant domain.TenantID, id string) (product.Product, error)
	GetLocation(ctx context.Context, tenant domain.TenantID, id string) (inventory.Location, error)
	ListLocations(ctx context.Context, tenant domain.TenantID) ([]inventory.Location, error)

	InsertValuation(ctx context.Context, v Valuation) error
	GetValuation(ctx context.Context, tenant domain.TenantID, id string) (Valuation, error)
	// LockValuation is GetValuation that also locks the row until the
	// transaction ends, so two runs of one job take turns.
	LockValuation(ctx context.Context, tenant domain.TenantID, id string) (Valuation, error)
	// UpdateValuation writes status, progress, totals, error and the
	// started, completed and failed times.
	UpdateValuation(ctx context.Context, v Valuation) error
	// ListValuations lists the tenant's valuations newest first, before
	// the valuation id before ("" for the newest).
	ListValuations(ctx context.Context, tenant domain.TenantID, before string, limit int) ([]Valuation, error)

	// CountScopeProducts counts what ScopeProducts lists from the start.
	CountScopeProducts(ctx context.Context, tenant domain.TenantID, scope Scope) (int64, error)
	// ScopeProducts lists up to limit live products a run of the scope
	// reads, by id, after the product id after ("" for the first): the
	// one a product scope names, else every one (a location's positions
	// come out of the products' whole ledgers).
	ScopeProducts(ctx context.Context, tenant domain.TenantID, scope Scope, after string, limit int) ([]ProductRef, error)
	// ProductLedgers calls fn with every movement of the products with
	// from <= id <= to, at every location, ordered by product, then in
	// ledger order (time, then movement id). fn must not use the store.
	ProductLedgers(ctx context.Context, tenant domain.TenantID, from, to string, fn func(productID string, e Entry)) error

	// ReplaceValuationLines deletes the valuation's lines and writes
	// lines instead. Call it inside InTx.
	ReplaceValuationLines(ctx context.Context, tenant domain.TenantID, valuationID string, lines []Line) error
	// ValuationLines lists up to limit lines of the valuation with
	// LineNo > after, in LineNo order.
	ValuationLines(ctx context.Context, tenant domain.TenantID, valuationID string, after, limit int) ([]Line, error)
}

// Dispatcher queues a background job (workers/jobs.Dispatcher): inside
// InTx it joins the transaction.
type Dispatcher interface {
	Dispatch(ctx context.Context, tenant domain.TenantID, job string, payload any) (string, error)
}
