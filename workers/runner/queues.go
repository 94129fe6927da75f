package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/pause"
	"github.com/notifyhub/notifyhub/workers/stream"
)

// Queues of background jobs, highest priority first, as a worker serves
// them by default.
const (
	QueueHigh    = "high"    // payments, stock movements: what users wait for
	QueueDefault = "default" // everything else
	QueueLow     = "low"     // reports, syncs: what may wait
)

// DefaultQueues is the default --queue of a worker.
var DefaultQueues = []string{QueueHigh, QueueDefault, QueueLow}

// QueueGroup is the consumer group every worker joins on every queue: each
// job runs in one worker.
const QueueGroup = "workers"

var queuePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// CheckQueue validates a queue name: lower-case letters, digits, _ and -,
// at most 64. "events" is reserved: failed_jobs uses it for listeners.
func CheckQueue(q string) error {
	if !queuePattern.MatchString(q) {
		return domain.Invalid("queue", fmt.Sprintf("%q is not a queue name (lower-case letters, digits, _ and -, at most 64)", q))
	}
	if q == "events" {
		return domain.Invalid("queue", `"events" is reserved for listeners`)
	}
	return nil
}

// QueueTopic is the stream topic holding the jobs of queue q.
func QueueTopic(q string) string { return "jobs:" + q }

// Jobs turns entries of a queue into tasks (workers/jobs.Registry).
type Jobs interface {
	// Task decodes an entry taken from queue. On error the entry becomes a
	// failed job at once, recorded with what the returned Task could tell
	// (name, tenant, payload).
	Task(queue string, body []byte) (Task, error)
	// Policies are the policies of every job, for checking reclaim-after
	// against the longest attempt plus backoff.
	Policies() []Policy
}

// FailedJobCounter is implemented by stores that can count their failed
// jobs per queue, for the notifyhub_failed_jobs gauge.
type FailedJobCounter interface {
	CountFailedJobs(ctx context.Context) (map[string]int64, error)
}

// QueueConfig configures a QueueWorker. Zero values take the defaults
// noted.
type QueueConfig struct {
	// Queues are served in strict priority order: a consumer always takes
	// the next job from the first non-empty one. Default high, default, low.
	Queues      []string
	Consumer    string // unique per process; default host-pid
	Concurrency int    // consumers (jobs at once) in this process; default 1
	// Override replaces the fields it sets in every job's own policy
	// (--tries, --timeout, --backoff given on the command line).
	Override Policy
	Sleep    time.Duration // pause when every queue is empty; default 3s
	// PriorityLag is how long a job queued on a higher queue may wait
	// behind the rest of a batch taken from a lower one. 0 (the default)
	// keeps priority strict job by job: before each job of a batch from a
	// lower queue, the consumer looks at the higher ones. On Redis a
	// watch (one blocking read per worker) tells it when something came
	// there, and it reads them only then, or after a job of 1ms or more;
	// elsewhere it reads them every time (one read each). A positive lag
	// looks at most that often, which saves those reads when lower queues
	// are busy with quick jobs.
	PriorityLag time.Duration
	// MaxJobs stops the worker once it has run this many jobs; MaxTime
	// once it has run this long. Either way it finishes the jobs in hand
	// and Run returns a *Stopped, for a supervisor to start it afresh.
	// 0 means no limit.
	MaxJobs int
	MaxTime time.Duration
	// Restart returns the restart marker (`notifyhub queue restart` sets
	// it); the worker stops as MaxJobs does when it changes from what it
	// was at start. Nil: not watched.
	Restart      func(ctx context.Context) (string, error)
	RestartEvery time.Duration // how often to read the marker; default 3s
	// ReclaimAfter: as Config.ReclaimAfter, over the longest job. Default:
	// 5m, or the longest timeout + backoff + max(1m, a quarter of that).
	ReclaimAfter time.Duration
	ReclaimEvery time.Duration // default 30s (less when ReclaimAfter is short)
	TrimEvery    time.Duration // default 1m
	SampleEvery  time.Duration // queue depth and failed-job gauges; default 15s
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
	Now          func() time.Time
}

