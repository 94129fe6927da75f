package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/jobs"
	"github.com/notifyhub/notifyhub/workers/runner"
)

var all = domain.FailedJobScope{AllTenants: true}

// TestStrictPriority: with high and low both backed up, every high job
// runs before any low one, and a high job queued while low ones are
// running goes next.
func TestStrictPriority(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		var rec recorder
		var e *env
		var once sync.Once
		var urgentErr error
		record := func(ctx context.Context, _ domain.TenantID, p json.RawMessage) error {
			l := label(p)
			rec.add(l)
			if l == "low-0" {
				// While the low queue is being worked through, an
				// urgent job arrives: it is next.
				once.Do(func() {
					if _, urgentErr = e.disp.Dispatch(ctx, "acme", "Urgent", labelled{"urgent"}); urgentErr == nil {
						_, urgentErr = e.relay.Flush(ctx)
					}
				})
			}
			return nil
		}
		e = newEnv(t, b,
			jobs.Type{Name: "Report", Queue: runner.QueueLow, Handle: record},
			jobs.Type{Name: "Payment", Queue: runner.QueueHigh, Handle: record},
			jobs.Type{Name: "Urgent", Queue: runner.QueueHigh, Handle: record},
			jobs.Type{Name: "Sync", Queue: runner.QueueDefault, Handle: record},
		)
		for i := range 4 {
			e.dispatch(t, "acme", "Report", labelled{fmt.Sprint("low-", i)})
			e.dispatch(t, "acme", "Sync", labelled{fmt.Sprint("default-", i)})
			e.dispatch(t, "acme", "Payment", labelled{fmt.Sprint("high-", i)})
		}
		e.start(t, runner.QueueConfig{Queues: []string{runner.QueueHigh, runner.QueueDefault, runner.QueueLow}})
		eventually(t, func() bool { return rec.len() == 13 }, "every job runs")
		require.NoError(t, urgentErr)
		got := rec.all()
		require.Equal(t, []string{"high-0", "high-1", "high-2", "high-3", "default-0", "default-1", "default-2", "default-3",
			"low-0", "urgent", "low-1", "low-2", "low-3"}, got)
	})
}

// TestTimeoutRetryBackoffThenFailedJob: an attempt past its timeout is
// cancelled through its ctx and counts as a failed try; tries are spaced
// by the backoff; after the last one the job is in failed_jobs.
func TestTimeoutRetryBackoffThenFailedJob(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		var mu sync.Mutex
		var starts []time.Time
		e := newEnv(t, b, jobs.Type{Name: "Hangs", Tries: 3, Timeout: 50 * time.Millisecond,
			Backoff: []time.Duration{150 * time.Millisecond, 300 * time.Millisecond},
			Handle: func(ctx context.Context, _ domain.TenantID, _ json.RawMessage) error {
				mu.Lock()
				starts = append(starts, time.Now())
				mu.Unlock()
				<-ctx.Done() // a job that respects its context
				return ctx.Err()
			}})
		id := e.dispatch(t, "acme", "Hangs", labelled{"x"})
		e.start(t, runner.QueueConfig{Queues: []string{runner.QueueDefault}})
		eventually(t, func() bool { return len(e.failedJobs(t)) == 1 }, "the job ends in failed_jobs")
		j := e.failedJobs(t)[0]
		require.Equal(t, "default", j.Queue)
		require.Equal(t, "Hangs", j.Job)
		require.Equal(t, domain.TenantID("acme"), j.TenantID)
		require.Equal(t, 3, j.Attempts)
		require.Contains(t, j.Error, "timed out after 50ms")
		var env jobs.Envelope
		require.NoError(t, json.Unmarshal(j.Payload, &env))
		require.Equal(t, id, env.ID, "the failed job keeps the original envelope")
		require.JSONEq(t, `{"label": "x"}`, string(env.Payload))

		mu.Lock()
		defer mu.Unlock()
		require.Len(t, starts, 3)
		// Each gap is the timeout plus the backoff before that try. Only
		// the backoff is a floor: the timeout runs from when the attempt
		// was set up, a little before the handler notes its start (a CI
		// run saw 346ms against timeout plus backoff, 350ms).
		require.GreaterOrEqual(t, starts[1].Sub(starts[0]), 150*time.Millisecond)
		require.GreaterOrEqual(t, starts[2].Sub(starts[1]), 300*time.Millisecond)
		eventually(t, func() bool { return e.backlog(t, runner.QueueDefault) == 0 }, "a failed job is acknowledged")
	})
}

