package streamtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/stream"
)

// GroupDeleter is implemented by backends that can drop a consumer group.
// The suite uses it to check that a missing group comes back from the start
// of the topic.
type GroupDeleter interface {
	DeleteGroup(ctx context.Context, topic, group string) error
}

// Run checks that the streams made by newStream honour the stream.Stream
// contract. newStream is called once per subtest and must return a stream
// isolated from every other (its own file, schema or key prefix), cleaned up
// by t.Cleanup. Subtests run in parallel.
//
// Names: any non-empty valid UTF-8 up to 200 bytes without NUL is a valid
// topic, group or consumer (colons, spaces, unicode, SQL and glob
// metacharacters included); anything else is a *domain.ValidationError.
func Run(t *testing.T, newStream func(t *testing.T) stream.Stream) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s stream.Stream)
	}{
		{"PublishReadOrder", testPublishReadOrder},
		{"EveryGroupSeesEveryEntry", testEveryGroup},
		{"ReadCreatesMissingGroupFromStart", testReadWithoutGroup},
		{"ConsumersSplitEntries", testConsumersSplit},
		{"ReclaimIdleEntries", testReclaim},
		{"ExtendKeepsEntriesOfTheirConsumer", testExtend},
		{"ReleaseHandsEntriesBackAtOnce", testRelease},
		{"AckUnknownIsFine", testAckUnknown},
		{"ReadWakesOnPublish", testReadWakes},
		{"ReadTimesOutEmpty", testReadTimeout},
		{"CancelledContext", testCancelled},
		{"GroupCreatedAfterEntries", testGroupAfterEntries},
		{"DeletedGroupRecreatedFromStart", testDeletedGroup},
		{"TrimKeepsWhatSomeGroupNeeds", testTrim},
		{"TrimWithoutGroups", testTrimNoGroups},
		{"ConcurrentPublishersAndConsumers", testConcurrent},
		{"LargeAndBinaryBodies", testBodies},
		{"HostileNames", testHostileNames},
		{"InvalidInput", testInvalidInput},
		{"Ping", testPing},
		{"Close", testClose},
		{"Backlog", testBacklog},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStream(t))
		})
	}
}

// wait bounds every wait of the suite; it only matters when a backend is
// broken, so it is generous for slow CI machines.
const wait = 30 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func bodiesOf(msgs []stream.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Body)
	}
	return out
}

