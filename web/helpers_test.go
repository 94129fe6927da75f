package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

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
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/domain/valuation"
	"github.com/notifyhub/notifyhub/hub"
	"github.com/notifyhub/notifyhub/web"
	"github.com/notifyhub/notifyhub/web/auth"
	"github.com/notifyhub/notifyhub/workers/jobs"
)

var testSecret = []byte("web-test-secret-web-test-secret-0123456789")

// backends runs fn once per store backend, in parallel subtests. PostgreSQL
// skips itself (visibly) when NOTIFYHUB_TEST_DATABASE_URL is unset.
func backends(t *testing.T, fn func(t *testing.T, open func(testing.TB) *sqlstore.Store)) {
	t.Helper()
	for _, b := range []struct {
		name string
		open func(testing.TB) *sqlstore.Store
	}{
		{"sqlite", func(tb testing.TB) *sqlstore.Store { return storetest.OpenSQLite(tb) }},
		{"postgres", func(tb testing.TB) *sqlstore.Store { return storetest.OpenPostgres(tb) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.open)
		})
	}
}

// fixture is the router over real services and a real store.
type fixture struct {
	h        http.Handler
	store    *sqlstore.Store
	notes    *notification.Service
	products *product.Service
	fanout   *recordingFanout
	users    *countingUsers
	socket   *fakeSocket
	logs     *syncBuffer
	bulk     *notification.BulkService // its Send runs the queued job
	failed   *jobs.Failed
	syncs    *extsync.Service    // its Run runs the queued sync job
	reports  *report.Service     // its Generate runs the queued job
	dataDir  string              // where reports files go
	values   *valuation.Service  // its Run runs the queued job
	imports  *bulkimport.Service // its Process runs the queued job
}

type option func(*web.Config, *web.Deps)

func newFixture(t testing.TB, open func(testing.TB) *sqlstore.Store, opts ...option) *fixture {
	t.Helper()
	st := open(t)
	f := &fixture{
		store:  st,
		fanout: &recordingFanout{},
		users:  &countingUsers{UserStore: st},
		socket: &fakeSocket{},
		logs:   &syncBuffer{},
	}
	f.notes = notification.NewService(st, f.fanout, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.products = product.NewService(st, nil)
	stock := inventory.NewService(st, nil)
	reg, err := jobs.NewRegistry()
	require.NoError(t, err)
	f.bulk = notification.NewBulkService(st, f.notes, jobs.NewDispatcher(st, reg, nil), nil)
	require.NoError(t, reg.Register(jobs.SendBulkNotifications(f.bulk)))
	f.values = valuation.NewService(st, jobs.NewDispatcher(st, reg, nil), nil)
	require.NoError(t, reg.Register(jobs.RecalculateInventoryValuation(f.values)))
	f.failed = jobs.NewFailed(st, nil)
	f.dataDir = t.TempDir()
	files, err := reportfs.New(f.dataDir)
	require.NoError(t, err)
	f.reports = report.NewService(st, files, f.notes, jobs.NewDispatcher(st, reg, nil), nil, slog.New(slog.DiscardHandler))
	require.NoError(t, reg.Register(jobs.GenerateReports(f.reports)))
	crmSvc, procSvc := crm.NewService(st, nil), procurement.NewService(st, stock, nil)
	importFiles, err := bulkimport.OpenFiles(f.dataDir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = importFiles.Close() })
	f.imports, err = bulkimport.NewService(bulkimport.Config{Files: importFiles, MaxFileBytes: 1 << 20, BatchSize: 50},
		st, st, bulkimport.Commands{Products: f.products, Customers: crmSvc, Vendors: procSvc, Stock: stock},
		f.notes, jobs.NewDispatcher(st, reg, nil))
	require.NoError(t, err)
	require.NoError(t, reg.Register(jobs.ProcessBulkImport(f.imports)))
	cfg := web.Config{
		Secret: testSecret,
		Logger: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Ready:  st.Ping,
	}
	deps := web.Deps{
		Products:      f.products,
		Inventory:     stock,
		Procurement:   procSvc,
		Notifications: f.notes,
		Users:         f.users,
		Events:        st,
		Hub:           f.socket,
		CRM:           crmSvc,
		Sales:         sales.NewService(st, nil),
		Invoices:      invoice.NewService(st, nil),
		Bulk:          f.bulk,
		FailedJobs:    f.failed,
		Syncs:         f.newSyncs(t, st, reg, stock),
		Reports:       f.reports,
		Valuations:    f.values,
		Imports:       f.imports,
	}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	h, err := web.New(cfg, deps)
	require.NoError(t, err)
	f.h = h
	return f
}

