package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Func is one run of a job as of now (the scheduler's clock). It returns
// how many events it raised, also when it fails part way (what it raised
// before failing is committed).
type Func func(ctx context.Context, now time.Time) (raised int, err error)

// Job is a periodic job.
type Job struct {
	// Name labels the job in logs and metrics (label "detector"); unique.
	Name string
	// Interval between the starts of two runs; > 0. A run that takes
	// longer delays the next one instead of overlapping it.
	Interval time.Duration
	Run      Func
}

// Results of a run, as the "result" label of the runs counter.
const (
	ResultSuccess  = "success"
	ResultError    = "error"
	ResultCanceled = "canceled" // stopped by shutdown: not a failure
)

// Config of a Scheduler. Zero values take the defaults noted.
type Config struct {
	// StartDelay is the wait before each job's first run, so a starting
	// process is up before the first scan; default 1s.
	StartDelay time.Duration
	// Timeout bounds one run; default 10m. A run cut short resumes at the
	// next tick: jobs commit their work item by item.
	Timeout time.Duration
	Logger  *slog.Logger
	// Registerer receives the metrics; nil: not registered.
	Registerer prometheus.Registerer
	// Now is the clock passed to the jobs; default time.Now. Ticks are
	// real time whatever the clock.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.StartDelay <= 0 {
		c.StartDelay = time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Scheduler runs jobs on their intervals.
type Scheduler struct {
	cfg     Config
	jobs    []Job
	metrics *metrics
	log     *slog.Logger
}

// New validates the jobs and returns a Scheduler.
func New(cfg Config, jobs ...Job) (*Scheduler, error) {
	cfg.setDefaults()
	seen := map[string]bool{}
	for i, j := range jobs {
		switch {
		case j.Name == "":
			return nil, fmt.Errorf("scheduler: job %d has no name", i)
		case seen[j.Name]:
			return nil, fmt.Errorf("scheduler: job %q is registered twice", j.Name)
		case j.Interval <= 0:
			return nil, fmt.Errorf("scheduler: job %q: interval must be positive", j.Name)
		case j.Run == nil:
			return nil, fmt.Errorf("scheduler: job %q has no Run", j.Name)
		}
		seen[j.Name] = true
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		// Export every series from the start, so a job that never
		// succeeded shows as 0 rather than as missing.
		for _, r := range []string{ResultSuccess, ResultError, ResultCanceled} {
			m.runs.WithLabelValues(j.Name, r)
		}
		m.raised.WithLabelValues(j.Name)
	}
	return &Scheduler{cfg: cfg, jobs: jobs, metrics: m,
		log: cfg.Logger.With(slog.String("component", "scheduler"))}, nil
}

// Run runs every job on its interval until ctx ends, then waits for runs
// in progress (which see ctx's end) and returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, j := range s.jobs {
		wg.Go(func() { s.loop(ctx, j) })
	}
	s.log.InfoContext(ctx, "scheduler started", slog.Int("jobs", len(s.jobs)))
	wg.Wait()
	return nil
}

// loop runs one job: once after the start delay, then at every tick. A
// time.Ticker keeps the ticks on a fixed grid, and drops those that pass
// while a run is in progress, so runs never overlap or pile up.
func (s *Scheduler) loop(ctx context.Context, j Job) {
	start := time.NewTimer(s.cfg.StartDelay)
	defer start.Stop()
	select {
	case <-ctx.Done():
		return
	case <-start.C:
	}
	tick := time.NewTicker(j.Interval)
	defer tick.Stop()
	for {
		_ = s.runJob(ctx, j)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// RunNow runs every job once, one after the other, as a tick would, and
// returns their errors joined. For tools and tests; Run does not need it.
func (s *Scheduler) RunNow(ctx context.Context) error {
	var errs []error
	for _, j := range s.jobs {
		if err := s.runJob(ctx, j); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", j.Name, err))
		}
	}
	return errors.Join(errs...)
}

// runJob runs j once with the run timeout, recovering a panic as an error,
// and records the outcome.
func (s *Scheduler) runJob(ctx context.Context, j Job) (err error) {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	now := s.cfg.Now()
	began := time.Now()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	raised, err := safeRun(rctx, j.Run, now)
	took := time.Since(began)
	s.metrics.duration.WithLabelValues(j.Name).Observe(took.Seconds())
	s.metrics.raised.WithLabelValues(j.Name).Add(float64(max(raised, 0)))
	attrs := []any{slog.String("job", j.Name), slog.Int("raised", raised), slog.Duration("took", took)}
	switch {
	case err != nil && ctx.Err() != nil:
		s.metrics.runs.WithLabelValues(j.Name, ResultCanceled).Inc()
		s.log.DebugContext(ctx, "scheduled run stopped by shutdown", attrs...)
		return err
	case err != nil:
		s.metrics.runs.WithLabelValues(j.Name, ResultError).Inc()
		s.log.WarnContext(ctx, "scheduled run failed; retrying at the next tick", append(attrs, slog.Any("error", err))...)
		return err
	}
	s.metrics.runs.WithLabelValues(j.Name, ResultSuccess).Inc()
	s.metrics.lastSuccess.WithLabelValues(j.Name).Set(float64(now.UnixMilli()) / 1000)
	if raised > 0 {
		s.log.InfoContext(ctx, "scheduled run raised events", attrs...)
	} else {
		s.log.DebugContext(ctx, "scheduled run done", attrs...)
	}
	return nil
}

// safeRun calls fn, turning a panic into an error so one bad run neither
// kills the process nor stops the job's later ticks.
func safeRun(ctx context.Context, fn Func, now time.Time) (raised int, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(ctx, now)
}

type metrics struct {
	runs        *prometheus.CounterVec
	raised      *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	duration    *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifyhub_scheduler_runs_total",
			Help: "Scheduled runs, by detector (job) and result: success, error or canceled (by shutdown).",
		}, []string{"detector", "result"}),
		raised: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifyhub_scheduler_raised_events_total",
			Help: "Events raised by scheduled runs, by detector (job).",
		}, []string{"detector"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "notifyhub_scheduler_last_success_timestamp_seconds",
			Help: "Unix time of the last successful run, by detector (job); alert when it falls behind.",
		}, []string{"detector"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "notifyhub_scheduler_run_duration_seconds",
			Help:    "Duration of scheduled runs, by detector (job).",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 9), // 5ms .. ~5.5min
		}, []string{"detector"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.runs, m.raised, m.lastSuccess, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("scheduler metrics: %w", err)
		}
	}
	return m, nil
}