// TestRetryRerunsAndSucceeds: retrying a failed job runs the same job
// again on its queue, and the failed row goes.
func TestRetryRerunsAndSucceeds(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		var broken atomic.Bool
		broken.Store(true)
		var rec recorder
		e := newEnv(t, b, jobs.Type{Name: "Flaky", Queue: runner.QueueLow, Tries: 2, Backoff: []time.Duration{time.Millisecond},
			Handle: func(_ context.Context, tenant domain.TenantID, p json.RawMessage) error {
				if broken.Load() {
					return errors.New("upstream down")
				}
				rec.add(string(tenant) + ":" + label(p))
				return nil
			}})
		e.dispatch(t, "acme", "Flaky", labelled{"sync-1"})
		e.start(t, runner.QueueConfig{Queues: []string{runner.QueueLow}})
		eventually(t, func() bool { return len(e.failedJobs(t)) == 1 }, "the job fails")
		failed := e.failedJobs(t)[0]
		require.Equal(t, "low", failed.Queue)
		require.Equal(t, 2, failed.Attempts)

		broken.Store(false)
		ctx := context.Background()
		require.NoError(t, e.failed.Retry(ctx, all, failed.ID))
		require.Empty(t, e.failedJobs(t), "the failed row goes with the retry")
		requireNotFound(t, e.failed.Retry(ctx, all, failed.ID), "a second retry of the same job finds nothing")
		e.flush(t)
		eventually(t, func() bool { return rec.len() == 1 }, "the retried job runs")
		require.Equal(t, []string{"acme:sync-1"}, rec.all())
		require.Empty(t, e.failedJobs(t))
	})
}

func requireNotFound(t *testing.T, err error, msg string) {
	t.Helper()
	require.ErrorIs(t, err, domain.ErrNotFound, msg)
}

// funcListener adapts a function to runner.Listener.
type funcListener struct {
	name   string
	handle func(ctx context.Context, ev domain.Event) error
}

func (l funcListener) Name() string     { return l.name }
func (l funcListener) Events() []string { return []string{"ThingHappened"} }
func (l funcListener) Handle(ctx context.Context, ev domain.Event) error {
	return l.handle(ctx, ev)
}

// TestListenerRetryReachesOnlyThatListener: retrying a listener's failed
// job delivers the event to that listener and no other.
func TestListenerRetryReachesOnlyThatListener(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		var broken atomic.Bool
		broken.Store(true)
		var failing, other recorder
		fl := funcListener{name: "Failing", handle: func(_ context.Context, ev domain.Event) error {
			if broken.Load() {
				return errors.New("not today")
			}
			failing.add(ev.ID)
			return nil
		}}
		ol := funcListener{name: "Other", handle: func(_ context.Context, ev domain.Event) error {
			other.add(ev.ID)
			return nil
		}}
		r, err := runner.New(runner.Config{Tries: 1, ReadBlock: 20 * time.Millisecond, Logger: logger()}, b.stream, b.store, fl, ol)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })

		thing := func() domain.Event {
			return domain.Event{ID: domain.NewID(), TenantID: "acme", Type: "ThingHappened", OccurredAt: time.Now(), Payload: []byte(`{"n":1}`)}
		}
		ev := thing()
		require.NoError(t, b.store.AppendEvents(context.Background(), ev))
		e.flush(t)
		eventually(t, func() bool { return len(e.failedJobs(t)) == 1 && other.len() == 1 }, "one listener fails, the other succeeds")
		f := e.failedJobs(t)[0]
		require.Equal(t, jobs.ListenerQueue, f.Queue)
		require.Equal(t, "Failing", f.Job)

		broken.Store(false)
		require.NoError(t, e.failed.Retry(context.Background(), domain.FailedJobScope{Tenant: "acme"}, f.ID))
		e.flush(t)
		eventually(t, func() bool { return failing.len() == 1 }, "the retry reaches the failed listener")
		require.Equal(t, []string{ev.ID}, failing.all())

		// A later event reaches Other after the retry entry would have:
		// by then Other has seen the original and the sentinel only.
		sentinel := thing()
		require.NoError(t, b.store.AppendEvents(context.Background(), sentinel))
		e.flush(t)
		eventually(t, func() bool { return other.len() == 2 }, "the sentinel reaches Other")
		require.Equal(t, []string{ev.ID, sentinel.ID}, other.all(), "Other never saw the retry")
		require.Empty(t, e.failedJobs(t))
	})
}

