package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/relay"
	"github.com/notifyhub/notifyhub/workers/stream"
	"github.com/notifyhub/notifyhub/workers/stream/dbqueue"
	redisstream "github.com/notifyhub/notifyhub/workers/stream/redis"
	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

type backend struct {
	store  *sqlstore.Store
	stream stream.Stream
	redis  *redis.Client // nil unless the stream is Redis
	prefix string
}

func backends() map[string]func(t *testing.T) backend {
	return map[string]func(t *testing.T) backend{
		"sqlite+dbqueue": func(t *testing.T) backend {
			s := storetest.OpenSQLite(t)
			return backend{store: s, stream: dbqueue.New(s.DB(), s.Dialect(), dbqueue.Options{PollInterval: 10 * time.Millisecond})}
		},
		"postgres+redis": func(t *testing.T) backend {
			s := storetest.OpenPostgres(t)
			client, prefix := streamtest.OpenRedis(t)
			return backend{store: s, stream: redisstream.New(client, redisstream.Options{Prefix: prefix}), redis: client, prefix: prefix}
		},
	}
}

type tick struct {
	N int `json:"n"`
}

func (tick) EventType() string             { return "Tick" }
func (e tick) Aggregate() (string, string) { return "tick", fmt.Sprint(e.N) }

func appendEvent(ctx context.Context, s *sqlstore.Store, tenant domain.TenantID, n int) (domain.Event, error) {
	ev, err := domain.NewEvent(tenant, "u", time.Now(), tick{N: n})
	if err != nil {
		return ev, err
	}
	return ev, s.AppendEvents(ctx, ev)
}

// drain reads everything the group has on the topic and returns event ids
// in stream order.
func drain(t *testing.T, s stream.Stream, group string) []string {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.EnsureGroup(ctx, "events", group))
	var ids []string
	for {
		msgs, err := s.Read(ctx, "events", group, "c", 500, 20*time.Millisecond)
		require.NoError(t, err)
		if len(msgs) == 0 {
			return ids
		}
		for _, m := range msgs {
			var ev domain.Event
			require.NoError(t, json.Unmarshal(m.Body, &ev))
			ids = append(ids, ev.ID)
			require.NoError(t, s.Ack(ctx, "events", group, m.ID))
		}
	}
}

// TestConcurrentWritersEveryCommittedEventPublishedOnce runs writers that
// commit and roll back at random while the relay runs: every committed
// event is published exactly once, no rolled-back one ever.
func TestConcurrentWritersEveryCommittedEventPublishedOnce(t *testing.T) {
	t.Parallel()
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			ctx := context.Background()
			// The group exists before anything is published, as the
			// runner's groups do.
			require.NoError(t, b.stream.EnsureGroup(ctx, "events", "check"))
			r, err := relay.New(relay.Config{BatchSize: 7, PollInterval: 5 * time.Millisecond,
				PublishOutsideTx: b.store.Dialect() == "sqlite"}, b.store, b.stream)
			require.NoError(t, err)
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); _ = r.Run(rctx) }()

			var mu sync.Mutex
			committed := map[string]bool{}
			rolledBack := map[string]bool{}
			var wg sync.WaitGroup
			errRollback := errors.New("rollback on purpose")
			for w := range 8 {
				wg.Go(func() {
					for i := range 25 {
						var ids []string
						err := b.store.InTx(ctx, func(ctx context.Context) error {
							for k := range 1 + (i % 3) {
								ev, err := appendEvent(ctx, b.store, "t-relay", w*1000+i*10+k)
								if err != nil {
									return err
								}
								ids = append(ids, ev.ID)
							}
							if (w+i)%5 == 0 {
								return errRollback
							}
							return nil
						})
						mu.Lock()
						for _, id := range ids {
							if err == nil {
								committed[id] = true
							} else {
								rolledBack[id] = true
							}
						}
						mu.Unlock()
						if err != nil && !errors.Is(err, errRollback) {
							t.Errorf("writer: %v", err)
						}
					}
				})
			}
			wg.Wait()
			require.Eventually(t, func() bool {
				_, ok, err := b.store.OldestUnpublished(ctx)
				return err == nil && !ok
			}, 30*time.Second, 10*time.Millisecond)
			cancel()
			<-done

			published := drain(t, b.stream, "check")
			seen := map[string]bool{}
			for _, id := range published {
				require.False(t, seen[id], "event %s published twice", id)
				seen[id] = true
				require.False(t, rolledBack[id], "rolled-back event %s published", id)
			}
			require.Len(t, seen, len(committed))
			for id := range committed {
				require.True(t, seen[id], "committed event %s never published", id)
			}
			require.NotEmpty(t, rolledBack)
		})
	}
}