func (c *QueueConfig) setDefaults(longest time.Duration) {
	if len(c.Queues) == 0 {
		c.Queues = DefaultQueues
	}
	if c.Consumer == "" {
		host, _ := os.Hostname()
		c.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), domain.NewID()[24:])
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.Sleep <= 0 {
		c.Sleep = 3 * time.Second
	}
	if c.RestartEvery <= 0 {
		c.RestartEvery = 3 * time.Second
	}
	if c.ReclaimAfter <= 0 {
		c.ReclaimAfter = defaultReclaimAfter(longest)
	}
	if c.ReclaimEvery <= 0 {
		c.ReclaimEvery = min(30*time.Second, max(c.ReclaimAfter/4, 10*time.Millisecond))
	}
	if c.TrimEvery <= 0 {
		c.TrimEvery = time.Minute
	}
	if c.SampleEvery <= 0 {
		c.SampleEvery = 15 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *QueueConfig) validate(longest time.Duration) error {
	seen := map[string]bool{}
	for _, q := range c.Queues {
		if err := CheckQueue(q); err != nil {
			return fmt.Errorf("runner: --queue: %w", err)
		}
		if seen[q] {
			return fmt.Errorf("runner: --queue names %q twice", q)
		}
		seen[q] = true
	}
	if c.MaxJobs < 0 || c.MaxTime < 0 {
		return errors.New("runner: max-jobs and max-time must not be negative")
	}
	if err := c.Override.validate(); err != nil {
		return err
	}
	return checkReclaim(c.ReclaimAfter, longest)
}

// Stopped is what QueueWorker.Run returns when the worker stopped by
// itself (max-jobs, max-time or a restart request) rather than because its
// context ended. A process then exits with status 0, for its supervisor to
// start a fresh one.
type Stopped struct{ Reason string }

func (s *Stopped) Error() string { return "worker stopped: " + s.Reason }

// QueueWorker runs background jobs from a list of queues in strict
// priority order.
type QueueWorker struct {
	core
	cfg     QueueConfig
	jobs    Jobs
	metrics *queueMetrics
	watch   *queueWatch // news of appends to the queues; nil with one queue
	// exactAfter is the package's exactAfter; tests raise it to see the
	// watch alone at work.
	exactAfter time.Duration
	started    atomic.Int64 // jobs taken (MaxJobs)
	done       atomic.Int64 // jobs finished, whatever the outcome
}

// NewQueueWorker returns a worker for the jobs. It refuses a reclaim-after
// that is not well above the longest job timeout plus backoff.
func NewQueueWorker(cfg QueueConfig, s stream.Stream, store Store, jobs Jobs) (*QueueWorker, error) {
	if jobs == nil {
		return nil, errors.New("runner: queue worker needs jobs")
	}
	var longest time.Duration
	for _, p := range jobs.Policies() {
		p = p.Override(cfg.Override).withDefaults()
		if err := p.validate(); err != nil {
			return nil, err
		}
		longest = max(longest, p.longestStep())
	}
	if longest == 0 {
		longest = Policy{}.Override(cfg.Override).withDefaults().longestStep()
	}
	cfg.setDefaults(longest)
	if err := cfg.validate(longest); err != nil {
		return nil, err
	}
	m, err := newQueueMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	w := &QueueWorker{
		core:    newCore(s, store, cfg.Logger, cfg.Now, cfg.ReclaimAfter, longest, m),
		cfg:     cfg,
		jobs:    jobs,
		metrics: m,

		exactAfter: exactAfter,
	}
	if _, ok := s.(appendWatcher); ok && len(cfg.Queues) > 1 {
		w.watch = newQueueWatch(len(cfg.Queues))
	}
	return w, nil
}

