package app

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/demo"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/extsync"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/report"
	"github.com/notifyhub/notifyhub/domain/report/reportfs"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/domain/store/postgres"
	"github.com/notifyhub/notifyhub/domain/store/sqlite"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/valuation"
	"github.com/notifyhub/notifyhub/hub"
	"github.com/notifyhub/notifyhub/hub/broker/memory"
	redisbroker "github.com/notifyhub/notifyhub/hub/broker/redis"
	"github.com/notifyhub/notifyhub/web"
	"github.com/notifyhub/notifyhub/web/auth"
	"github.com/notifyhub/notifyhub/workers/httpsource"
	"github.com/notifyhub/notifyhub/workers/jobs"
	"github.com/notifyhub/notifyhub/workers/listeners"
	"github.com/notifyhub/notifyhub/workers/mail"
	"github.com/notifyhub/notifyhub/workers/relay"
	"github.com/notifyhub/notifyhub/workers/runner"
	"github.com/notifyhub/notifyhub/workers/scheduler"
	"github.com/notifyhub/notifyhub/workers/stream"
	"github.com/notifyhub/notifyhub/workers/stream/dbqueue"
	redisstream "github.com/notifyhub/notifyhub/workers/stream/redis"
)

// Roles a process can run.
const (
	RoleHTTP  = "http"  // REST API, notification center, ops endpoints
	RoleHub   = "hub"   // WebSocket hub and its fan-out subscription
	RoleRelay = "relay" // outbox → event stream
	// RoleScheduler runs the scheduled detectors (stock expiry, overdue
	// invoices). Any number of processes may run it: each raise is keyed
	// in detector_alerts, so nothing is raised twice.
	RoleScheduler = "scheduler"
	RoleWorker    = "worker" // listeners and background jobs
)

// AllRoles is what `serve` runs by default.
var AllRoles = []string{RoleHTTP, RoleHub, RoleRelay, RoleWorker, RoleScheduler}

// Bounds of Config.SchedulerInterval.
const (
	DefaultSchedulerInterval = time.Minute
	MinSchedulerInterval     = time.Second
	MaxSchedulerInterval     = 24 * time.Hour
)

// Config of the whole process. cmd/notifyhub fills it from flags and the
// environment.
type Config struct {
	Addr           string   // HTTP listen address; "" = no HTTP (worker without metrics)
	DatabaseURL    string   // postgres:// URL, or a SQLite file path (default notifyhub.db)
	RedisURL       string   // "" = database queue and in-process fan-out
	RedisPrefix    string   // key prefix in Redis; default "notifyhub:"
	JWTSecret      string   // required unless embedded (SQLite)
	AllowedOrigins []string // WebSocket origin allow-list (host patterns)
	Roles          []string // default AllRoles
	Demo           bool     // seed the demo tenant and run demo traffic (embedded mode only)
	SecureCookie   bool     // mark the session cookie Secure (serve over HTTPS)
	DemoInterval   time.Duration
	// SchedulerInterval is how often each scheduled detector runs;
	// default 1m, at least 1s, at most 24h.
	SchedulerInterval time.Duration
	Scheduler         scheduler.Config // start delay, run timeout, clock
	Logger            *slog.Logger
	// SMTPURL is where invoice e-mails go: smtp://user:pass@host:port
	// (STARTTLS when offered; ?starttls=false) or smtps://... for implicit
	// TLS. "" = mail not configured (deliveries are recorded as skipped).
	SMTPURL  string
	MailFrom string        // sender of those e-mails; required with SMTPURL
	Worker   runner.Config // listeners: tries, timeout, backoff, reclaim, concurrency
	// Queues configures the job worker (queues in priority order, sleep,
	// max jobs and time, overrides of the job types' own tries, timeout
	// and backoff). Its reclaim-after and concurrency default to Worker's.
	Queues runner.QueueConfig
	// WatchRestart makes the job worker stop, and the process exit with
	// status 0, when `notifyhub queue restart` is run (`notifyhub worker`
	// sets it; a serve process keeps running).
	WatchRestart bool
	Relay        relay.Config // batch size, poll interval
	// SyncAllowHosts is NOTIFYHUB_SYNC_ALLOW_HOSTS: the hosts external
	// data syncs may reach beyond public addresses (see
	// extsync.HostPolicy). Empty: public addresses only.
	SyncAllowHosts []string
	// Syncs tunes external data syncs (breaker, page limits); its Policy
	// is built from SyncAllowHosts.
	Syncs extsync.Options
	// DataDir holds generated and uploaded files: reports/<tenant
	// folder>/<id>.json and imports/<tenant folder>/<id>-<random>.csv.
	// Default: a notifyhub-data folder next to the SQLite file, or in the
	// working directory with PostgreSQL. In distributed mode it must be
	// storage every worker and web node shares (a mounted volume): workers
	// write report files and read uploads, any web node serves downloads
	// and takes uploads.
	DataDir string
	// MaxImportBytes bounds an uploaded import file; default 1 GiB.
	MaxImportBytes int64
}