// TestOutOfOrderCommitIsNotSkipped: a transaction that took an earlier
// outbox position but commits after a later one has been published is
// still published. Only PostgreSQL lets two writers overlap like this
// (SQLite serialises write transactions).
func TestOutOfOrderCommitIsNotSkipped(t *testing.T) {
	t.Parallel()
	b := backends()["postgres+redis"](t)
	ctx := context.Background()
	require.NoError(t, b.stream.EnsureGroup(ctx, "events", "check"))
	r, err := relay.New(relay.Config{}, b.store, b.stream)
	require.NoError(t, err)

	appended := make(chan domain.Event)
	release := make(chan struct{})
	slowDone := make(chan error)
	go func() {
		slowDone <- b.store.InTx(ctx, func(ctx context.Context) error {
			ev, err := appendEvent(ctx, b.store, "t-ooo", 1)
			if err != nil {
				return err
			}
			appended <- ev
			<-release // hold the transaction open
			return nil
		})
	}()
	early := <-appended // took the lower position, not committed yet
	var late domain.Event
	require.NoError(t, b.store.InTx(ctx, func(ctx context.Context) error {
		late, err = appendEvent(ctx, b.store, "t-ooo", 2)
		return err
	}))
	n, err := r.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []string{late.ID}, drain(t, b.stream, "check"))

	close(release)
	require.NoError(t, <-slowDone)
	n, err = r.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []string{early.ID}, drain(t, b.stream, "check"))
}

// TestPublishFailureLeavesEventsUnpublished: when the stream refuses, the
// events stay in the outbox and go out on the next flush.
func TestPublishFailureLeavesEventsUnpublished(t *testing.T) {
	t.Parallel()
	b := backends()["sqlite+dbqueue"](t)
	ctx := context.Background()
	ev, err := appendEvent(ctx, b.store, "t-fail", 1)
	require.NoError(t, err)
	failing := &flakyPublisher{Stream: b.stream, failures: 1}
	r, err := relay.New(relay.Config{PublishOutsideTx: true}, b.store, failing)
	require.NoError(t, err)
	_, err = r.Flush(ctx)
	require.Error(t, err)
	_, ok, err := b.store.OldestUnpublished(ctx)
	require.NoError(t, err)
	require.True(t, ok, "the event is still unpublished")
	require.NoError(t, b.stream.EnsureGroup(ctx, "events", "check"))
	n, err := r.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []string{ev.ID}, drain(t, b.stream, "check"))
}

// flakyPublisher wraps the real stream and refuses the first publishes,
// as a stream that is briefly down would.
type flakyPublisher struct {
	stream.Stream
	failures int
}

func (p *flakyPublisher) Publish(ctx context.Context, topic string, bodies ...[]byte) error {
	if p.failures > 0 {
		p.failures--
		return errors.New("stream unavailable")
	}
	return p.Stream.Publish(ctx, topic, bodies...)
}

// TestRedisComingBackEmptyIsRepublishedFromTheOutbox: when Redis loses its
// data, the relay notices (the stream's epoch changed) and publishes again
// what it had published within the window; consumers' groups come back
// from the start and see those events again.
func TestRedisComingBackEmptyIsRepublishedFromTheOutbox(t *testing.T) {
	t.Parallel()
	b := backends()["postgres+redis"](t)
	ctx := context.Background()
	r, err := relay.New(relay.Config{}, b.store, b.stream)
	require.NoError(t, err)
	n, err := r.CheckStream(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "first start: nothing to republish")

	require.NoError(t, b.stream.EnsureGroup(ctx, "events", "check"))
	var ids []string
	for i := range 3 {
		ev, err := appendEvent(ctx, b.store, "t-lost", i)
		require.NoError(t, err)
		ids = append(ids, ev.ID)
	}
	_, err = r.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, ids, drain(t, b.stream, "check"))
	n, err = r.CheckStream(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "same Redis: nothing to republish")

	// Redis restarts empty: every key of ours is gone.
	keys, err := b.redis.Keys(ctx, b.prefix+"*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	require.NoError(t, b.redis.Del(ctx, keys...).Err())

	n, err = r.CheckStream(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	_, err = r.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, ids, drain(t, b.stream, "check"))
	n, err = r.CheckStream(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "handled once")
}

