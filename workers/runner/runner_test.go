package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/runner"
	"github.com/notifyhub/notifyhub/workers/stream"
	"github.com/notifyhub/notifyhub/workers/stream/dbqueue"
	redisstream "github.com/notifyhub/notifyhub/workers/stream/redis"
	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

// backend is a store plus a stream, as the runner sees them in each mode.
type backend struct {
	store  *sqlstore.Store
	stream stream.Stream
}

func backends(t *testing.T) map[string]func(t *testing.T) backend {
	return map[string]func(t *testing.T) backend{
		"sqlite+dbqueue": func(t *testing.T) backend {
			s := storetest.OpenSQLite(t)
			return backend{store: s, stream: dbqueue.New(s.DB(), s.Dialect(), dbqueue.Options{PollInterval: 10 * time.Millisecond})}
		},
		"postgres+redis": func(t *testing.T) backend {
			s := storetest.OpenPostgres(t)
			client, prefix := streamtest.OpenRedis(t)
			return backend{store: s, stream: redisstream.New(client, redisstream.Options{Prefix: prefix})}
		},
	}
}

// funcListener adapts a function to runner.Listener.
type funcListener struct {
	name   string
	handle func(ctx context.Context, ev domain.Event) error
}

func (l funcListener) Name() string     { return l.name }
func (l funcListener) Events() []string { return []string{"TestHappened"} }
func (l funcListener) Handle(ctx context.Context, ev domain.Event) error {
	return l.handle(ctx, ev)
}

type testHappened struct {
	N int `json:"n"`
}

func (testHappened) EventType() string             { return "TestHappened" }
func (e testHappened) Aggregate() (string, string) { return "test", "1" }

func publish(t *testing.T, s stream.Stream, ev domain.Event) {
	t.Helper()
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	require.NoError(t, s.Publish(context.Background(), "events", b))
}

func newEvent(t *testing.T, tenant domain.TenantID) domain.Event {
	t.Helper()
	ev, err := domain.NewEvent(tenant, "u1", time.Now(), testHappened{N: 1})
	require.NoError(t, err)
	return ev
}

// startRunner runs a runner until the test ends; the returned stop ends it
// earlier and waits until it has finished (acks included).
func startRunner(t *testing.T, b backend, cfg runner.Config, ls ...runner.Listener) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := runUntil(t, ctx, b, cfg, ls...)
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// runUntil runs a runner until ctx is done; done closes when Run returned.
func runUntil(t *testing.T, ctx context.Context, b backend, cfg runner.Config, ls ...runner.Listener) (done <-chan struct{}) {
	t.Helper()
	cfg.ReadBlock = 50 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		cfg.Logger = slog.Default()
	}
	r, err := runner.New(cfg, b.stream, b.store, ls...)
	require.NoError(t, err)
	finished := make(chan struct{})
	go func() { defer close(finished); _ = r.Run(ctx) }()
	return finished
}

// insertNotification is a listener's effect: one notification for u1,
// written with the processed_events marker in one transaction.
func effect(ctx context.Context, s *sqlstore.Store, listener string, ev domain.Event, fail bool) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		first, err := s.MarkProcessed(ctx, listener, ev.ID)
		if err != nil || !first {
			return err
		}
		n := domain.Notification{ID: domain.NewID(), TenantID: ev.TenantID, UserID: "u1", Type: "AlertNotification",
			Severity: domain.SeverityInfo, Title: "effect", Data: json.RawMessage(`{}`), CreatedAt: time.Now().UTC()}
		if err := s.InsertNotification(ctx, &n); err != nil {
			return err
		}
		if fail {
			return errors.New("boom after the effect")
		}
		return nil
	})
}

func countNotifications(t *testing.T, s *sqlstore.Store, tenant domain.TenantID) int {
	t.Helper()
	items, err := s.ListNotifications(context.Background(), tenant, "u1", notification.ListParams{Status: notification.StatusAll, Limit: 200})
	require.NoError(t, err)
	return len(items)
}

