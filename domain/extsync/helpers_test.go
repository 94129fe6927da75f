package extsync_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/extsync"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/httpsource"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// world is a sync service over a real store, fetching over real HTTP from
// test servers on 127.0.0.1 (which its policy allows).
type world struct {
	store     *sqlstore.Store
	syncs     *extsync.Service
	clock     *clock
	jobs      *recordingJobs
	products  *product.Service
	customers *crm.Service
	stock     *inventory.Service
	orders    *sales.Service
}

func admin(tenant domain.TenantID) domain.Actor {
	return domain.Actor{TenantID: tenant, UserID: "alice", Perms: []string{domain.PermAdmin}}
}

// each runs fn on both store backends, in parallel.
func each(t *testing.T, opts extsync.Options, fn func(t *testing.T, w world)) {
	t.Helper()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newWorld(t, open(t), opts))
		})
	}
}

func newWorld(t *testing.T, st *sqlstore.Store, opts extsync.Options) world {
	t.Helper()
	if opts.Policy == nil {
		p, err := extsync.ParseHostPolicy([]string{"127.0.0.1"})
		require.NoError(t, err)
		opts.Policy = &p
	}
	c := &clock{now: time.Now().UTC()}
	if opts.Now == nil {
		opts.Now = c.Now
	}
	fetch, err := httpsource.New(httpsource.Config{Policy: opts.Policy})
	require.NoError(t, err)
	w := world{store: st, clock: c, jobs: &recordingJobs{store: st}, products: product.NewService(st, nil), customers: crm.NewService(st, nil),
		stock: inventory.NewService(st, nil), orders: sales.NewService(st, nil)}
	w.syncs = extsync.NewService(st, fetch, w.jobs, extsync.Writers{
		Products: w.products, Customers: w.customers, Stock: w.stock, Orders: w.orders,
	}, opts)
	return w
}

// recordingJobs dispatches into the outbox as the real dispatcher does,
// and keeps the payloads of the dispatches that committed.
type recordingJobs struct {
	store     *sqlstore.Store
	mu        sync.Mutex
	committed []string
}

func (j *recordingJobs) Dispatch(ctx context.Context, tenant domain.TenantID, job string, payload any) (string, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	id := domain.NewID()
	j.store.AfterCommit(ctx, func() {
		j.mu.Lock()
		defer j.mu.Unlock()
		j.committed = append(j.committed, job+" "+string(tenant)+" "+string(raw))
	})
	return id, j.store.AppendEvents(ctx, domain.Event{ID: id, TenantID: tenant, Type: domain.EventJobDispatched,
		AggregateType: "job", AggregateID: job, OccurredAt: time.Now().UTC(), Payload: raw})
}

func (j *recordingJobs) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.committed...)
}

// configure points tenant's syncs at srv.
func (w world) configure(t *testing.T, tenant domain.TenantID, base string, auth *string, timeout int) {
	t.Helper()
	_, err := w.syncs.PutConfig(context.Background(), admin(tenant), extsync.ConfigInput{
		BaseURL: base, AuthHeader: auth, TimeoutSeconds: &timeout,
	})
	require.NoError(t, err)
}

// sync requests a sync and runs its job once, returning the run and the
// job's error.
func (w world) sync(t *testing.T, tenant domain.TenantID, typ extsync.Type) (extsync.Run, error) {
	t.Helper()
	ctx := context.Background()
	r, err := w.syncs.Request(ctx, admin(tenant), extsync.RequestInput{Type: typ})
	require.NoError(t, err)
	runErr := w.syncs.Run(ctx, tenant, r.ID)
	got, err := w.syncs.Get(ctx, tenant, r.ID)
	require.NoError(t, err)
	return got, runErr
}

// endpoint is a fake external system: pages per type, with a request log.
type endpoint struct {
	mu       sync.Mutex
	pages    map[string][]string // type → page bodies (page=1 is index 0)
	requests []*http.Request
	handler  http.HandlerFunc // when set, answers instead of pages
	srv      *httptest.Server
}

func newEndpoint(t *testing.T) *endpoint {
	t.Helper()
	e := &endpoint{pages: map[string][]string{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.requests = append(e.requests, r.Clone(context.Background()))
		h := e.handler
		e.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		e.servePage(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) servePage(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	pages := e.pages[r.URL.Path[len("/erp/"):]]
	e.mu.Unlock()
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 || n > len(pages) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(pages[n-1]))
}

func (e *endpoint) set(typ extsync.Type, pages ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pages[string(typ)] = pages
}

func (e *endpoint) answer(h http.HandlerFunc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.handler = h
}

// base is the base_url of the endpoint.
func (e *endpoint) base() string { return e.srv.URL + "/erp" }

// hits lists the request URIs received so far.
func (e *endpoint) hits() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, len(e.requests))
	for i, r := range e.requests {
		out[i] = r.URL.RequestURI()
	}
	return out
}

func (e *endpoint) lastAuth() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.requests) == 0 {
		return ""
	}
	return e.requests[len(e.requests)-1].Header.Get("Authorization")
}

func ptr[T any](v T) *T { return &v }

// events lists the tenant's events of a type.
func events(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, typ string) []domain.Event {
	t.Helper()
	list, err := s.ListEvents(context.Background(), tenant, typ, "", 1000)
	require.NoError(t, err)
	return list
}
