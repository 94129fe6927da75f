package sales

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/product"
)

// Store is what the sales service needs from persistence. Every method is
// scoped by tenant: another tenant's id is domain.ErrNotFound. Inside InTx
// they run in that transaction.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	AppendEvents(ctx context.Context, events ...domain.Event) error
	// NextNumber returns the tenant's next number of the named counter;
	// call it inside InTx so a rollback gives it back.
	NextNumber(ctx context.Context, tenant domain.TenantID, name string) (int64, error)
	GetCustomer(ctx context.Context, tenant domain.TenantID, id string) (crm.Customer, error)
	// GetProduct returns a live product: domain.ErrNotFound when it is
	// missing, deleted or another tenant's.
	GetProduct(ctx context.Context, tenant domain.TenantID, id string) (product.Product, error)

	// InsertOrder stores the order and its lines.
	InsertOrder(ctx context.Context, o Order) error
	GetOrder(ctx context.Context, tenant domain.TenantID, id string) (Order, error)
	// LockOrder is GetOrder that also locks the order row until the
	// transaction ends, so two status changes cannot both pass their check.
	LockOrder(ctx context.Context, tenant domain.TenantID, id string) (Order, error)
	// UpdateOrderStatus writes status, approved_by/at, fulfilled_by/at and
	// updated_at of the order.
	UpdateOrderStatus(ctx context.Context, o Order) error
	ListOrders(ctx context.Context, tenant domain.TenantID, f Filter) ([]Order, error)
	// LockProduct returns a live product and locks its row until the
	// transaction ends (movements of it wait).
	LockProduct(ctx context.Context, tenant domain.TenantID, id string) (product.Product, error)
	// StockAwaitingShipment is, per product, what fulfilled orders have
	// yet to take out of stock.
	StockAwaitingShipment(ctx context.Context, tenant domain.TenantID, productIDs []string) (map[string]int64, error)
}
