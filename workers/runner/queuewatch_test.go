package runner

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/stream"
	redisstream "github.com/notifyhub/notifyhub/workers/stream/redis"
	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

// A snapshot stays quiet only while the watch is armed and the counts of
// the queues above did not move; breaking or re-arming moves them all.
func TestQueueWatchQuiet(t *testing.T) {
	t.Parallel()
	q := newQueueWatch(3)
	var v watchView
	q.look(&v)
	require.False(t, q.quiet(&v, 2), "not armed yet")
	q.setArmed(true)
	require.False(t, q.quiet(&v, 2), "snapshot taken before arming")
	q.look(&v)
	require.True(t, q.quiet(&v, 2))
	require.True(t, q.quiet(&v, 0), "nothing above the highest queue")
	q.appended(2)
	require.True(t, q.quiet(&v, 2), "the queue itself or a lower one does not count")
	q.appended(1)
	require.False(t, q.quiet(&v, 2))
	require.True(t, q.quiet(&v, 1))
	q.look(&v)
	q.setArmed(false)
	require.False(t, q.quiet(&v, 1), "broken")
	q.setArmed(true)
	require.False(t, q.quiet(&v, 1), "broken and armed again since the snapshot")
	var none *queueWatch // a stream without a watch
	none.look(&v)
	require.False(t, none.quiet(&v, 1))
}

// countingReads counts the reads a worker makes on Redis; the watch is
// the stream's own.
type countingReads struct {
	*redisstream.Stream
	reads atomic.Int64
}

func (c *countingReads) Read(ctx context.Context, topic, group, consumer string, limit int, block time.Duration) ([]stream.Message, error) {
	c.reads.Add(1)
	return c.Stream.Read(ctx, topic, group, consumer, limit, block)
}

// bodyJobs runs every entry as a job named by its body.
type bodyJobs struct {
	run func(ctx context.Context, name string) error
}

func (j bodyJobs) Task(_ string, body []byte) (Task, error) {
	name := string(body)
	return Task{Name: name, Run: func(ctx context.Context) error { return j.run(ctx, name) }}, nil
}

func (bodyJobs) Policies() []Policy { return nil }

type noStore struct{}

func (noStore) InsertFailedJob(context.Context, domain.FailedJob) error { return nil }

// With the watch armed, quick jobs of a lower queue run one after another
// without a read of the higher queues each, and a job queued on a higher
// queue while they run goes next once the watch has told of it. The
// exact-after-a-long-job read is off here, so only the watch can find it.
func TestWatchedQueuesKeepPriorityWithoutAReadPerJob(t *testing.T) {
	t.Parallel()
	client, prefix := streamtest.OpenRedis(t)
	rs := redisstream.New(client, redisstream.Options{Prefix: prefix})
	t.Cleanup(func() { _ = rs.Close() })
	st := &countingReads{Stream: rs}
	ctx := context.Background()

	var mu sync.Mutex
	var ran []string
	var w *QueueWorker
	jobs := bodyJobs{run: func(ctx context.Context, name string) error {
		mu.Lock()
		ran = append(ran, name)
		mu.Unlock()
		if name == "low-100" {
			var v watchView
			w.watch.look(&v)
			if err := st.Publish(ctx, QueueTopic(QueueHigh), []byte("urgent")); err != nil {
				return err
			}
			// Returns once the watch has told of it: the next job is urgent.
			for w.watch.quiet(&v, 1) {
				time.Sleep(time.Millisecond)
			}
		}
		return nil
	}}
	var err error
	w, err = NewQueueWorker(QueueConfig{Sleep: 5 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, st, noStore{}, jobs)
	require.NoError(t, err)
	w.exactAfter = time.Hour
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, w.watch.armed.Load, 30*time.Second, time.Millisecond, "the watch is armed")

	const n = 300
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = []byte("low-" + strconv.Itoa(i))
	}
	before := st.reads.Load()
	require.NoError(t, st.Publish(ctx, QueueTopic(QueueLow), bodies...))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ran) == n+1
	}, 30*time.Second, 5*time.Millisecond, "every job runs")
	reads := st.reads.Load() - before

	mu.Lock()
	defer mu.Unlock()
	i := slices.Index(ran, "low-100")
	require.Equal(t, "urgent", ran[i+1], "urgent runs right after the job in hand")
	got := slices.Clone(ran)
	slices.Sort(got)
	require.Len(t, slices.Compact(got), n+1, "every job once")
	// Without the watch, each low job after the first of a batch costs a
	// read of high and one of default.
	require.Less(t, reads, int64(n/2), "reads of the queues")
}
