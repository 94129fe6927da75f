package brokertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/hub"
)

// NewNodes returns n brokers that share one bus, as n hub nodes would: an
// update published on any of them reaches the subscribers of all. A backend
// that lives in one process returns the same broker n times. Each call must
// be isolated from every other call (its own key prefix on a server), with
// cleanup registered on t.
type NewNodes func(t *testing.T, n int) []hub.Broker

// wait bounds every wait of the suite; reaching it is a failure, never a
// timing assertion.
const wait = 15 * time.Second

// Run runs the whole suite against the backend.
func Run(t *testing.T, newNodes NewNodes) {
	t.Run("EveryNodeSeesEveryUpdateInOrder", func(t *testing.T) {
		t.Parallel()
		testFanOutInOrder(t, newNodes)
	})
	t.Run("UpdateRoundTripsIntact", func(t *testing.T) {
		t.Parallel()
		testRoundTrip(t, newNodes)
	})
	t.Run("CancelStopsSubscribe", func(t *testing.T) {
		t.Parallel()
		testCancel(t, newNodes)
	})
	t.Run("PublishHonoursContext", func(t *testing.T) {
		t.Parallel()
		testPublishCanceled(t, newNodes)
	})
	t.Run("BatchesKeepOrderWithSingles", func(t *testing.T) {
		t.Parallel()
		testBatches(t, newNodes)
	})
	t.Run("ResyncsOnceLive", func(t *testing.T) {
		t.Parallel()
		testResyncOnceLive(t, newNodes)
	})
	t.Run("SubscribeRequiresCallbacks", func(t *testing.T) {
		t.Parallel()
		b := newNodes(t, 1)[0]
		require.Error(t, b.Subscribe(t.Context(), nil, func() {}))
		require.Error(t, b.Subscribe(t.Context(), func(domain.InboxUpdate) {}, nil))
	})
}

// probeTenant marks warm-up updates, which are not part of what a test
// checks: they only prove that a subscription is live.
const probeTenant domain.TenantID = "brokertest-probe"

// sub is a running subscription collecting what it is delivered.
type sub struct {
	updates chan domain.InboxUpdate
	resyncs chan struct{}
	probes  chan struct{} // one token once a probe arrived
	done    chan struct{} // closed when Subscribe returned, err then set
	err     error
	cancel  context.CancelFunc
	once    sync.Once
}

func subscribe(t *testing.T, b hub.Broker) *sub {
	t.Helper()
	return subscribeWith(t, b, false)
}

// subscribeWith subscribes through SubscribeBatch when batch is set.
func subscribeWith(t *testing.T, b hub.Broker, batch bool) *sub {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	s := &sub{
		updates: make(chan domain.InboxUpdate, 1024),
		resyncs: make(chan struct{}, 1024),
		probes:  make(chan struct{}),
		done:    make(chan struct{}),
		cancel:  cancel,
	}
	deliver := func(u domain.InboxUpdate) {
		if u.TenantID == probeTenant {
			s.once.Do(func() { close(s.probes) })
			return
		}
		s.updates <- u
	}
	resync := func() { s.resyncs <- struct{}{} }
	go func() {
		defer close(s.done)
		if batch {
			s.err = b.(hub.BatchBroker).SubscribeBatch(ctx, func(us []domain.InboxUpdate) {
				for _, u := range us {
					deliver(u)
				}
			}, resync)
			return
		}
		s.err = b.Subscribe(ctx, deliver, resync)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(wait):
			t.Errorf("Subscribe did not return after cancel")
		}
	})
	return s
}