// DefaultDataDir is where files go when Config.DataDir is unset: next to
// the SQLite database file, or in the working directory.
func DefaultDataDir(databaseURL string) string {
	if databaseURL == "" || isPostgresURL(databaseURL) {
		return DataDirName
	}
	path := strings.TrimPrefix(databaseURL, "sqlite://")
	if path == sqlite.Memory {
		return DataDirName
	}
	return filepath.Join(filepath.Dir(path), DataDirName)
}

func (c *Config) setDefaults() {
	if c.DatabaseURL == "" {
		c.DatabaseURL = "notifyhub.db"
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = "notifyhub:"
	}
	if len(c.Roles) == 0 {
		c.Roles = AllRoles
	}
	if c.SchedulerInterval == 0 {
		c.SchedulerInterval = DefaultSchedulerInterval
	}
	if c.DemoInterval <= 0 {
		c.DemoInterval = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir(c.DatabaseURL)
	}
}

// Validate checks the configuration after defaults are applied.
func (c *Config) Validate() error {
	for _, r := range c.Roles {
		if !slices.Contains(AllRoles, r) {
			return fmt.Errorf("unknown role %q (roles: %s)", r, strings.Join(AllRoles, ","))
		}
	}
	if c.SchedulerInterval < MinSchedulerInterval || c.SchedulerInterval > MaxSchedulerInterval {
		return fmt.Errorf("scheduler interval %s is out of range (%s to %s)",
			c.SchedulerInterval, MinSchedulerInterval, MaxSchedulerInterval)
	}
	if c.has(RoleHub) && !c.has(RoleHTTP) {
		return errors.New("role hub needs role http (sockets are served over HTTP)")
	}
	if c.has(RoleHTTP) && c.Addr == "" {
		return errors.New("role http needs an address (NOTIFYHUB_ADDR)")
	}
	if c.Demo && !c.has(RoleHTTP) {
		return errors.New("--demo needs role http")
	}
	if c.Demo && !c.Embedded() {
		// Demo sign-in is one click per user, with no password: never on a
		// real database.
		return errors.New("--demo runs only in embedded mode (SQLite)")
	}
	if c.RedisURL == "" && !c.allRoles() {
		// Without Redis the fan-out is in-process: a notification made by
		// one process would never reach the sockets of another.
		return errors.New("splitting roles across processes needs REDIS_URL; without it run one process with every role")
	}
	if c.SMTPURL != "" && c.MailFrom == "" {
		return errors.New("NOTIFYHUB_SMTP_URL needs NOTIFYHUB_MAIL_FROM (the sender address)")
	}
	if c.Embedded() && !c.allRoles() {
		// SQLite is one file for one process; its relay also assumes it is
		// the only one (it publishes outside the write lock).
		return errors.New("splitting roles across processes needs PostgreSQL; with SQLite run one process with every role")
	}
	return nil
}

func (c *Config) has(role string) bool { return slices.Contains(c.Roles, role) }

func (c *Config) allRoles() bool {
	for _, r := range AllRoles {
		if !c.has(r) {
			return false
		}
	}
	return true
}

// Embedded reports whether the database is SQLite (embedded mode).
func (c *Config) Embedded() bool { return !isPostgresURL(c.DatabaseURL) }

func isPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// OpenStore opens (and migrates) the configured database.
func OpenStore(ctx context.Context, cfg Config) (*sqlstore.Store, error) {
	cfg.setDefaults()
	if isPostgresURL(cfg.DatabaseURL) {
		return postgres.Open(ctx, cfg.DatabaseURL, cfg.Logger)
	}
	return sqlite.Open(ctx, strings.TrimPrefix(cfg.DatabaseURL, "sqlite://"), cfg.Logger)
}

const secretSetting = "jwt_secret"

// Secret returns the JWT secret: the configured one, or in embedded mode
// the one generated and stored in the database on first start.
func Secret(ctx context.Context, cfg Config) ([]byte, error) {
	cfg.setDefaults()
	if cfg.JWTSecret != "" {
		s := []byte(cfg.JWTSecret)
		return s, auth.CheckSecret(s)
	}
	if !cfg.Embedded() {
		return nil, errors.New("NOTIFYHUB_JWT_SECRET is required with PostgreSQL (at least 32 bytes)")
	}
	store, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	return storedSecret(ctx, store)
}

func storedSecret(ctx context.Context, store *sqlstore.Store) ([]byte, error) {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return nil, err
	}
	s, err := store.PutSettingIfAbsent(ctx, secretSetting, hex.EncodeToString(buf))
	if err != nil {
		return nil, fmt.Errorf("stored jwt secret: %w", err)
	}
	return []byte(s), nil
}

// App is a wired notifyhub process.
type App struct {
	cfg      Config
	log      *slog.Logger
	store    *sqlstore.Store
	redis    *redis.Client
	stream   stream.Stream
	broker   hub.Broker
	registry *prometheus.Registry

	secret        []byte
	Products      *product.Service
	Inventory     *inventory.Service
	Procurement   *procurement.Service
	Notifications *notification.Service
	CRM           *crm.Service
	Sales         *sales.Service
	Invoices      *invoice.Service
	mailer        mail.Mailer // nil when mail is not configured
	hub           *hub.Hub
	relay         *relay.Relay
	runner        *runner.Runner
	scheduler     *scheduler.Scheduler
	Bulk          *notification.BulkService
	Syncs         *extsync.Service
	Reports       *report.Service
	Valuations    *valuation.Service
	Imports       *bulkimport.Service
	files         *bulkimport.Files
	Jobs          *jobs.Registry
	Dispatcher    *jobs.Dispatcher
	FailedJobs    *jobs.Failed
	queues        *runner.QueueWorker
	demo          *demo.Demo
	ln            net.Listener
	server        *http.Server
	served        bool // Run handed ln to server, which closes it
}

// New opens the backends and builds every component the roles need. It
// also binds the HTTP listener, so URL is known before Run.
func New(ctx context.Context, cfg Config) (*App, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: cfg.Logger, registry: prometheus.NewRegistry()}
	if err := a.build(ctx); err != nil {
		_ = a.Close()
		return nil, err
	}
	return a, nil
}