// Run serves the queues until ctx is done or the worker stops by itself,
// then lets the jobs in hand finish (each within its timeout) and returns:
// nil after ctx ended, a *Stopped otherwise. A job waiting between tries
// is released for another worker at once.
func (w *QueueWorker) Run(ctx context.Context) error {
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	marker, markerKnown := w.readMarker(ctx)
	log := w.log.With(slog.String("queues", strings.Join(w.cfg.Queues, ",")))
	log.InfoContext(ctx, "job worker started", slog.Int("concurrency", w.cfg.Concurrency))

	var consumers, helpers sync.WaitGroup
	for i := range w.cfg.Concurrency {
		consumer := fmt.Sprintf("%s-%d", w.cfg.Consumer, i)
		consumers.Go(func() { w.consume(runCtx, stop, consumer) })
	}
	topics := make([]string, len(w.cfg.Queues))
	for i, q := range w.cfg.Queues {
		topics[i] = QueueTopic(q)
	}
	helperCtx, stopHelpers := context.WithCancel(runCtx)
	helpers.Go(func() { w.trim(helperCtx, w.cfg.TrimEvery, topics...) })
	helpers.Go(func() { w.sample(helperCtx) })
	helpers.Go(func() { w.watchRestart(helperCtx, stop, marker, markerKnown) })
	helpers.Go(func() { w.watchQueues(helperCtx) })
	consumers.Wait()
	stopHelpers()
	helpers.Wait()

	var s *Stopped
	if errors.As(context.Cause(runCtx), &s) {
		log.InfoContext(ctx, "job worker stopped by itself", slog.String("reason", s.Reason))
		return s
	}
	return nil
}

// Batches: a consumer takes several jobs of one queue in one read when
// they are quick, so that no-op and short jobs do not cost a round trip (or
// a database transaction) each to read and another to acknowledge. The
// batch is sized so that it runs for about batchTime at the speed jobs
// have run so far, at most maxBatch; a slow job brings it back to one.
// Priority stays strict (see QueueConfig.PriorityLag): before each job of
// a batch from a lower queue, the consumer reads the higher queues, unless
// the queue watch vouches that nothing was queued there since its last
// read, and a job found there runs next. Jobs of a batch not started (a
// higher job came, batchTime passed, or shutdown) are released and taken
// back through the next round's reclaim, after any higher-priority job.
const (
	batchTime = 50 * time.Millisecond
	maxBatch  = 256
)

// consume is one consumer: it takes jobs from the highest non-empty queue.
func (w *QueueWorker) consume(ctx context.Context, stop context.CancelCauseFunc, consumer string) {
	log := w.log.With(slog.String("consumer", consumer))
	for !w.ensureGroups(ctx, log) {
		if !pause.For(ctx, time.Second) {
			return
		}
	}
	reclaim := time.NewTicker(w.cfg.ReclaimEvery)
	defer reclaim.Stop()
	backoff := 100 * time.Millisecond
	// The first round reclaims: jobs released or left by a worker that
	// stopped are taken at once, not after the first tick.
	reclaimNow := true
	var perJob time.Duration // moving average of a job's run time
	var carry []stream.Message
	var carryQueue string
	var seen watchView // the watch as it was before the last read of the queues
	defer func() {
		// Read for the next round that did not come: hand them back.
		if len(carry) > 0 {
			w.newBatch(QueueTopic(carryQueue), QueueGroup, consumer, carry, log).release(ctx)
		}
	}()
	for ctx.Err() == nil {
		if !reclaimNow {
			select {
			case <-reclaim.C:
				reclaimNow = true
			default:
			}
		}
		want := batchSize(perJob)
		if w.cfg.MaxJobs > 0 {
			left := int64(w.cfg.MaxJobs) - w.started.Load()
			if left <= 0 {
				return // the consumer finishing the last job stops the worker
			}
			want = int(min(int64(want), left))
		}
		var msgs []stream.Message
		var queue string
		if len(carry) > 0 {
			// Higher-priority jobs read in the middle of the last batch.
			msgs, queue, carry = carry, carryQueue, nil
		} else {
			var again bool
			var err error
			w.watch.look(&seen)
			msgs, queue, again, err = w.next(ctx, consumer, reclaimNow, want)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				log.WarnContext(ctx, "queue read failed, will retry", slog.Duration("in", backoff), slog.Any("error", err))
				if !pause.For(ctx, backoff) {
					return
				}
				backoff = min(backoff*2, 5*time.Second)
				continue
			}
			backoff = 100 * time.Millisecond
			reclaimNow = again
		}
		if len(msgs) == 0 {
			if !pause.For(ctx, w.cfg.Sleep) {
				return
			}
			continue
		}
		b := w.newBatch(QueueTopic(queue), QueueGroup, consumer, msgs, log)
		if w.cfg.MaxJobs > 0 {
			// Other consumers may have taken the last jobs first.
			over := w.started.Add(int64(len(msgs))) - int64(w.cfg.MaxJobs)
			msgs = msgs[:len(msgs)-int(min(max(over, 0), int64(len(msgs))))]
		}
		qi := slices.Index(w.cfg.Queues, queue)
		start := w.now()
		checked := start
		ran := 0
		var last time.Duration // how long the job before ran
		for _, m := range msgs {
			if ctx.Err() != nil {
				// Stopping: start nothing new; released below.
				break
			}
			if ran > 0 {
				if w.now().Sub(start) >= batchTime {
					// Not started: released below, and taken back next
					// round unless a higher queue has work.
					reclaimNow = true
					break
				}
				// Higher queues are read unless the watch vouches that
				// nothing came there since the last read.
				if qi > 0 && (last >= w.exactAfter || !w.watch.quiet(&seen, qi)) && w.now().Sub(checked) >= w.cfg.PriorityLag {
					checked = w.now()
					w.watch.look(&seen)
					if carry, carryQueue = w.higher(ctx, consumer, queue, batchSize(perJob)); len(carry) > 0 {
						reclaimNow = true
						break
					}
				}
			}
			began := w.now()
			w.run(ctx, queue, m, b, log)
			last = w.now().Sub(began)
			ran++
			if n := w.done.Add(1); w.cfg.MaxJobs > 0 && n >= int64(w.cfg.MaxJobs) {
				stop(&Stopped{Reason: fmt.Sprintf("ran --max-jobs=%d jobs", w.cfg.MaxJobs)})
			}
		}
		if w.cfg.MaxJobs > 0 && ran < len(msgs) {
			w.started.Add(int64(ran - len(msgs))) // handed back, not run
		}
		b.end(ctx)
		if ran > 0 {
			took := w.now().Sub(start) / time.Duration(ran)
			if perJob == 0 {
				perJob = took
			} else {
				perJob = (perJob*3 + took) / 4
			}
		}
		if w.cfg.MaxJobs > 0 && w.started.Load() >= int64(w.cfg.MaxJobs) {
			return
		}
	}
}

