package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// The notification store is what production wires in as History.
var _ History = notification.Store(nil)

// wait bounds every wait in these tests; reaching it is a failure, never a
// timing assertion.
const wait = 10 * time.Second

// fakeHistory is an in-memory History with the store's exact semantics:
// per-user seqs 1, 2, 3... in insertion (commit) order.
type fakeHistory struct {
	mu    sync.Mutex
	inbox map[userKey][]domain.Notification
	// onAfter, when set, runs at the start of NotificationsAfter, outside
	// the lock, so a test can hold a catch-up read while it publishes.
	onAfter func(k userKey, after int64)
	// fail, when set, is returned by every read.
	fail error
	// Calls of the catch-up reads without since.
	heads, maxSeqs, counts atomic.Int64
}

func newFakeHistory() *fakeHistory {
	return &fakeHistory{inbox: make(map[userKey][]domain.Notification)}
}

func title(tenant domain.TenantID, user domain.UserID, seq int64) string {
	return fmt.Sprintf("%s/%s #%d", tenant, user, seq)
}

// insert commits a notification for (tenant, user) and returns it.
func (f *fakeHistory) insert(tenant domain.TenantID, user domain.UserID, body string) domain.Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := userKey{tenant, user}
	seq := int64(len(f.inbox[k]) + 1)
	n := domain.Notification{
		ID: domain.NewID(), TenantID: tenant, UserID: user, Seq: seq,
		Type: "AnnouncementNotification", Severity: domain.SeverityInfo,
		Title: title(tenant, user, seq), Body: body, ActionURL: "/",
		Data: json.RawMessage(`{}`), CreatedAt: time.Now().UTC(),
	}
	f.inbox[k] = append(f.inbox[k], n)
	return n
}

func (f *fakeHistory) markAllRead(tenant domain.TenantID, user domain.UserID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	for i := range f.inbox[userKey{tenant, user}] {
		f.inbox[userKey{tenant, user}][i].ReadAt = &now
	}
}

// setRead marks the notification id of tenant/user read (or unread).
func (f *fakeHistory) setRead(tenant domain.TenantID, user domain.UserID, id string, read bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inbox := f.inbox[userKey{tenant, user}]
	for i := range inbox {
		if inbox[i].ID == id {
			if read {
				now := time.Now()
				inbox[i].ReadAt = &now
			} else {
				inbox[i].ReadAt = nil
			}
			return
		}
	}
	panic(fmt.Sprintf("fake history: no notification %s of %s/%s", id, tenant, user))
}

func (f *fakeHistory) setFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

func (f *fakeHistory) NotificationSeq(_ context.Context, tenant domain.TenantID, user domain.UserID, id string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return 0, f.fail
	}
	for _, n := range f.inbox[userKey{tenant, user}] {
		if n.ID == id {
			return n.Seq, nil
		}
	}
	return 0, fmt.Errorf("notification %s: %w", id, domain.ErrNotFound)
}

func (f *fakeHistory) NotificationsAfter(ctx context.Context, tenant domain.TenantID, user domain.UserID, after int64, limit int) ([]domain.Notification, error) {
	f.mu.Lock()
	hook := f.onAfter
	f.mu.Unlock()
	if hook != nil {
		hook(userKey{tenant, user}, after)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []domain.Notification
	for _, n := range f.inbox[userKey{tenant, user}] {
		if n.Seq > after && len(out) < limit {
			out = append(out, n)
		}
	}
	return out, ctx.Err()
}

func (f *fakeHistory) MaxSeq(_ context.Context, tenant domain.TenantID, user domain.UserID) (int64, error) {
	f.maxSeqs.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return 0, f.fail
	}
	return int64(len(f.inbox[userKey{tenant, user}])), nil
}

func (f *fakeHistory) UnreadCount(_ context.Context, tenant domain.TenantID, user domain.UserID) (int, error) {
	f.counts.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return 0, f.fail
	}
	return f.unreadLocked(userKey{tenant, user}), nil
}

func (f *fakeHistory) unreadLocked(k userKey) int {
	unread := 0
	for _, n := range f.inbox[k] {
		if n.ReadAt == nil {
			unread++
		}
	}
	return unread
}

