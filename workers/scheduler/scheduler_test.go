package scheduler_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/workers/scheduler"
)

// metric reads the value of one series of a counter or gauge from reg; 0
// when the series does not exist.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			return value(m)
		}
	}
	return 0
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

// syncBuffer is a log sink safe for the scheduler's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runInBackground runs s until the test ends (or stop is called) and
// returns stop, which cancels and waits for Run to return.
func runInBackground(t *testing.T, s *scheduler.Scheduler) (stop func() time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		require.NoError(t, s.Run(ctx))
	}()
	var once sync.Once
	var took time.Duration
	stop = func() time.Duration {
		once.Do(func() {
			began := time.Now()
			cancel()
			select {
			case <-done:
				took = time.Since(began)
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		})
		return took
	}
	t.Cleanup(func() { stop() })
	return stop
}

func receive[T any](t *testing.T, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received in time")
	}
	var zero T
	return zero
}

func TestRunsSoonAfterStartThenOnItsInterval(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	calls := make(chan time.Time, 100)
	s, err := scheduler.New(scheduler.Config{StartDelay: time.Millisecond, Now: func() time.Time { return clock },
		Logger: slog.New(slog.DiscardHandler)},
		scheduler.Job{Name: "tick", Interval: 10 * time.Millisecond, Run: func(_ context.Context, now time.Time) (int, error) {
			calls <- now
			return 0, nil
		}})
	require.NoError(t, err)
	began := time.Now()
	runInBackground(t, s)
	require.Equal(t, clock, receive(t, calls), "jobs get the scheduler's clock")
	require.Less(t, time.Since(began), 5*time.Second, "the first run comes soon after start")
	for range 3 {
		receive(t, calls) // and then it keeps running
	}
}

func TestRunsNeverOverlap(t *testing.T) {
	t.Parallel()
	var active, overlaps atomic.Int32
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	s, err := scheduler.New(scheduler.Config{StartDelay: time.Millisecond, Logger: slog.New(slog.DiscardHandler)},
		scheduler.Job{Name: "slow", Interval: time.Millisecond, Run: func(ctx context.Context, _ time.Time) (int, error) {
			if active.Add(1) > 1 {
				overlaps.Add(1)
			}
			defer active.Add(-1)
			entered <- struct{}{}
			select { // each run lasts many intervals
			case <-release:
			case <-ctx.Done():
			}
			return 0, nil
		}})
	require.NoError(t, err)
	stop := runInBackground(t, s)
	for range 5 {
		receive(t, entered)
		release <- struct{}{}
	}
	stop()
	require.Zero(t, overlaps.Load(), "a run started while the previous one was still going")
}

func TestStopsPromptlyEvenDuringARun(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	started := make(chan struct{}, 1)
	s, err := scheduler.New(scheduler.Config{StartDelay: time.Millisecond, Registerer: reg, Logger: slog.New(slog.DiscardHandler)},
		scheduler.Job{Name: "stuck", Interval: time.Hour, Run: func(ctx context.Context, _ time.Time) (int, error) {
			started <- struct{}{}
			<-ctx.Done() // a long scan that honours its context
			return 0, ctx.Err()
		}},
		scheduler.Job{Name: "never", Interval: time.Hour, Run: func(context.Context, time.Time) (int, error) {
			return 0, nil
		}})
	require.NoError(t, err)
	stop := runInBackground(t, s)
	receive(t, started)
	require.Less(t, stop(), 5*time.Second)
	require.EqualValues(t, 1, metric(t, reg, "notifyhub_scheduler_runs_total", map[string]string{"detector": "stuck", "result": "canceled"}))
	require.Zero(t, metric(t, reg, "notifyhub_scheduler_runs_total", map[string]string{"detector": "stuck", "result": "error"}),
		"a shutdown is not a failure")
}