// batchSize is how many jobs to take at once when a job takes perJob
// (0: not known yet, so one).
func batchSize(perJob time.Duration) int {
	if perJob <= 0 {
		return 1
	}
	return int(min(max(int64(batchTime/perJob), 1), maxBatch))
}

// next takes up to limit entries from the first queue that has some: when
// reclaiming, abandoned entries of a queue come before that queue's new
// ones. again reports whether the next round should reclaim too: this one
// found something to reclaim, or it stopped at new jobs of a queue before
// reclaiming the lower ones (which may hold jobs a batch handed back).
func (w *QueueWorker) next(ctx context.Context, consumer string, reclaim bool, limit int) (msgs []stream.Message, queue string, again bool, err error) {
	for i, q := range w.cfg.Queues {
		topic := QueueTopic(q)
		if reclaim {
			msgs, err := w.stream.Reclaim(ctx, topic, QueueGroup, consumer, w.reclaimAfter, limit)
			if err != nil {
				return nil, "", true, err
			}
			if len(msgs) > 0 {
				w.log.InfoContext(ctx, "took over jobs left by a worker or released", slog.String("queue", q), slog.Int("count", len(msgs)), slog.Int("deliveries", msgs[0].Deliveries))
				return msgs, q, true, nil
			}
		}
		msgs, err := w.stream.Read(ctx, topic, QueueGroup, consumer, limit, 0)
		if err != nil {
			return nil, "", reclaim, err
		}
		if len(msgs) > 0 {
			return msgs, q, reclaim && i < len(w.cfg.Queues)-1, nil
		}
	}
	return nil, "", false, nil
}

// higher reads up to limit new jobs from the first queue above queue that
// has some. A failed read is only logged: the batch goes on, and the next
// round reads every queue again.
func (w *QueueWorker) higher(ctx context.Context, consumer, queue string, limit int) ([]stream.Message, string) {
	for _, q := range w.cfg.Queues {
		if q == queue {
			return nil, ""
		}
		msgs, err := w.stream.Read(ctx, QueueTopic(q), QueueGroup, consumer, limit, 0)
		if err != nil {
			if ctx.Err() == nil {
				w.log.WarnContext(ctx, "queue read failed", slog.String("queue", q), slog.Any("error", err))
			}
			return nil, ""
		}
		if len(msgs) > 0 {
			return msgs, q
		}
	}
	return nil, ""
}