func idsOf(msgs []stream.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func bodies(prefix string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

func strs(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// compareIDs orders entry ids of either backend: "<ms>-<seq>" (Redis) or a
// decimal (dbqueue), compared part by part as numbers.
func compareIDs(t *testing.T, a, b string) int {
	t.Helper()
	pa, pb := idParts(t, a), idParts(t, b)
	return slices.Compare(pa, pb)
}

func idParts(t *testing.T, id string) []uint64 {
	t.Helper()
	var out []uint64
	for p := range strings.SplitSeq(id, "-") {
		n, err := strconv.ParseUint(p, 10, 64)
		require.NoError(t, err, "entry id %q is not numeric", id)
		out = append(out, n)
	}
	return out
}

func requireIncreasing(t *testing.T, msgs []stream.Message) {
	t.Helper()
	for i := 1; i < len(msgs); i++ {
		require.Negative(t, compareIDs(t, msgs[i-1].ID, msgs[i].ID), "ids out of order: %s then %s", msgs[i-1].ID, msgs[i].ID)
	}
}

// readN reads from the group until it has exactly n entries, acking none.
func readN(t *testing.T, ctx context.Context, s stream.Stream, topic, group, consumer string, n int) []stream.Message {
	t.Helper()
	var got []stream.Message
	deadline := time.Now().Add(wait)
	for len(got) < n && time.Now().Before(deadline) {
		msgs, err := s.Read(ctx, topic, group, consumer, n-len(got), 200*time.Millisecond)
		require.NoError(t, err)
		got = append(got, msgs...)
	}
	require.Len(t, got, n, "entries read by %s/%s", group, consumer)
	return got
}

// requireNothingNew checks that the group has nothing left to hand out.
func requireNothingNew(t *testing.T, ctx context.Context, s stream.Stream, topic, group string) {
	t.Helper()
	msgs, err := s.Read(ctx, topic, group, "probe", 100, 0)
	require.NoError(t, err)
	require.Empty(t, msgs, "group %s should have nothing new", group)
}

func ack(t *testing.T, ctx context.Context, s stream.Stream, topic, group string, msgs ...stream.Message) {
	t.Helper()
	require.NoError(t, s.Ack(ctx, topic, group, idsOf(msgs)...))
}

func testPublishReadOrder(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const topic, group = "orders", "g"
	require.NoError(t, s.EnsureGroup(ctx, topic, group))
	require.NoError(t, s.Publish(ctx, topic, []byte("e0"), []byte("e1"), []byte("e2"), []byte("e3"), []byte("e4")))
	require.NoError(t, s.Publish(ctx, topic, []byte("e5")))
	require.NoError(t, s.Publish(ctx, topic, []byte("e6"), []byte("e7")))
	require.NoError(t, s.Publish(ctx, topic)) // nothing to append is fine

	first, err := s.Read(ctx, topic, group, "c", 3, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"e0", "e1", "e2"}, bodiesOf(first))
	rest, err := s.Read(ctx, topic, group, "c", 100, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"e3", "e4", "e5", "e6", "e7"}, bodiesOf(rest))

	all := append(first, rest...)
	requireIncreasing(t, all)
	for _, m := range all {
		require.Equal(t, 1, m.Deliveries, "first delivery of %s", m.ID)
	}
	requireNothingNew(t, ctx, s, topic, group)
}

func testEveryGroup(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const topic = "events"
	require.NoError(t, s.EnsureGroup(ctx, topic, "a"))
	require.NoError(t, s.EnsureGroup(ctx, topic, "b"))
	want := bodies("x", 5)
	require.NoError(t, s.Publish(ctx, topic, want...))
	require.NoError(t, s.EnsureGroup(ctx, topic, "c")) // created after the entries

	var ids []string
	for _, g := range []string{"a", "b", "c"} {
		got := readN(t, ctx, s, topic, g, "c1", len(want))
		require.Equal(t, strs(want), bodiesOf(got), "group %s", g)
		if ids == nil {
			ids = idsOf(got)
		}
		require.Equal(t, ids, idsOf(got), "every group sees the same ids")
		requireNothingNew(t, ctx, s, topic, g)
	}
	// A group acking does not take entries from another.
	require.NoError(t, s.Ack(ctx, topic, "a", ids...))
	require.NoError(t, s.Publish(ctx, topic, []byte("late")))
	for _, g := range []string{"a", "b", "c"} {
		got := readN(t, ctx, s, topic, g, "c1", 1)
		require.Equal(t, "late", string(got[0].Body), "group %s", g)
	}
}

func testReadWithoutGroup(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const topic = "nogroup"
	want := bodies("n", 3)
	require.NoError(t, s.Publish(ctx, topic, want...))
	got, err := s.Read(ctx, topic, "never-ensured", "c", 10, 0)
	require.NoError(t, err)
	require.Equal(t, strs(want), bodiesOf(got), "a missing group is created from the start")

	// Reclaim on a missing group is not an error either, and finds nothing.
	claimed, err := s.Reclaim(ctx, topic, "also-never-ensured", "c", 0, 10)
	require.NoError(t, err)
	require.Empty(t, claimed)
	got, err = s.Read(ctx, topic, "also-never-ensured", "c", 10, 0)
	require.NoError(t, err)
	require.Equal(t, strs(want), bodiesOf(got))
}

func testConsumersSplit(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const topic, group = "split", "workers"
	require.NoError(t, s.EnsureGroup(ctx, topic, group))
	want := bodies("s", 20)
	require.NoError(t, s.Publish(ctx, topic, want...))

	seen := map[string]string{} // id -> consumer
	per := map[string]int{}
	for {
		progressed := false
		for _, c := range []string{"c1", "c2"} {
			msgs, err := s.Read(ctx, topic, group, c, 3, 0)
			require.NoError(t, err)
			for _, m := range msgs {
				prev, dup := seen[m.ID]
				require.False(t, dup, "entry %s handed to %s and %s", m.ID, prev, c)
				seen[m.ID] = c
				per[c]++
			}
			progressed = progressed || len(msgs) > 0
		}
		if !progressed {
			break
		}
	}
	require.Len(t, seen, len(want))
	require.Positive(t, per["c1"])
	require.Positive(t, per["c2"])
}

func testReclaim(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const topic, group = "reclaim", "g"
	require.NoError(t, s.EnsureGroup(ctx, topic, group))
	require.NoError(t, s.Publish(ctx, topic, []byte("acked"), []byte("abandoned")))
	got := readN(t, ctx, s, topic, group, "dead", 2)
	acked, abandoned := got[0], got[1]

	// Not idle long enough yet.
	claimed, err := s.Reclaim(ctx, topic, group, "rescuer", time.Hour, 10)
	require.NoError(t, err)
	require.Empty(t, claimed)

	ack(t, ctx, s, topic, group, acked)

	// Once idle past minIdle the abandoned entry moves; the acked one,
	// delivered at the same moment, never does.
	// The condition runs on another goroutine: it only records, and stops
	// at the first non-empty answer, which is then checked here.
	require.Eventually(t, func() bool {
		claimed, err = s.Reclaim(ctx, topic, group, "rescuer", 50*time.Millisecond, 10)
		return err != nil || len(claimed) > 0
	}, wait, 10*time.Millisecond)
	require.NoError(t, err)
	for _, m := range claimed {
		require.NotEqual(t, acked.ID, m.ID, "an acknowledged entry was reclaimed")
	}
	require.Len(t, claimed, 1)
	require.Equal(t, abandoned.ID, claimed[0].ID)
	require.Equal(t, "abandoned", string(claimed[0].Body))
	require.Equal(t, 2, claimed[0].Deliveries)

	// It is now the rescuer's, freshly delivered.
	again, err := s.Reclaim(ctx, topic, group, "other", time.Hour, 10)
	require.NoError(t, err)
	require.Empty(t, again)
	require.Eventually(t, func() bool {
		again, err = s.Reclaim(ctx, topic, group, "third", 50*time.Millisecond, 10)
		return err != nil || len(again) > 0
	}, wait, 10*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, []string{abandoned.ID}, idsOf(again))
	require.Equal(t, 3, again[0].Deliveries)

	// minIdle 0 takes whatever is pending, at once.
	now, err := s.Reclaim(ctx, topic, group, "fourth", 0, 10)
	require.NoError(t, err)
	require.Equal(t, []string{abandoned.ID}, idsOf(now))
	require.Equal(t, 4, now[0].Deliveries)

	ack(t, ctx, s, topic, group, abandoned)
	none, err := s.Reclaim(ctx, topic, group, "fifth", 0, 10)
	require.NoError(t, err)
	require.Empty(t, none, "nothing is pending after the ack")
	requireNothingNew(t, ctx, s, topic, group)

	// Reclaim honours max.
	require.NoError(t, s.Publish(ctx, topic, bodies("m", 5)...))
	readN(t, ctx, s, topic, group, "dead", 5)
	part, err := s.Reclaim(ctx, topic, group, "rescuer", 0, 2)
	require.NoError(t, err)
	require.Len(t, part, 2)
	requireIncreasing(t, part)
	rest, err := s.Reclaim(ctx, topic, group, "rescuer2", 0, 10)
	require.NoError(t, err)
	require.Len(t, rest, 5, "the two taken first are pending again for rescuer, so minIdle 0 takes all five")
}

func testAckUnknown(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const topic, other, group = "ack", "ack-other", "g"
	require.NoError(t, s.Publish(ctx, topic, []byte("one"), []byte("two")))
	require.NoError(t, s.Publish(ctx, other, []byte("elsewhere")))
	got := readN(t, ctx, s, topic, group, "c", 2)
	foreign := readN(t, ctx, s, other, group, "c", 1)

	require.NoError(t, s.Ack(ctx, topic, group, got[0].ID))
	require.NoError(t, s.Ack(ctx, topic, group, got[0].ID), "second ack of the same id")
	require.NoError(t, s.Ack(ctx, topic, group, foreign[0].ID), "id of another topic: unknown here")
	require.NoError(t, s.Ack(ctx, topic, group))
	require.NoError(t, s.Ack(ctx, topic, "no-such-group", got[1].ID))
	require.NoError(t, s.Ack(ctx, "no-such-topic", group, got[1].ID))

	// Acking a foreign id did not touch the other topic, and the second
	// entry of this one is still pending.
	pending, err := s.Reclaim(ctx, other, group, "r", 0, 10)
	require.NoError(t, err)
	require.Equal(t, idsOf(foreign), idsOf(pending))
	pending, err = s.Reclaim(ctx, topic, group, "r", 0, 10)
	require.NoError(t, err)
	require.Equal(t, []string{got[1].ID}, idsOf(pending))

	err = s.Ack(ctx, topic, group, "not-an-id")
	var ve *domain.ValidationError
	require.ErrorAs(t, err, &ve, "a malformed id is bad input")
}

func testReadWakes(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const topic, group = "wake", "g"
	require.NoError(t, s.EnsureGroup(ctx, topic, group))
	type result struct {
		msgs []stream.Message
		err  error
	}
	started := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		close(started)
		// The block is far longer than the wait below: only a wake-up on
		// publish can make the read return in time.
		msgs, err := s.Read(ctx, topic, group, "c", 10, 10*time.Minute)
		done <- result{msgs, err}
	}()
	<-started
	require.NoError(t, s.Publish(ctx, topic, []byte("hello")))
	select {
	case r := <-done:
		require.NoError(t, r.err)
		require.Equal(t, []string{"hello"}, bodiesOf(r.msgs))
	case <-time.After(wait):
		t.Fatal("a blocked Read did not return the entry published meanwhile")
	}
}