func TestFailsTwiceThenSucceedsRunsEffectOnce(t *testing.T) {
	t.Parallel()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			var calls atomic.Int32
			succeeded := make(chan struct{})
			var once sync.Once
			l := funcListener{name: "Flaky", handle: func(ctx context.Context, ev domain.Event) error {
				n := calls.Add(1)
				if err := effect(ctx, b.store, "Flaky", ev, n < 3); err != nil {
					return err
				}
				once.Do(func() { close(succeeded) })
				return nil
			}}
			startRunner(t, b, runner.Config{Tries: 3, Backoff: []time.Duration{time.Millisecond}, Timeout: 5 * time.Second}, l)
			ev := newEvent(t, "t-flaky")
			publish(t, b.stream, ev)
			select {
			case <-succeeded:
			case <-time.After(30 * time.Second):
				t.Fatal("listener never succeeded")
			}
			require.EqualValues(t, 3, calls.Load())
			require.Equal(t, 1, countNotifications(t, b.store, "t-flaky"))
			// Delivered again (at-least-once): the effect does not repeat.
			publish(t, b.stream, ev)
			require.Eventually(t, func() bool { return calls.Load() == 4 }, 30*time.Second, 10*time.Millisecond)
			require.Equal(t, 1, countNotifications(t, b.store, "t-flaky"))
			jobs, err := b.store.ListFailedJobs(context.Background(), 10)
			require.NoError(t, err)
			require.Empty(t, jobs)
		})
	}
}

func TestAlwaysFailingEndsInFailedJobs(t *testing.T) {
	t.Parallel()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			var calls atomic.Int32
			l := funcListener{name: "Broken", handle: func(ctx context.Context, ev domain.Event) error {
				calls.Add(1)
				return effect(ctx, b.store, "Broken", ev, true)
			}}
			stop := startRunner(t, b, runner.Config{Tries: 4, Backoff: []time.Duration{time.Millisecond}, Timeout: 5 * time.Second}, l)
			ev := newEvent(t, "t-broken")
			publish(t, b.stream, ev)
			var jobs []domain.FailedJob
			require.Eventually(t, func() bool {
				var err error
				jobs, err = b.store.ListFailedJobs(context.Background(), 10)
				return err == nil && len(jobs) == 1
			}, 30*time.Second, 10*time.Millisecond)
			j := jobs[0]
			require.Equal(t, "Broken", j.Job)
			require.Equal(t, "events", j.Queue)
			require.Equal(t, domain.TenantID("t-broken"), j.TenantID)
			require.Equal(t, 4, j.Attempts)
			require.Contains(t, j.Error, "boom after the effect")
			var got domain.Event
			require.NoError(t, json.Unmarshal(j.Payload, &got))
			require.Equal(t, ev.ID, got.ID)
			require.EqualValues(t, 4, calls.Load())
			// Every attempt rolled back: no effect at all.
			require.Equal(t, 0, countNotifications(t, b.store, "t-broken"))
			// The entry was acknowledged: nothing is left for anyone to
			// take over (stopping first lets the ack land).
			stop()
			msgs, err := b.stream.Reclaim(context.Background(), "events", "Broken", "other", time.Nanosecond, 10)
			require.NoError(t, err)
			require.Empty(t, msgs)
		})
	}
}

func TestAttemptTimeoutIsAFailedTry(t *testing.T) {
	t.Parallel()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			l := funcListener{name: "Hangs", handle: func(ctx context.Context, ev domain.Event) error {
				<-ctx.Done() // a listener that respects its context
				return ctx.Err()
			}}
			startRunner(t, b, runner.Config{Tries: 2, Backoff: []time.Duration{time.Millisecond}, Timeout: 30 * time.Millisecond}, l)
			publish(t, b.stream, newEvent(t, "t-hang"))
			require.Eventually(t, func() bool {
				jobs, err := b.store.ListFailedJobs(context.Background(), 10)
				return err == nil && len(jobs) == 1 && jobs[0].Attempts == 2 && strings.Contains(jobs[0].Error, "timed out")
			}, 30*time.Second, 10*time.Millisecond)
		})
	}
}

