package hub

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

// gatedHistory is a fakeHistory that counts the calls in flight (and the
// most ever at once) and, while its gate is closed, holds every call until
// the gate opens or the call's context ends: a database that stopped
// answering.
type gatedHistory struct {
	*fakeHistory

	mu          sync.Mutex
	gate        chan struct{} // nil: open
	inFlight    int
	maxInFlight int
	countCalls  int // UnreadCount calls
}

func newGatedHistory() *gatedHistory {
	return &gatedHistory{fakeHistory: newFakeHistory()}
}

func (g *gatedHistory) closeGate() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate == nil {
		g.gate = make(chan struct{})
	}
}

func (g *gatedHistory) openGate() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
}

func (g *gatedHistory) stats() (inFlight, maxInFlight, countCalls int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inFlight, g.maxInFlight, g.countCalls
}

// enter counts a call in and holds it at the gate; the caller must call
// exit once it is done, whatever enter returned.
func (g *gatedHistory) enter(ctx context.Context) error {
	g.mu.Lock()
	g.inFlight++
	g.maxInFlight = max(g.maxInFlight, g.inFlight)
	gate := g.gate
	g.mu.Unlock()
	if gate == nil {
		return nil
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gatedHistory) exit() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inFlight--
}

func (g *gatedHistory) NotificationSeq(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string) (int64, error) {
	defer g.exit()
	if err := g.enter(ctx); err != nil {
		return 0, err
	}
	return g.fakeHistory.NotificationSeq(ctx, tenant, user, id)
}

func (g *gatedHistory) NotificationsAfter(ctx context.Context, tenant domain.TenantID, user domain.UserID, after int64, limit int) ([]domain.Notification, error) {
	defer g.exit()
	if err := g.enter(ctx); err != nil {
		return nil, err
	}
	return g.fakeHistory.NotificationsAfter(ctx, tenant, user, after, limit)
}

func (g *gatedHistory) MaxSeq(ctx context.Context, tenant domain.TenantID, user domain.UserID) (int64, error) {
	defer g.exit()
	if err := g.enter(ctx); err != nil {
		return 0, err
	}
	return g.fakeHistory.MaxSeq(ctx, tenant, user)
}

func (g *gatedHistory) UnreadCount(ctx context.Context, tenant domain.TenantID, user domain.UserID) (int, error) {
	g.mu.Lock()
	g.countCalls++
	g.mu.Unlock()
	defer g.exit()
	if err := g.enter(ctx); err != nil {
		return 0, err
	}
	return g.fakeHistory.UnreadCount(ctx, tenant, user)
}

// InboxHeads is gated like the others and, since it answers the count,
// counted with UnreadCount.
func (g *gatedHistory) InboxHeads(ctx context.Context, tenants []domain.TenantID, users []domain.UserID) ([]int64, []int, error) {
	g.mu.Lock()
	g.countCalls++
	g.mu.Unlock()
	defer g.exit()
	if err := g.enter(ctx); err != nil {
		return nil, nil, err
	}
	return g.fakeHistory.InboxHeads(ctx, tenants, users)
}

func newGatedHub(t *testing.T, cfg Config) (*Hub, *gatedHistory) {
	t.Helper()
	gh := newGatedHistory()
	cfg.Registerer = prometheus.NewRegistry()
	h, err := New(cfg, gh)
	require.NoError(t, err)
	t.Cleanup(h.Close)
	return h, gh
}

type tab struct {
	user domain.UserID
	tr   *fakeTransport
	done <-chan struct{}
}

// attachTabs attaches tabs connections for each of users users of tenant
// t1 and waits until each is live (its catch-up unread_count arrived).
func attachTabs(t *testing.T, h *Hub, users, tabs int) []tab {
	t.Helper()
	var all []tab
	for u := range users {
		user := domain.UserID(fmt.Sprint("u", u))
		for range tabs {
			tr := newFakeTransport()
			done := attach(t, h, Identity{TenantID: "t1", UserID: user}, tr)
			all = append(all, tab{user: user, tr: tr, done: done})
		}
	}
	for _, tb := range all {
		f := tb.tr.next(t)
		require.Equal(t, FrameUnreadCount, f.Type)
	}
	return all
}