func testReadTimeout(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const topic, group = "quiet", "g"
	require.NoError(t, s.EnsureGroup(ctx, topic, group))
	msgs, err := s.Read(ctx, topic, group, "c", 10, 100*time.Millisecond)
	require.NoError(t, err)
	require.Empty(t, msgs)
	msgs, err = s.Read(ctx, topic, group, "c", 10, 0)
	require.NoError(t, err)
	require.Empty(t, msgs)
	// A sub-millisecond block is a short wait, never "forever".
	msgs, err = s.Read(ctx, topic, group, "c", 10, time.Microsecond)
	require.NoError(t, err)
	require.Empty(t, msgs)
}

func testCancelled(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const topic, group = "cancel", "g"
	require.NoError(t, s.EnsureGroup(ctx, topic, group))

	dead, cancel := context.WithCancel(ctx)
	cancel()
	msgs, err := s.Read(dead, topic, group, "c", 10, time.Minute)
	require.NoError(t, err, "a done ctx is not an error")
	require.Empty(t, msgs)

	for round := range 3 { // the same connections must stay usable
		rctx, rcancel := context.WithCancel(ctx)
		started := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			close(started)
			msgs, err := s.Read(rctx, topic, group, "c", 10, 10*time.Minute)
			if err == nil && len(msgs) > 0 {
				err = fmt.Errorf("cancelled read returned %d entries", len(msgs))
			}
			done <- err
		}()
		<-started
		rcancel()
		select {
		case err := <-done:
			require.NoError(t, err, "round %d", round)
		case <-time.After(wait):
			t.Fatalf("round %d: Read did not return after its ctx was cancelled", round)
		}
	}

	// Nothing was lost or left blocked: a new entry reaches the next read.
	require.NoError(t, s.Publish(ctx, topic, []byte("after")))
	got, err := s.Read(ctx, topic, group, "c", 10, 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{"after"}, bodiesOf(got))
}