// TestRestartStopsTheWorkerGracefully: after `queue restart` a worker
// finishes the job in hand, takes no other and stops with *Stopped.
func TestRestartStopsTheWorkerGracefully(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		started := make(chan struct{}, 2)
		release := make(chan struct{})
		var finished atomic.Int32
		e := newEnv(t, b, jobs.Type{Name: "Slow", Handle: func(ctx context.Context, _ domain.TenantID, _ json.RawMessage) error {
			started <- struct{}{}
			<-release
			finished.Add(1)
			return nil
		}})
		e.dispatch(t, "acme", "Slow", labelled{"1"})
		e.dispatch(t, "acme", "Slow", labelled{"2"})
		w := e.start(t, runner.QueueConfig{Queues: []string{runner.QueueDefault},
			Restart: jobs.RestartMarker(b.store), RestartEvery: 10 * time.Millisecond})
		<-started
		require.NoError(t, jobs.RequestRestart(context.Background(), b.store, time.Now()))
		time.Sleep(100 * time.Millisecond) // several polls of the marker
		require.True(t, w.running(), "the job in hand is not cut short")
		close(release)
		var stopped *runner.Stopped
		require.ErrorAs(t, w.wait(t), &stopped)
		require.Contains(t, stopped.Reason, "restart")
		require.EqualValues(t, 1, finished.Load(), "the job in hand completed, no other started")
		require.Empty(t, e.failedJobs(t))
		require.EqualValues(t, 1, e.backlog(t, runner.QueueDefault), "the second job waits for the next worker")

		// The restarted worker (same marker now) runs the rest and keeps going.
		w2 := e.start(t, runner.QueueConfig{Queues: []string{runner.QueueDefault},
			Restart: jobs.RestartMarker(b.store), RestartEvery: 10 * time.Millisecond})
		eventually(t, func() bool { return finished.Load() == 2 }, "the next worker runs the rest")
		time.Sleep(50 * time.Millisecond)
		require.True(t, w2.running(), "an old restart request does not stop a new worker")
	})
}

// TestMaxJobsAndMaxTime: a worker exits cleanly after --max-jobs jobs or
// --max-time.
func TestMaxJobsAndMaxTime(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		var ran atomic.Int32
		e := newEnv(t, b, jobs.Type{Name: "Quick", Handle: func(context.Context, domain.TenantID, json.RawMessage) error {
			ran.Add(1)
			return nil
		}})
		for i := range 5 {
			e.dispatch(t, "acme", "Quick", labelled{fmt.Sprint(i)})
		}
		w := e.start(t, runner.QueueConfig{Concurrency: 2, MaxJobs: 3})
		var stopped *runner.Stopped
		require.ErrorAs(t, w.wait(t), &stopped)
		require.Contains(t, stopped.Reason, "max-jobs=3")
		require.EqualValues(t, 3, ran.Load())
		require.EqualValues(t, 2, e.backlog(t, runner.QueueDefault))

		start := time.Now()
		w = e.start(t, runner.QueueConfig{Queues: []string{runner.QueueHigh}, MaxTime: 150 * time.Millisecond})
		require.ErrorAs(t, w.wait(t), &stopped)
		require.Contains(t, stopped.Reason, "max-time")
		require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	})
}