// After a broker outage, a Resync of 200 connections never has more than
// MaxConcurrentRefills History reads in flight, while every connection still
// gets every notification it missed (and the live one that arrived during
// the resync), in order, without duplicates, then History's count.
func TestResyncBoundedByMaxConcurrentRefills(t *testing.T) {
	t.Parallel()
	const limit, users, tabs, missed = 16, 50, 4, 3
	h, gh := newGatedHub(t, Config{MaxConcurrentRefills: limit, ResyncJitter: 20 * time.Millisecond})
	all := attachTabs(t, h, users, tabs)

	for u := range users {
		for range missed { // committed while the broker was down
			gh.insert("t1", domain.UserID(fmt.Sprint("u", u)), "body")
		}
	}
	gh.closeGate() // the database is slow: reads pile up
	h.Resync()
	for u := range users { // live, past the gap, while the resync runs
		h.Deliver(notificationUpdate(gh.fakeHistory, "t1", domain.UserID(fmt.Sprint("u", u))))
	}

	// Once every connection either reads History (held at the gate) or
	// waits for a slot, the reads in flight are exactly the limit.
	require.Eventually(t, func() bool {
		inFlight, _, _ := gh.stats()
		return inFlight+metricNow(h.metrics.historyWaiting) == len(all)
	}, wait, time.Millisecond, "every connection reading or waiting")
	inFlight, _, _ := gh.stats()
	require.Equal(t, limit, inFlight)
	require.Equal(t, limit, metricNow(h.metrics.historyInFlight))

	gh.openGate()
	for _, tb := range all {
		for seq := int64(1); seq <= missed+1; seq++ {
			f := tb.tr.next(t)
			require.Equal(t, FrameNotification, f.Type)
			require.Equal(t, title("t1", tb.user, seq), f.Notification.Title)
		}
		f := tb.tr.next(t)
		require.Equal(t, FrameUnreadCount, f.Type)
		require.Equal(t, missed+1, *f.UnreadCount)
	}
	_, maxInFlight, _ := gh.stats()
	require.LessOrEqual(t, maxInFlight, limit)
	// One refill each: for the resync, or for the gap when the live one
	// came first (that refill answers the resync too).
	require.Equal(t, float64(len(all)), value(t, h.metrics.refills.WithLabelValues(refillResync))+
		value(t, h.metrics.refills.WithLabelValues(refillGap)))
	require.Zero(t, value(t, h.metrics.resyncsPending))

	// Nothing duplicated afterwards: the next live one follows directly.
	h.Deliver(notificationUpdate(gh.fakeHistory, "t1", "u0"))
	for _, tb := range all[:tabs] {
		f := tb.tr.next(t)
		require.Equal(t, title("t1", "u0", missed+2), f.Notification.Title)
	}
	require.Eventually(t, func() bool {
		return metricNow(h.metrics.historyInFlight) == 0 && metricNow(h.metrics.historyWaiting) == 0
	}, wait, time.Millisecond, "every slot given back")
}

// Close during a resync does not wait for queued refills: connections
// waiting for a slot or out their jitter leave at once, and reads in
// progress are cancelled (the history timeout is an hour here).
func TestCloseDuringResyncReturnsPromptly(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"queued for a slot": {MaxConcurrentRefills: 2, ResyncJitter: -1, HistoryTimeout: time.Hour},
		"in its jitter":     {ResyncJitter: time.Hour, HistoryTimeout: time.Hour},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h, gh := newGatedHub(t, cfg)
			const conns = 10
			all := attachTabs(t, h, conns, 1)
			gh.closeGate()
			h.Resync()
			if cfg.ResyncJitter < 0 {
				require.Eventually(t, func() bool {
					inFlight, _, _ := gh.stats()
					return inFlight == 2 && metricNow(h.metrics.historyWaiting) == conns-2 &&
						metricNow(h.metrics.resyncsPending) == conns-2
				}, wait, time.Millisecond, "two reading, the rest queued")
			} else {
				require.Eventually(t, func() bool {
					return metricNow(h.metrics.resyncsPending) == conns
				}, wait, time.Millisecond, "every connection in its jitter")
			}

			closed := make(chan struct{})
			go func() {
				h.Close()
				close(closed)
			}()
			select {
			case <-closed:
			case <-time.After(wait):
				t.Fatal("Close waited for the queued refills")
			}
			for _, tb := range all {
				require.Equal(t, CloseGoingAway, tb.tr.closeCode(t))
				<-tb.done
			}
			require.Zero(t, metricNow(h.metrics.historyInFlight))
			require.Zero(t, metricNow(h.metrics.historyWaiting))
			require.Zero(t, metricNow(h.metrics.resyncsPending))
		})
	}
}

// Catch-up on connect takes a slot too: it queues behind a refill that
// holds the only one, and completes (no gap, then the count) once that
// refill is through; a connection that closes while queued gives its place
// up.
func TestCatchUpQueuesForASlot(t *testing.T) {
	t.Parallel()
	h, gh := newGatedHub(t, Config{MaxConcurrentRefills: 1, ResyncJitter: -1})
	busy := attachTabs(t, h, 1, 1)[0] // u0
	for range 3 {
		gh.insert("t1", "u1", "body")
	}
	gh.closeGate()
	h.Resync() // u0's refill takes the only slot and hangs
	require.Eventually(t, func() bool {
		inFlight, _, _ := gh.stats()
		return inFlight == 1
	}, wait, time.Millisecond)

	// One reconnecting client gives up while queued; another stays.
	quitter := newFakeTransport()
	quitCtx, quit := context.WithCancel(context.Background())
	c := h.newConn(Identity{TenantID: "t1", UserID: "u1"}, quitter)
	require.NoError(t, h.register(c))
	quitDone := make(chan struct{})
	go func() {
		defer close(quitDone)
		defer h.unregister(c)
		c.run(quitCtx, 1, true)
	}()
	tr := newFakeTransport()
	attachSince(t, h, Identity{TenantID: "t1", UserID: "u1"}, tr, 1, true)
	require.Eventually(t, func() bool { return metricNow(h.metrics.historyWaiting) == 2 }, wait, time.Millisecond)
	quit()
	<-quitDone
	require.Equal(t, 1, metricNow(h.metrics.historyWaiting), "the quitter left the queue")

	gh.openGate()
	for seq := int64(2); seq <= 3; seq++ {
		f := tr.next(t)
		require.Equal(t, FrameNotification, f.Type)
		require.Equal(t, title("t1", "u1", seq), f.Notification.Title)
	}
	f := tr.next(t)
	require.Equal(t, FrameUnreadCount, f.Type)
	require.Equal(t, 3, *f.UnreadCount)
	require.Equal(t, FrameUnreadCount, busy.tr.next(t).Type, "the resync completed too")
	require.Zero(t, len(quitter.frames), "the quitter never read History")
}
