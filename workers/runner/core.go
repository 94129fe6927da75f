package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/pause"
	"github.com/notifyhub/notifyhub/workers/stream"
)

// Policy is how one kind of work is retried.
type Policy struct {
	Tries   int             // attempts per delivery
	Timeout time.Duration   // limit of one attempt, enforced through its ctx
	Backoff []time.Duration // delay before try 2, 3, ...; the last repeats
}

// Override returns p with every non-zero field of o put in its place: a
// worker's --tries, --timeout or --backoff given on the command line
// replaces a job type's own.
func (p Policy) Override(o Policy) Policy {
	if o.Tries > 0 {
		p.Tries = o.Tries
	}
	if o.Timeout > 0 {
		p.Timeout = o.Timeout
	}
	if len(o.Backoff) > 0 {
		p.Backoff = o.Backoff
	}
	return p
}

// withDefaults fills what p leaves unset with the runner's defaults.
func (p Policy) withDefaults() Policy {
	return Policy{Tries: 3, Timeout: time.Minute, Backoff: []time.Duration{time.Second, 10 * time.Second}}.Override(p)
}

func (p Policy) validate() error {
	for _, b := range p.Backoff {
		if b < 0 {
			return errors.New("runner: backoff must not be negative")
		}
	}
	return nil
}

// longestStep is the most time between two of a consumer's chances to
// extend its entries: one backoff (when there are retries) and one attempt.
func (p Policy) longestStep() time.Duration {
	if p.Tries < 2 || len(p.Backoff) == 0 {
		return p.Timeout
	}
	return p.Timeout + slices.Max(p.Backoff)
}

// backoff is the delay before the given try (2, 3, ...).
func (p Policy) backoff(try int) time.Duration {
	if len(p.Backoff) == 0 {
		return 0
	}
	i := min(try-2, len(p.Backoff)-1)
	return p.Backoff[max(i, 0)]
}

// defaultReclaimAfter leaves a real margin over the longest step.
func defaultReclaimAfter(longest time.Duration) time.Duration {
	return max(5*time.Minute, longest+max(time.Minute, longest/4))
}

// checkReclaim refuses a reclaim-after that is not well above the longest
// step: the margin is what a live consumer has to extend its entries in.
func checkReclaim(reclaimAfter, longest time.Duration) error {
	if reclaimAfter-longest < reclaimAfter/10 {
		return fmt.Errorf("runner: reclaim-after %s must exceed timeout + the longest backoff (= %s) by at least a tenth of itself, or an entry could run twice at once",
			reclaimAfter, longest)
	}
	return nil
}

// Task is one stream entry made ready to run: what to call, under which
// policy, and what to keep as a failed job if every try fails.
type Task struct {
	Name    string          // listener or job: failed_jobs.job and the metric label
	Queue   string          // failed_jobs.queue: "events" for listeners, the queue for jobs
	Tenant  domain.TenantID // failed_jobs.tenant_id
	Payload json.RawMessage // kept in failed_jobs so that a retry can run it again
	Policy  Policy
	Run     func(ctx context.Context) error
	// OnFailed, when set, runs once the task has been recorded as a failed
	// job (a job marking its own record failed, say). Best effort: its
	// ctx has a short deadline and its outcome is only logged.
	OnFailed func(ctx context.Context, cause error) error
}

// observer receives the outcome of each attempt, for metrics.
type observer interface {
	// attempt reports one attempt: err nil on success; retry says whether
	// another try follows a failure.
	attempt(t *Task, err error, retry bool, took time.Duration)
	// gaveUp reports a task recorded as a failed job.
	gaveUp(t *Task)
}

// core is the machinery listeners and queues share: holding entries while
// working through them, attempts under a timeout, retries with backoff,
// failed jobs and acknowledgement.
type core struct {
	stream       stream.Stream
	store        Store
	log          *slog.Logger
	now          func() time.Time
	reclaimAfter time.Duration
	extendEvery  time.Duration // half the margin reclaim-after leaves over the longest step
	obs          observer
}

func newCore(s stream.Stream, store Store, log *slog.Logger, now func() time.Time, reclaimAfter, longest time.Duration, obs observer) core {
	return core{stream: s, store: store, log: log, now: now, reclaimAfter: reclaimAfter,
		extendEvery: (reclaimAfter - longest) / 2, obs: obs}
}