// TestCrashedWorkersJobIsTakenOver: a job read by a worker that died is
// run by another after reclaim-after.
func TestCrashedWorkersJobIsTakenOver(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		var rec recorder
		e := newEnv(t, b, jobs.Type{Name: "Once", Tries: 1, Timeout: 50 * time.Millisecond,
			Handle: func(_ context.Context, _ domain.TenantID, p json.RawMessage) error {
				rec.add(label(p))
				return nil
			}})
		e.dispatch(t, "acme", "Once", labelled{"orphan"})
		ctx := context.Background()
		topic := runner.QueueTopic(runner.QueueDefault)
		require.NoError(t, b.stream.EnsureGroup(ctx, topic, runner.QueueGroup))
		msgs, err := b.stream.Read(ctx, topic, runner.QueueGroup, "dead-worker", 1, time.Second)
		require.NoError(t, err)
		require.Len(t, msgs, 1) // and it dies holding it

		e.start(t, runner.QueueConfig{ReclaimAfter: 300 * time.Millisecond, ReclaimEvery: 20 * time.Millisecond})
		eventually(t, func() bool { return rec.len() == 1 }, "another worker takes the job over")
		require.Equal(t, []string{"orphan"}, rec.all())
		eventually(t, func() bool { return e.backlog(t, runner.QueueDefault) == 0 }, "and acknowledges it")
	})
}

func TestWorkerRefusesTimeoutNotWellBelowReclaim(t *testing.T) {
	t.Parallel()
	reg, err := jobs.NewRegistry(jobs.Type{Name: "Long", Timeout: 4 * time.Minute, Backoff: []time.Duration{time.Minute},
		Handle: func(context.Context, domain.TenantID, json.RawMessage) error { return nil }})
	require.NoError(t, err)
	_, err = runner.NewQueueWorker(runner.QueueConfig{ReclaimAfter: 5 * time.Minute}, nil, nil, reg)
	require.ErrorContains(t, err, "must exceed timeout", "the job's own timeout + backoff is 5m")
	_, err = runner.NewQueueWorker(runner.QueueConfig{ReclaimAfter: 5 * time.Minute, Override: runner.Policy{Timeout: 5 * time.Minute}}, nil, nil, reg)
	require.ErrorContains(t, err, "must exceed timeout", "--timeout overrides the job's")
	_, err = runner.NewQueueWorker(runner.QueueConfig{}, nil, nil, reg)
	require.NoError(t, err, "the default reclaim-after leaves room for the longest job")
	_, err = runner.NewQueueWorker(runner.QueueConfig{Queues: []string{"high", "High!"}}, nil, nil, reg)
	require.ErrorContains(t, err, "not a queue name")
	_, err = runner.NewQueueWorker(runner.QueueConfig{Queues: []string{"events"}}, nil, nil, reg)
	require.ErrorContains(t, err, "reserved")
}

