package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/valuation"
	"github.com/notifyhub/notifyhub/hub"
	"github.com/notifyhub/notifyhub/web/auth"
)

// Config configures the web layer. The zero value of every optional field
// gets the default documented on it in New.
type Config struct {
	// Secret is the HS256 key tokens are verified (and demo tokens signed)
	// with; at least auth.MinSecretLen bytes. Required.
	Secret []byte
	// DemoTenant enables the demo sign-in: GET /login lists this tenant's
	// users and POST /login/demo signs in as one of them. Empty (the
	// default) disables both; only set it in demo mode.
	DemoTenant domain.TenantID
	// SecureCookie marks the session cookie Secure (HTTPS only). Default
	// false, for plain-HTTP local runs; set it behind TLS.
	SecureCookie bool
	// Logger receives the access log and server errors. Default: discard.
	Logger *slog.Logger
	// Registerer receives the HTTP metrics (notifyhub_http_*). Default: none.
	Registerer prometheus.Registerer
	// Metrics is served at GET /metrics. Default: /metrics answers 404.
	Metrics http.Handler
	// Ready reports whether the store and stream are reachable, for
	// GET /readyz. Default: always ready.
	Ready func(ctx context.Context) error
	// Now is the clock for token expiry and relative times. Default time.Now.
	Now func() time.Time
	// MaxBodyBytes bounds every request body. Default 1 MiB.
	MaxBodyBytes int64
	// UserCacheSize bounds how many (tenant, user) claim fingerprints are
	// remembered to skip the user upsert. Default 10000.
	UserCacheSize int
	// DemoTokenTTL is the lifetime of a demo sign-in. Default 12h.
	DemoTokenTTL time.Duration
}

// Defaults.
const (
	DefaultMaxBodyBytes  = 1 << 20
	DefaultUserCacheSize = 10_000
	DefaultDemoTokenTTL  = 12 * time.Hour
)

// Validate reports the first problem of c, after defaults.
func (c Config) Validate() error {
	if err := auth.CheckSecret(c.Secret); err != nil {
		return fmt.Errorf("web: Secret: %w", err)
	}
	if c.DemoTenant != "" && !domain.ValidExternalID(string(c.DemoTenant)) {
		return fmt.Errorf("web: DemoTenant %q is not a valid tenant id", c.DemoTenant)
	}
	if c.MaxBodyBytes < 0 {
		return errors.New("web: MaxBodyBytes must not be negative")
	}
	if c.UserCacheSize < 0 {
		return errors.New("web: UserCacheSize must not be negative")
	}
	if c.DemoTokenTTL < 0 {
		return errors.New("web: DemoTokenTTL must not be negative")
	}
	return nil
}

func (c *Config) applyDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.UserCacheSize == 0 {
		c.UserCacheSize = DefaultUserCacheSize
	}
	if c.DemoTokenTTL == 0 {
		c.DemoTokenTTL = DefaultDemoTokenTTL
	}
}

// Deps are the services behind the routes. All are required.
type Deps struct {
	Products      ProductService
	Inventory     InventoryService
	Procurement   ProcurementService
	Notifications NotificationService
	Users         UserStore
	Events        EventStore
	Hub           SocketServer
	CRM           CRMService
	Sales         SalesService
	Invoices      InvoiceService
	Bulk          BulkNotificationService
	FailedJobs    FailedJobService
	Syncs         SyncService
	Reports       ReportService
	Valuations    ValuationService
	Imports       ImportService
}

func (d Deps) validate() error {
	switch {
	case d.Products == nil:
		return errors.New("web: Deps.Products is required")
	case d.Inventory == nil:
		return errors.New("web: Deps.Inventory is required")
	case d.Procurement == nil:
		return errors.New("web: Deps.Procurement is required")
	case d.Notifications == nil:
		return errors.New("web: Deps.Notifications is required")
	case d.Users == nil:
		return errors.New("web: Deps.Users is required")
	case d.Events == nil:
		return errors.New("web: Deps.Events is required")
	case d.Hub == nil:
		return errors.New("web: Deps.Hub is required")
	case d.CRM == nil:
		return errors.New("web: Deps.CRM is required")
	case d.Sales == nil:
		return errors.New("web: Deps.Sales is required")
	case d.Invoices == nil:
		return errors.New("web: Deps.Invoices is required")
	case d.Bulk == nil:
		return errors.New("web: Deps.Bulk is required")
	case d.FailedJobs == nil:
		return errors.New("web: Deps.FailedJobs is required")
	case d.Syncs == nil:
		return errors.New("web: Deps.Syncs is required")
	case d.Reports == nil:
		return errors.New("web: Deps.Reports is required")
	case d.Valuations == nil:
		return errors.New("web: Deps.Valuations is required")
	case d.Imports == nil:
		return errors.New("web: Deps.Imports is required")
	}
	return nil
}

// ProductService runs the product commands (*product.Service). It checks
// the actor's permission and validates input itself.
type ProductService interface {
	Create(ctx context.Context, actor domain.Actor, in product.CreateInput) (product.Product, error)
	Update(ctx context.Context, actor domain.Actor, id string, in product.UpdateInput) (product.Product, error)
	Delete(ctx context.Context, actor domain.Actor, id string) error
	// Get: domain.ErrNotFound for a missing, deleted or foreign product.
	Get(ctx context.Context, tenant domain.TenantID, id string) (product.Product, error)
	List(ctx context.Context, tenant domain.TenantID, p product.ListParams) ([]product.Product, error)
}