// warmUp publishes probes until every subscription has seen one, so that
// what is published next is published after they all started.
func warmUp(t *testing.T, pub hub.Broker, subs ...*sub) {
	t.Helper()
	deadline := time.After(wait)
	for _, s := range subs {
		for seen := false; !seen; {
			require.NoError(t, pub.Publish(t.Context(), domain.InboxUpdate{
				Kind: domain.UpdateReadAll, TenantID: probeTenant, UserID: "probe",
			}))
			select {
			case <-s.probes:
				seen = true
			case <-s.done:
				t.Fatalf("Subscribe returned during warm-up: %v", s.err)
			case <-deadline:
				t.Fatalf("subscription saw no probe within %s", wait)
			case <-time.After(20 * time.Millisecond):
				// not live yet: publish another probe
			}
		}
	}
}

func next(t *testing.T, s *sub) domain.InboxUpdate {
	t.Helper()
	select {
	case u := <-s.updates:
		return u
	case <-s.done:
		t.Fatalf("Subscribe returned early: %v", s.err)
	case <-time.After(wait):
		t.Fatalf("no update within %s", wait)
	}
	return domain.InboxUpdate{}
}

func notificationUpdate(tenant domain.TenantID, user domain.UserID, seq int64) domain.InboxUpdate {
	n := &domain.Notification{
		ID:        domain.NewID(),
		TenantID:  tenant,
		UserID:    user,
		Seq:       seq,
		Type:      "AnnouncementNotification",
		Severity:  domain.SeverityInfo,
		Title:     fmt.Sprintf("%s/%s #%d", tenant, user, seq),
		Body:      "body",
		ActionURL: "/notifications",
		Data:      json.RawMessage(`{"k":"v","n":1}`),
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC),
	}
	return domain.InboxUpdate{
		Kind: domain.UpdateNotification, TenantID: tenant, UserID: user,
		Notification: n, Seq: seq, UnreadCount: int(seq),
		CommittedAt: time.Date(2026, 1, 2, 3, 4, 5, 7000, time.UTC),
	}
}

func testFanOutInOrder(t *testing.T, newNodes NewNodes) {
	nodes := newNodes(t, 2)
	a, b := subscribe(t, nodes[0]), subscribe(t, nodes[1])
	warmUp(t, nodes[0], a, b)

	const total = 50
	for i := 1; i <= total; i++ {
		// Alternate publishing nodes, each with a user of its own: one
		// node's updates arrive in the order of its calls. Across nodes
		// a node may see its own first (see hub.Broker).
		user := domain.UserID(fmt.Sprint("from-node-", i%2))
		require.NoError(t, nodes[i%2].Publish(t.Context(), notificationUpdate("t1", user, int64(i))))
	}
	// Then a marker from each node: whatever a subscription would get
	// twice (its own node's updates read back from the transport) comes
	// before the other node's marker.
	for i, n := range nodes {
		require.NoError(t, n.Publish(t.Context(), notificationUpdate("t1", domain.UserID(fmt.Sprint("marker-", i)), 1)))
	}
	for _, s := range []*sub{a, b} {
		last := map[domain.UserID]int64{"from-node-0": 0, "from-node-1": -1}
		markers := map[domain.UserID]bool{}
		for len(markers) < 2 {
			u := next(t, s)
			if u.UserID == "marker-0" || u.UserID == "marker-1" {
				require.False(t, markers[u.UserID], "%s twice", u.UserID)
				markers[u.UserID] = true
				continue
			}
			prev, ok := last[u.UserID]
			require.True(t, ok, "unexpected update for %s", u.UserID)
			require.Equal(t, prev+2, u.Seq, "%s: a node's updates out of order, missing or repeated", u.UserID)
			last[u.UserID] = u.Seq
		}
		require.Equal(t, map[domain.UserID]int64{"from-node-0": total, "from-node-1": total - 1}, last,
			"every update of both nodes before the markers")
	}
}

// batchPublisher is a broker that publishes many updates at once (the
// notification service's BatchFanout).
type batchPublisher interface {
	PublishBatch(ctx context.Context, us []domain.InboxUpdate) error
}

