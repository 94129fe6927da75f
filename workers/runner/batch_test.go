package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// batchListener adapts functions to runner.BatchListener and records the
// size of each batch it was handed.
type batchListener struct {
	funcListener
	handleBatch func(ctx context.Context, evs []domain.Event) error

	mu      sync.Mutex
	batches []int
}

func (l *batchListener) HandleBatch(ctx context.Context, evs []domain.Event) error {
	l.mu.Lock()
	l.batches = append(l.batches, len(evs))
	l.mu.Unlock()
	return l.handleBatch(ctx, evs)
}

func (l *batchListener) largestBatch() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := 0
	for _, n := range l.batches {
		m = max(m, n)
	}
	return m
}

// poisoned is the payload of an event whose effect always fails.
const poisoned = 13

func numbered(t *testing.T, tenant domain.TenantID, n int) domain.Event {
	t.Helper()
	ev, err := domain.NewEvent(tenant, "u1", time.Now(), testHappened{N: n})
	require.NoError(t, err)
	return ev
}

// effectOf is the listener's effect on one event inside the caller's
// transaction: the processed_events key, then a notification for u1 of
// the event's tenant. A poisoned event fails after both.
func effectOf(ctx context.Context, s *sqlstore.Store, listener string, ev domain.Event) error {
	first, err := s.MarkProcessed(ctx, listener, ev.ID)
	if err != nil || !first {
		return err
	}
	n := domain.Notification{ID: domain.NewID(), TenantID: ev.TenantID, UserID: "u1", Type: "AlertNotification",
		Severity: domain.SeverityInfo, Title: "effect", Data: json.RawMessage(`{}`), CreatedAt: time.Now().UTC()}
	if err := s.InsertNotification(ctx, &n); err != nil {
		return err
	}
	var p testHappened
	if err := json.Unmarshal(ev.Payload, &p); err != nil {
		return err
	}
	if p.N == poisoned {
		return errors.New("poisoned event")
	}
	return nil
}

// newGroupCommitter is a batch listener whose batch runs every event's
// effect in one transaction, and whose Handle runs one.
func newGroupCommitter(s *sqlstore.Store, name string, handled *sync.Map) *batchListener {
	count := func(ev domain.Event) {
		v, _ := handled.LoadOrStore(ev.ID, new(atomic.Int32))
		// Counted after commit only: what reached the database.
		v.(*atomic.Int32).Add(1)
	}
	l := &batchListener{funcListener: funcListener{name: name, handle: func(ctx context.Context, ev domain.Event) error {
		if err := s.InTx(ctx, func(ctx context.Context) error { return effectOf(ctx, s, name, ev) }); err != nil {
			return err
		}
		count(ev)
		return nil
	}}}
	l.handleBatch = func(ctx context.Context, evs []domain.Event) error {
		if err := s.InTx(ctx, func(ctx context.Context) error {
			for _, ev := range evs {
				if err := effectOf(ctx, s, name, ev); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		for _, ev := range evs {
			count(ev)
		}
		return nil
	}
	return l
}

// TestBatchListenerGroupCommits: events read together are handled in one
// batch, each with its effect exactly once; a redelivered batch changes
// nothing; events of two tenants in one batch reach only their own
// tenant's inbox.
func TestBatchListenerGroupCommits(t *testing.T) {
	t.Parallel()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			var handled sync.Map
			l := newGroupCommitter(b.store, "Grouped", &handled)
			var evs []domain.Event
			for i := range 10 {
				tenant := domain.TenantID("t-batch-a")
				if i%3 == 0 {
					tenant = "t-batch-b"
				}
				ev := numbered(t, tenant, i)
				evs = append(evs, ev)
				publish(t, b.stream, ev)
			}
			// Published before the runner starts: its first read takes all.
			startRunner(t, b, runner.Config{Tries: 2, Backoff: []time.Duration{time.Millisecond}, Timeout: 10 * time.Second, BatchSize: 16}, l)
			require.Eventually(t, func() bool { return syncLen(&handled) == len(evs) }, 30*time.Second, 10*time.Millisecond)
			require.Equal(t, len(evs), l.largestBatch(), "one batch for the whole read")
			require.Equal(t, 6, countNotifications(t, b.store, "t-batch-a"))
			require.Equal(t, 4, countNotifications(t, b.store, "t-batch-b"))

			// The same entries again (at-least-once): a batch, no new effect.
			for _, ev := range evs {
				publish(t, b.stream, ev)
			}
			require.Eventually(t, func() bool {
				for _, ev := range evs {
					if v, ok := handled.Load(ev.ID); !ok || v.(*atomic.Int32).Load() < 2 {
						return false
					}
				}
				return true
			}, 30*time.Second, 10*time.Millisecond)
			require.Equal(t, 6, countNotifications(t, b.store, "t-batch-a"))
			require.Equal(t, 4, countNotifications(t, b.store, "t-batch-b"))
			jobs, err := b.store.ListFailedJobs(context.Background(), 10)
			require.NoError(t, err)
			require.Empty(t, jobs)
		})
	}
}

