package redisbroker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/hub"
	"github.com/notifyhub/notifyhub/hub/broker/brokertest"
	redisbroker "github.com/notifyhub/notifyhub/hub/broker/redis"
)

var _ hub.Broker = (*redisbroker.Broker)(nil)

const wait = 15 * time.Second

// newClient connects to NOTIFYHUB_TEST_REDIS_URL or skips the test.
func newClient(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("NOTIFYHUB_TEST_REDIS_URL")
	if url == "" {
		t.Skip("NOTIFYHUB_TEST_REDIS_URL not set: skipping Redis broker tests")
	}
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Ping(t.Context()).Err())
	return c
}

// uniquePrefix isolates a test's keys and deletes them when it ends.
func uniquePrefix(t *testing.T, c *redis.Client) string {
	t.Helper()
	prefix := "notifyhub-test:" + domain.NewID() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			_ = c.Del(ctx, iter.Val()).Err()
		}
	})
	return prefix
}

func newBroker(t *testing.T, c *redis.Client, cfg redisbroker.Config) *redisbroker.Broker {
	t.Helper()
	cfg.Client = c
	b, err := redisbroker.New(cfg)
	require.NoError(t, err)
	return b
}

func TestConformance(t *testing.T) {
	t.Parallel()
	brokertest.Run(t, func(t *testing.T, n int) []hub.Broker {
		prefix := uniquePrefix(t, newClient(t))
		nodes := make([]hub.Broker, n)
		for i := range nodes {
			// One client per node, as on separate machines.
			nodes[i] = newBroker(t, newClient(t), redisbroker.Config{Prefix: prefix})
		}
		return nodes
	})
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := redisbroker.New(redisbroker.Config{})
	require.ErrorContains(t, err, "client is required")
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { _ = c.Close() })
	_, err = redisbroker.New(redisbroker.Config{Client: c, MaxLen: -1})
	require.Error(t, err)
	_, err = redisbroker.New(redisbroker.Config{Client: c, ClientName: "has space"})
	require.Error(t, err)
	b, err := redisbroker.New(redisbroker.Config{Client: c})
	require.NoError(t, err)
	require.Equal(t, "notifyhub:inbox", b.Key())
}

// subscription runs Subscribe and exposes what it is handed.
type subscription struct {
	updates chan domain.InboxUpdate
	resyncs chan struct{}
	done    chan struct{}
	err     error
	cancel  context.CancelFunc
}

