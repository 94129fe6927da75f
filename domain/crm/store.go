package crm

import (
	"context"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// Store is what the crm service needs from persistence. Every method is
// scoped by tenant: another tenant's id is domain.ErrNotFound. Inside InTx
// they run in that transaction.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	AppendEvents(ctx context.Context, events ...domain.Event) error

	// InsertCustomer fails with domain.ErrConflict when the tenant already
	// has a customer with that (non-empty) email.
	InsertCustomer(ctx context.Context, c Customer) error
	GetCustomer(ctx context.Context, tenant domain.TenantID, id string) (Customer, error)
	// LockCustomer is GetCustomer that also locks the row until the
	// transaction ends.
	LockCustomer(ctx context.Context, tenant domain.TenantID, id string) (Customer, error)
	// UpdateCustomer writes name and updated_at.
	UpdateCustomer(ctx context.Context, c Customer) error
	ListCustomers(ctx context.Context, tenant domain.TenantID, p ListParams) ([]Customer, error)

	InsertLead(ctx context.Context, l Lead) error
	GetLead(ctx context.Context, tenant domain.TenantID, id string) (Lead, error)
	// LockLead is GetLead that also locks the row until the transaction
	// ends, so two conversions of one lead cannot both see it open.
	LockLead(ctx context.Context, tenant domain.TenantID, id string) (Lead, error)
	ListLeads(ctx context.Context, tenant domain.TenantID, p ListParams) ([]Lead, error)
	// MarkLeadConverted sets an open lead converted into customerID;
	// domain.ErrNotFound when the lead is missing or no longer open.
	MarkLeadConverted(ctx context.Context, tenant domain.TenantID, leadID, customerID string, at time.Time) error

	// RecomputeCustomerStatistics recomputes the customer's statistics from
	// its orders, invoices and payments and stores them, in one
	// transaction that holds the customer's row lock while it reads, so
	// concurrent recomputations end with the figures of the later one.
	RecomputeCustomerStatistics(ctx context.Context, tenant domain.TenantID, id string) (Statistics, error)
}
