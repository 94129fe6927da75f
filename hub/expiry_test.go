package hub

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func (e *expiries) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.q)
}

// One timer serves every connection: each closes with 4001 once its own
// token has expired, whatever the order they came in, and the others stay.
func TestExpiriesShareOneTimer(t *testing.T) {
	t.Parallel()
	h, _ := newTestHub(t, Config{})
	now := time.Now()
	late, soon, sooner := newFakeTransport(), newFakeTransport(), newFakeTransport()
	lateDone := attach(t, h, Identity{TenantID: "t1", UserID: "late", ExpiresAt: now.Add(time.Hour)}, late)
	soonDone := attach(t, h, Identity{TenantID: "t1", UserID: "soon", ExpiresAt: now.Add(100 * time.Millisecond)}, soon)
	soonerDone := attach(t, h, Identity{TenantID: "t2", UserID: "soon", ExpiresAt: now.Add(50 * time.Millisecond)}, sooner)

	require.Equal(t, CloseTokenExpired, sooner.closeCode(t))
	<-soonerDone
	require.Equal(t, CloseTokenExpired, soon.closeCode(t))
	<-soonDone
	select {
	case <-lateDone:
		t.Fatal("a connection whose token is valid for an hour was closed")
	default:
	}
	require.Equal(t, 1, h.expiries.len())
	h.expiries.mu.Lock()
	require.NotNil(t, h.expiries.t)
	require.True(t, h.expiries.at.Equal(now.Add(time.Hour)), "the timer waits for the last token")
	h.expiries.mu.Unlock()
}

// A connection that ends before its token expires leaves the expiries, and
// the timer follows the earliest one left.
func TestEndedConnectionLeavesExpiries(t *testing.T) {
	t.Parallel()
	h, _ := newTestHub(t, Config{})
	now := time.Now()
	first, second := newFakeTransport(), newFakeTransport()
	attach(t, h, Identity{TenantID: "t1", UserID: "u1", ExpiresAt: now.Add(time.Hour)}, first)
	attach(t, h, Identity{TenantID: "t1", UserID: "u2", ExpiresAt: now.Add(2 * time.Hour)}, second)
	require.Eventually(t, func() bool { return h.expiries.len() == 2 }, wait, time.Millisecond)

	cs := h.connsOf("t1", "u1")
	require.Len(t, cs, 1)
	cs[0].halt(CloseNormal, "bye", nil)
	require.Equal(t, CloseNormal, first.closeCode(t))
	require.Eventually(t, func() bool { return h.expiries.len() == 1 }, wait, time.Millisecond)
	h.expiries.mu.Lock()
	require.True(t, h.expiries.at.Equal(now.Add(2*time.Hour)))
	h.expiries.mu.Unlock()

	h.Close()
	require.Equal(t, 0, h.expiries.len())
	h.expiries.mu.Lock()
	require.True(t, h.expiries.at.IsZero(), "no connection left, no timer")
	h.expiries.mu.Unlock()
}

// The queue keeps its order through any mix of additions and removals.
func TestExpiryQueueOrder(t *testing.T) {
	t.Parallel()
	h, _ := newTestHub(t, Config{})
	base := time.Now().Add(time.Hour)
	var conns []*conn
	for _, m := range []int{5, 3, 9, 1, 7, 2, 8, 6, 4} {
		c := h.newConn(Identity{TenantID: "t1", UserID: "u", ExpiresAt: base.Add(time.Duration(m) * time.Minute)}, newFakeTransport())
		conns = append(conns, c)
		h.expiries.add(c)
	}
	h.expiries.remove(conns[2]) // 9
	h.expiries.remove(conns[3]) // 1
	h.expiries.remove(conns[3]) // again: no-op
	var got []int
	h.expiries.mu.Lock()
	for i, c := range h.expiries.q {
		require.Equal(t, int32(i), c.expiryIdx)
	}
	for len(h.expiries.q) > 0 {
		c := h.expiries.q[0]
		h.expiries.mu.Unlock()
		h.expiries.remove(c)
		h.expiries.mu.Lock()
		got = append(got, int(c.expiresAt.Sub(base)/time.Minute))
	}
	h.expiries.mu.Unlock()
	require.Equal(t, []int{2, 3, 4, 5, 6, 7, 8}, got)
}