// ackDelay bounds how long a finished entry waits for its acknowledgement
// while the batch goes on: acknowledgements of a batch go in one round trip
// (XACK of many ids, one statement), but never wait behind an attempt that
// starts later than this, so a slow attempt cannot hold them until another
// consumer takes them over and runs them again.
const ackDelay = 10 * time.Millisecond

// batch is what a consumer took in one Read or Reclaim and has not
// finished. While the consumer works through it, batch extends the whole
// of it before it could go stale, so no other consumer takes over an entry
// that is only waiting its turn; when the consumer stops, batch releases
// what was not finished. Entries finished (succeeded or recorded as failed
// jobs) are acknowledged together: before an attempt that starts ackDelay
// after the first of them finished, and when the batch ends (flush).
type batch struct {
	c        *core
	topic    string
	group    string
	consumer string
	ids      []string // unfinished entries still held, in order
	extended time.Time
	log      *slog.Logger
	acks     []string  // finished entries not acknowledged yet
	ackSince time.Time // when the first of acks finished
}

func (c *core) newBatch(topic, group, consumer string, msgs []stream.Message, log *slog.Logger) *batch {
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return &batch{c: c, topic: topic, group: group, consumer: consumer, ids: ids, extended: c.now(), log: log}
}

// holds reports whether the consumer still holds id, extending the batch
// first when it is due. timeout is the limit of the attempt about to start.
// Acknowledgements waiting longer than ackDelay go first.
func (b *batch) holds(ctx context.Context, id string, timeout time.Duration) bool {
	return b.extendIfDue(ctx, timeout) && b.has(id)
}

// holdsAll is holds for entries about to run in one attempt: it returns
// those of ids the consumer still holds, in order.
func (b *batch) holdsAll(ctx context.Context, ids []string, timeout time.Duration) []string {
	if !b.extendIfDue(ctx, timeout) {
		return nil
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if b.has(id) {
			out = append(out, id)
		}
	}
	return out
}

// extendIfDue flushes the acknowledgements waiting longer than ackDelay
// and extends the batch when it is due. It reports false when the hold
// cannot be told and an attempt of timeout might outlive it.
func (b *batch) extendIfDue(ctx context.Context, timeout time.Duration) bool {
	if len(b.acks) > 0 && b.c.now().Sub(b.ackSince) >= ackDelay {
		b.flush(ctx)
	}
	if b.c.now().Sub(b.extended) >= b.c.extendEvery {
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		held, err := b.c.stream.Extend(ectx, b.topic, b.group, b.consumer, b.ids...)
		cancel()
		if err != nil {
			b.log.WarnContext(ctx, "extend entries failed", slog.Any("error", err))
			// Cannot tell. Only start an attempt that surely ends before
			// anyone may take the entries over; else leave them pending.
			if stale := b.c.now().Sub(b.extended); stale+timeout >= b.c.reclaimAfter {
				return false
			}
		} else {
			b.ids, b.extended = held, b.c.now()
		}
	}
	return true
}

// has reports whether id is among the unfinished entries. Entries run in
// order, so it is nearly always the first.
func (b *batch) has(id string) bool {
	return (len(b.ids) > 0 && b.ids[0] == id) || slices.Contains(b.ids, id)
}

// finished drops id from the batch (acknowledged or recorded as failed).
func (b *batch) finished(id string) {
	if len(b.ids) > 0 && b.ids[0] == id {
		b.ids = b.ids[1:]
		return
	}
	b.ids = slices.DeleteFunc(b.ids, func(x string) bool { return x == id })
}

// ack marks id finished and queues its acknowledgement.
func (b *batch) ack(id string) {
	b.finished(id)
	if len(b.acks) == 0 {
		b.ackSince = b.c.now()
	}
	b.acks = append(b.acks, id)
}

