package hub

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// The store production wires in reads the catch-up in one query; without
// this the hub would silently fall back to two.
var _ InboxHeadsReader = (*sqlstore.Store)(nil)

// historyOnly hides InboxHeads: a History that has only the four reads.
type historyOnly struct{ History }

// A socket without since starts right after the user's latest notification
// with their unread count, whichever way History gives the two figures: the
// next live notification is delivered once, with nothing before it (a
// start too low would resend history, one too high would drop it).
func TestCatchUpWithoutSinceStartsAtTheLatestSeq(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		history                func(*fakeHistory) History
		heads, maxSeqs, counts int64
	}{
		"one read":  {history: func(f *fakeHistory) History { return f }, heads: 1},
		"two reads": {history: func(f *fakeHistory) History { return historyOnly{f} }, maxSeqs: 1, counts: 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setupHistory(t, Config{}, tc.history)
			ns := []domain.Notification{
				e.hist.insert("t1", "u1", "body"), e.hist.insert("t1", "u1", "body"), e.hist.insert("t1", "u1", "body"),
			}
			e.hist.insert("t1", "u2", "body")
			e.hist.setRead("t1", "u1", ns[1].ID, true)

			c := e.dial("t1", "u1", dialOpts{})
			titles, unread := c.ready()
			require.Empty(t, titles, "no history without since")
			require.Equal(t, 2, unread)
			require.Equal(t, []int64{tc.heads, tc.maxSeqs, tc.counts},
				[]int64{e.hist.heads.Load(), e.hist.maxSeqs.Load(), e.hist.counts.Load()}, "History calls (head, max seq, count)")

			e.publish("t1", "u1")
			f := c.next()
			require.Equal(t, FrameNotification, f.Type)
			require.Equal(t, title("t1", "u1", 4), f.Notification.Title)
			f = c.next()
			require.Equal(t, FrameUnreadCount, f.Type)
			require.Equal(t, 3, *f.UnreadCount)
		})
	}
}

// Sockets that start while a catch-up read is in the database share the
// next one, whatever their tenants, and each gets its own user's figures: the same
// user id in two tenants and two tabs of one user included.
func TestCatchUpReadsOfSocketsStartingTogetherAreBatched(t *testing.T) {
	t.Parallel()
	h, gh := newGatedHub(t, Config{})
	for range 3 {
		gh.insert("t1", "u1", "body")
	}
	for range 5 {
		gh.insert("t2", "u1", "body")
	}
	n := gh.insert("t2", "u2", "body")
	gh.setRead("t2", "u2", n.ID, true)
	gh.insert("t2", "u2", "body")

	gh.closeGate()
	first := newFakeTransport()
	attach(t, h, Identity{TenantID: "t1", UserID: "u0"}, first)
	require.Eventually(t, func() bool { in, _, _ := gh.stats(); return in == 1 }, wait, time.Millisecond,
		"the first read did not reach History")

	type socket struct {
		id     Identity
		seq    int64
		unread int
		tr     *fakeTransport
	}
	sockets := []socket{
		{id: Identity{TenantID: "t1", UserID: "u1"}, seq: 3, unread: 3},
		{id: Identity{TenantID: "t2", UserID: "u1"}, seq: 5, unread: 5},
		{id: Identity{TenantID: "t2", UserID: "u2"}, seq: 2, unread: 1},
		{id: Identity{TenantID: "t2", UserID: "u2"}, seq: 2, unread: 1},
		{id: Identity{TenantID: "t2", UserID: "nobody"}},
	}
	for i := range sockets {
		sockets[i].tr = newFakeTransport()
		attach(t, h, sockets[i].id, sockets[i].tr)
	}
	require.Eventually(t, func() bool { return h.heads.batches.Queued() == len(sockets) }, wait, time.Millisecond)
	gh.openGate()

	f := first.next(t)
	require.Equal(t, FrameUnreadCount, f.Type)
	require.Equal(t, 0, *f.UnreadCount)
	for _, s := range sockets {
		f := s.tr.next(t)
		require.Equal(t, FrameUnreadCount, f.Type, s.id)
		require.Equal(t, s.unread, *f.UnreadCount, s.id)
	}
	_, _, calls := gh.stats()
	require.Equal(t, 2, calls, "the first read, then one for every socket that waited")

	// Each socket starts after its user's latest seq: the next one is
	// delivered, nothing older is sent again.
	delivered := map[Identity]bool{}
	for _, s := range sockets {
		if !delivered[s.id] {
			delivered[s.id] = true
			u := notificationUpdate(gh.fakeHistory, s.id.TenantID, s.id.UserID)
			require.Equal(t, s.seq+1, u.Seq)
			h.Deliver(u)
		}
	}
	for _, s := range sockets {
		f := s.tr.next(t)
		require.Equal(t, FrameNotification, f.Type, s.id)
		require.Equal(t, title(s.id.TenantID, s.id.UserID, s.seq+1), f.Notification.Title, s.id)
	}
}

// A batch of catch-up reads is one History query: it takes one slot of
// MaxConcurrentRefills, in turn with the refills, however many sockets it
// serves; the sockets waiting for it take none.
func TestCatchUpBatchTakesOneSlot(t *testing.T) {
	t.Parallel()
	h, gh := newGatedHub(t, Config{MaxConcurrentRefills: 1, ResyncJitter: -1})
	busy := attachTabs(t, h, 1, 1)[0] // u0, connected
	gh.closeGate()
	h.Resync() // u0's refill takes the only slot and hangs
	require.Eventually(t, func() bool { in, _, _ := gh.stats(); return in == 1 }, wait, time.Millisecond)

	const sockets = 5
	trs := make([]*fakeTransport, sockets)
	for i := range trs {
		trs[i] = newFakeTransport()
		attach(t, h, Identity{TenantID: "t1", UserID: domain.UserID(fmt.Sprint("v", i))}, trs[i])
		if i == 0 {
			// The first socket's batch waits for the slot behind the
			// refill.
			require.Eventually(t, func() bool {
				return h.heads.batches.Queued() == 0 && metricNow(h.metrics.historyWaiting) == 1
			}, wait, time.Millisecond)
		}
	}
	// The others reached the next batch: none waits for a slot of its own.
	require.Eventually(t, func() bool { return h.heads.batches.Queued() == sockets-1 }, wait, time.Millisecond)
	require.Equal(t, 1, metricNow(h.metrics.historyWaiting), "only the batch waits for a slot")
	require.Equal(t, 1, metricNow(h.metrics.historyInFlight), "only the refill holds one")

	gh.openGate()
	require.Equal(t, FrameUnreadCount, busy.tr.next(t).Type, "the refill completed")
	for _, tr := range trs {
		require.Equal(t, FrameUnreadCount, tr.next(t).Type)
	}
	_, maxInFlight, _ := gh.stats()
	require.Equal(t, 1, maxInFlight, "never more History calls than slots")
}