func testGroupAfterEntries(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const topic, group = "late-group", "g"
	want := bodies("early", 3)
	require.NoError(t, s.Publish(ctx, topic, want...))
	require.NoError(t, s.EnsureGroup(ctx, topic, group))
	got := readN(t, ctx, s, topic, group, "c", 3)
	require.Equal(t, strs(want), bodiesOf(got))
	// EnsureGroup leaves an existing group where it is.
	require.NoError(t, s.EnsureGroup(ctx, topic, group))
	requireNothingNew(t, ctx, s, topic, group)
	// And EnsureGroup alone creates the topic.
	require.NoError(t, s.EnsureGroup(ctx, "fresh-topic", group))
	requireNothingNew(t, ctx, s, "fresh-topic", group)
}

func testDeletedGroup(t *testing.T, s stream.Stream) {
	d, ok := s.(GroupDeleter)
	if !ok {
		t.Skipf("%T cannot delete a group", s)
	}
	ctx := testCtx(t)
	const topic, group = "lost-group", "g"
	want := bodies("d", 3)
	require.NoError(t, s.Publish(ctx, topic, want...))
	require.NoError(t, s.EnsureGroup(ctx, topic, group))
	got := readN(t, ctx, s, topic, group, "c", 3)
	ack(t, ctx, s, topic, group, got[0])

	require.NoError(t, d.DeleteGroup(ctx, topic, group))
	require.NoError(t, d.DeleteGroup(ctx, topic, group), "deleting a missing group is fine")

	// Reclaim recreates it too, with nothing pending.
	claimed, err := s.Reclaim(ctx, topic, group, "r", 0, 10)
	require.NoError(t, err)
	require.Empty(t, claimed)
	again := readN(t, ctx, s, topic, group, "c", 3)
	require.Equal(t, strs(want), bodiesOf(again), "a recreated group starts from the start")
	require.Equal(t, idsOf(got), idsOf(again))
	for _, m := range again {
		require.Equal(t, 1, m.Deliveries)
	}

	require.NoError(t, d.DeleteGroup(ctx, topic, group))
	got, err = s.Read(ctx, topic, group, "c", 10, 0)
	require.NoError(t, err)
	require.Equal(t, strs(want), bodiesOf(got), "Read recreates it as well")
}

