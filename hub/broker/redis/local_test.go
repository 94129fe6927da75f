package redisbroker_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	redisbroker "github.com/notifyhub/notifyhub/hub/broker/redis"
)

// collector is a batch subscription that records what it gets and fails
// the test should two deliveries ever overlap.
type collector struct {
	t        *testing.T
	mu       sync.Mutex
	got      []domain.InboxUpdate
	resyncs  atomic.Int32
	inFlight atomic.Int32
	overlap  atomic.Bool
}

func (c *collector) deliver(us []domain.InboxUpdate) {
	if c.inFlight.Add(1) != 1 {
		c.overlap.Store(true)
	}
	time.Sleep(50 * time.Microsecond) // widen any overlap
	c.mu.Lock()
	c.got = append(c.got, us...)
	c.mu.Unlock()
	c.inFlight.Add(-1)
}

func (c *collector) resync() {
	if c.inFlight.Add(1) != 1 {
		c.overlap.Store(true)
	}
	c.resyncs.Add(1)
	c.inFlight.Add(-1)
}

func (c *collector) users() []domain.UserID {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]domain.UserID, len(c.got))
	for i, u := range c.got {
		out[i] = u.UserID
	}
	return out
}

// subscribeCollector subscribes a collector to b until the test ends and
// waits until the subscription reads the stream (its first resync).
func subscribeCollector(t *testing.T, b *redisbroker.Broker) *collector {
	t.Helper()
	c := startCollector(t, b)
	require.Eventually(t, func() bool { return c.resyncs.Load() > 0 }, wait, time.Millisecond)
	return c
}

// startCollector subscribes a collector to b until the test ends.
func startCollector(t *testing.T, b *redisbroker.Broker) *collector {
	t.Helper()
	c := &collector{t: t}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.SubscribeBatch(ctx, c.deliver, c.resync)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		require.False(t, c.overlap.Load(), "deliver or resync calls overlapped")
	})
	return c
}

func readUpdates(n int, user string) []domain.InboxUpdate {
	us := make([]domain.InboxUpdate, n)
	for i := range us {
		us[i] = domain.InboxUpdate{Kind: domain.UpdateRead, TenantID: "t1",
			UserID: domain.UserID(fmt.Sprintf("%s-%04d", user, i)), IDs: []string{domain.NewID()}}
	}
	return us
}

func usersOf(us []domain.InboxUpdate) []domain.UserID {
	out := make([]domain.UserID, len(us))
	for i, u := range us {
		out[i] = u.UserID
	}
	return out
}

// twoNodes returns two brokers on one fresh stream, each with a client of
// its own as on separate machines, and the first one's client.
func twoNodes(t *testing.T) (*redisbroker.Broker, *redisbroker.Broker, *redis.Client) {
	t.Helper()
	c := newClient(t)
	prefix := uniquePrefix(t, c)
	return newBroker(t, c, redisbroker.Config{Prefix: prefix}), newBroker(t, newClient(t), redisbroker.Config{Prefix: prefix}), c
}

// A node's subscription has its own node's updates by the time Publish or
// PublishBatch returns, and only once: the entries it reads back are
// skipped. Another node reads every one of them from the stream, in order.
func TestOwnUpdatesDeliveredAtPublishOnce(t *testing.T) {
	t.Parallel()
	self, other, c := twoNodes(t)
	mine, theirs := subscribeCollector(t, self), subscribeCollector(t, other)

	batch := readUpdates(1500, "batch") // more than one entry
	require.NoError(t, self.PublishBatch(t.Context(), batch))
	require.Equal(t, usersOf(batch), mine.users(), "delivered within PublishBatch")
	single := readUpdates(1, "single")[0]
	require.NoError(t, self.Publish(t.Context(), single))
	want := append(usersOf(batch), single.UserID)
	require.Equal(t, want, mine.users(), "delivered within Publish")

	// A marker from the other node comes after every entry above in the
	// stream: once the subscription has it, a repeat would have come.
	marker := readUpdates(1, "marker")[0]
	require.NoError(t, other.Publish(t.Context(), marker))
	require.Eventually(t, func() bool { return len(mine.users()) > len(want) }, wait, time.Millisecond)
	require.Equal(t, append(want, marker.UserID), mine.users(), "nothing twice")
	// The other node reads them all, in order, and has its own marker
	// since it published it, wherever that fell among them.
	require.Eventually(t, func() bool { return len(theirs.users()) == len(want)+1 }, wait, time.Millisecond)
	require.Equal(t, want, slices.DeleteFunc(theirs.users(), func(u domain.UserID) bool { return u == marker.UserID }))

	// Every entry says which node delivered it itself: two batch entries
	// and the single one by this node, the marker by the other.
	entries, err := c.XRange(t.Context(), self.Key(), "-", "+").Result()
	require.NoError(t, err)
	byOrigin := map[any]int{}
	for _, e := range entries {
		byOrigin[e.Values["o"]]++
	}
	require.Len(t, byOrigin, 2, "%v", byOrigin)
	require.Equal(t, 3, byOrigin[entries[0].Values["o"]])
	require.Equal(t, 1, byOrigin[entries[3].Values["o"]])
}