// InboxHeads reads each user's figures under one lock, as the store reads
// them from one snapshot.
func (f *fakeHistory) InboxHeads(_ context.Context, tenants []domain.TenantID, users []domain.UserID) ([]int64, []int, error) {
	f.heads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, nil, f.fail
	}
	maxSeqs, unread := make([]int64, len(users)), make([]int, len(users))
	for i, u := range users {
		k := userKey{tenants[i], u}
		maxSeqs[i], unread[i] = int64(len(f.inbox[k])), f.unreadLocked(k)
	}
	return maxSeqs, unread, nil
}

// env is a hub behind a real HTTP server. The test handler stands in for
// the web layer: it takes the identity from headers (the token is verified
// elsewhere) and renders Serve's errors as statuses.
type env struct {
	t         *testing.T
	hub       *Hub
	hist      *fakeHistory
	reg       *prometheus.Registry
	srv       *httptest.Server
	serveErrs chan error
}

func setup(t *testing.T, cfg Config) *env {
	t.Helper()
	return setupHistory(t, cfg, func(f *fakeHistory) History { return f })
}

// setupHistory is setup with the History the hub gets built from the fake.
func setupHistory(t *testing.T, cfg Config, history func(*fakeHistory) History) *env {
	t.Helper()
	e := &env{t: t, hist: newFakeHistory(), reg: prometheus.NewRegistry(), serveErrs: make(chan error, 100)}
	cfg.Registerer = e.reg
	h, err := New(cfg, history(e.hist))
	require.NoError(t, err)
	e.hub = h
	e.srv = httptest.NewServer(http.HandlerFunc(e.handle))
	// Cleanups run last-in first-out: the hub closes its sockets first.
	t.Cleanup(e.srv.Close)
	t.Cleanup(h.Close)
	return e
}

func (e *env) handle(w http.ResponseWriter, r *http.Request) {
	id := Identity{TenantID: domain.TenantID(r.Header.Get("X-Tenant")), UserID: domain.UserID(r.Header.Get("X-User"))}
	if exp := r.Header.Get("X-Expires"); exp != "" {
		at, err := time.Parse(time.RFC3339Nano, exp)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id.ExpiresAt = at
	}
	err := e.hub.Serve(w, r, id)
	if err == nil {
		return
	}
	e.serveErrs <- err
	var verr *domain.ValidationError
	switch {
	case errors.Is(err, ErrHandshake):
		// already answered
	case errors.As(err, &verr):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case errors.Is(err, domain.ErrForbidden):
		http.Error(w, err.Error(), http.StatusForbidden)
	case errors.Is(err, domain.ErrUnauthenticated):
		http.Error(w, err.Error(), http.StatusUnauthorized)
	case errors.Is(err, ErrClosed):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	default:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// update builds the update the notification service would publish after
// committing n.
func (e *env) update(n domain.Notification) domain.InboxUpdate {
	unread, err := e.hist.UnreadCount(context.Background(), n.TenantID, n.UserID)
	require.NoError(e.t, err)
	return domain.InboxUpdate{
		Kind: domain.UpdateNotification, TenantID: n.TenantID, UserID: n.UserID,
		Notification: &n, Seq: n.Seq, UnreadCount: unread, CommittedAt: time.Now(),
	}
}

// publish commits a notification and delivers it, as the broker would.
func (e *env) publish(tenant domain.TenantID, user domain.UserID) domain.Notification {
	n := e.hist.insert(tenant, user, "body")
	e.hub.Deliver(e.update(n))
	return n
}

type dialOpts struct {
	since     string
	origin    string
	expiresAt time.Time
	noRead    bool // do not start reading: a client that stopped reading
}

// frame is what a client decodes from one text frame.
type frame struct {
	Type         string               `json:"type"`
	Notification *domain.Notification `json:"notification"`
	UnreadCount  *int                 `json:"unread_count"`
	IDs          []string             `json:"ids"`
}

type client struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan frame
	done   chan struct{} // closed when the read loop ended; err set
	err    error
	once   sync.Once
}

// tryDial opens a socket as tenant/user; it returns the dial error and the
// HTTP status of a refused handshake.
func (e *env) tryDial(tenant domain.TenantID, user domain.UserID, o dialOpts) (*client, int, error) {
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws"
	if o.since != "" {
		u += "?since=" + url.QueryEscape(o.since)
	}
	hdr := http.Header{}
	hdr.Set("X-Tenant", string(tenant))
	hdr.Set("X-User", string(user))
	if o.origin != "" {
		hdr.Set("Origin", o.origin)
	}
	if !o.expiresAt.IsZero() {
		hdr.Set("X-Expires", o.expiresAt.Format(time.RFC3339Nano))
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	ws.SetReadLimit(16 << 20)
	c := &client{t: e.t, ws: ws, frames: make(chan frame, 1<<14), done: make(chan struct{})}
	e.t.Cleanup(func() { _ = ws.CloseNow() })
	if !o.noRead {
		c.startReading()
	}
	return c, 0, nil
}

func (e *env) dial(tenant domain.TenantID, user domain.UserID, o dialOpts) *client {
	e.t.Helper()
	c, status, err := e.tryDial(tenant, user, o)
	require.NoError(e.t, err, "dial refused with status %d", status)
	return c
}

func (c *client) startReading() {
	c.once.Do(func() {
		go func() {
			defer close(c.done)
			for {
				_, data, err := c.ws.Read(context.Background())
				if err != nil {
					c.err = err
					return
				}
				var f frame
				if err := json.Unmarshal(data, &f); err != nil {
					c.err = fmt.Errorf("client got a frame that is not JSON: %q: %w", data, err)
					return
				}
				c.frames <- f
			}
		}()
	})
}

func (c *client) next() frame {
	c.t.Helper()
	select {
	case f := <-c.frames:
		return f
	case <-c.done:
		// Frames read before the end are still buffered.
		select {
		case f := <-c.frames:
			return f
		default:
		}
		c.t.Fatalf("socket ended while a frame was expected: %v", c.err)
	case <-time.After(wait):
		c.t.Fatalf("no frame within %s", wait)
	}
	return frame{}
}

// ready reads the catch-up up to its unread_count frame and returns the
// titles of the notifications before it. Once it returns, the connection
// is registered and live.
func (c *client) ready() (titles []string, unread int) {
	c.t.Helper()
	for {
		f := c.next()
		switch f.Type {
		case FrameNotification:
			titles = append(titles, f.Notification.Title)
		case FrameUnreadCount:
			return titles, *f.UnreadCount
		default:
			c.t.Fatalf("unexpected %q frame during catch-up", f.Type)
		}
	}
}

// nextNotification skips unread_count frames and returns the next
// notification's title.
func (c *client) nextNotification() string {
	c.t.Helper()
	for {
		f := c.next()
		switch f.Type {
		case FrameUnreadCount:
			continue
		case FrameNotification:
			return f.Notification.Title
		default:
			c.t.Fatalf("unexpected %q frame, want a notification", f.Type)
		}
	}
}

// expectNotifications requires the next notifications to be exactly
// seqs from..to of tenant/user, in order.
func (c *client) expectNotifications(tenant domain.TenantID, user domain.UserID, from, to int64) {
	c.t.Helper()
	for seq := from; seq <= to; seq++ {
		require.Equal(c.t, title(tenant, user, seq), c.nextNotification())
	}
}

// closeStatus waits for the socket to end and returns its close code.
func (c *client) closeStatus() websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.done:
		return websocket.CloseStatus(c.err)
	case <-time.After(wait):
		c.t.Fatalf("socket still open after %s", wait)
	}
	return 0
}

