package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/stream"
)

// Listener reacts to business events. Handle must be idempotent: the same
// event can arrive more than once.
type Listener interface {
	// Name is the listener's consumer group and its name in failed jobs.
	Name() string
	// Events lists the event types it handles; others are acknowledged
	// without a call.
	Events() []string
	Handle(ctx context.Context, ev domain.Event) error
}

// Store keeps failed jobs.
type Store interface {
	InsertFailedJob(ctx context.Context, j domain.FailedJob) error
}

// Config of a Runner. Zero values take the defaults noted.
type Config struct {
	Topic       string          // stream topic; default "events"
	Consumer    string          // unique per process; default host-pid
	Concurrency int             // consumers per listener; default 1
	Tries       int             // attempts per delivery; default 3
	Backoff     []time.Duration // delay before try 2, 3, ...; the last repeats; default 1s, 10s
	Timeout     time.Duration   // per attempt; default 60s
	// ReclaimAfter is how long an entry left unacknowledged waits before
	// another consumer takes it over. It must exceed Timeout plus the
	// longest backoff by a tenth of itself at least: a live consumer extends
	// its entries (stream.Extend) before each try once half that margin has
	// passed, so a slow but live consumer never has an entry run twice at
	// once. Default: 5m, or Timeout + longest backoff + max(1m, a quarter
	// of that) when more.
	ReclaimAfter time.Duration
	ReclaimEvery time.Duration // how often to look for such entries; default 30s
	ReadBlock    time.Duration // default 2s
	BatchSize    int           // entries per read; default 16
	TrimEvery    time.Duration // how often to trim acknowledged entries; default 1m
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
	Now          func() time.Time
}

func (c *Config) setDefaults() {
	if c.Topic == "" {
		c.Topic = "events"
	}
	if c.Consumer == "" {
		host, _ := os.Hostname()
		c.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), domain.NewID()[24:])
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.Tries <= 0 {
		c.Tries = 3
	}
	if len(c.Backoff) == 0 {
		c.Backoff = []time.Duration{time.Second, 10 * time.Second}
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Minute
	}
	if c.ReclaimAfter <= 0 {
		step := c.longestStep()
		c.ReclaimAfter = max(5*time.Minute, step+max(time.Minute, step/4))
	}
	if c.ReclaimEvery <= 0 {
		c.ReclaimEvery = min(30*time.Second, max(c.ReclaimAfter/4, 10*time.Millisecond))
	}
	if c.ReadBlock <= 0 {
		c.ReadBlock = 2 * time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 16
	}
	if c.TrimEvery <= 0 {
		c.TrimEvery = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// longestStep is the most time between two of a consumer's chances to
// extend its entries: one backoff (when there are retries) and one attempt.
func (c *Config) longestStep() time.Duration {
	if c.Tries < 2 {
		return c.Timeout
	}
	return c.Timeout + slices.Max(c.Backoff)
}

// extendEvery is how stale a batch may get before the consumer extends it:
// half the margin that ReclaimAfter leaves over the longest step.
func (c *Config) extendEvery() time.Duration {
	return (c.ReclaimAfter - c.longestStep()) / 2
}

// backoff is the delay before the given try (2, 3, ...).
func (c *Config) backoff(try int) time.Duration {
	i := min(try-2, len(c.Backoff)-1)
	return c.Backoff[max(i, 0)]
}

// Validate checks the configuration after defaults are applied.
func (c *Config) Validate() error {
	for _, b := range c.Backoff {
		if b < 0 {
			return errors.New("runner: backoff must not be negative")
		}
	}
	// The margin over the longest step is what a consumer has to extend
	// its entries in; it must be real, not a rounding error.
	if longest := c.longestStep(); c.ReclaimAfter-longest < c.ReclaimAfter/10 {
		return fmt.Errorf("runner: reclaim-after %s must exceed timeout %s + the longest backoff (= %s) by at least a tenth of itself, or an entry could run twice at once",
			c.ReclaimAfter, c.Timeout, longest)
	}
	return nil
}

// Runner runs listeners.
type Runner struct {
	cfg       Config
	stream    stream.Stream
	store     Store
	listeners []Listener
	handles   map[string]map[string]bool // listener name → event types it handles
	metrics   *metrics
}

// New returns a Runner for the listeners.
func New(cfg Config, s stream.Stream, store Store, listeners ...Listener) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	handles := map[string]map[string]bool{}
	for _, l := range listeners {
		if handles[l.Name()] != nil {
			return nil, fmt.Errorf("runner: two listeners named %q", l.Name())
		}
		types := map[string]bool{}
		for _, t := range l.Events() {
			types[t] = true
		}
		handles[l.Name()] = types
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg, stream: s, store: store, listeners: listeners, handles: handles, metrics: m}, nil
}

// Run consumes until ctx is done, then lets in-flight attempts finish
// (each within its timeout) and returns. Entries it did not finish stay
// unacknowledged for another consumer to take over.
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, l := range r.listeners {
		for i := range r.cfg.Concurrency {
			consumer := fmt.Sprintf("%s-%d", r.cfg.Consumer, i)
			wg.Go(func() { r.consume(ctx, l, consumer) })
		}
	}
	wg.Go(func() { r.trim(ctx) })
	wg.Wait()
	return nil
}