func TestEntryOfDeadConsumerIsTakenOver(t *testing.T) {
	t.Parallel()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			ctx := context.Background()
			require.NoError(t, b.stream.EnsureGroup(ctx, "events", "Survivor"))
			ev := newEvent(t, "t-dead")
			publish(t, b.stream, ev)
			// A consumer takes the entry and dies without acknowledging it.
			msgs, err := b.stream.Read(ctx, "events", "Survivor", "dead-consumer", 10, time.Second)
			require.NoError(t, err)
			require.Len(t, msgs, 1)

			var mu sync.Mutex
			var seen []string
			l := funcListener{name: "Survivor", handle: func(ctx context.Context, got domain.Event) error {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, got.ID)
				return effect(ctx, b.store, "Survivor", got, false)
			}}
			// The timeout leaves room for a slow, loaded machine: the effect
			// must land, not merely start.
			startRunner(t, b, runner.Config{Tries: 1, Timeout: time.Second,
				ReclaimAfter: 1200 * time.Millisecond, ReclaimEvery: 20 * time.Millisecond}, l)
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(seen) == 1
			}, 30*time.Second, 10*time.Millisecond)
			require.Equal(t, ev.ID, seen[0])
			require.Equal(t, 1, countNotifications(t, b.store, "t-dead"))
		})
	}
}

func TestEventsOfOtherTypesAreAcknowledgedUntouched(t *testing.T) {
	t.Parallel()
	b := backends(t)["sqlite+dbqueue"](t)
	var calls atomic.Int32
	l := funcListener{name: "Picky", handle: func(ctx context.Context, ev domain.Event) error {
		calls.Add(1)
		return nil
	}}
	stop := startRunner(t, b, runner.Config{}, l)
	other := newEvent(t, "t-picky")
	other.Type = "SomethingElse"
	publish(t, b.stream, other)
	mine := newEvent(t, "t-picky")
	publish(t, b.stream, mine)
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 30*time.Second, 10*time.Millisecond)
	stop() // lets the acks land
	msgs, err := b.stream.Reclaim(context.Background(), "events", "Picky", "other", time.Nanosecond, 10)
	require.NoError(t, err)
	require.Empty(t, msgs, "both entries are acknowledged")
}

func TestUndecodableEntryBecomesFailedJob(t *testing.T) {
	t.Parallel()
	b := backends(t)["sqlite+dbqueue"](t)
	startRunner(t, b, runner.Config{}, funcListener{name: "Strict", handle: func(context.Context, domain.Event) error { return nil }})
	require.NoError(t, b.stream.Publish(context.Background(), "events", []byte("{not json")))
	require.Eventually(t, func() bool {
		jobs, err := b.store.ListFailedJobs(context.Background(), 10)
		return err == nil && len(jobs) == 1 && strings.Contains(jobs[0].Error, "undecodable")
	}, 30*time.Second, 10*time.Millisecond)
}

func TestConfigRefusesReclaimNotAboveTimeoutAndBackoff(t *testing.T) {
	t.Parallel()
	_, err := runner.New(runner.Config{Tries: 3, Timeout: time.Minute, Backoff: []time.Duration{10 * time.Second},
		ReclaimAfter: 70 * time.Second}, nil, nil)
	require.ErrorContains(t, err, "must exceed timeout")
	_, err = runner.New(runner.Config{Tries: 3, Timeout: 5 * time.Minute, ReclaimAfter: 5 * time.Minute}, nil, nil)
	require.ErrorContains(t, err, "must exceed timeout")
	_, err = runner.New(runner.Config{Tries: 3, Timeout: time.Minute, Backoff: []time.Duration{10 * time.Second},
		ReclaimAfter: 71 * time.Second}, nil, nil)
	require.ErrorContains(t, err, "at least a tenth", "a margin of 1s is no margin")
	// The default is valid whatever the timeout.
	for _, timeout := range []time.Duration{time.Second, time.Minute, 5 * time.Minute, 2 * time.Hour} {
		_, err = runner.New(runner.Config{Tries: 3, Timeout: timeout}, nil, nil)
		require.NoError(t, err, "timeout %s", timeout)
	}
	_, err = runner.New(runner.Config{Tries: 3, Timeout: time.Minute, Backoff: []time.Duration{10 * time.Second},
		ReclaimAfter: 80 * time.Second}, nil, nil)
	require.NoError(t, err)
}