func (e *env) serveErr() error {
	e.t.Helper()
	select {
	case err := <-e.serveErrs:
		return err
	case <-time.After(wait):
		e.t.Fatalf("Serve returned no error within %s", wait)
	}
	return nil
}

// value reads a counter's or gauge's current value.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var pb dto.Metric
	require.NoError(t, m.Write(&pb))
	switch {
	case pb.Counter != nil:
		return pb.Counter.GetValue()
	case pb.Gauge != nil:
		return pb.Gauge.GetValue()
	case pb.Histogram != nil:
		return float64(pb.Histogram.GetSampleCount())
	}
	t.Fatalf("unsupported metric %T", m)
	return 0
}

// metricNow reads a counter, gauge or histogram (its sample count)
// without require, for Eventually conditions, which run on another
// goroutine; -1 when it cannot be read.
func metricNow(m prometheus.Metric) int {
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		return -1
	}
	switch {
	case pb.Counter != nil:
		return int(pb.Counter.GetValue())
	case pb.Gauge != nil:
		return int(pb.Gauge.GetValue())
	case pb.Histogram != nil:
		return int(pb.Histogram.GetSampleCount())
	}
	return -1
}

// framesUntilEnd waits for the socket to end and returns every frame it
// received that nobody consumed yet.
func (c *client) framesUntilEnd() []frame {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(wait):
		c.t.Fatalf("socket still open after %s", wait)
	}
	var out []frame
	for len(c.frames) > 0 {
		out = append(out, <-c.frames)
	}
	return out
}