// consume is one consumer of one listener's group.
func (r *Runner) consume(ctx context.Context, l Listener, consumer string) {
	log := r.cfg.Logger.With(slog.String("listener", l.Name()), slog.String("consumer", consumer))
	for !r.ensureGroup(ctx, l, log) {
		if !sleep(ctx, time.Second) {
			return
		}
	}
	reclaim := time.NewTicker(r.cfg.ReclaimEvery)
	defer reclaim.Stop()
	backoff := 100 * time.Millisecond
	// The first round reclaims: entries released or left by a process that
	// stopped are taken at once, not after the first tick.
	reclaimNow := true
	for ctx.Err() == nil {
		if !reclaimNow {
			select {
			case <-reclaim.C:
				reclaimNow = true
			default:
			}
		}
		var msgs []stream.Message
		var err error
		if reclaimNow {
			msgs, err = r.stream.Reclaim(ctx, r.cfg.Topic, l.Name(), consumer, r.cfg.ReclaimAfter, r.cfg.BatchSize)
			if len(msgs) > 0 {
				log.InfoContext(ctx, "took over entries left by another consumer", slog.Int("count", len(msgs)))
			}
		} else {
			msgs, err = r.stream.Read(ctx, r.cfg.Topic, l.Name(), consumer, r.cfg.BatchSize, r.cfg.ReadBlock)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.WarnContext(ctx, "stream read failed, will retry", slog.Duration("in", backoff), slog.Any("error", err))
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		reclaimNow = false
		backoff = 100 * time.Millisecond
		b := r.newBatch(l, consumer, msgs, log)
		for _, m := range msgs {
			if ctx.Err() != nil {
				break // not started: released below
			}
			r.process(ctx, l, m, b, log)
		}
		b.release(ctx)
	}
}

// batch is what a consumer took in one Read or Reclaim and has not
// finished. While the consumer works through it, batch extends the whole
// of it before it could go stale, so no other consumer takes over an entry
// that is only waiting its turn; when the consumer stops, batch releases
// what was not finished.
type batch struct {
	r        *Runner
	group    string
	consumer string
	ids      []string // unfinished entries still held, in order
	extended time.Time
	log      *slog.Logger
}

func (r *Runner) newBatch(l Listener, consumer string, msgs []stream.Message, log *slog.Logger) *batch {
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return &batch{r: r, group: l.Name(), consumer: consumer, ids: ids, extended: r.cfg.Now(), log: log}
}

// holds reports whether the consumer still holds id, extending the batch
// first when it is due.
func (b *batch) holds(ctx context.Context, id string) bool {
	if b.r.cfg.Now().Sub(b.extended) >= b.r.cfg.extendEvery() {
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		held, err := b.r.stream.Extend(ectx, b.r.cfg.Topic, b.group, b.consumer, b.ids...)
		cancel()
		if err != nil {
			b.log.WarnContext(ctx, "extend entries failed", slog.Any("error", err))
			// Cannot tell. Only start an attempt that surely ends before
			// anyone may take the entry over; else leave it pending.
			stale := b.r.cfg.Now().Sub(b.extended)
			return stale+b.r.cfg.Timeout < b.r.cfg.ReclaimAfter && slices.Contains(b.ids, id)
		}
		b.ids, b.extended = held, b.r.cfg.Now()
	}
	return slices.Contains(b.ids, id)
}

// finished drops id from the batch (acknowledged or recorded as failed).
func (b *batch) finished(id string) {
	b.ids = slices.DeleteFunc(b.ids, func(x string) bool { return x == id })
}

// release hands back what the batch did not finish, for another consumer
// to take at once instead of after ReclaimAfter.
func (b *batch) release(ctx context.Context) {
	if len(b.ids) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := b.r.stream.Release(rctx, b.r.cfg.Topic, b.group, b.consumer, b.ids...); err != nil {
		b.log.WarnContext(ctx, "release entries failed; they are taken over after reclaim-after", slog.Any("error", err))
		return
	}
	b.log.InfoContext(ctx, "released entries not finished", slog.Int("count", len(b.ids)))
	b.ids = nil
}

func (r *Runner) ensureGroup(ctx context.Context, l Listener, log *slog.Logger) bool {
	if err := r.stream.EnsureGroup(ctx, r.cfg.Topic, l.Name()); err != nil {
		if ctx.Err() == nil {
			log.WarnContext(ctx, "create consumer group failed, will retry", slog.Any("error", err))
		}
		return false
	}
	return true
}

// process runs one entry through the listener with retries and acknowledges
// it once it succeeded, was not for this listener, or became a failed job.
func (r *Runner) process(ctx context.Context, l Listener, m stream.Message, b *batch, log *slog.Logger) {
	var ev domain.Event
	if err := json.Unmarshal(m.Body, &ev); err != nil || ev.ID == "" || ev.Type == "" {
		if err == nil {
			err = errors.New("missing id or type")
		}
		r.fail(ctx, l, m, b, domain.Event{}, 0, fmt.Errorf("undecodable event: %w", err), log)
		return
	}
	if !r.handles[l.Name()][ev.Type] {
		r.ack(ctx, l, m, b, log)
		return
	}
	log = log.With(slog.String("event", ev.Type), slog.String("event_id", ev.ID), slog.String("tenant", string(ev.TenantID)))
	tries := r.cfg.Tries
	if m.Deliveries > r.cfg.Tries {
		// Delivered again and again without an outcome: consumers died
		// while handling it. One more try, then it is a failed job, so a
		// poison event cannot crash workers forever.
		tries = 1
	}
	var err error
	for try := 1; try <= tries; try++ {
		if try > 1 && !sleep(ctx, r.cfg.backoff(try)) {
			log.InfoContext(ctx, "shutting down between tries; entry left for another consumer")
			return
		}
		if !b.holds(ctx, m.ID) {
			log.WarnContext(ctx, "entry no longer held (taken over, or its hold could not be confirmed); leaving it")
			return
		}
		err = r.attempt(ctx, l, ev)
		if err == nil {
			r.metrics.runs.WithLabelValues(l.Name(), "success").Inc()
			r.ack(ctx, l, m, b, log)
			return
		}
		r.metrics.runs.WithLabelValues(l.Name(), "error").Inc()
		log.WarnContext(ctx, "listener failed", slog.Int("try", try), slog.Int("tries", tries), slog.Any("error", err))
		if domain.Permanent(err) {
			// The same input fails the same way: no point waiting.
			r.fail(ctx, l, m, b, ev, try, err, log)
			return
		}
	}
	r.fail(ctx, l, m, b, ev, tries, err, log)
}

// attempt runs Handle once under the timeout. It is not cancelled by
// shutdown (ctx): an attempt that started is allowed to finish.
func (r *Runner) attempt(ctx context.Context, l Listener, ev domain.Event) (err error) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Timeout)
	defer cancel()
	start := r.cfg.Now()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
		r.metrics.duration.WithLabelValues(l.Name()).Observe(r.cfg.Now().Sub(start).Seconds())
	}()
	err = l.Handle(actx, ev)
	if err == nil && actx.Err() != nil {
		// Finished but past its deadline: the effect's transaction was
		// cancelled or raced the deadline; count it as a failed try.
		err = fmt.Errorf("timed out after %s", r.cfg.Timeout)
	} else if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w", r.cfg.Timeout, err)
	}
	return err
}