// InventoryService runs the stock ledger (*inventory.Service).
type InventoryService interface {
	Record(ctx context.Context, actor domain.Actor, in inventory.RecordInput) (inventory.Movement, error)
	ListMovements(ctx context.Context, tenant domain.TenantID, f inventory.MovementFilter) ([]inventory.Movement, error)
	ListLocations(ctx context.Context, tenant domain.TenantID) ([]inventory.Location, error)
	CreateLocation(ctx context.Context, actor domain.Actor, in inventory.LocationInput) (inventory.Location, error)
	ListBatches(ctx context.Context, tenant domain.TenantID, productID string) ([]inventory.Batch, error)
}

// NotificationService serves one user's inbox (*notification.Service).
// Every method is scoped by tenant and user: another user's notification id
// is domain.ErrNotFound. Marking pushes the change to every open tab.
type NotificationService interface {
	List(ctx context.Context, tenant domain.TenantID, user domain.UserID, p notification.ListParams) (notification.Page, error)
	UnreadCount(ctx context.Context, tenant domain.TenantID, user domain.UserID) (int, error)
	MarkRead(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string) error
	MarkUnread(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string) error
	MarkAllRead(ctx context.Context, tenant domain.TenantID, user domain.UserID) error
}

// UserStore keeps the users known from their tokens' claims.
type UserStore interface {
	// UpsertUser inserts or replaces the user (tenant, id).
	UpsertUser(ctx context.Context, u domain.User) error
	// GetUser returns domain.ErrNotFound for an unknown user.
	GetUser(ctx context.Context, tenant domain.TenantID, id domain.UserID) (domain.User, error)
	// ListUsers lists the tenant's users ordered by id.
	ListUsers(ctx context.Context, tenant domain.TenantID) ([]domain.User, error)
}

// EventStore reads a tenant's event log (the outbox). Both methods order
// events by their position in the log (the order they were appended in).
type EventStore interface {
	// ListEvents returns up to limit events of the tenant, oldest first,
	// after the given id ("" for the start), of eventType ("" for all);
	// domain.ErrNotFound when after is not one of the tenant's events.
	ListEvents(ctx context.Context, tenant domain.TenantID, eventType, after string, limit int) ([]domain.Event, error)
	// LatestEvents returns the tenant's newest limit events, newest first,
	// without reading the rest of the log.
	LatestEvents(ctx context.Context, tenant domain.TenantID, limit int) ([]domain.Event, error)
}

// SocketServer upgrades an authenticated request to the notification
// WebSocket (*hub.Hub). Errors it returns happen before the upgrade and are
// answered as JSON (domain.ErrForbidden for a refused Origin,
// *domain.ValidationError for a bad since); after the upgrade it returns nil.
type SocketServer interface {
	Serve(w http.ResponseWriter, r *http.Request, id hub.Identity) error
}

// socketRecorder is a SocketServer that records a socket's user in its
// catch-up read (Identity.Record) when RecordsUsers says so (*hub.Hub). It
// records into its own History, which must be the store Deps.Users is (the
// app wires one store into both).
type socketRecorder interface {
	RecordsUsers() bool
}

// BulkNotificationService accepts bulk sends and reports their progress
// (*notification.BulkService). Request checks notifications.send and
// validates; Get answers domain.ErrNotFound for another tenant's bulk.
type BulkNotificationService interface {
	Request(ctx context.Context, actor domain.Actor, in notification.BulkRequest) (notification.Bulk, error)
	Get(ctx context.Context, tenant domain.TenantID, id string) (notification.Bulk, error)
}

// FailedJobService manages failed jobs (*jobs.Failed). Every method is
// scoped: a job outside the scope is domain.ErrNotFound. Retry queues the
// job again and removes it in one transaction.
type FailedJobService interface {
	List(ctx context.Context, scope domain.FailedJobScope, before string, limit int) ([]domain.FailedJob, error)
	Get(ctx context.Context, scope domain.FailedJobScope, id string) (domain.FailedJob, error)
	Retry(ctx context.Context, scope domain.FailedJobScope, id string) error
	RetryAll(ctx context.Context, scope domain.FailedJobScope) (domain.RetryReport, error)
	Forget(ctx context.Context, scope domain.FailedJobScope, id string) error
	Flush(ctx context.Context, scope domain.FailedJobScope) (int64, error)
}

// ValuationService accepts inventory valuations and shows their results
// (*valuation.Service). Request checks inventory.manage and validates;
// Get and List answer only the tenant's own valuations.
type ValuationService interface {
	Request(ctx context.Context, actor domain.Actor, in valuation.RequestInput) (valuation.Valuation, error)
	Get(ctx context.Context, tenant domain.TenantID, id string, page valuation.LinePage) (valuation.Detail, error)
	List(ctx context.Context, tenant domain.TenantID, before string, limit int) ([]valuation.Summary, error)
}

// ImportService accepts CSV imports and reports their progress
// (*bulkimport.Service). Receive streams the file to disk (over
// MaxFileBytes: domain.ErrTooLarge); Start checks imports.run, the type,
// the mapping against the file's header, and queues the import, removing
// the file when it refuses; Get answers domain.ErrNotFound for another
// tenant's import.
type ImportService interface {
	MaxFileBytes() int64
	Receive(ctx context.Context, actor domain.Actor, name string, r io.Reader) (*bulkimport.Upload, error)
	Start(ctx context.Context, actor domain.Actor, in bulkimport.StartInput) (bulkimport.Import, error)
	Get(ctx context.Context, tenant domain.TenantID, id string) (bulkimport.Import, error)
	List(ctx context.Context, tenant domain.TenantID, p bulkimport.ListParams) ([]bulkimport.Import, error)
}