func testTrim(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const topic = "trim"
	require.NoError(t, s.EnsureGroup(ctx, topic, "a"))
	require.NoError(t, s.EnsureGroup(ctx, topic, "b"))
	want := bodies("t", 6)
	require.NoError(t, s.Publish(ctx, topic, want...))

	ackAll := func(group string, n int) []stream.Message {
		got := readN(t, ctx, s, topic, group, "c", n)
		ack(t, ctx, s, topic, group, got...)
		return got
	}
	ackAll("a", 6)
	bRead := readN(t, ctx, s, topic, "b", "c", 4)  // t-4 and t-5 undelivered to b
	ack(t, ctx, s, topic, "b", bRead[0], bRead[1]) // t-2 and t-3 pending

	n, err := s.Trim(ctx, topic)
	require.NoError(t, err)
	require.Equal(t, int64(2), n, "t-0 and t-1 are acknowledged by every group")
	n, err = s.Trim(ctx, topic)
	require.NoError(t, err)
	require.Zero(t, n)
	total := int64(2)

	// Everything pending or undelivered survived: a new group sees it.
	require.NoError(t, s.EnsureGroup(ctx, topic, "c"))
	require.Equal(t, strs(want[2:]), bodiesOf(ackAll("c", 4)))
	pending, err := s.Reclaim(ctx, topic, "b", "c", 0, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"t-2", "t-3"}, bodiesOf(pending), "pending entries keep their bodies")

	// t-3 acknowledged everywhere but t-2 still pending: a backend may keep
	// t-3 (Redis trims only below the lowest pending id) or drop it.
	ack(t, ctx, s, topic, "b", pending[1])
	n, err = s.Trim(ctx, topic)
	require.NoError(t, err)
	require.LessOrEqual(t, n, int64(1))
	total += n
	ack(t, ctx, s, topic, "b", pending[0])
	n, err = s.Trim(ctx, topic)
	require.NoError(t, err)
	total += n
	require.Equal(t, int64(4), total, "t-0 … t-3 are gone once every group acknowledged them")

	require.NoError(t, s.EnsureGroup(ctx, topic, "d"))
	require.Equal(t, []string{"t-4", "t-5"}, bodiesOf(ackAll("d", 2)))
	require.Equal(t, []string{"t-4", "t-5"}, bodiesOf(ackAll("b", 2)))
	n, err = s.Trim(ctx, topic)
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	require.NoError(t, s.EnsureGroup(ctx, topic, "e"))
	requireNothingNew(t, ctx, s, topic, "e")

	// Appends after a full trim carry on in order.
	require.NoError(t, s.Publish(ctx, topic, []byte("t-6")))
	got := readN(t, ctx, s, topic, "e", "c", 1)
	require.Positive(t, compareIDs(t, got[0].ID, bRead[3].ID), "ids keep increasing after a trim")
}

func testTrimNoGroups(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	n, err := s.Trim(ctx, "never-published")
	require.NoError(t, err)
	require.Zero(t, n)

	const topic = "orphan"
	require.NoError(t, s.Publish(ctx, topic, []byte("keep-1"), []byte("keep-2")))
	n, err = s.Trim(ctx, topic)
	require.NoError(t, err)
	require.Zero(t, n, "entries nobody could have acknowledged stay")
	got := readN(t, ctx, s, topic, "g", "c", 2)
	require.Equal(t, []string{"keep-1", "keep-2"}, bodiesOf(got))
}

