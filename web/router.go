package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/notifyhub/notifyhub/static"
	"github.com/notifyhub/notifyhub/web/auth"
)

// server carries what the handlers share.
type server struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	metrics *httpMetrics
	users   *userSync
	tokens  *auth.Verifier // API tokens verified, cached
	csrf    *http.CrossOriginProtection
}

// New validates cfg and deps and returns the router with every route of
// notifyhub's HTTP surface.
func New(cfg Config, deps Deps) (http.Handler, error) {
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := deps.validate(); err != nil {
		return nil, err
	}
	m, err := newHTTPMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &server{
		cfg:     cfg,
		deps:    deps,
		log:     cfg.Logger.With(slog.String("component", "web")),
		metrics: m,
		users:   newUserSync(deps.Users, cfg.UserCacheSize),
		tokens:  auth.NewVerifier(cfg.Secret, tokenCacheSize),
		// Same-origin check for cookie-authenticated writes and the login
		// forms: Sec-Fetch-Site, else Origin against Host.
		csrf: http.NewCrossOriginProtection(),
	}

	r := chi.NewRouter()
	r.Use(requestID, s.accessLog, s.recoverer, securityHeaders, s.limitBody)
	r.NotFound(s.handle(func(http.ResponseWriter, *http.Request) error {
		return newHTTPError(http.StatusNotFound, "not_found", "no such route")
	}))
	r.MethodNotAllowed(s.handle(func(http.ResponseWriter, *http.Request) error {
		return newHTTPError(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route")
	}))

	// Operations.
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", s.readyz)
	if cfg.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", cfg.Metrics)
	}
	r.Method(http.MethodGet, static.Prefix+"*", static.Handler())
	r.Method(http.MethodHead, static.Prefix+"*", static.Handler())

	// Sign-in and pages.
	r.Get("/login", s.loginPage)
	r.Post("/login", s.loginForm)
	r.Post("/login/demo", s.demoLogin)
	r.Post("/logout", s.logout)
	r.With(s.requirePage).Get("/", s.centerPage)
	r.With(s.requirePage).Get("/dashboard", s.dashboardPage)

	// The WebSocket authenticates itself: it also takes ?token=.
	r.Get("/ws", s.handle(s.serveSocket))

	// REST API.
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(s.requireAPI)

		r.Get("/notifications", s.api(s.listNotifications))
		r.Post("/notifications", s.api(s.sendBulk))
		r.Get("/notifications/bulk/{id}", s.api(s.getBulk))
		r.Get("/notifications/unread-count", s.api(s.unreadCount))
		r.Get("/notification-types", s.api(s.notificationTypes))
		r.Post("/notifications/read-all", s.api(s.markAllRead))
		r.Post("/notifications/{id}/read", s.api(s.markRead))
		r.Post("/notifications/{id}/unread", s.api(s.markUnread))

		r.Get("/products", s.api(s.listProducts))
		r.Post("/products", s.api(s.createProduct))
		r.Get("/products/{id}", s.api(s.getProduct))
		r.Patch("/products/{id}", s.api(s.updateProduct))
		r.Delete("/products/{id}", s.api(s.deleteProduct))
		r.Get("/products/{id}/batches", s.api(s.listBatches))

		r.Get("/stock-movements", s.api(s.listMovements))
		r.Post("/stock-movements", s.api(create(s.deps.Inventory.Record)))
		r.Get("/locations", s.api(s.listLocations))
		r.Post("/locations", s.api(create(s.deps.Inventory.CreateLocation)))

		r.Get("/customers", s.api(s.listCustomers))
		r.Post("/customers", s.api(createLocated(s.deps.CRM.CreateCustomer, "/api/v1/customers/", customerID)))
		r.Get("/customers/{id}", s.api(s.getCustomer))
		r.Get("/leads", s.api(s.listLeads))
		r.Post("/leads", s.api(createLocated(s.deps.CRM.CreateLead, "/api/v1/leads/", leadID)))
		r.Get("/leads/{id}", s.api(s.getLead))
		r.Post("/leads/{id}/convert", s.api(s.convertLead))

		r.Get("/orders", s.api(s.listOrders))
		r.Post("/orders", s.api(createLocated(s.deps.Sales.Create, "/api/v1/orders/", orderID)))
		r.Get("/orders/{id}", s.api(s.getOrder))
		r.Post("/orders/{id}/approve", s.api(s.orderCommand(s.deps.Sales.Approve)))
		r.Post("/orders/{id}/fulfill", s.api(s.orderCommand(s.deps.Sales.Fulfill)))
		s.procurementRoutes(r)
		r.Get("/invoices", s.api(s.listInvoices))
		r.Get("/invoices/{id}", s.api(s.getInvoice))
		r.Get("/invoices/{id}/payments", s.api(s.listInvoicePayments))
		r.Post("/invoices/{id}/payments", s.api(s.recordInvoicePayment))

		r.Get("/events", s.api(s.listEvents))
		s.reportRoutes(r)

		r.Get("/valuations", s.api(s.listValuations))
		r.Post("/valuations", s.api(s.requestValuation))
		r.Get("/valuations/{id}", s.api(s.getValuation))

		r.Get("/imports", s.api(s.listImports))
		r.Post("/imports", s.api(s.startImport))
		r.Get("/imports/{id}", s.api(s.getImport))

		r.Get("/failed-jobs", s.api(s.listFailedJobs))
		r.Delete("/failed-jobs", s.api(s.flushFailedJobs))
		r.Post("/failed-jobs/retry-all", s.api(s.retryAllFailedJobs))
		r.Get("/failed-jobs/{id}", s.api(s.getFailedJob))
		r.Delete("/failed-jobs/{id}", s.api(s.forgetFailedJob))
		r.Post("/failed-jobs/{id}/retry", s.api(s.retryFailedJob))
		s.syncRoutes(r)
	})
	return r, nil
}

// readyz answers 200 when the dependencies are reachable, 503 otherwise.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			s.log.WarnContext(r.Context(), "not ready", slog.Any("error", err))
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: errorDetail{
				Code: "unavailable", Message: "not ready: a dependency is unreachable",
			}})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