// flush acknowledges the finished entries in one call, even during
// shutdown: the work is done.
func (b *batch) flush(ctx context.Context) {
	if len(b.acks) == 0 {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := b.c.stream.Ack(actx, b.topic, b.group, b.acks...); err != nil {
		b.log.WarnContext(ctx, "ack failed; the entries will be redelivered", slog.Int("count", len(b.acks)), slog.Any("error", err))
	}
	b.acks = b.acks[:0]
}

// end acknowledges what the batch finished and releases what it did not.
func (b *batch) end(ctx context.Context) {
	b.flush(ctx)
	b.release(ctx)
}

// release hands back what the batch did not finish, for another consumer
// to take at once instead of after reclaim-after.
func (b *batch) release(ctx context.Context) {
	if len(b.ids) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := b.c.stream.Release(rctx, b.topic, b.group, b.consumer, b.ids...); err != nil {
		b.log.WarnContext(ctx, "release entries failed; they are taken over after reclaim-after", slog.Any("error", err))
		return
	}
	b.log.InfoContext(ctx, "released entries not finished", slog.Int("count", len(b.ids)))
	b.ids = nil
}

// process runs one entry's task with retries and acknowledges the entry
// once it succeeded or became a failed job. It returns early, leaving the
// entry pending, when shutdown comes between tries or the entry is no
// longer held.
func (c *core) process(ctx context.Context, m stream.Message, b *batch, t *Task, log *slog.Logger) {
	tries := t.Policy.Tries
	if m.Deliveries > tries {
		// Delivered again and again without an outcome: consumers died
		// while handling it. One more try, then it is a failed job, so a
		// poison entry cannot crash workers forever.
		tries = 1
	}
	var err error
	for try := 1; try <= tries; try++ {
		if try > 1 && !pause.For(ctx, t.Policy.backoff(try)) {
			log.InfoContext(ctx, "shutting down between tries; entry left for another consumer")
			return
		}
		if !b.holds(ctx, m.ID, t.Policy.Timeout) {
			log.WarnContext(ctx, "entry no longer held (taken over, or its hold could not be confirmed); leaving it")
			return
		}
		var took time.Duration
		took, err = c.attempt(ctx, t)
		last := try == tries || domain.Permanent(err)
		c.obs.attempt(t, err, err != nil && !last, took)
		if err == nil {
			b.ack(m.ID)
			return
		}
		log.WarnContext(ctx, "attempt failed", slog.Int("try", try), slog.Int("tries", tries), slog.Any("error", err))
		if domain.Permanent(err) {
			// The same input fails the same way: no point waiting.
			c.fail(ctx, m, b, t, try, err, log)
			return
		}
	}
	c.fail(ctx, m, b, t, tries, err, log)
}

// attempt runs the task once under its timeout. It is not cancelled by
// shutdown (ctx): an attempt that started is allowed to finish.
func (c *core) attempt(ctx context.Context, t *Task) (took time.Duration, err error) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.Policy.Timeout)
	defer cancel()
	start := c.now()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
		took = c.now().Sub(start)
	}()
	err = t.Run(actx)
	if err == nil && actx.Err() != nil {
		// Finished but past its deadline: the effect's transaction was
		// cancelled or raced the deadline; count it as a failed try.
		err = fmt.Errorf("timed out after %s", t.Policy.Timeout)
	} else if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w", t.Policy.Timeout, err)
	}
	return 0, err // took is set on the way out
}

// fail records the failed job and acknowledges the entry. If the failed job
// cannot be recorded the entry stays pending, to be taken over later.
func (c *core) fail(ctx context.Context, m stream.Message, b *batch, t *Task, attempts int, cause error, log *slog.Logger) {
	job := domain.FailedJob{
		ID: domain.NewID(), Queue: t.Queue, Job: t.Name, TenantID: t.Tenant,
		Payload: t.Payload, Attempts: attempts, Error: cause.Error(), FailedAt: c.now().UTC(),
	}
	if len(job.Payload) == 0 {
		job.Payload = m.Body
	}
	if !json.Valid(job.Payload) {
		raw, _ := json.Marshal(string(job.Payload))
		job.Payload = raw
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.store.InsertFailedJob(fctx, job); err != nil {
		log.ErrorContext(ctx, "record failed job; entry left pending", slog.Any("error", err))
		return
	}
	c.obs.gaveUp(t)
	log.ErrorContext(ctx, "gave up; recorded failed job", slog.String("failed_job", job.ID), slog.Int("attempts", attempts), slog.Any("error", cause))
	if t.OnFailed != nil {
		if err := t.OnFailed(fctx, cause); err != nil {
			log.WarnContext(ctx, "failure hook failed", slog.Any("error", err))
		}
	}
	b.ack(m.ID)
}

// trim drops the entries of topics every group has acknowledged, every
// interval, until ctx is done.
func (c *core) trim(ctx context.Context, every time.Duration, topics ...string) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, topic := range topics {
				if _, err := c.stream.Trim(ctx, topic); err != nil && ctx.Err() == nil {
					c.log.WarnContext(ctx, "trim stream failed", slog.String("topic", topic), slog.Any("error", err))
				}
			}
		}
	}
}
