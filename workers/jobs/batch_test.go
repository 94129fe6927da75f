package jobs_test

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

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/jobs"
	"github.com/notifyhub/notifyhub/workers/runner"
	"github.com/notifyhub/notifyhub/workers/stream"
)

// countingStream counts the calls a worker makes, to see batches.
type countingStream struct {
	stream.Stream
	reads, acks, acked atomic.Int64
}

func (c *countingStream) Read(ctx context.Context, topic, group, consumer string, limit int, block time.Duration) ([]stream.Message, error) {
	c.reads.Add(1)
	return c.Stream.Read(ctx, topic, group, consumer, limit, block)
}

func (c *countingStream) Backlog(ctx context.Context, topic, group string) (int64, time.Time, error) {
	return c.Stream.(stream.Inspector).Backlog(ctx, topic, group)
}

func (c *countingStream) Ack(ctx context.Context, topic, group string, ids ...string) error {
	c.acks.Add(1)
	c.acked.Add(int64(len(ids)))
	return c.Stream.Ack(ctx, topic, group, ids...)
}

// TestQuickJobsRunInBatchesOnceEach: quick jobs are read and acknowledged
// many at a time, yet each runs once, a job failing in the middle of a
// batch is retried and then recorded as a failed job (its neighbours are
// not), and the queue ends empty: nothing acknowledged before it ran,
// nothing left pending.
func TestQuickJobsRunInBatchesOnceEach(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		const n = 300
		var mu sync.Mutex
		runs := map[string]int{}
		record := func(_ context.Context, _ domain.TenantID, p json.RawMessage) error {
			mu.Lock()
			defer mu.Unlock()
			runs[label(p)]++
			switch l := label(p); {
			case l == "flaky-150" && runs[l] == 1:
				return errors.New("fails once")
			case l == "broken-200":
				return errors.New("always fails")
			}
			return nil
		}
		counting := &countingStream{Stream: b.stream}
		b.stream = counting
		e := newEnv(t, b, jobs.Type{Name: "Quick", Tries: 2, Backoff: []time.Duration{time.Millisecond}, Handle: record})
		ctx := context.Background()
		for i := range n {
			l := fmt.Sprint("job-", i)
			switch i {
			case 150:
				l = "flaky-150"
			case 200:
				l = "broken-200"
			}
			_, err := e.disp.Dispatch(ctx, "acme", "Quick", labelled{l})
			require.NoError(t, err)
		}
		e.flush(t)
		// Reads of the empty high queue and of default.
		readsBefore := counting.reads.Load()
		e.start(t, runner.QueueConfig{PriorityLag: time.Hour})
		eventually(t, func() bool { return e.backlog(t, runner.QueueDefault) == 0 }, "the queue drains")

		mu.Lock()
		defer mu.Unlock()
		require.Len(t, runs, n)
		for l, c := range runs {
			want := 1
			if l == "flaky-150" || l == "broken-200" {
				want = 2
			}
			require.Equal(t, want, c, "runs of %s", l)
		}
		failed := e.failedJobs(t)
		require.Len(t, failed, 1)
		require.Equal(t, "broken-200", label(mustEnvelope(t, failed[0].Payload).Payload))
		require.EqualValues(t, n, counting.acked.Load(), "every job acknowledged once")
		require.Less(t, counting.acks.Load(), int64(n/2), "acknowledged in batches (one call per job without them)")
		require.Less(t, counting.reads.Load()-readsBefore, int64(n/2), "read in batches")
	})
}

func mustEnvelope(t *testing.T, raw json.RawMessage) jobs.Envelope {
	t.Helper()
	var e jobs.Envelope
	require.NoError(t, json.Unmarshal(raw, &e))
	return e
}

// TestPriorityLagBoundsTheWaitOfAHigherJob: with a priority lag shorter
// than a job, a job queued on a higher queue while a batch of a lower one
// is being worked through runs right after the job in hand; the batch's
// other jobs are handed back and all still run once.
func TestPriorityLagBoundsTheWaitOfAHigherJob(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		var rec recorder
		var e *env
		var urgentErr error
		slow := func(ctx context.Context, _ domain.TenantID, p json.RawMessage) error {
			l := label(p)
			rec.add(l)
			time.Sleep(5 * time.Millisecond) // longer than the lag
			if l == "low-5" {
				if _, urgentErr = e.disp.Dispatch(ctx, "acme", "Urgent", labelled{"urgent"}); urgentErr == nil {
					_, urgentErr = e.relay.Flush(ctx)
				}
			}
			return nil
		}
		e = newEnv(t, b,
			jobs.Type{Name: "Report", Queue: runner.QueueLow, Handle: slow},
			jobs.Type{Name: "Urgent", Queue: runner.QueueHigh, Handle: slow},
		)
		ctx := context.Background()
		for i := range 12 {
			_, err := e.disp.Dispatch(ctx, "acme", "Report", labelled{fmt.Sprint("low-", i)})
			require.NoError(t, err)
		}
		e.flush(t)
		e.start(t, runner.QueueConfig{PriorityLag: time.Millisecond})
		eventually(t, func() bool { return rec.len() == 13 }, "every job runs")
		require.NoError(t, urgentErr)
		got := rec.all()
		require.Equal(t, slices.Index(got, "low-5")+1, slices.Index(got, "urgent"), "urgent runs next: %v", got)
		slices.Sort(got)
		require.Equal(t, 13, len(slices.Compact(got)), "every job once: %v", got)
	})
}