// fail records the failed job and acknowledges the entry. If the failed job
// cannot be recorded the entry stays pending, to be taken over later.
func (r *Runner) fail(ctx context.Context, l Listener, m stream.Message, b *batch, ev domain.Event, attempts int, cause error, log *slog.Logger) {
	job := domain.FailedJob{
		ID: domain.NewID(), Queue: r.cfg.Topic, Job: l.Name(), TenantID: ev.TenantID,
		Payload: m.Body, Attempts: attempts, Error: cause.Error(), FailedAt: r.cfg.Now().UTC(),
	}
	if !json.Valid(job.Payload) {
		raw, _ := json.Marshal(string(m.Body))
		job.Payload = raw
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.store.InsertFailedJob(fctx, job); err != nil {
		log.ErrorContext(ctx, "record failed job; entry left pending", slog.Any("error", err))
		return
	}
	r.metrics.failed.WithLabelValues(l.Name()).Inc()
	log.ErrorContext(ctx, "listener gave up; recorded failed job", slog.String("failed_job", job.ID), slog.Any("error", cause))
	r.ack(ctx, l, m, b, log)
}

func (r *Runner) ack(ctx context.Context, l Listener, m stream.Message, b *batch, log *slog.Logger) {
	b.finished(m.ID)
	// Acknowledge even during shutdown: the work is done.
	if err := r.stream.Ack(context.WithoutCancel(ctx), r.cfg.Topic, l.Name(), m.ID); err != nil {
		log.WarnContext(ctx, "ack failed; the entry will be redelivered", slog.Any("error", err))
	}
}

// trim drops stream entries every group has acknowledged.
func (r *Runner) trim(ctx context.Context) {
	t := time.NewTicker(r.cfg.TrimEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := r.stream.Trim(ctx, r.cfg.Topic); err != nil && ctx.Err() == nil {
				r.cfg.Logger.WarnContext(ctx, "trim stream failed", slog.Any("error", err))
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type metrics struct {
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	failed   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifyhub_listener_runs_total",
			Help: "Listener attempts by result (success, error).",
		}, []string{"listener", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "notifyhub_listener_duration_seconds",
			Help:    "Duration of listener attempts.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"listener"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifyhub_failed_jobs_total",
			Help: "Listener runs and jobs that used up their tries.",
		}, []string{"job"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.runs, m.duration, m.failed} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("runner metrics: %w", err)
		}
	}
	return m, nil
}