func testConcurrent(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const (
		topic      = "busy"
		publishers = 4
		perPub     = 100
		consumers  = 3
		total      = publishers * perPub
	)
	require.NoError(t, s.EnsureGroup(ctx, topic, "workers"))
	require.NoError(t, s.EnsureGroup(ctx, topic, "audit"))

	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	errs := make(chan error, publishers+consumers+1)
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(p), 1))
			for i := 0; i < perPub; {
				n := min(1+r.IntN(5), perPub-i)
				batch := make([][]byte, n)
				for j := range batch {
					batch[j] = []byte(fmt.Sprintf("p%d-%d", p, i+j))
				}
				if err := s.Publish(ctx, topic, batch...); err != nil {
					errs <- fmt.Errorf("publisher %d: %w", p, err)
					return
				}
				i += n
			}
		})
	}

	type seen struct {
		id, body, consumer string
	}
	var mu sync.Mutex
	var got []seen
	var count atomic.Int64
	consume := func(group, consumer string, counter *atomic.Int64, record bool) {
		for counter.Load() < total && ctx.Err() == nil {
			msgs, err := s.Read(ctx, topic, group, consumer, 16, 100*time.Millisecond)
			if err != nil {
				errs <- fmt.Errorf("%s/%s read: %w", group, consumer, err)
				return
			}
			if len(msgs) == 0 {
				continue
			}
			if record {
				mu.Lock()
				for _, m := range msgs {
					got = append(got, seen{m.ID, string(m.Body), consumer})
				}
				mu.Unlock()
			}
			if err := s.Ack(ctx, topic, group, idsOf(msgs)...); err != nil {
				errs <- fmt.Errorf("%s/%s ack: %w", group, consumer, err)
				return
			}
			counter.Add(int64(len(msgs)))
		}
	}
	for c := range consumers {
		wg.Go(func() { consume("workers", fmt.Sprintf("w%d", c), &count, true) })
	}
	var audited atomic.Int64
	wg.Go(func() { consume("audit", "a0", &audited, false) })
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	require.Equal(t, int64(total), count.Load(), "workers received every entry exactly once in total")
	require.Equal(t, int64(total), audited.Load(), "the second group received every entry")
	byID := map[string]seen{}
	bodySet := map[string]bool{}
	for _, g := range got {
		prev, dup := byID[g.id]
		require.False(t, dup, "entry %s delivered to %s and %s", g.id, prev.consumer, g.consumer)
		byID[g.id] = g
		bodySet[g.body] = true
	}
	for p := range publishers {
		for i := range perPub {
			require.True(t, bodySet[fmt.Sprintf("p%d-%d", p, i)], "lost p%d-%d", p, i)
		}
	}
	// Each publisher's entries were appended in its order.
	last := map[string]int{}
	slices.SortFunc(got, func(a, b seen) int { return compareIDs(t, a.id, b.id) })
	for _, g := range got {
		pub, seq, _ := strings.Cut(g.body, "-")
		i, err := strconv.Atoi(seq)
		require.NoError(t, err)
		if prev, ok := last[pub]; ok {
			require.Greater(t, i, prev, "publisher %s out of order", pub)
		}
		last[pub] = i
	}
}

func testBodies(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const topic, group = "bodies", "g"
	large := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range large {
		large[i] = byte(r.UintN(256))
	}
	allBytes := make([]byte, 0, 512)
	for i := range 512 {
		allBytes = append(allBytes, byte(i))
	}
	want := [][]byte{
		large,
		allBytes,
		{},
		nil,
		[]byte("\xff\xfe not utf-8 \x00 with NUL"),
		[]byte(`{"json": "with \"quotes\" and unicode ✓"}`),
		bytes.Repeat([]byte("b"), 64<<10),
	}
	require.NoError(t, s.Publish(ctx, topic, want...))
	got := readN(t, ctx, s, topic, group, "c", len(want))
	for i := range want {
		require.True(t, bytes.Equal(want[i], got[i].Body), "body %d (len %d) changed: got len %d", i, len(want[i]), len(got[i].Body))
	}
	claimed, err := s.Reclaim(ctx, topic, group, "r", 0, 100)
	require.NoError(t, err)
	require.Len(t, claimed, len(want))
	for i := range want {
		require.True(t, bytes.Equal(want[i], claimed[i].Body), "reclaimed body %d changed", i)
	}
}

func testHostileNames(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	names := []string{
		"orders:created",
		"a:b:{c}",
		"ünïcödé-тема-主题-😀",
		"with space\tand tab",
		`*?[]'";-- DROP TABLE stream_entries; $1 %s`,
		"a",
		"a:b",                   // must not share entries with "a"
		strings.Repeat("é", 99), // 198 bytes: the "-2" consumer below stays within 200
	}
	for i, topic := range names {
		group := names[(i+1)%len(names)]
		consumer := names[(i+2)%len(names)]
		require.NoError(t, s.EnsureGroup(ctx, topic, group), "topic %q", topic)
		require.NoError(t, s.Publish(ctx, topic, []byte("for "+topic)), "topic %q", topic)
		got := readN(t, ctx, s, topic, group, consumer, 1)
		require.Equal(t, "for "+topic, string(got[0].Body), "topic %q", topic)
		requireNothingNew(t, ctx, s, topic, group)
		claimed, err := s.Reclaim(ctx, topic, group, consumer+"-2", 0, 10)
		require.NoError(t, err, "topic %q", topic)
		require.Equal(t, idsOf(got), idsOf(claimed), "topic %q", topic)
		require.NoError(t, s.Ack(ctx, topic, group, got[0].ID), "topic %q", topic)
		n, err := s.Trim(ctx, topic)
		require.NoError(t, err, "topic %q", topic)
		require.Equal(t, int64(1), n, "topic %q", topic)
	}
}