// TestLongBatchIsNotTakenOver: a consumer whose batch takes longer than
// reclaim-after to work through keeps every entry of it (it extends them),
// so a rival reclaiming all the while gets nothing and every entry runs
// once.
func TestLongBatchIsNotTakenOver(t *testing.T) {
	t.Parallel()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			ctx := context.Background()
			const n = 20
			for range n {
				publish(t, b.stream, newEvent(t, "t-long"))
			}
			var mu sync.Mutex
			runs := map[string]int{}
			l := funcListener{name: "Slow", handle: func(ctx context.Context, ev domain.Event) error {
				time.Sleep(400 * time.Millisecond) // real work that takes a while
				mu.Lock()
				defer mu.Unlock()
				runs[ev.ID]++
				return nil
			}}
			// Twenty entries × 400ms is well past reclaim-after (5s). The
			// margin over the timeout (4s) is what the consumer has to
			// extend in; it leaves room for a loaded machine's delays (CI
			// runs packages in parallel under the race detector, and
			// SQLite's writers then wait for each other: 2s was too few).
			startRunner(t, b, runner.Config{Tries: 1, Timeout: time.Second, Backoff: []time.Duration{time.Millisecond},
				ReclaimAfter: 5 * time.Second, ReclaimEvery: time.Hour, BatchSize: n}, l)
			stolen := 0
			require.Eventually(t, func() bool {
				got, err := b.stream.Reclaim(ctx, "events", "Slow", "rival", 5*time.Second, n)
				require.NoError(t, err)
				stolen += len(got)
				if stolen > 0 {
					return true // fail below, saying so
				}
				mu.Lock()
				defer mu.Unlock()
				return len(runs) == n
			}, 30*time.Second, 10*time.Millisecond)
			require.Zero(t, stolen, "a rival took over entries of a live consumer")
			for id, c := range runs {
				require.Equal(t, 1, c, "entry %s ran %d times", id, c)
			}
		})
	}
}

// TestShutdownReleasesWhatItDidNotStart: a stopping consumer finishes the
// entry in hand and hands the rest of its batch back at once.
func TestShutdownReleasesWhatItDidNotStart(t *testing.T) {
	t.Parallel()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			ctx := context.Background()
			for range 3 {
				publish(t, b.stream, newEvent(t, "t-stop"))
			}
			started := make(chan struct{})
			finish := make(chan struct{})
			var once sync.Once
			var calls atomic.Int32
			l := funcListener{name: "Stopping", handle: func(ctx context.Context, ev domain.Event) error {
				calls.Add(1)
				once.Do(func() { close(started) })
				<-finish
				return nil
			}}
			rctx, cancel := context.WithCancel(ctx)
			defer cancel()
			done := runUntil(t, rctx, b, runner.Config{BatchSize: 10, Timeout: 10 * time.Second}, l)
			<-started
			cancel()      // shutdown begins while the first entry is in hand,
			close(finish) // which then finishes
			<-done
			require.EqualValues(t, 1, calls.Load(), "nothing new starts during shutdown")
			// The other two are free at once, not after reclaim-after (5m).
			back, err := b.stream.Reclaim(ctx, "events", "Stopping", "next", time.Hour, 10)
			require.NoError(t, err)
			require.Len(t, back, 2)
		})
	}
}

func TestPermanentErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	b := backends(t)["sqlite+dbqueue"](t)
	var calls atomic.Int32
	l := funcListener{name: "Invalid", handle: func(ctx context.Context, ev domain.Event) error {
		calls.Add(1)
		var wrong struct {
			N string `json:"n"`
		}
		// A payload of the wrong shape: Decode says it is permanent.
		other := ev
		other.Type = "TestHappened"
		if err := json.Unmarshal(other.Payload, &wrong); err != nil {
			return fmt.Errorf("%w: %w", domain.ErrPermanent, err)
		}
		return errors.New("unreachable")
	}}
	startRunner(t, b, runner.Config{Tries: 5, Backoff: []time.Duration{time.Millisecond}}, l)
	publish(t, b.stream, newEvent(t, "t-perm"))
	require.Eventually(t, func() bool {
		jobs, err := b.store.ListFailedJobs(context.Background(), 10)
		return err == nil && len(jobs) == 1 && jobs[0].Attempts == 1
	}, 30*time.Second, 10*time.Millisecond)
	require.EqualValues(t, 1, calls.Load())
	require.True(t, domain.Permanent(domain.Invalid("x", "y")))
	require.True(t, domain.Permanent(fmt.Errorf("wrapped: %w", domain.Rule("r", "m"))))
	require.False(t, domain.Permanent(errors.New("connection refused")))
}