// TestBatchWithPoisonedEventFallsBackOneByOne: one event that always
// fails rolls its batch back; its neighbours then run alone and take
// effect exactly once, while it alone uses up its tries and becomes a
// failed job.
func TestBatchWithPoisonedEventFallsBackOneByOne(t *testing.T) {
	t.Parallel()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			var handled sync.Map
			l := newGroupCommitter(b.store, "Poisoned", &handled)
			var bad domain.Event
			for i := range 6 {
				n := i
				if i == 3 {
					n = poisoned
				}
				ev := numbered(t, "t-poison", n)
				if n == poisoned {
					bad = ev
				}
				publish(t, b.stream, ev)
			}
			stop := startRunner(t, b, runner.Config{Tries: 3, Backoff: []time.Duration{time.Millisecond}, Timeout: 10 * time.Second, BatchSize: 16}, l)
			var jobs []domain.FailedJob
			require.Eventually(t, func() bool {
				var err error
				jobs, err = b.store.ListFailedJobs(context.Background(), 10)
				return err == nil && len(jobs) == 1 && syncLen(&handled) == 5
			}, 30*time.Second, 10*time.Millisecond)
			require.Equal(t, 6, l.largestBatch(), "the read was tried as one batch first")
			require.Equal(t, "Poisoned", jobs[0].Job)
			require.Equal(t, 3, jobs[0].Attempts, "the poisoned event had its own tries")
			var got domain.Event
			require.NoError(t, json.Unmarshal(jobs[0].Payload, &got))
			require.Equal(t, bad.ID, got.ID)
			_, ok := handled.Load(bad.ID)
			require.False(t, ok)
			handled.Range(func(_, v any) bool {
				require.EqualValues(t, 1, v.(*atomic.Int32).Load())
				return true
			})
			require.Equal(t, 5, countNotifications(t, b.store, "t-poison"), "every rollback left nothing behind")
			// Everything was acknowledged.
			stop()
			msgs, err := b.stream.Reclaim(context.Background(), "events", "Poisoned", "other", time.Nanosecond, 10)
			require.NoError(t, err)
			require.Empty(t, msgs)
		})
	}
}

// TestBatchListenerEntriesOfOthersAreAcknowledged: in a batch read,
// entries of other types are acknowledged untouched and a lone entry of
// the listener's runs through Handle.
func TestBatchListenerEntriesOfOthersAreAcknowledged(t *testing.T) {
	t.Parallel()
	b := backends(t)["sqlite+dbqueue"](t)
	var handled sync.Map
	l := newGroupCommitter(b.store, "Sorting", &handled)
	other := numbered(t, "t-sort", 1)
	other.Type = "SomethingElse"
	publish(t, b.stream, other)
	mine := numbered(t, "t-sort", 2)
	publish(t, b.stream, mine)
	stop := startRunner(t, b, runner.Config{BatchSize: 16}, l)
	require.Eventually(t, func() bool { return syncLen(&handled) == 1 }, 30*time.Second, 10*time.Millisecond)
	require.Zero(t, l.largestBatch(), "one event of its own: no batch")
	stop()
	msgs, err := b.stream.Reclaim(context.Background(), "events", "Sorting", "other", time.Nanosecond, 10)
	require.NoError(t, err)
	require.Empty(t, msgs)
}

func syncLen(m *sync.Map) int {
	n := 0
	m.Range(func(_, _ any) bool { n++; return true })
	return n
}

// TestBatchListenerConsumersTakeTurns: the consumers of one batch listener
// in a process never run two batches at once (they would lock the same
// rows and wait for each other); what they read while a batch runs goes
// into the next, and every event takes effect once.
func TestBatchListenerConsumersTakeTurns(t *testing.T) {
	t.Parallel()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			var handled sync.Map
			l := newGroupCommitter(b.store, "Turns", &handled)
			grouped := l.handleBatch
			var inFlight, most atomic.Int32
			l.handleBatch = func(ctx context.Context, evs []domain.Event) error {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				// Long enough for the other consumers to read theirs meanwhile.
				time.Sleep(20 * time.Millisecond)
				return grouped(ctx, evs)
			}
			// On the listener's own topic, as the relay routes them: that
			// topic is the one its --concurrency consumers read.
			const events = 40
			for i := range events {
				body, err := json.Marshal(numbered(t, "t-turns", 100+i)) // none poisoned
				require.NoError(t, err)
				require.NoError(t, b.stream.Publish(context.Background(), runner.ListenerTopic("events", l.Name()), body))
			}
			startRunner(t, b, runner.Config{Concurrency: 4, BatchSize: 4, Tries: 2, Backoff: []time.Duration{time.Millisecond}, Timeout: 10 * time.Second}, l)
			require.Eventually(t, func() bool { return syncLen(&handled) == events }, 30*time.Second, 10*time.Millisecond)
			require.EqualValues(t, 1, most.Load(), "two batches of one listener ran at once")
			require.Equal(t, events, countNotifications(t, b.store, "t-turns"))
			handled.Range(func(_, v any) bool {
				require.EqualValues(t, 1, v.(*atomic.Int32).Load())
				return true
			})
			t.Logf("largest batch: %d events (each consumer reads at most 4)", l.largestBatch())
		})
	}
}