func testInvalidInput(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	bad := map[string]string{
		"empty":    "",
		"too long": strings.Repeat("x", 201),
		"bad utf8": "a\xffb",
		"nul":      "a\x00b",
	}
	requireInvalid := func(what string, err error) {
		t.Helper()
		var ve *domain.ValidationError
		require.ErrorAs(t, err, &ve, what)
	}
	for label, name := range bad {
		requireInvalid("publish topic "+label, s.Publish(ctx, name, []byte("x")))
		requireInvalid("ensure topic "+label, s.EnsureGroup(ctx, name, "g"))
		requireInvalid("ensure group "+label, s.EnsureGroup(ctx, "t", name))
		_, err := s.Read(ctx, name, "g", "c", 1, 0)
		requireInvalid("read topic "+label, err)
		_, err = s.Read(ctx, "t", name, "c", 1, 0)
		requireInvalid("read group "+label, err)
		_, err = s.Read(ctx, "t", "g", name, 1, 0)
		requireInvalid("read consumer "+label, err)
		requireInvalid("ack group "+label, s.Ack(ctx, "t", name, "1"))
		_, err = s.Reclaim(ctx, "t", "g", name, 0, 1)
		requireInvalid("reclaim consumer "+label, err)
		_, err = s.Trim(ctx, name)
		requireInvalid("trim topic "+label, err)
	}
	require.NoError(t, s.EnsureGroup(ctx, "t", strings.Repeat("x", 200)), "200 bytes is allowed")
	_, err := s.Read(ctx, "t", "g", "c", 0, 0)
	requireInvalid("read max 0", err)
	_, err = s.Reclaim(ctx, "t", "g", "c", 0, -1)
	requireInvalid("reclaim max -1", err)
}

func testPing(t *testing.T, s stream.Stream) {
	require.NoError(t, s.Ping(testCtx(t)))
}

func testClose(t *testing.T, s stream.Stream) {
	c, ok := s.(io.Closer)
	if !ok {
		t.Skipf("%T has no Close", s)
	}
	ctx := testCtx(t)
	const topic, group = "closing", "g"
	require.NoError(t, s.EnsureGroup(ctx, topic, group))
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		close(started)
		_, err := s.Read(ctx, topic, group, "c", 10, 10*time.Minute)
		done <- err
	}()
	<-started
	require.NoError(t, c.Close())
	select {
	case err := <-done:
		// Whether Close came before the read started or woke it up, the
		// read reports the closed stream.
		require.ErrorIs(t, err, stream.ErrClosed)
	case <-time.After(wait):
		t.Fatal("Close did not wake a blocked Read")
	}
	require.NoError(t, c.Close(), "Close twice is fine")
	require.ErrorIs(t, s.Publish(ctx, topic, []byte("x")), stream.ErrClosed)
	_, err := s.Read(ctx, topic, group, "c", 10, 0)
	require.ErrorIs(t, err, stream.ErrClosed)
	require.True(t, errors.Is(s.Ping(ctx), stream.ErrClosed))
}