// build opens the backends and makes the components; on error, Close
// releases whatever it had opened.
func (a *App) build(ctx context.Context) (err error) {
	cfg := a.cfg
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if a.store, err = OpenStore(ctx, cfg); err != nil {
		return err
	}
	if cfg.JWTSecret != "" {
		a.secret = []byte(cfg.JWTSecret)
		if err := auth.CheckSecret(a.secret); err != nil {
			return fmt.Errorf("NOTIFYHUB_JWT_SECRET: %w", err)
		}
	} else if cfg.Embedded() {
		if a.secret, err = storedSecret(ctx, a.store); err != nil {
			return err
		}
	} else {
		return errors.New("NOTIFYHUB_JWT_SECRET is required with PostgreSQL (at least 32 bytes)")
	}
	if err := a.openTransport(ctx); err != nil {
		return err
	}
	events, err := newMeteredStore(a.store, a.registry)
	if err != nil {
		return err
	}
	a.Products = product.NewService(events, nil)
	a.Inventory = inventory.NewService(events, nil)
	a.Procurement = procurement.NewService(events, a.Inventory, nil)
	a.Invoices = invoice.NewService(events, nil)
	if err := a.openMail(); err != nil {
		return err
	}
	a.Notifications = notification.NewService(a.store, a.broker, nil, a.log)
	a.CRM = crm.NewService(events, nil)
	a.Sales = sales.NewService(events, nil)
	if err := a.buildJobs(events); err != nil {
		return err
	}

	if cfg.has(RoleHub) {
		if a.hub, err = hub.New(hub.Config{
			AllowedOrigins: cfg.AllowedOrigins, Logger: a.log, Registerer: a.registry,
		}, a.store); err != nil {
			return err
		}
	}
	if cfg.has(RoleRelay) {
		rc := cfg.Relay
		rc.Logger, rc.Registerer = a.log, a.registry
		// SQLite has one write lock for the whole file: holding it while
		// publishing would block the database queue's own write, and with
		// Redis every writer while XADD is slow.
		rc.PublishOutsideTx = cfg.Embedded()
		// Dispatched jobs go to their queue's topic, listener retries to
		// the one listener.
		rc.Route = jobs.Route(cmp.Or(cfg.Worker.Topic, "events"))
		// Each event goes only to the topics of the listeners that
		// handle it: no listener group reads, decodes and acknowledges
		// events it would ignore.
		var routes *runner.Routes
		if routes, err = runner.NewRoutes(cfg.Worker.Topic, a.listeners()...); err != nil {
			return err
		}
		rc.Fanout = routes.Fanout
		if a.relay, err = relay.New(rc, a.store, a.stream); err != nil {
			return err
		}
	}
	if cfg.has(RoleWorker) {
		wc := cfg.Worker
		wc.Logger, wc.Registerer = a.log, a.registry
		if a.runner, err = runner.New(wc, a.stream, a.store, a.listeners()...); err != nil {
			return err
		}
		qc := cfg.Queues
		qc.Logger, qc.Registerer = a.log, a.registry
		qc.ReclaimAfter = cmp.Or(qc.ReclaimAfter, cfg.Worker.ReclaimAfter)
		qc.Concurrency = cmp.Or(qc.Concurrency, cfg.Worker.Concurrency)
		if cfg.WatchRestart {
			qc.Restart = jobs.RestartMarker(a.store)
		}
		if a.queues, err = runner.NewQueueWorker(qc, a.stream, a.store, a.Jobs); err != nil {
			return err
		}
	}
	if cfg.has(RoleScheduler) {
		if a.scheduler, err = a.newScheduler(events); err != nil {
			return err
		}
	}
	if cfg.Demo {
		a.demo = &demo.Demo{Users: a.store, Products: a.Products, Inventory: a.Inventory, CRM: a.CRM, Sales: a.Sales,
			Invoices: a.Invoices, Procurement: a.Procurement, Logger: a.log}
	}
	if cfg.Addr != "" {
		handler := a.opsHandler()
		if cfg.has(RoleHTTP) {
			if handler, err = a.handler(); err != nil {
				return err
			}
		}
		if a.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
		a.server = &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			// No ReadTimeout/WriteTimeout: they would cut upgraded
			// WebSockets; bodies are bounded by the web layer instead.
			IdleTimeout: 2 * time.Minute,
			ErrorLog:    slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		}
	}
	return nil
}

// openTransport picks the event stream and the fan-out: Redis when
// configured, else the database queue and in-process fan-out.
func (a *App) openTransport(ctx context.Context) error {
	if a.cfg.RedisURL == "" {
		a.stream = dbqueue.New(a.store.DB(), a.store.Dialect(), dbqueue.Options{Logger: a.log, Registerer: a.registry})
		var err error
		a.broker, err = memory.New(memory.Config{})
		return err
	}
	opts, err := redis.ParseURL(a.cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	if !strings.Contains(a.cfg.RedisURL, "pool_size=") {
		opts.PoolSize = redisPoolSize(len(a.listeners()), a.cfg.Worker.Concurrency)
	}
	a.redis = redis.NewClient(opts)
	if err := a.redis.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", opts.Addr, err)
	}
	a.stream = redisstream.New(a.redis, redisstream.Options{Prefix: a.cfg.RedisPrefix, Logger: a.log, Registerer: a.registry})
	a.broker, err = redisbroker.New(redisbroker.Config{
		Client: a.redis, Prefix: a.cfg.RedisPrefix, Logger: a.log, Registerer: a.registry,
	})
	return err
}

