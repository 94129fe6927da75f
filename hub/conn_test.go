package hub

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

// fakeTransport records frames and closes instead of using a socket.
type fakeTransport struct {
	frames chan []byte
	closed chan CloseCode
	// gate, when non-nil, holds every Write until it is closed (a peer
	// that stopped reading) or the write times out.
	gate chan struct{}
}

func newFakeTransport() *fakeTransport {
	return &fakeTransport{frames: make(chan []byte, 1024), closed: make(chan CloseCode, 1)}
}

func (f *fakeTransport) Write(ctx context.Context, p []byte) error {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.frames <- append([]byte(nil), p...)
	return nil
}

func (f *fakeTransport) Close(code CloseCode, _ string) error {
	f.closed <- code
	return nil
}

func (f *fakeTransport) next(t *testing.T) frame {
	t.Helper()
	select {
	case p := <-f.frames:
		var fr frame
		require.NoError(t, json.Unmarshal(p, &fr))
		return fr
	case <-time.After(wait):
		t.Fatalf("no frame within %s", wait)
	}
	return frame{}
}

func (f *fakeTransport) closeCode(t *testing.T) CloseCode {
	t.Helper()
	select {
	case code := <-f.closed:
		return code
	case <-time.After(wait):
		t.Fatalf("not closed within %s", wait)
	}
	return 0
}

// attach runs a connection on tr as the WebSocket path does, without a
// socket; the returned channel closes when it has ended.
func attach(t *testing.T, h *Hub, id Identity, tr transport) <-chan struct{} {
	t.Helper()
	return attachSince(t, h, id, tr, 0, false)
}

// attachSince is attach for a client that reconnects with a cursor (the
// seq Serve would have resolved from ?since=).
func attachSince(t *testing.T, h *Hub, id Identity, tr transport, since int64, hasSince bool) <-chan struct{} {
	t.Helper()
	c := h.newConn(id, tr)
	require.NoError(t, h.register(c))
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(done)
		defer h.unregister(c)
		c.run(ctx, since, hasSince)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return done
}

func newTestHub(t *testing.T, cfg Config) (*Hub, *fakeHistory) {
	t.Helper()
	hist := newFakeHistory()
	cfg.Registerer = prometheus.NewRegistry()
	h, err := New(cfg, hist)
	require.NoError(t, err)
	return h, hist
}

func notificationUpdate(hist *fakeHistory, tenant domain.TenantID, user domain.UserID) domain.InboxUpdate {
	n := hist.insert(tenant, user, "body")
	return domain.InboxUpdate{Kind: domain.UpdateNotification, TenantID: tenant, UserID: user,
		Notification: &n, Seq: n.Seq, UnreadCount: int(n.Seq), CommittedAt: time.Now()}
}

// Deliver never waits for a stuck connection: it overflows, is halted
// with 4008 (which wins over its queued frames), and its sibling gets
// everything.
func TestStuckTransportHaltedAsSlow(t *testing.T) {
	t.Parallel()
	h, hist := newTestHub(t, Config{QueueSize: 2, WriteTimeout: time.Minute})
	stuck := newFakeTransport()
	stuck.gate = make(chan struct{})
	healthy := newFakeTransport()
	id := Identity{TenantID: "t1", UserID: "u1"}
	stuckDone := attach(t, h, id, stuck)
	attach(t, h, id, healthy)
	require.Equal(t, FrameUnreadCount, healthy.next(t).Type) // live

	// In lockstep with the healthy sibling, so that only the stuck one
	// can fall behind; Deliver returns although stuck never writes.
	for seq := int64(1); seq <= 5; seq++ {
		h.Deliver(notificationUpdate(hist, "t1", "u1"))
		f := healthy.next(t)
		require.Equal(t, FrameNotification, f.Type)
		require.Equal(t, title("t1", "u1", seq), f.Notification.Title)
		require.Equal(t, FrameUnreadCount, healthy.next(t).Type)
	}
	require.Equal(t, 1.0, value(t, h.metrics.slowCloses), "one slow close however often it overflowed")

	close(stuck.gate) // a pending write completes: the peer reads again
	require.Equal(t, CloseSlow, stuck.closeCode(t))
	<-stuckDone
	// At most the initial unread_count was in flight (if the connection
	// got that far before the halt); the queued notifications were
	// abandoned.
	require.LessOrEqual(t, len(stuck.frames), 1)
	for len(stuck.frames) > 0 {
		require.Equal(t, FrameUnreadCount, stuck.next(t).Type)
	}
	require.Equal(t, 1.0, value(t, h.metrics.connections))
}

// Updates the hub cannot place are dropped without harming the socket.
func TestInvalidUpdatesDropped(t *testing.T) {
	t.Parallel()
	h, hist := newTestHub(t, Config{})
	tr := newFakeTransport()
	attach(t, h, Identity{TenantID: "t1", UserID: "u1"}, tr)
	require.Equal(t, FrameUnreadCount, tr.next(t).Type)

	h.Deliver(domain.InboxUpdate{Kind: "bogus", TenantID: "t1", UserID: "u1"})
	h.Deliver(domain.InboxUpdate{Kind: domain.UpdateNotification, TenantID: "t1", UserID: "u1"})
	h.Deliver(domain.InboxUpdate{Kind: domain.UpdateNotification, TenantID: "t1", UserID: "u1",
		Notification: &domain.Notification{ID: domain.NewID()}}) // no seq
	bad := notificationUpdate(hist, "t1", "u1")
	bad.Notification.Data = json.RawMessage(`{broken`) // cannot be encoded
	h.Deliver(bad)

	h.Deliver(notificationUpdate(hist, "t1", "u1"))
	// Seq 1 was undeliverable live; the gap at seq 2 refills it from
	// history (whose copy is sound), then seq 2 follows.
	f := tr.next(t)
	require.Equal(t, title("t1", "u1", 1), f.Notification.Title)
	f = tr.next(t)
	require.Equal(t, title("t1", "u1", 2), f.Notification.Title)
}

// The token's expiry ends a connection even while it is idle.
func TestExpiryHaltsIdleConnection(t *testing.T) {
	t.Parallel()
	h, _ := newTestHub(t, Config{})
	tr := newFakeTransport()
	done := attach(t, h, Identity{TenantID: "t1", UserID: "u1", ExpiresAt: time.Now().Add(50 * time.Millisecond)}, tr)
	require.Equal(t, CloseTokenExpired, tr.closeCode(t))
	<-done
}