func subscribe(t *testing.T, b *redisbroker.Broker) *subscription {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	s := &subscription{
		updates: make(chan domain.InboxUpdate, 1024),
		resyncs: make(chan struct{}, 1024),
		done:    make(chan struct{}),
		cancel:  cancel,
	}
	go func() {
		defer close(s.done)
		s.err = b.Subscribe(ctx, func(u domain.InboxUpdate) { s.updates <- u }, func() { s.resyncs <- struct{}{} })
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

// live publishes probes until the subscription delivers one, then drains.
func (s *subscription) live(t *testing.T, b *redisbroker.Broker) {
	t.Helper()
	deadline := time.After(wait)
	for {
		require.NoError(t, b.Publish(t.Context(), domain.InboxUpdate{Kind: domain.UpdateReadAll, TenantID: "probe", UserID: "probe"}))
		select {
		case <-s.updates:
			for len(s.updates) > 0 {
				<-s.updates
			}
			return
		case <-deadline:
			t.Fatal("subscription never went live")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *subscription) nextUser(t *testing.T, user domain.UserID) domain.InboxUpdate {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case u := <-s.updates:
			if u.UserID == user {
				return u
			}
		case <-deadline:
			t.Fatalf("no update for %s within %s", user, wait)
		}
	}
}

func (s *subscription) resynced(t *testing.T) {
	t.Helper()
	select {
	case <-s.resyncs:
	case <-time.After(wait):
		t.Fatalf("no resync within %s", wait)
	}
}

// killClient kills the connection named name, as a network failure or a
// Redis restart would.
func killClient(t *testing.T, c *redis.Client, name string) {
	t.Helper()
	var id string
	require.Eventually(t, func() bool {
		list, err := c.ClientList(t.Context()).Result()
		if err != nil {
			return false
		}
		for _, line := range strings.Split(list, "\n") {
			fields := map[string]string{}
			for _, f := range strings.Fields(line) {
				k, v, _ := strings.Cut(f, "=")
				fields[k] = v
			}
			if fields["name"] == name {
				id = fields["id"]
				return true
			}
		}
		return false
	}, wait, 10*time.Millisecond, "subscriber connection %q not found", name)
	require.NoError(t, c.Do(t.Context(), "CLIENT", "KILL", "ID", id).Err())
}

func uniqueName() string { return "nh-test-" + strings.ReplaceAll(domain.NewID(), "-", "") }

// An update published while the subscriber's connection is broken is still
// delivered (the stream kept it) and the hub is told to resync.
func TestKilledConnectionResyncsAndContinues(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	name := uniqueName()
	b := newBroker(t, c, redisbroker.Config{Prefix: uniquePrefix(t, c), ClientName: name})
	s := subscribe(t, b)
	s.live(t, b)
	for len(s.resyncs) > 0 {
		<-s.resyncs
	}

	killClient(t, c, name)
	require.NoError(t, b.Publish(t.Context(), domain.InboxUpdate{Kind: domain.UpdateRead, TenantID: "t1", UserID: "after-kill", IDs: []string{"x"}}))

	s.resynced(t)
	u := s.nextUser(t, "after-kill")
	require.Equal(t, []string{"x"}, u.IDs)
}

// Redis came back with a new stream whose ids are older than the last one
// read (a failover to a node with another clock, or a restart that lost the
// data): the subscriber must read the new stream from its start.
func TestStreamResetReadsFromStart(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	name := uniqueName()
	b := newBroker(t, c, redisbroker.Config{Prefix: uniquePrefix(t, c), ClientName: name})
	s := subscribe(t, b)
	s.live(t, b)

	// Replace the stream while the subscriber is blocked on its last id:
	// the old entries vanish and the new one has an id far below it.
	payload, err := json.Marshal(domain.InboxUpdate{Kind: domain.UpdateReadAll, TenantID: "t1", UserID: "after-reset"})
	require.NoError(t, err)
	require.NoError(t, c.Del(t.Context(), b.Key()).Err())
	require.NoError(t, c.XAdd(t.Context(), &redis.XAddArgs{Stream: b.Key(), ID: "1-1", Values: []any{"update", payload}}).Err())
	for len(s.resyncs) > 0 {
		<-s.resyncs
	}

	killClient(t, c, name)
	s.resynced(t)
	u := s.nextUser(t, "after-reset")
	require.Equal(t, domain.UpdateReadAll, u.Kind)
}

// Cancelling the context wakes a subscriber blocked in XREAD at once
// rather than after Block.
func TestCancelWakesBlockedRead(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBroker(t, c, redisbroker.Config{Prefix: uniquePrefix(t, c), Block: time.Hour})
	s := subscribe(t, b)
	s.live(t, b)
	s.cancel()
	select {
	case <-s.done:
		require.NoError(t, s.err)
	case <-time.After(wait):
		t.Fatal("Subscribe still blocked after cancel")
	}
}

// A batch reaches every node in order, as the same updates published one by
// one would, and a bad one fails the batch before anything is sent.
func TestPublishBatchKeepsOrder(t *testing.T) {
	t.Parallel()
	pub, sub, _ := twoNodes(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan domain.InboxUpdate, 3000)
	go func() { _ = sub.Subscribe(ctx, func(u domain.InboxUpdate) { got <- u }, func() {}) }()
	// Probe until the subscription reads (it starts at the stream's end).
	probe := domain.InboxUpdate{Kind: domain.UpdateReadAll, TenantID: "t1", UserID: "probe"}
	require.Eventually(t, func() bool {
		require.NoError(t, pub.Publish(t.Context(), probe))
		select {
		case <-got:
			return true
		case <-time.After(20 * time.Millisecond):
			return false
		}
	}, wait, time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	for len(got) > 0 {
		<-got // late probes
	}
	var us []domain.InboxUpdate
	for i := range 2500 { // more than one pipeline
		us = append(us, domain.InboxUpdate{Kind: domain.UpdateRead, TenantID: "t1", UserID: domain.UserID(fmt.Sprint("u", i)), IDs: []string{fmt.Sprint(i)}})
	}
	require.NoError(t, pub.PublishBatch(t.Context(), us))
	for i := range us {
		select {
		case u := <-got:
			require.Equal(t, us[i].UserID, u.UserID, "update %d", i)
		case <-time.After(wait):
			t.Fatalf("update %d not delivered", i)
		}
	}
	require.NoError(t, pub.PublishBatch(t.Context(), nil))
}

// The stream is capped, approximately, at MaxLen.
func TestPublishCapsStream(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBroker(t, c, redisbroker.Config{Prefix: uniquePrefix(t, c), MaxLen: 10})
	const published = 1000
	for i := range published {
		require.NoError(t, b.Publish(t.Context(), domain.InboxUpdate{Kind: domain.UpdateReadAll, TenantID: "t1", UserID: domain.UserID(fmt.Sprint(i))}))
	}
	n, err := c.XLen(t.Context(), b.Key()).Result()
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, int64(10))
	require.Less(t, n, int64(published), "MAXLEN ~ must have trimmed the stream")
}

// An entry this broker cannot decode is skipped with a resync: the update
// it carried is in the database.
func TestUndecodableEntryResyncs(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBroker(t, c, redisbroker.Config{Prefix: uniquePrefix(t, c)})
	s := subscribe(t, b)
	s.live(t, b)
	for len(s.resyncs) > 0 {
		<-s.resyncs
	}
	require.NoError(t, c.XAdd(t.Context(), &redis.XAddArgs{Stream: b.Key(), Values: []any{"update", "{not json"}}).Err())
	require.NoError(t, b.Publish(t.Context(), domain.InboxUpdate{Kind: domain.UpdateReadAll, TenantID: "t1", UserID: "after-garbage"}))
	s.resynced(t)
	s.nextUser(t, "after-garbage")
	// A truncated binary entry: two bytes of kind "read_all", then nothing.
	require.NoError(t, c.XAdd(t.Context(), &redis.XAddArgs{Stream: b.Key(), Values: []any{"u2", "\x08read_all"}}).Err())
	require.NoError(t, b.Publish(t.Context(), domain.InboxUpdate{Kind: domain.UpdateReadAll, TenantID: "t1", UserID: "after-truncated"}))
	s.resynced(t)
	s.nextUser(t, "after-truncated")
}

// An entry written by an older node (JSON under "update") is delivered
// like a new one during a rolling deploy.
func TestJSONEntryFromOlderNodeDelivered(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBroker(t, c, redisbroker.Config{Prefix: uniquePrefix(t, c)})
	s := subscribe(t, b)
	s.live(t, b)
	old := domain.InboxUpdate{Kind: domain.UpdateRead, TenantID: "t1", UserID: "from-old-node", IDs: []string{"n1"}, UnreadCount: 4,
		CommittedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	payload, err := json.Marshal(old)
	require.NoError(t, err)
	require.NoError(t, c.XAdd(t.Context(), &redis.XAddArgs{Stream: b.Key(), Values: []any{"update", payload}}).Err())
	require.Equal(t, old, s.nextUser(t, "from-old-node"))
}