// testBatches checks PublishBatch and SubscribeBatch, where a backend has
// them: a batch (broadcasts whose updates differ only in user, seq, count
// and id, and other updates among them) reaches every subscription, batch
// or not, intact and in order between the updates published singly
// around it.
func testBatches(t *testing.T, newNodes NewNodes) {
	nodes := newNodes(t, 2)
	bp, ok := nodes[0].(batchPublisher)
	if !ok {
		t.Skip("the backend has no PublishBatch")
	}
	subs := []*sub{subscribe(t, nodes[1])}
	if _, ok := nodes[1].(hub.BatchBroker); ok {
		subs = append(subs, subscribeWith(t, nodes[1], true))
	}
	warmUp(t, nodes[0], subs...)

	readAt := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var batch []domain.InboxUpdate
	for b := range 3 {
		tmpl := notificationUpdate("t1", "u0", 1)
		tmpl.Notification.Title = fmt.Sprintf("broadcast %d", b)
		for u := range 5 {
			n := *tmpl.Notification
			n.ID, n.UserID, n.Seq = domain.NewID(), domain.UserID(fmt.Sprint("u", u)), int64(b+1)
			upd := tmpl
			upd.UserID, upd.Seq, upd.UnreadCount, upd.Notification = n.UserID, n.Seq, b+u, &n
			batch = append(batch, upd)
		}
		batch = append(batch, domain.InboxUpdate{Kind: domain.UpdateRead, TenantID: "t1", UserID: "u1",
			IDs: []string{domain.NewID()}, UnreadCount: b, CommittedAt: readAt})
	}
	first, last := notificationUpdate("t1", "before", 1), notificationUpdate("t1", "after", 1)
	require.NoError(t, nodes[0].Publish(t.Context(), first))
	require.NoError(t, bp.PublishBatch(t.Context(), batch))
	require.NoError(t, nodes[0].Publish(t.Context(), last))
	want := append(append([]domain.InboxUpdate{first}, batch...), last)
	for _, s := range subs {
		for i, w := range want {
			requireSameUpdate(t, w, next(t, s), fmt.Sprintf("update %d", i))
		}
	}
}

// requireSameUpdate checks that got carries what w did.
func requireSameUpdate(t *testing.T, w, got domain.InboxUpdate, what string) {
	t.Helper()
	require.Equal(t, w.Kind, got.Kind, what)
	require.Equal(t, w.TenantID, got.TenantID, what)
	require.Equal(t, w.UserID, got.UserID, what)
	require.Equal(t, w.Seq, got.Seq, what)
	require.Equal(t, w.IDs, got.IDs, what)
	require.Equal(t, w.UnreadCount, got.UnreadCount, what)
	require.True(t, w.CommittedAt.Equal(got.CommittedAt), "%s: committed_at %v != %v", what, got.CommittedAt, w.CommittedAt)
	if w.Notification == nil {
		require.Nil(t, got.Notification, what)
		return
	}
	require.NotNil(t, got.Notification, what)
	wn, gn := *w.Notification, *got.Notification
	require.Equal(t, wn.ID, gn.ID, what)
	require.Equal(t, wn.TenantID, gn.TenantID, what)
	require.Equal(t, wn.UserID, gn.UserID, what)
	require.Equal(t, wn.Seq, gn.Seq, what)
	require.Equal(t, wn.Type, gn.Type, what)
	require.Equal(t, wn.Severity, gn.Severity, what)
	require.Equal(t, wn.Title, gn.Title, what)
	require.Equal(t, wn.Body, gn.Body, what)
	require.Equal(t, wn.ActionURL, gn.ActionURL, what)
	require.JSONEq(t, string(wn.Data), string(gn.Data), what)
	require.True(t, wn.CreatedAt.Equal(gn.CreatedAt), what)
	require.Equal(t, wn.ReadAt == nil, gn.ReadAt == nil, what)
	if wn.ReadAt != nil {
		require.True(t, wn.ReadAt.Equal(*gn.ReadAt), what)
	}
}