func TestStopsBeforeTheFirstRun(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	s, err := scheduler.New(scheduler.Config{StartDelay: time.Hour, Logger: slog.New(slog.DiscardHandler)},
		scheduler.Job{Name: "later", Interval: time.Hour, Run: func(context.Context, time.Time) (int, error) {
			runs.Add(1)
			return 0, nil
		}})
	require.NoError(t, err)
	stop := runInBackground(t, s)
	require.Less(t, stop(), 5*time.Second)
	require.Zero(t, runs.Load())
}

func TestOutcomesAreCountedAndLogged(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	logs := &syncBuffer{}
	clock := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	fail := true
	s, err := scheduler.New(scheduler.Config{Registerer: reg, Now: func() time.Time { return clock },
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))},
		scheduler.Job{Name: "flaky", Interval: time.Minute, Run: func(context.Context, time.Time) (int, error) {
			if fail {
				return 2, errors.New("database is down") // raised 2 before failing
			}
			return 3, nil
		}},
		scheduler.Job{Name: "panicky", Interval: time.Minute, Run: func(context.Context, time.Time) (int, error) {
			panic("boom")
		}})
	require.NoError(t, err)
	ctx := context.Background()
	runs := func(job, result string) float64 {
		return metric(t, reg, "notifyhub_scheduler_runs_total", map[string]string{"detector": job, "result": result})
	}
	// Every series exists from the start.
	families, err := reg.Gather()
	require.NoError(t, err)
	require.NotEmpty(t, families)
	require.Zero(t, runs("flaky", "success"))

	err = s.RunNow(ctx)
	require.ErrorContains(t, err, "database is down")
	require.ErrorContains(t, err, "panic: boom")
	require.EqualValues(t, 1, runs("flaky", "error"))
	require.EqualValues(t, 1, runs("panicky", "error"))
	require.EqualValues(t, 2, metric(t, reg, "notifyhub_scheduler_raised_events_total", map[string]string{"detector": "flaky"}))
	require.Zero(t, metric(t, reg, "notifyhub_scheduler_last_success_timestamp_seconds", map[string]string{"detector": "flaky"}))
	require.Contains(t, logs.String(), "database is down")
	require.Contains(t, logs.String(), "job=flaky")

	fail = false
	clock = clock.Add(time.Minute)
	require.Error(t, s.RunNow(ctx)) // panicky still panics
	require.EqualValues(t, 1, runs("flaky", "success"))
	require.EqualValues(t, 5, metric(t, reg, "notifyhub_scheduler_raised_events_total", map[string]string{"detector": "flaky"}))
	require.EqualValues(t, clock.Unix(), metric(t, reg, "notifyhub_scheduler_last_success_timestamp_seconds", map[string]string{"detector": "flaky"}))
	require.EqualValues(t, 2, metric(t, reg, "notifyhub_scheduler_run_duration_seconds", map[string]string{"detector": "flaky"}))
}

func TestNewRejectsBadJobs(t *testing.T) {
	t.Parallel()
	ok := func(context.Context, time.Time) (int, error) { return 0, nil }
	for name, jobs := range map[string][]scheduler.Job{
		"no name":     {{Interval: time.Second, Run: ok}},
		"no interval": {{Name: "a", Run: ok}},
		"negative":    {{Name: "a", Interval: -time.Second, Run: ok}},
		"no func":     {{Name: "a", Interval: time.Second}},
		"twice":       {{Name: "a", Interval: time.Second, Run: ok}, {Name: "a", Interval: time.Second, Run: ok}},
	} {
		_, err := scheduler.New(scheduler.Config{}, jobs...)
		require.Error(t, err, name)
	}
	// Two schedulers cannot register their metrics on one registry.
	reg := prometheus.NewRegistry()
	_, err := scheduler.New(scheduler.Config{Registerer: reg}, scheduler.Job{Name: "a", Interval: time.Second, Run: ok})
	require.NoError(t, err)
	_, err = scheduler.New(scheduler.Config{Registerer: reg}, scheduler.Job{Name: "a", Interval: time.Second, Run: ok})
	require.Error(t, err)
}
