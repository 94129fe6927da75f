package bulkimport

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
)

// Store keeps import records and their bookkeeping. Every method is scoped
// by tenant: another tenant's import is domain.ErrNotFound. Inside InTx
// the methods run in that transaction (a nested InTx joins it).
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	// InsertImport fails with domain.ErrConflict when the id is taken.
	InsertImport(ctx context.Context, im Import) error
	GetImport(ctx context.Context, tenant domain.TenantID, id string) (Import, error)
	// LockImport is GetImport that also locks the row until the
	// transaction ends, so two runs of one import take turns.
	LockImport(ctx context.Context, tenant domain.TenantID, id string) (Import, error)
	// UpdateImport writes the progress fields: status, counted, total,
	// imported, failed, skipped, errors, resume_row, resume_offset,
	// last_error, started_at, completed_at, failed_at.
	UpdateImport(ctx context.Context, im Import) error
	// ListImports lists the tenant's imports, newest first.
	ListImports(ctx context.Context, tenant domain.TenantID, p ListParams) ([]Import, error)

	// ClaimImportKeys records the natural keys of rows of an import, in
	// the order given, and returns those already recorded (by an earlier
	// row, of this call or a previous one) with the row that has them. A
	// key the same row claimed before is not returned.
	ClaimImportKeys(ctx context.Context, tenant domain.TenantID, importID string, keys []RowKey) (map[string]int64, error)
	// DeleteImportKeys forgets an import's keys (once it is complete).
	DeleteImportKeys(ctx context.Context, tenant domain.TenantID, importID string) error
	// ImportedStockRows reports which rows of the file with that SHA-256
	// already made a stock movement (in any import of the tenant).
	ImportedStockRows(ctx context.Context, tenant domain.TenantID, sha256 string, rows []int64) (map[int64]bool, error)
	// InsertImportedStockRow records the movement a row made;
	// domain.ErrConflict when the row already made one.
	InsertImportedStockRow(ctx context.Context, r StockRow) error

	// GetUser returns domain.ErrNotFound for a user the tenant does not
	// know (who is then not notified).
	GetUser(ctx context.Context, tenant domain.TenantID, id domain.UserID) (domain.User, error)
}

// RowKey is the natural key of a row.
type RowKey struct {
	Key string
	Row int64
}

// StockRow is the stock movement one row of a file made.
type StockRow struct {
	TenantID   domain.TenantID
	FileSHA256 string
	Row        int64
	ImportID   string
	MovementID string
}

// Catalog finds the rows an import upserts by their natural keys, writes
// a batch of products at once (see applyProducts), and updates customers
// and vendors (which have no update command of their own). Lookups are
// scoped by tenant and return only the keys found.
type Catalog interface {
	// ImportProductsBySKU: live products only.
	ImportProductsBySKU(ctx context.Context, tenant domain.TenantID, skus []string) (map[string]product.Product, error)
	// LockImportProductsBySKU is ImportProductsBySKU that locks the rows
	// found until the transaction ends.
	LockImportProductsBySKU(ctx context.Context, tenant domain.TenantID, skus []string) (map[string]product.Product, error)
	// InsertImportedProducts stores new products (product.Store's
	// InsertProduct, several at once): domain.ErrConflict when a SKU is
	// taken.
	InsertImportedProducts(ctx context.Context, ps []product.Product) error
	// UpdateImportedProducts writes the name, price, reorder level,
	// low-stock flag and updated_at of the tenant's live products.
	UpdateImportedProducts(ctx context.Context, tenant domain.TenantID, ps []product.Product) error
	// AppendEvents writes events to the outbox, in order.
	AppendEvents(ctx context.Context, events ...domain.Event) error
	// ImportCustomersByEmail: emails lower-cased, as stored.
	ImportCustomersByEmail(ctx context.Context, tenant domain.TenantID, emails []string) (map[string]crm.Customer, error)
	ImportVendorsByName(ctx context.Context, tenant domain.TenantID, names []string) (map[string]procurement.Vendor, error)
	// UpdateImportedCustomer writes a customer's name and payment terms.
	UpdateImportedCustomer(ctx context.Context, c crm.Customer) error
	// UpdateImportedVendor writes a vendor's email.
	UpdateImportedVendor(ctx context.Context, v procurement.Vendor) error
	ListLocations(ctx context.Context, tenant domain.TenantID) ([]inventory.Location, error)
}

// Commands are the domain services rows are imported through; they must
// run on the same store as Store, so their writes join the batch's
// transaction.
type Commands struct {
	Products  ProductCommands
	Customers CustomerCommands
	Vendors   VendorCommands
	Stock     StockCommands
}

// ProductCommands creates and updates products (*product.Service): the
// path of a batch that one refused row makes go row by row.
type ProductCommands interface {
	Create(ctx context.Context, actor domain.Actor, in product.CreateInput) (product.Product, error)
	Update(ctx context.Context, actor domain.Actor, id string, in product.UpdateInput) (product.Product, error)
}

// CustomerCommands creates customers (*crm.Service).
type CustomerCommands interface {
	CreateCustomer(ctx context.Context, actor domain.Actor, in crm.CustomerInput) (crm.Customer, error)
}

// VendorCommands creates vendors (*procurement.Service).
type VendorCommands interface {
	CreateVendor(ctx context.Context, actor domain.Actor, in procurement.VendorInput) (procurement.Vendor, error)
}

// StockCommands records stock movements (*inventory.Service).
type StockCommands interface {
	Record(ctx context.Context, actor domain.Actor, in inventory.RecordInput) (inventory.Movement, error)
}

// Notifier tells the importing user how an import ended
// (*notification.Service); inside InTx it joins the transaction.
type Notifier interface {
	SendToUsers(ctx context.Context, tenant domain.TenantID, users []domain.UserID, d notification.Draft) ([]domain.Notification, error)
}

// Dispatcher queues a background job (workers/jobs.Dispatcher): inside
// InTx it joins the transaction.
type Dispatcher interface {
	Dispatch(ctx context.Context, tenant domain.TenantID, job string, payload any) (string, error)
}