// A broker with no subscription of its own marks nothing: a subscription
// that a node starts later reads those entries like any other's.
func TestNoSubscriptionNoMark(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	prefix := uniquePrefix(t, c)
	b := newBroker(t, c, redisbroker.Config{Prefix: prefix})
	require.NoError(t, b.PublishBatch(t.Context(), readUpdates(10, "u")))
	require.NoError(t, b.Publish(t.Context(), readUpdates(1, "v")[0]))
	entries, err := c.XRange(t.Context(), b.Key(), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, entries, 2)
	for _, e := range entries {
		require.NotContains(t, e.Values, "o")
	}
}

// An entry marked by another node, or by no node, is delivered; one
// marked with a foreign-looking or hostile origin is not mistaken for
// this node's.
func TestForeignMarksAreDelivered(t *testing.T) {
	t.Parallel()
	reader, writer, c := twoNodes(t)
	got := subscribeCollector(t, reader)
	_ = subscribeCollector(t, writer) // so that its entries are marked
	require.NoError(t, writer.Publish(t.Context(), readUpdates(1, "marked-by-writer")[0]))
	// Hand-written entries with hostile origins.
	for _, origin := range []string{"", "0", "'; FLUSHALL; --", "\x00\xff", "a very long origin " + fmt.Sprint(make([]byte, 200))} {
		require.NoError(t, c.XAdd(t.Context(), &redis.XAddArgs{Stream: reader.Key(),
			Values: []any{"update", `{"kind":"read_all","tenant_id":"t1","user_id":"hostile"}`, "o", origin}}).Err())
	}
	require.Eventually(t, func() bool { return len(got.users()) == 6 }, wait, time.Millisecond)
	require.Equal(t, []domain.UserID{"marked-by-writer-0000", "hostile", "hostile", "hostile", "hostile", "hostile"}, got.users())
}

// With Redis unreachable the node's own subscriptions still get its
// updates (the publish reports the failure): sockets on the node that
// committed them are not held up by the broker.
func TestOwnUpdatesDeliveredWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = down.Close() })
	b := newBroker(t, down, redisbroker.Config{Prefix: "notifyhub-test:" + domain.NewID() + ":"})
	col := startCollector(t, b)
	require.Eventually(t, func() bool {
		return b.PublishBatch(t.Context(), readUpdates(3, "x")) != nil && len(col.users()) >= 3
	}, wait, 10*time.Millisecond)
	require.Error(t, b.Publish(t.Context(), readUpdates(1, "y")[0]))
	require.Contains(t, col.users(), domain.UserID("y-0000"))
}

// Many goroutines publishing at once on two nodes: each subscription gets
// every update exactly once, each node's own at publish time, and its
// deliveries never overlap (the collector checks).
func TestConcurrentPublishersEachUpdateOnce(t *testing.T) {
	t.Parallel()
	a, b, _ := twoNodes(t)
	nodes := []*redisbroker.Broker{a, b}
	subs := []*collector{subscribeCollector(t, nodes[0]), subscribeCollector(t, nodes[1])}
	const publishers, each = 8, 40
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			n := nodes[p%2]
			for i := range each {
				us := readUpdates(1+i%3, fmt.Sprintf("p%d-%d", p, i))
				var err error
				if len(us) == 1 {
					err = n.Publish(t.Context(), us[0])
				} else {
					err = n.PublishBatch(t.Context(), us)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for i := range each {
		total += 1 + i%3
	}
	total *= publishers
	// A marker from each node: a repeat of a node's own update would come
	// before the other node's marker, which it reads from the stream.
	for i, n := range nodes {
		require.NoError(t, n.Publish(t.Context(), readUpdates(1, fmt.Sprint("marker-from-", i))[0]))
	}
	for i, s := range subs {
		require.Eventually(t, func() bool { return len(s.users()) >= total+2 }, wait, time.Millisecond, "node %d", i)
		got := s.users()
		require.Len(t, got, total+2, "node %d: every update once", i)
		seen := map[domain.UserID]bool{}
		for _, u := range got {
			require.False(t, seen[u], "node %d: %s twice", i, u)
			seen[u] = true
		}
		require.True(t, seen["marker-from-0-0000"] && seen["marker-from-1-0000"], "node %d: both markers", i)
	}
}