// TestEpochSwapWaitsForBatchesInFlight: a relay that finds the stream lost
// must also requeue a batch another relay is publishing at that moment
// (into the lost stream), so the swap waits for that batch to commit.
func TestEpochSwapWaitsForBatchesInFlight(t *testing.T) {
	t.Parallel()
	b := backends()["postgres+redis"](t)
	ctx := context.Background()
	r, err := relay.New(relay.Config{}, b.store, b.stream)
	require.NoError(t, err)
	_, err = r.CheckStream(ctx)
	require.NoError(t, err)
	ev, err := appendEvent(ctx, b.store, "t-inflight", 1)
	require.NoError(t, err)
	require.NotEmpty(t, ev.ID)

	// Another relay is in the middle of publishing it (into the Redis
	// about to be lost) when the loss is noticed.
	gate := &gatedPublisher{Stream: b.stream, entered: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(gate.open) // never leave the other relay stuck, also on failure
	other, err := relay.New(relay.Config{}, b.store, gate)
	require.NoError(t, err)
	flushed := make(chan error, 1)
	go func() {
		_, err := other.Flush(ctx)
		flushed <- err
	}()
	<-gate.entered
	keys, err := b.redis.Keys(ctx, b.prefix+"*").Result()
	require.NoError(t, err)
	require.NoError(t, b.redis.Del(ctx, keys...).Err())

	requeued := make(chan int64, 1)
	go func() {
		n, err := r.CheckStream(ctx)
		require.NoError(t, err)
		requeued <- n
	}()
	// The swap waits on the in-flight batch's hold (visible as a lock wait).
	require.Eventually(t, func() bool {
		var waiting int
		err := b.store.DB().QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE settings%'`).Scan(&waiting)
		return err == nil && waiting > 0
	}, 30*time.Second, 5*time.Millisecond)
	gate.open()
	require.NoError(t, <-flushed)
	require.EqualValues(t, 1, <-requeued, "the batch in flight is sent again")
}

// gatedPublisher is the real stream with a gate in Publish: it says when a
// publish has begun and holds it until released.
type gatedPublisher struct {
	stream.Stream
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	opened  sync.Once
}

func (p *gatedPublisher) open() { p.opened.Do(func() { close(p.release) }) }

func (p *gatedPublisher) Publish(ctx context.Context, topic string, bodies ...[]byte) error {
	p.once.Do(func() { close(p.entered) })
	<-p.release
	return p.Stream.Publish(ctx, topic, bodies...)
}

// TestRouteSendsEventsToTheirTopics: with a router, each event goes to the
// topic it names, each topic in outbox order, and all are marked published.
func TestRouteSendsEventsToTheirTopics(t *testing.T) {
	t.Parallel()
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			ctx := context.Background()
			var want []string
			for n := range 6 {
				ev, err := appendEvent(ctx, b.store, "acme", n)
				require.NoError(t, err)
				want = append(want, ev.ID)
			}
			route := func(ev domain.Event) (string, []byte, error) {
				var p tick
				if err := json.Unmarshal(ev.Payload, &p); err != nil {
					return "", nil, err
				}
				if p.N%2 == 1 {
					return "odd", []byte(ev.ID), nil
				}
				body, err := json.Marshal(ev)
				return "events", body, err
			}
			r, err := relay.New(relay.Config{Route: route, PublishOutsideTx: name == "sqlite+dbqueue"}, b.store, b.stream)
			require.NoError(t, err)
			n, err := r.Flush(ctx)
			require.NoError(t, err)
			require.Equal(t, 6, n)
			require.Equal(t, []string{want[0], want[2], want[4]}, drain(t, b.stream, "g"))
			require.NoError(t, b.stream.EnsureGroup(ctx, "odd", "g"))
			msgs, err := b.stream.Read(ctx, "odd", "g", "c", 10, 100*time.Millisecond)
			require.NoError(t, err)
			var odd []string
			for _, m := range msgs {
				odd = append(odd, string(m.Body))
			}
			require.Equal(t, []string{want[1], want[3], want[5]}, odd)
			n, err = r.Flush(ctx)
			require.NoError(t, err)
			require.Zero(t, n, "everything was marked published")

			// A route error leaves the batch unpublished, to be retried.
			_, err = appendEvent(ctx, b.store, "acme", 7)
			require.NoError(t, err)
			failing, err := relay.New(relay.Config{Route: func(domain.Event) (string, []byte, error) {
				return "", nil, errors.New("cannot route")
			}, PublishOutsideTx: name == "sqlite+dbqueue"}, b.store, b.stream)
			require.NoError(t, err)
			_, err = failing.Flush(ctx)
			require.ErrorContains(t, err, "cannot route")
			n, err = r.Flush(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n)
		})
	}
}