// redisPoolSize sizes the Redis connection pool: every listener consumer
// holds a connection for the whole of its blocking read (XREADGROUP
// BLOCK), and so does the hub's notification reader, so those come on top
// of go-redis's default of 10 per CPU for everything else. With the default
// alone, ten listeners at --concurrency=2 would already starve the
// pool: reads and pings time out and /readyz fails.
func redisPoolSize(listeners, concurrency int) int {
	return 10*runtime.GOMAXPROCS(0) + listeners*max(concurrency, 1) + 1
}

// openMail builds the SMTP mailer when one is configured. It connects to
// nothing yet: a server that is down shows as failed deliveries, retried.
func (a *App) openMail() error {
	if a.cfg.SMTPURL == "" {
		a.log.Info("mail is not configured (NOTIFYHUB_SMTP_URL): invoice e-mails are recorded as skipped")
		return nil
	}
	m, err := mail.New(mail.Config{URL: a.cfg.SMTPURL, From: a.cfg.MailFrom})
	if err != nil {
		return err // never contains the password
	}
	a.mailer = m
	a.log.Info("mail configured", slog.String("smtp", m.String()), slog.String("from", m.From()))
	return nil
}

// buildJobs makes the job registry, the dispatcher that queues jobs
// through the outbox, the job types, and failed-job management.
func (a *App) buildJobs(events meteredStore) error {
	var err error
	if a.Jobs, err = jobs.NewRegistry(); err != nil {
		return err
	}
	a.Dispatcher = jobs.NewDispatcher(events, a.Jobs, nil)
	a.Bulk = notification.NewBulkService(events, a.Notifications, a.Dispatcher, nil)
	if err := observeGroupCommits(a.Bulk, a.registry); err != nil {
		return err
	}
	files, err := reportfs.New(a.cfg.DataDir)
	if err != nil {
		return err
	}
	a.log.Info("report files are kept under the data directory (shared storage in distributed mode)",
		slog.String("data_dir", files.Root()))
	a.Reports = report.NewService(events, files, a.Notifications, a.Dispatcher, nil, a.log)
	a.Valuations = valuation.NewService(events, a.Dispatcher, nil)
	if a.Imports, a.files, err = newImports(a.cfg, events, bulkimport.Commands{Products: a.Products,
		Customers: a.CRM, Vendors: a.Procurement, Stock: a.Inventory}, a.Notifications, a.Dispatcher); err != nil {
		return err
	}
	a.FailedJobs = jobs.NewFailed(events, nil)
	if err := a.buildSyncs(events); err != nil {
		return err
	}
	for _, t := range a.jobTypes() {
		if err := a.Jobs.Register(t); err != nil {
			return err
		}
	}
	return nil
}

// jobTypes are the background jobs workers run.
func (a *App) jobTypes() []jobs.Type {
	return []jobs.Type{
		jobs.SendBulkNotifications(a.Bulk),
		jobs.SyncExternalData(a.Syncs),
		jobs.GenerateReports(a.Reports),
		jobs.RecalculateInventoryValuation(a.Valuations),
		jobs.ProcessBulkImport(a.Imports),
		jobs.Ping(), // notifyhub queue ping
	}
}

// buildSyncs makes the external data sync service, its HTTP fetcher and
// the host policy both enforce.
func (a *App) buildSyncs(events meteredStore) error {
	policy, err := extsync.ParseHostPolicy(a.cfg.SyncAllowHosts)
	if err != nil {
		return fmt.Errorf("NOTIFYHUB_SYNC_ALLOW_HOSTS: %w", err)
	}
	fetcher, err := httpsource.New(httpsource.Config{Policy: &policy})
	if err != nil {
		return err
	}
	opts := a.cfg.Syncs
	opts.Policy = &policy
	a.Syncs = extsync.NewService(events, fetcher, a.Dispatcher, extsync.Writers{
		Products: a.Products, Customers: a.CRM, Stock: a.Inventory, Orders: a.Sales,
	}, opts)
	return nil
}