// run decodes one job and runs it with its policy.
func (w *QueueWorker) run(ctx context.Context, queue string, m stream.Message, b *batch, log *slog.Logger) {
	t, err := w.jobs.Task(queue, m.Body)
	t.Queue = queue
	if t.Name == "" {
		t.Name = "unknown"
	}
	log = log.With(slog.String("queue", queue), slog.String("job", t.Name), slog.String("tenant", string(t.Tenant)), slog.String("entry", m.ID))
	if err != nil {
		w.fail(ctx, m, b, &t, 0, err, log)
		return
	}
	t.Policy = t.Policy.Override(w.cfg.Override).withDefaults()
	w.process(ctx, m, b, &t, log)
}

func (w *QueueWorker) ensureGroups(ctx context.Context, log *slog.Logger) bool {
	for _, q := range w.cfg.Queues {
		if err := w.stream.EnsureGroup(ctx, QueueTopic(q), QueueGroup); err != nil {
			if ctx.Err() == nil {
				log.WarnContext(ctx, "create consumer group failed, will retry", slog.String("queue", q), slog.Any("error", err))
			}
			return false
		}
	}
	return true
}

// readMarker reads the restart marker; known is false when it could not.
func (w *QueueWorker) readMarker(ctx context.Context) (string, bool) {
	if w.cfg.Restart == nil {
		return "", false
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := w.cfg.Restart(rctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.WarnContext(ctx, "read restart marker failed", slog.Any("error", err))
		}
		return "", false
	}
	return v, true
}

// watchRestart stops the worker when max-time has passed or a restart was
// requested (the marker changed from what it was at start).
func (w *QueueWorker) watchRestart(ctx context.Context, stop context.CancelCauseFunc, marker string, known bool) {
	var deadline <-chan time.Time
	if w.cfg.MaxTime > 0 {
		t := time.NewTimer(w.cfg.MaxTime)
		defer t.Stop()
		deadline = t.C
	}
	var poll <-chan time.Time
	if w.cfg.Restart != nil {
		t := time.NewTicker(w.cfg.RestartEvery)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			stop(&Stopped{Reason: fmt.Sprintf("ran --max-time=%s", w.cfg.MaxTime)})
			return
		case <-poll:
			v, ok := w.readMarker(ctx)
			switch {
			case !ok:
			case !known:
				marker, known = v, true // the database was down at start
			case v != marker:
				stop(&Stopped{Reason: "restart requested (notifyhub queue restart)"})
				return
			}
		}
	}
}

// sample sets the queue depth, oldest-job-age and failed-job gauges.
func (w *QueueWorker) sample(ctx context.Context) {
	t := time.NewTicker(w.cfg.SampleEvery)
	defer t.Stop()
	for {
		w.sampleOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *QueueWorker) sampleOnce(ctx context.Context) {
	if in, ok := w.stream.(stream.Inspector); ok {
		for _, q := range w.cfg.Queues {
			n, oldest, err := in.Backlog(ctx, QueueTopic(q), QueueGroup)
			if err != nil {
				if ctx.Err() == nil {
					w.log.DebugContext(ctx, "queue depth query failed", slog.String("queue", q), slog.Any("error", err))
				}
				continue
			}
			w.metrics.depth.WithLabelValues(q).Set(float64(n))
			age := 0.0
			if !oldest.IsZero() {
				age = max(w.now().Sub(oldest).Seconds(), 0)
			}
			w.metrics.oldest.WithLabelValues(q).Set(age)
		}
	}
	if fc, ok := w.store.(FailedJobCounter); ok {
		counts, err := fc.CountFailedJobs(ctx)
		if err != nil {
			if ctx.Err() == nil {
				w.log.DebugContext(ctx, "failed job count failed", slog.Any("error", err))
			}
			return
		}
		w.metrics.stored.Reset()
		for q, n := range counts {
			w.metrics.stored.WithLabelValues(q).Set(float64(n))
		}
	}
}