// drainTopic reads everything a fresh group finds on topic and returns the
// event ids in stream order.
func drainTopic(t *testing.T, s stream.Stream, topic string) []string {
	t.Helper()
	ctx := context.Background()
	group := "g-" + domain.NewID()
	require.NoError(t, s.EnsureGroup(ctx, topic, group))
	var ids []string
	for {
		msgs, err := s.Read(ctx, topic, group, "c", 500, 20*time.Millisecond)
		require.NoError(t, err)
		if len(msgs) == 0 {
			return ids
		}
		for _, m := range msgs {
			var ev domain.Event
			require.NoError(t, json.Unmarshal(m.Body, &ev))
			ids = append(ids, ev.ID)
		}
	}
}

// tickFanout sends Tick n to no topic when n%3 == 0, to "a" when 1, to "a"
// and "b" when 2.
func tickFanout(ev domain.Event, _ []byte) []string {
	var p tick
	if json.Unmarshal(ev.Payload, &p) != nil {
		return []string{"events"}
	}
	return [][]string{nil, {"a"}, {"a", "b"}}[p.N%3]
}

func TestFanoutSendsEachEventToItsTopics(t *testing.T) {
	t.Parallel()
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			ctx := context.Background()
			var ids []string
			for n := range 6 {
				ev, err := appendEvent(ctx, b.store, "acme", n)
				require.NoError(t, err)
				ids = append(ids, ev.ID)
			}
			r, err := relay.New(relay.Config{Fanout: tickFanout, PublishOutsideTx: name == "sqlite+dbqueue"}, b.store, b.stream)
			require.NoError(t, err)
			n, err := r.Flush(ctx)
			require.NoError(t, err)
			require.Equal(t, 6, n)
			require.Equal(t, []string{ids[1], ids[2], ids[4], ids[5]}, drainTopic(t, b.stream, "a"))
			require.Equal(t, []string{ids[2], ids[5]}, drainTopic(t, b.stream, "b"))
			require.Empty(t, drainTopic(t, b.stream, "events"), "Fanout replaces the event topic")
			n, err = r.Flush(ctx)
			require.NoError(t, err)
			require.Zero(t, n, "every event was marked published, also those sent nowhere")

			// Entries Route puts on another topic are not fanned out.
			_, err = appendEvent(ctx, b.store, "acme", 1)
			require.NoError(t, err)
			other, err := relay.New(relay.Config{Fanout: tickFanout, PublishOutsideTx: name == "sqlite+dbqueue",
				Route: func(ev domain.Event) (string, []byte, error) {
					body, err := json.Marshal(ev)
					return "jobs", body, err
				}}, b.store, b.stream)
			require.NoError(t, err)
			n, err = other.Flush(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			require.Len(t, drainTopic(t, b.stream, "jobs"), 1)
		})
	}
}