func (a *App) listeners() []runner.Listener {
	return []runner.Listener{
		listeners.SendLowStockNotification{Store: a.store, Notifier: a.Notifications},
		listeners.UpdateInventoryOnSale{Store: a.store, Inventory: a.Inventory},
		listeners.UpdateCustomerStatistics{Customers: a.CRM},
		listeners.NotifyOrderStatus{Store: a.store, Users: a.store, Notifier: a.Notifications},
		listeners.NotifyPurchaseOrderApproval{Store: a.store, Notifier: a.Notifications},
		listeners.SendStockExpiryAlert{Store: a.store, Notifier: a.Notifications},
		listeners.SendOverdueInvoiceReminder{Store: a.store, Notifier: a.Notifications},
		listeners.GenerateInvoiceFromOrder{Invoices: a.Invoices},
		listeners.SendInvoiceToCustomer{Store: a.store, Notifier: a.Notifications, Invoices: a.Invoices,
			Mailer: a.mailer, Logger: a.log},
		listeners.SendPaymentConfirmation{Store: a.store, Notifier: a.Notifications, Invoices: a.Invoices},
	}
}

// newScheduler registers the scheduled detectors. They append through the
// metered store, so their events count in notifyhub_events_appended_total.
func (a *App) newScheduler(events meteredStore) (*scheduler.Scheduler, error) {
	expiry, err := inventory.NewExpiryDetector(events, nil)
	if err != nil {
		return nil, err
	}
	overdue, err := invoice.NewOverdueDetector(events, nil)
	if err != nil {
		return nil, err
	}
	sc := a.cfg.Scheduler
	sc.Logger, sc.Registerer = a.log, a.registry
	every := a.cfg.SchedulerInterval
	return scheduler.New(sc,
		scheduler.Job{Name: expiry.Name(), Interval: every, Run: expiry.Run},
		scheduler.Job{Name: overdue.Name(), Interval: every, Run: overdue.Run},
	)
}

func (a *App) handler() (http.Handler, error) {
	var demoTenant domain.TenantID
	if a.cfg.Demo {
		demoTenant = demo.Tenant
	}
	var sockets web.SocketServer = noHub{}
	if a.hub != nil {
		sockets = a.hub
	}
	return web.New(web.Config{
		Secret:       a.secret,
		DemoTenant:   demoTenant,
		SecureCookie: a.cfg.SecureCookie,
		Logger:       a.log,
		Registerer:   a.registry,
		Metrics:      promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{Registry: a.registry}),
		Ready:        a.ready,
	}, web.Deps{
		Products:      a.Products,
		Inventory:     a.Inventory,
		Procurement:   a.Procurement,
		Notifications: a.Notifications,
		Users:         a.store,
		Events:        a.store,
		Hub:           sockets,
		CRM:           a.CRM,
		Sales:         a.Sales,
		Invoices:      a.Invoices,
		Bulk:          a.Bulk,
		FailedJobs:    a.FailedJobs,
		Syncs:         a.Syncs,
		Reports:       a.Reports,
		Valuations:    a.Valuations,
		Imports:       a.Imports,
	})
}