func testRoundTrip(t *testing.T, newNodes NewNodes) {
	nodes := newNodes(t, 2)
	s := subscribe(t, nodes[1])
	warmUp(t, nodes[0], s)

	readAt := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	want := []domain.InboxUpdate{
		notificationUpdate("tenant-a", "user-1", 7),
		{Kind: domain.UpdateRead, TenantID: "tenant-a", UserID: "user-1", IDs: []string{domain.NewID(), domain.NewID()}, UnreadCount: 3, CommittedAt: readAt},
		{Kind: domain.UpdateUnread, TenantID: "tenant-b", UserID: "user-1", IDs: []string{domain.NewID()}, UnreadCount: 4, CommittedAt: readAt},
		{Kind: domain.UpdateReadAll, TenantID: "tenant-b", UserID: "user-2", CommittedAt: readAt},
	}
	want[0].Notification.ReadAt = &readAt
	for _, u := range want {
		require.NoError(t, nodes[0].Publish(t.Context(), u))
	}
	for _, w := range want {
		got := next(t, s)
		require.Equal(t, w.Kind, got.Kind)
		require.Equal(t, w.TenantID, got.TenantID)
		require.Equal(t, w.UserID, got.UserID)
		require.Equal(t, w.Seq, got.Seq)
		require.Equal(t, w.IDs, got.IDs)
		require.Equal(t, w.UnreadCount, got.UnreadCount)
		require.True(t, w.CommittedAt.Equal(got.CommittedAt), "committed_at %v != %v", got.CommittedAt, w.CommittedAt)
		if w.Notification == nil {
			require.Nil(t, got.Notification)
			continue
		}
		require.NotNil(t, got.Notification)
		wn, gn := *w.Notification, *got.Notification
		require.Equal(t, wn.ID, gn.ID)
		require.Equal(t, wn.TenantID, gn.TenantID)
		require.Equal(t, wn.UserID, gn.UserID)
		require.Equal(t, wn.Seq, gn.Seq)
		require.Equal(t, wn.Type, gn.Type)
		require.Equal(t, wn.Severity, gn.Severity)
		require.Equal(t, wn.Title, gn.Title)
		require.Equal(t, wn.Body, gn.Body)
		require.Equal(t, wn.ActionURL, gn.ActionURL)
		require.JSONEq(t, string(wn.Data), string(gn.Data))
		require.True(t, wn.CreatedAt.Equal(gn.CreatedAt))
		require.NotNil(t, gn.ReadAt)
		require.True(t, wn.ReadAt.Equal(*gn.ReadAt))
	}
}

func testCancel(t *testing.T, newNodes NewNodes) {
	b := newNodes(t, 1)[0]
	s := subscribe(t, b)
	warmUp(t, b, s)
	s.cancel()
	select {
	case <-s.done:
		require.NoError(t, s.err, "Subscribe returns nil when its context ends")
	case <-time.After(wait):
		t.Fatalf("Subscribe still running %s after cancel", wait)
	}
}

func testPublishCanceled(t *testing.T, newNodes NewNodes) {
	b := newNodes(t, 1)[0]
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := b.Publish(ctx, notificationUpdate("t1", "u1", 1))
	require.Error(t, err)
	require.True(t, errors.Is(err, context.Canceled), "want context.Canceled, got %v", err)
}

// A subscription resyncs once it is live, before it delivers anything:
// sockets that registered before it may have missed what was published
// while it started.
func testResyncOnceLive(t *testing.T, newNodes NewNodes) {
	b := newNodes(t, 1)[0]
	for _, batch := range []bool{false, true} {
		if _, ok := b.(hub.BatchBroker); batch && !ok {
			continue
		}
		s := subscribeWith(t, b, batch)
		warmUp(t, b, s)
		// resync and deliver are called from one goroutine: the resync is
		// in before the probe that warmUp saw.
		select {
		case <-s.resyncs:
		default:
			t.Fatalf("live (batch %t) without a resync first", batch)
		}
	}
}
