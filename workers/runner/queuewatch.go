package runner

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// appendWatcher is implemented by streams that can tell a worker, without
// being asked each time, that entries were appended to a topic (Redis:
// one blocking XREAD on its own connection). See redisstream.WatchAppends.
type appendWatcher interface {
	WatchAppends(ctx context.Context, topics []string, appended func(i int), armed func(bool)) error
}

// exactAfter: after a job that ran this long, a consumer reads the higher
// queues before the next job of a lower one even when the watch reported
// nothing. The read costs a round trip, small next to such a job, and makes
// "queued before the job in hand ended" an exact rule for it, where the
// watch's news may still be on its way.
const exactAfter = time.Millisecond

// queueWatch is what a worker knows of appends to its queues without
// reading them: a count per queue that moves on every append the watch
// reported, and on every break and re-arming of the watch. A consumer that
// took a snapshot before reading the queues, and sees later that the
// watch stayed armed and the counts of the higher queues did not move,
// knows that nothing was queued there since its read (but for what is
// still on its way from Redis), and starts the next job without a read.
type queueWatch struct {
	armed atomic.Bool
	gens  []atomic.Uint64 // per queue, in priority order
}

// watchView is a consumer's snapshot of a queueWatch.
type watchView struct {
	armed bool
	gens  []uint64
}

func newQueueWatch(queues int) *queueWatch {
	return &queueWatch{gens: make([]atomic.Uint64, queues)}
}

// look takes a snapshot into v, before the consumer reads the queues.
func (q *queueWatch) look(v *watchView) {
	if q == nil {
		return
	}
	v.armed = q.armed.Load()
	if len(v.gens) != len(q.gens) {
		v.gens = make([]uint64, len(q.gens))
	}
	for i := range q.gens {
		v.gens[i] = q.gens[i].Load()
	}
}

// quiet reports whether nothing was appended to the queues above index
// queue since the snapshot v, as far as an armed watch can tell.
func (q *queueWatch) quiet(v *watchView, queue int) bool {
	if q == nil || !v.armed {
		return false
	}
	for i := range queue {
		if q.gens[i].Load() != v.gens[i] {
			return false
		}
	}
	// Read last: disarming clears it before moving the counts on.
	return q.armed.Load()
}

func (q *queueWatch) appended(i int) { q.gens[i].Add(1) }

// setArmed records the watch going in place or breaking. Either way every
// count moves on, so that no snapshot taken before stays quiet.
func (q *queueWatch) setArmed(on bool) {
	if !on {
		q.armed.Store(false)
	}
	for i := range q.gens {
		q.gens[i].Add(1)
	}
	if on {
		q.armed.Store(true)
	}
}

// watchQueues keeps the watch on every queue but the lowest (no queue is
// below it to wait on it) until ctx is done. On a stream that cannot watch
// it returns at once, and consumers read the higher queues before every
// job of a lower one.
func (w *QueueWorker) watchQueues(ctx context.Context) {
	aw, ok := w.stream.(appendWatcher)
	if !ok || w.watch == nil {
		return
	}
	topics := make([]string, len(w.cfg.Queues)-1)
	for i, q := range w.cfg.Queues[:len(topics)] {
		topics[i] = QueueTopic(q)
	}
	err := aw.WatchAppends(ctx, topics, w.watch.appended, w.watch.setArmed)
	if err != nil && ctx.Err() == nil {
		if !errors.Is(err, errors.ErrUnsupported) {
			w.log.InfoContext(ctx, "queues not watched; the higher ones are read before each job of a lower one", slog.Any("error", err))
		}
	}
}