// TestCrashedWorkersBatchIsTakenOver: a worker that read a batch of jobs
// and died before starting them leaves them pending; another worker takes
// every one over after reclaim-after and runs each once, ahead of nothing
// it should not: a job on a higher queue still goes first.
func TestCrashedWorkersBatchIsTakenOver(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		var rec recorder
		record := func(_ context.Context, _ domain.TenantID, p json.RawMessage) error {
			rec.add(label(p))
			return nil
		}
		e := newEnv(t, b,
			jobs.Type{Name: "Report", Queue: runner.QueueLow, Tries: 1, Timeout: 50 * time.Millisecond, Handle: record},
			jobs.Type{Name: "Payment", Queue: runner.QueueHigh, Tries: 1, Timeout: 50 * time.Millisecond, Handle: record},
		)
		ctx := context.Background()
		const n = 20
		for i := range n {
			_, err := e.disp.Dispatch(ctx, "acme", "Report", labelled{fmt.Sprint("low-", i)})
			require.NoError(t, err)
		}
		e.flush(t)
		topic := runner.QueueTopic(runner.QueueLow)
		require.NoError(t, b.stream.EnsureGroup(ctx, topic, runner.QueueGroup))
		msgs, err := b.stream.Read(ctx, topic, runner.QueueGroup, "dead-worker", n, time.Second)
		require.NoError(t, err)
		require.Len(t, msgs, n) // the whole batch claimed, none started: it dies
		e.dispatch(t, "acme", "Payment", labelled{"high"})

		e.start(t, runner.QueueConfig{ReclaimAfter: 300 * time.Millisecond, ReclaimEvery: 20 * time.Millisecond})
		eventually(t, func() bool { return rec.len() == n+1 }, "another worker takes the batch over")
		got := rec.all()
		require.Equal(t, "high", got[0], "the higher job first: %v", got)
		slices.Sort(got)
		require.Len(t, slices.Compact(got), n+1, "each once: %v", got)
		eventually(t, func() bool { return e.backlog(t, runner.QueueLow) == 0 }, "and acknowledges them")
		require.Empty(t, e.failedJobs(t))
	})
}

// TestShutdownInTheMiddleOfABatch: on SIGTERM in the middle of a batch of
// quick jobs, the job in hand finishes and is acknowledged; the jobs of the
// batch not started are handed back unacknowledged, for any worker to take
// at once, and none of them ran.
func TestShutdownInTheMiddleOfABatch(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		const n = 400
		var rec recorder
		inHand := make(chan struct{})
		release := make(chan struct{})
		e := newEnv(t, b, jobs.Type{Name: "Quick", Queue: runner.QueueLow, Handle: func(_ context.Context, _ domain.TenantID, p json.RawMessage) error {
			rec.add(label(p))
			if label(p) == "job-300" {
				close(inHand)
				<-release
			}
			return nil
		}})
		ctx := context.Background()
		for i := range n {
			_, err := e.disp.Dispatch(ctx, "acme", "Quick", labelled{fmt.Sprint("job-", i)})
			require.NoError(t, err)
		}
		e.flush(t)
		w := e.start(t, runner.QueueConfig{ReclaimAfter: 2 * time.Hour})
		<-inHand
		stopped := make(chan struct{})
		go func() { w.stop(); close(stopped) }() // SIGTERM
		select {
		case <-stopped:
			t.Fatal("the worker returned while a job was in hand")
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		<-stopped
		require.NoError(t, w.err)

		ran := rec.all()
		require.Equal(t, "job-300", ran[len(ran)-1], "nothing started after the job in hand")
		require.EqualValues(t, n-len(ran), e.backlog(t, runner.QueueLow), "only what ran was acknowledged")
		// What the worker held and did not start is free at once (not
		// after reclaim-after, 2h); the rest was never handed out.
		topic := runner.QueueTopic(runner.QueueLow)
		back, err := b.stream.Reclaim(ctx, topic, runner.QueueGroup, "next-worker", time.Hour, n)
		require.NoError(t, err)
		fresh, err := b.stream.Read(ctx, topic, runner.QueueGroup, "next-worker", n, 0)
		require.NoError(t, err)
		seen := map[string]bool{}
		for _, l := range ran {
			seen[l] = true
		}
		for _, m := range append(back, fresh...) {
			l := label(mustEnvelope(t, m.Body).Payload)
			require.False(t, seen[l], "%s ran, or was handed out twice", l)
			seen[l] = true
		}
		// An entry held and neither run nor handed back would be missing
		// here: pending for the stopped worker, out of reach for 2h.
		require.Len(t, seen, n, "every job either ran or is free for the next worker")
	})
}