// token signs a one-hour token for user of tenant.
func token(t testing.TB, tenant, user string, perms ...string) string {
	t.Helper()
	if perms == nil {
		perms = []string{}
	}
	tok, err := auth.Issue(testSecret, domain.User{
		TenantID: domain.TenantID(tenant), ID: domain.UserID(user),
		Name: "User " + user, Email: user + "@example.test", Perms: perms,
	}, time.Hour, time.Now())
	require.NoError(t, err)
	return tok
}

// req is one request to build; zero fields are left out.
type req struct {
	method, path string
	token        string // Bearer
	cookie       string // session cookie value
	body         string
	header       map[string]string
}

func (f *fixture) do(t testing.TB, r req) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.cookie != "" {
		hr.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: r.cookie})
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, hr)
	return rec
}

// call is do for the common API case.
func (f *fixture) call(t testing.TB, method, path, tok, body string) *httptest.ResponseRecorder {
	t.Helper()
	return f.do(t, req{method: method, path: path, token: tok, body: body})
}

type apiError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields"`
}

// requireError checks status and that the body is the JSON error shape.
func requireError(t testing.TB, rec *httptest.ResponseRecorder, status int, code string) apiError {
	t.Helper()
	require.Equal(t, status, rec.Code, "body: %s", rec.Body.String())
	require.Contains(t, rec.Header().Get("Content-Type"), "application/json")
	var body struct {
		Error apiError `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	require.NotEmpty(t, body.Error.Message)
	if code != "" {
		require.Equal(t, code, body.Error.Code)
	}
	return body.Error
}

func decode[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
	return v
}

func doc(t testing.TB, rec *httptest.ResponseRecorder) *goquery.Document {
	t.Helper()
	require.Contains(t, rec.Header().Get("Content-Type"), "text/html")
	d, err := goquery.NewDocumentFromReader(bytes.NewReader(rec.Body.Bytes()))
	require.NoError(t, err)
	return d
}

// send stores n notifications for each user through the real service.
func (f *fixture) send(t testing.TB, tenant string, user string, titles ...string) []domain.Notification {
	t.Helper()
	var out []domain.Notification
	for _, title := range titles {
		ns, err := f.notes.SendToUsers(context.Background(), domain.TenantID(tenant), []domain.UserID{domain.UserID(user)}, notification.Draft{
			Type: "AnnouncementNotification", Severity: domain.SeverityInfo, Title: title, Body: "body of " + title,
		})
		require.NoError(t, err)
		out = append(out, ns...)
	}
	return out
}

// recordingFanout keeps every committed inbox change the service publishes.
type recordingFanout struct {
	mu      sync.Mutex
	updates []domain.InboxUpdate
	deliver func(domain.InboxUpdate)
}

func (r *recordingFanout) Publish(_ context.Context, u domain.InboxUpdate) error {
	r.mu.Lock()
	r.updates = append(r.updates, u)
	deliver := r.deliver
	r.mu.Unlock()
	if deliver != nil {
		deliver(u)
	}
	return nil
}

func (r *recordingFanout) kinds(user domain.UserID) []domain.UpdateKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []domain.UpdateKind
	for _, u := range r.updates {
		if u.UserID == user {
			out = append(out, u.Kind)
		}
	}
	return out
}

// countingUsers counts the user upserts reaching the store.
type countingUsers struct {
	web.UserStore
	upserts atomic.Int64
}

func (c *countingUsers) UpsertUser(ctx context.Context, u domain.User) error {
	c.upserts.Add(1)
	return c.UserStore.UpsertUser(ctx, u)
}

// fakeSocket stands in for the hub where only the pre-upgrade behaviour of
// the web layer is under test; the hub is tested with real sockets itself.
type fakeSocket struct {
	mu    sync.Mutex
	calls []hub.Identity
	serve func(w http.ResponseWriter, r *http.Request, id hub.Identity) error
}

func (f *fakeSocket) Serve(w http.ResponseWriter, r *http.Request, id hub.Identity) error {
	f.mu.Lock()
	f.calls = append(f.calls, id)
	serve := f.serve
	f.mu.Unlock()
	if serve != nil {
		return serve(w, r, id)
	}
	w.WriteHeader(http.StatusSwitchingProtocols)
	return nil
}

func (f *fakeSocket) identities() []hub.Identity {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]hub.Identity(nil), f.calls...)
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