// TestUnreadableAndUnknownJobsBecomeFailedJobs: nothing a queue holds is
// dropped silently.
func TestUnreadableAndUnknownJobsBecomeFailedJobs(t *testing.T) {
	t.Parallel()
	b := backends()["sqlite+dbqueue"](t)
	e := newEnv(t, b, jobs.Type{Name: "Known", Handle: func(context.Context, domain.TenantID, json.RawMessage) error { return nil }})
	ctx := context.Background()
	topic := runner.QueueTopic(runner.QueueDefault)
	require.NoError(t, b.stream.Publish(ctx, topic, []byte("{garbage"),
		[]byte(`{"id":"`+domain.NewID()+`","job":"FromTheFuture","tenant":"acme","payload":{},"queue":"default"}`)))
	e.start(t, runner.QueueConfig{})
	eventually(t, func() bool { return len(e.failedJobs(t)) == 2 }, "both become failed jobs")
	byJob := map[string]domain.FailedJob{}
	for _, j := range e.failedJobs(t) {
		byJob[j.Job] = j
	}
	require.Contains(t, byJob["FromTheFuture"].Error, `unknown job "FromTheFuture"`)
	require.Equal(t, 0, byJob["FromTheFuture"].Attempts)
	require.Contains(t, byJob["unknown"].Error, "undecodable")
	// The unreadable one cannot be retried; the unknown one can (once a
	// worker knows it).
	var rule *domain.RuleError
	require.ErrorAs(t, e.failed.Retry(ctx, all, byJob["unknown"].ID), &rule)
	require.NoError(t, e.failed.Retry(ctx, all, byJob["FromTheFuture"].ID))
}

// TestDispatchJoinsTheTransaction: a job dispatched in a transaction that
// rolls back never runs; one that commits always does.
func TestDispatchJoinsTheTransaction(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		var rec recorder
		e := newEnv(t, b, jobs.Type{Name: "Effect", Handle: func(_ context.Context, _ domain.TenantID, p json.RawMessage) error {
			rec.add(label(p))
			return nil
		}})
		ctx := context.Background()
		boom := errors.New("boom")
		err := b.store.InTx(ctx, func(ctx context.Context) error {
			if _, err := e.disp.Dispatch(ctx, "acme", "Effect", labelled{"rolled-back"}); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.NoError(t, b.store.InTx(ctx, func(ctx context.Context) error {
			_, err := e.disp.Dispatch(ctx, "acme", "Effect", labelled{"committed"})
			return err
		}))
		e.flush(t)
		e.start(t, runner.QueueConfig{})
		eventually(t, func() bool { return rec.len() == 1 }, "the committed job runs")
		time.Sleep(50 * time.Millisecond)
		require.Equal(t, []string{"committed"}, rec.all())

		// Jobs are machinery: they stay out of the tenant's event log.
		log, err := b.store.ListEvents(ctx, "acme", "", "", 10)
		require.NoError(t, err)
		require.Empty(t, log)

		_, err = e.disp.Dispatch(ctx, "acme", "Nope", nil)
		require.ErrorContains(t, err, "unknown job")
		_, err = e.disp.Dispatch(ctx, "", "Effect", nil)
		var v *domain.ValidationError
		require.ErrorAs(t, err, &v)
		_, err = e.disp.Dispatch(ctx, "acme", "Effect", strings.Repeat("x", jobs.MaxPayloadBytes))
		require.ErrorIs(t, err, domain.ErrTooLarge)
	})
}