// opsHandler serves only /healthz, /readyz and /metrics, for processes
// without the http role (workers, relays).
func (a *App) opsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := a.ready(r.Context()); err != nil {
			a.log.WarnContext(r.Context(), "not ready", slog.Any("error", err))
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"not ready"}}` + "\n"))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{Registry: a.registry}))
	return mux
}

// noHub answers /ws on a node that does not run the hub role.
type noHub struct{}

func (noHub) Serve(http.ResponseWriter, *http.Request, hub.Identity) error {
	return fmt.Errorf("this node does not run the hub role: %w", domain.ErrNotFound)
}

// ready reports whether the store and the stream answer.
func (a *App) ready(ctx context.Context) error {
	if err := a.store.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if err := a.stream.Ping(ctx); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	return nil
}

// URL is the base URL of the HTTP listener ("" without one).
func (a *App) URL() string {
	if a.ln == nil {
		return ""
	}
	addr := a.ln.Addr().(*net.TCPAddr)
	host := "localhost"
	if !addr.IP.IsUnspecified() && !addr.IP.IsLoopback() {
		host = addr.IP.String()
	}
	return fmt.Sprintf("http://%s", net.JoinHostPort(host, fmt.Sprint(addr.Port)))
}

// Store is the process's store (for tests and tools).
func (a *App) Store() *sqlstore.Store { return a.store }

// Secret is the JWT secret in use.
func (a *App) Secret() []byte { return a.secret }

// Run runs the configured roles until ctx is done, then shuts down: stop
// taking work, close sockets, let in-flight requests and listener attempts
// finish, acknowledge nothing undone.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if a.demo != nil {
		if err := a.demo.Seed(ctx); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	fail := func(err error) {
		select {
		case errc <- err:
		default:
		}
		cancel()
	}
	if a.hub != nil {
		wg.Go(func() {
			if err := a.hub.Run(ctx, a.broker); err != nil && ctx.Err() == nil {
				fail(fmt.Errorf("fan-out subscription: %w", err))
			}
		})
	}
	if a.relay != nil {
		wg.Go(func() { _ = a.relay.Run(ctx) })
	}
	if a.runner != nil {
		wg.Go(func() { _ = a.runner.Run(ctx) })
	}
	if a.scheduler != nil {
		wg.Go(func() { _ = a.scheduler.Run(ctx) })
	}
	if a.queues != nil {
		wg.Go(func() {
			// The job worker returns early only when it stopped by itself
			// (max-jobs, max-time, queue restart): the process follows,
			// finishing what it holds, for its supervisor to restart it.
			var stopped *runner.Stopped
			if err := a.queues.Run(ctx); errors.As(err, &stopped) {
				a.log.Info("job worker stopped; shutting down", slog.String("reason", stopped.Reason))
				cancel()
			}
		})
	}
	if a.demo != nil {
		wg.Go(func() { _ = a.demo.Traffic(ctx, a.cfg.DemoInterval) })
	}
	if a.server != nil {
		a.served = true
		wg.Go(func() {
			if err := a.server.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(fmt.Errorf("http: %w", err))
			}
		})
		mode := "distributed (PostgreSQL + Redis)"
		if a.cfg.Embedded() {
			mode = "embedded (SQLite, database queue, in-process fan-out)"
		}
		a.log.Info("notifyhub is up", slog.String("url", a.URL()+"/"), slog.String("mode", mode),
			slog.String("roles", strings.Join(a.cfg.Roles, ",")))
	} else {
		a.log.Info("notifyhub is up", slog.String("roles", strings.Join(a.cfg.Roles, ",")))
	}
	<-ctx.Done()
	a.log.Info("shutting down")
	if a.hub != nil {
		a.hub.Close()
	}
	if a.server != nil {
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := a.server.Shutdown(sctx); err != nil {
			a.log.Warn("http shutdown", slog.Any("error", err))
		}
		scancel()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// Close releases the backends. Call it after Run returned.
func (a *App) Close() error {
	var errs []error
	if a.ln != nil && !a.served {
		errs = append(errs, a.ln.Close())
	}
	if c, ok := a.stream.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	if a.redis != nil {
		errs = append(errs, a.redis.Close())
	}
	if a.store != nil {
		errs = append(errs, a.store.Close())
	}
	if a.files != nil {
		errs = append(errs, a.files.Close())
	}
	return errors.Join(errs...)
}

// meteredStore counts the events that domain services append, once their
// transaction has committed.
type meteredStore struct {
	*sqlstore.Store
	appended *prometheus.CounterVec
}

func newMeteredStore(s *sqlstore.Store, reg prometheus.Registerer) (meteredStore, error) {
	m := meteredStore{Store: s, appended: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "notifyhub_events_appended_total",
		Help: "Events committed to the outbox, by type.",
	}, []string{"type"})}
	return m, reg.Register(m.appended)
}

func (s meteredStore) AppendEvents(ctx context.Context, events ...domain.Event) error {
	if err := s.Store.AppendEvents(ctx, events...); err != nil {
		return err
	}
	s.count(ctx, events)
	return nil
}

// WriteMovement appends events too (inventory's hot path, in one
// statement with the movement).
func (s meteredStore) WriteMovement(ctx context.Context, m inventory.Movement, onHand int64, lowStock bool, events ...domain.Event) error {
	if err := s.Store.WriteMovement(ctx, m, onHand, lowStock, events...); err != nil {
		return err
	}
	s.count(ctx, events)
	return nil
}

func (s meteredStore) count(ctx context.Context, events []domain.Event) {
	s.Store.AfterCommit(ctx, func() {
		for _, e := range events {
			s.appended.WithLabelValues(e.Type).Inc()
		}
	})
}
