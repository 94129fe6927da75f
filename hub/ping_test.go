package hub

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The hub's pinger keeps answering peers connected and drops a peer that
// stopped answering pings (a vanished network), without a timer per
// connection.
func TestPingDropsSilentPeerOnly(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{PingInterval: 20 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	alive := e.dial("t1", "u1", dialOpts{})
	alive.ready()
	// A client that never reads never answers a ping.
	silent := e.dial("t1", "u2", dialOpts{noRead: true})
	require.Eventually(t, func() bool { return metricNow(e.hub.metrics.connections) == 1 }, wait, 5*time.Millisecond,
		"the silent peer is dropped")
	// Many ping rounds later the reading client is still served.
	time.Sleep(100 * time.Millisecond)
	e.publish("t1", "u1")
	require.Equal(t, title("t1", "u1", 1), alive.nextNotification())
	_ = silent
}

// A socket that is not a WebSocket transport (tests' fakes) is never
// pinged; the pinger stops with Close.
func TestPingerStopsWithClose(t *testing.T) {
	t.Parallel()
	h, _ := newTestHub(t, Config{PingInterval: 10 * time.Millisecond})
	tr := newFakeTransport()
	attach(t, h, Identity{TenantID: "t1", UserID: "u1"}, tr)
	require.Equal(t, FrameUnreadCount, tr.next(t).Type)
	h.pingOnce.Do(func() { go h.pinger() })
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	go func() { h.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("Close did not return")
	}
	require.Equal(t, CloseGoingAway, tr.closeCode(t))
}