// TestFlushForgetAndPrune: failed-job housekeeping, scoped by tenant.
func TestFlushForgetAndPrune(t *testing.T) {
	t.Parallel()
	b := backends()["sqlite+dbqueue"](t)
	e := newEnv(t, b)
	ctx := context.Background()
	insert := func(tenant domain.TenantID, age time.Duration) domain.FailedJob {
		j := domain.FailedJob{ID: domain.NewID(), Queue: "default", Job: "X", TenantID: tenant,
			Payload: []byte(`{}`), Attempts: 3, Error: "boom", FailedAt: time.Now().Add(-age)}
		require.NoError(t, b.store.InsertFailedJob(ctx, j))
		return j
	}
	a1, a2, b1 := insert("acme", 0), insert("acme", 0), insert("globex", 0)
	acme := domain.FailedJobScope{Tenant: "acme"}

	requireNotFound(t, e.failed.Forget(ctx, acme, b1.ID), "another tenant's failed job")
	_, err := e.failed.Get(ctx, acme, b1.ID)
	requireNotFound(t, err, "another tenant's failed job")
	require.NoError(t, e.failed.Forget(ctx, acme, a1.ID))
	requireNotFound(t, e.failed.Forget(ctx, acme, a1.ID), "forgotten already")
	n, err := e.failed.Flush(ctx, acme)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	_, err = e.failed.Get(ctx, all, a2.ID)
	requireNotFound(t, err, "flushed")
	require.Len(t, e.failedJobs(t), 1, "globex's stays")
	n, err = e.failed.Flush(ctx, all)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	require.Empty(t, e.failedJobs(t), "flush empties")
	_, err = e.failed.Flush(ctx, domain.FailedJobScope{})
	require.Error(t, err)

	old, fresh := insert("acme", 200*time.Hour), insert("acme", time.Hour)
	rep, err := e.failed.Prune(ctx, 168*time.Hour, jobs.DefaultEventRetention)
	require.NoError(t, err)
	require.EqualValues(t, 1, rep.FailedJobs)
	_, err = e.failed.Get(ctx, all, old.ID)
	requireNotFound(t, err, "pruned")
	_, err = e.failed.Get(ctx, all, fresh.ID)
	require.NoError(t, err)
	var v *domain.ValidationError
	_, err = e.failed.Prune(ctx, 168*time.Hour, time.Hour)
	require.ErrorAs(t, err, &v, "events must outlive their redelivery")
	_, err = e.failed.Prune(ctx, 0, jobs.DefaultEventRetention)
	require.ErrorAs(t, err, &v)
}

// TestShutdownFinishesOrReleases: on SIGTERM (ctx done) a worker finishes
// the attempt in hand, starts nothing new, and hands a job waiting between
// tries back at once, unacknowledged, for another worker.
func TestShutdownFinishesOrReleases(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		started := make(chan string, 4)
		release := make(chan struct{})
		var finished atomic.Int32
		e := newEnv(t, b,
			jobs.Type{Name: "InHand", Queue: runner.QueueHigh, Handle: func(_ context.Context, _ domain.TenantID, p json.RawMessage) error {
				started <- "in-hand"
				<-release
				finished.Add(1)
				return nil
			}},
			jobs.Type{Name: "Waiting", Queue: runner.QueueHigh, Tries: 3, Timeout: time.Second, Backoff: []time.Duration{time.Hour},
				Handle: func(context.Context, domain.TenantID, json.RawMessage) error {
					started <- "waiting"
					return errors.New("try again later")
				}},
			jobs.Type{Name: "Never", Handle: func(context.Context, domain.TenantID, json.RawMessage) error {
				started <- "never"
				return nil
			}},
		)
		e.dispatch(t, "acme", "Waiting", nil)
		e.dispatch(t, "acme", "InHand", nil)
		e.dispatch(t, "acme", "Never", nil)
		w := e.start(t, runner.QueueConfig{Concurrency: 2, ReclaimAfter: 2 * time.Hour})
		got := []string{<-started, <-started}
		require.ElementsMatch(t, []string{"waiting", "in-hand"}, got)
		stopped := make(chan struct{})
		go func() { w.stop(); close(stopped) }() // SIGTERM
		time.Sleep(50 * time.Millisecond)
		select {
		case <-stopped:
			t.Fatal("the worker returned while a job was in hand")
		default:
		}
		close(release)
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Fatal("the worker did not stop")
		}
		require.NoError(t, w.err, "ctx ended: not a *Stopped")
		require.EqualValues(t, 1, finished.Load(), "the job in hand completed")
		require.Empty(t, started, "nothing new started")
		require.Empty(t, e.failedJobs(t))

		// The job waiting between tries is free at once, not after
		// reclaim-after (2h); the unstarted one is still waiting.
		ctx := context.Background()
		back, err := b.stream.Reclaim(ctx, runner.QueueTopic(runner.QueueHigh), runner.QueueGroup, "next-worker", time.Hour, 10)
		require.NoError(t, err)
		require.Len(t, back, 1)
		require.Contains(t, string(back[0].Body), `"job":"Waiting"`)
		require.EqualValues(t, 1, e.backlog(t, runner.QueueDefault))
	})
}