// TestRedisComingBackEmptyIsRepublishedToTheFannedOutTopics: what the
// stream lost goes out again to the same topics.
func TestRedisComingBackEmptyIsRepublishedToTheFannedOutTopics(t *testing.T) {
	t.Parallel()
	b := backends()["postgres+redis"](t)
	ctx := context.Background()
	r, err := relay.New(relay.Config{Fanout: tickFanout}, b.store, b.stream)
	require.NoError(t, err)
	_, err = r.CheckStream(ctx)
	require.NoError(t, err)
	var ids []string
	for n := range 3 {
		ev, err := appendEvent(ctx, b.store, "t-lost", n)
		require.NoError(t, err)
		ids = append(ids, ev.ID)
	}
	_, err = r.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, ids[1:], drainTopic(t, b.stream, "a"))

	keys, err := b.redis.Keys(ctx, b.prefix+"*").Result()
	require.NoError(t, err)
	require.NoError(t, b.redis.Del(ctx, keys...).Err())
	n, err := r.CheckStream(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	_, err = r.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, ids[1:], drainTopic(t, b.stream, "a"))
	require.Equal(t, ids[2:], drainTopic(t, b.stream, "b"))
}

// TestBacklogDrainsInGrowingBatches: a backlog goes out in batches that
// double from BatchSize up to MaxBatchSize, in outbox order, each event
// once and marked published; the next flush starts small again.
func TestBacklogDrainsInGrowingBatches(t *testing.T) {
	t.Parallel()
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			ctx := context.Background()
			require.NoError(t, b.stream.EnsureGroup(ctx, "events", "check"))
			var backlog []domain.Event
			for n := range 1000 {
				ev, err := domain.NewEvent("t-backlog", "u", time.Now(), tick{N: n})
				require.NoError(t, err)
				backlog = append(backlog, ev)
			}
			require.NoError(t, b.store.AppendEvents(ctx, backlog...))
			rec := &recordingPublisher{Stream: b.stream}
			r, err := relay.New(relay.Config{BatchSize: 10, MaxBatchSize: 160,
				PublishOutsideTx: name == "sqlite+dbqueue"}, b.store, rec)
			require.NoError(t, err)
			n, err := r.Flush(ctx)
			require.NoError(t, err)
			require.Equal(t, 1000, n)
			require.Equal(t, []int{10, 20, 40, 80, 160, 160, 160, 160, 160, 50}, rec.sizes)
			require.Equal(t, eventIDs(backlog), drain(t, b.stream, "check"))
			_, ok, err := b.store.OldestUnpublished(ctx)
			require.NoError(t, err)
			require.False(t, ok, "every event marked published")

			rec.sizes = nil
			ev, err := appendEvent(ctx, b.store, "t-backlog", 1000)
			require.NoError(t, err)
			n, err = r.Flush(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			require.Equal(t, []int{1}, rec.sizes)
			require.Equal(t, []string{ev.ID}, drain(t, b.stream, "check"))
		})
	}
}

// recordingPublisher is the real stream that records how many entries
// each publish carried.
type recordingPublisher struct {
	stream.Stream
	sizes []int
}

func (p *recordingPublisher) Publish(ctx context.Context, topic string, bodies ...[]byte) error {
	p.sizes = append(p.sizes, len(bodies))
	return p.Stream.Publish(ctx, topic, bodies...)
}

func eventIDs(events []domain.Event) []string {
	ids := make([]string, len(events))
	for i, ev := range events {
		ids[i] = ev.ID
	}
	return ids
}

// drainWatch is a store that records the relay's DrainLocally calls.
type drainWatch struct {
	relay.Store
	active, released atomic.Int32
}

func (d *drainWatch) DrainLocally() func() {
	d.active.Add(1)
	return func() { d.active.Add(-1); d.released.Add(1) }
}

// A running relay tells its store that it drains the process's outbox
// (so that the store does not wake other processes' relays for its
// commits), and takes it back when it stops.
func TestRunningRelayDrainsItsProcessOutbox(t *testing.T) {
	t.Parallel()
	b := backends()["sqlite+dbqueue"](t)
	require.NoError(t, b.stream.EnsureGroup(context.Background(), "events", "g"))
	store := &drainWatch{Store: b.store}
	r, err := relay.New(relay.Config{PollInterval: 10 * time.Millisecond, PublishOutsideTx: true}, store, b.stream)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	ev, err := appendEvent(context.Background(), b.store, "t1", 1)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return slices.Contains(drain(t, b.stream, "g"), ev.ID) },
		30*time.Second, 10*time.Millisecond, "the relay publishes")
	require.EqualValues(t, 1, store.active.Load(), "registered while it runs")
	cancel()
	require.NoError(t, <-done)
	require.Zero(t, store.active.Load())
	require.EqualValues(t, 1, store.released.Load(), "released once it stopped")
}