func testExtend(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const topic, group = "extend", "g"
	require.NoError(t, s.EnsureGroup(ctx, topic, group))
	require.NoError(t, s.Publish(ctx, topic, bodies("e", 3)...))
	mine := readN(t, ctx, s, topic, group, "busy", 3)
	// Another consumer takes the first entry over once it is idle.
	var taken []stream.Message
	require.Eventually(t, func() bool {
		got, err := s.Reclaim(ctx, topic, group, "rescuer", 30*time.Millisecond, 1)
		require.NoError(t, err)
		taken = append(taken, got...)
		return len(taken) == 1
	}, wait, 10*time.Millisecond)
	require.Equal(t, mine[0].ID, taken[0].ID)
	// Acknowledge the second: only the third is still the busy consumer's.
	ack(t, ctx, s, topic, group, mine[1])
	// Make the third look long idle (as if its consumer were slow), then
	// extend: only the third is still the busy consumer's, and extending it
	// restarts its idle clock.
	require.NoError(t, s.Release(ctx, topic, group, "busy", mine[2].ID))
	held, err := s.Extend(ctx, topic, group, "busy", idsOf(mine)...)
	require.NoError(t, err)
	require.Equal(t, []string{mine[2].ID}, held, "only entries still pending for this consumer")
	got, err := s.Reclaim(ctx, topic, group, "rescuer", time.Hour, 10)
	require.NoError(t, err)
	require.Empty(t, got, "an extended entry is not taken over")
	// Unknown groups and ids hold nothing; bad ids are invalid.
	held, err = s.Extend(ctx, topic, "no-such-group", "busy", mine[2].ID)
	require.NoError(t, err)
	require.Empty(t, held)
	_, err = s.Extend(ctx, topic, group, "busy", "not-an-id")
	var v *domain.ValidationError
	require.ErrorAs(t, err, &v)
}

func testRelease(t *testing.T, s stream.Stream) {
	ctx := testCtx(t)
	const topic, group = "release", "g"
	require.NoError(t, s.EnsureGroup(ctx, topic, group))
	require.NoError(t, s.Publish(ctx, topic, bodies("r", 2)...))
	got := readN(t, ctx, s, topic, group, "leaving", 2)
	// Someone else's release does nothing.
	require.NoError(t, s.Release(ctx, topic, group, "stranger", idsOf(got)...))
	none, err := s.Reclaim(ctx, topic, group, "next", time.Hour, 10)
	require.NoError(t, err)
	require.Empty(t, none)
	require.NoError(t, s.Release(ctx, topic, group, "leaving", got[1].ID))
	// Released: taken at once even by a reclaim that wants an hour of idle,
	// and the release does not count as a delivery (it was never worked on).
	back, err := s.Reclaim(ctx, topic, group, "next", time.Hour, 10)
	require.NoError(t, err)
	require.Equal(t, []string{got[1].ID}, idsOf(back))
	require.Equal(t, 1, back[0].Deliveries)
	require.NoError(t, s.Release(ctx, topic, "no-such-group", "leaving", got[0].ID))
}

func testBacklog(t *testing.T, s stream.Stream) {
	in, ok := s.(stream.Inspector)
	if !ok {
		t.Skip("backend does not implement stream.Inspector")
	}
	ctx := testCtx(t)
	const topic, group = "backlog", "g"
	requireBacklog := func(want int64, from, to time.Time) {
		t.Helper()
		n, oldest, err := in.Backlog(ctx, topic, group)
		require.NoError(t, err)
		require.Equal(t, want, n)
		if from.IsZero() {
			require.True(t, oldest.IsZero(), "no backlog has no oldest entry, got %s", oldest)
			return
		}
		// Redis keeps milliseconds.
		require.False(t, oldest.Before(from.Truncate(time.Millisecond)), "oldest %s before %s", oldest, from)
		require.False(t, oldest.After(to), "oldest %s after %s", oldest, to)
	}
	requireBacklog(0, time.Time{}, time.Time{})

	before := time.Now()
	require.NoError(t, s.Publish(ctx, topic, []byte("b-0")))
	afterFirst := time.Now()
	time.Sleep(5 * time.Millisecond) // the next entry is measurably younger
	require.NoError(t, s.Publish(ctx, topic, []byte("b-1"), []byte("b-2")))
	afterAll := time.Now()
	requireBacklog(3, before, afterFirst) // no group yet: everything counts

	require.NoError(t, s.EnsureGroup(ctx, topic, group))
	requireBacklog(3, before, afterFirst)
	first := readN(t, ctx, s, topic, group, "c", 1)
	requireBacklog(3, before, afterFirst) // pending still counts
	ack(t, ctx, s, topic, group, first...)
	requireBacklog(2, afterFirst, afterAll)
	rest := readN(t, ctx, s, topic, group, "c", 2)
	requireBacklog(2, afterFirst, afterAll)
	ack(t, ctx, s, topic, group, rest...)
	requireBacklog(0, time.Time{}, time.Time{})

	_, _, err := in.Backlog(ctx, "", group)
	requireInvalidErr(t, err)
}

func requireInvalidErr(t *testing.T, err error) {
	t.Helper()
	var v *domain.ValidationError
	require.ErrorAs(t, err, &v)
}
