package runner

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

func eventsNamed(ids ...string) []domain.Event {
	evs := make([]domain.Event, len(ids))
	for i, id := range ids {
		evs[i] = domain.Event{ID: id}
	}
	return evs
}

func idsOf(evs []domain.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// waitingGroups is how many groups wait for a round.
func (g *groupCommit) waitingGroups() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.waiting)
}

// roundRecorder is an attempt function that records each round's events
// and holds the first round until released.
type roundRecorder struct {
	mu      sync.Mutex
	rounds  [][]string
	started chan struct{} // closed when the first round began
	release chan struct{} // the first round returns once this closes
	err     error
}

func newRoundRecorder(err error) *roundRecorder {
	return &roundRecorder{started: make(chan struct{}), release: make(chan struct{}), err: err}
}

func (r *roundRecorder) attempt(evs []domain.Event) (time.Duration, error) {
	r.mu.Lock()
	r.rounds = append(r.rounds, idsOf(evs))
	first := len(r.rounds) == 1
	r.mu.Unlock()
	if first {
		close(r.started)
		<-r.release
	}
	return time.Millisecond, r.err
}

func (r *roundRecorder) recorded() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.rounds...)
}

// TestGroupCommitCombinesGroupsWaitingForARound: groups handed in while
// a round runs go together in the next round, one attempt for all of
// them, and each consumer gets that round's outcome.
func TestGroupCommitCombinesGroupsWaitingForARound(t *testing.T) {
	for name, wantErr := range map[string]error{"success": nil, "failure": errors.New("round failed")} {
		t.Run(name, func(t *testing.T) {
			var g groupCommit
			rec := newRoundRecorder(wantErr)
			ctx := context.Background()
			type result struct {
				out     roundOutcome
				started bool
			}
			results := make(chan result, 4)
			go func() {
				out, started := g.run(ctx, eventsNamed("a1", "a2"), rec.attempt)
				results <- result{out, started}
			}()
			<-rec.started
			for _, group := range [][]string{{"b1", "b2"}, {"c1"}, {"d1", "d2", "d3"}} {
				go func() {
					out, started := g.run(ctx, eventsNamed(group...), rec.attempt)
					results <- result{out, started}
				}()
			}
			require.Eventually(t, func() bool { return g.waitingGroups() == 3 }, 10*time.Second, time.Millisecond)
			close(rec.release)
			for range 4 {
				r := <-results
				require.True(t, r.started)
				require.False(t, r.out.alone)
				require.Equal(t, wantErr, r.out.err)
			}
			rounds := rec.recorded()
			require.Len(t, rounds, 2, "the three waiting groups share one round")
			require.Equal(t, []string{"a1", "a2"}, rounds[0])
			require.ElementsMatch(t, []string{"b1", "b2", "c1", "d1", "d2", "d3"}, rounds[1])
			require.Zero(t, g.waitingGroups())
		})
	}
}

// TestGroupCommitRoundOfOneEventRunsItAlone: a round that holds a single
// event is not attempted as a batch; its consumer runs it the usual way.
func TestGroupCommitRoundOfOneEventRunsItAlone(t *testing.T) {
	var g groupCommit
	rec := newRoundRecorder(nil)
	close(rec.release)
	out, started := g.run(context.Background(), eventsNamed("only"), rec.attempt)
	require.True(t, started)
	require.True(t, out.alone)
	require.Empty(t, rec.recorded())

	// The next round runs at once: the lead was given back.
	out, started = g.run(context.Background(), eventsNamed("x", "y"), rec.attempt)
	require.True(t, started)
	require.False(t, out.alone)
	require.Equal(t, [][]string{{"x", "y"}}, rec.recorded())
}

// TestGroupCommitWithdrawsGroupOnShutdown: a group still waiting when its
// consumer shuts down is withdrawn, not run; the round in flight and the
// groups behind it are unaffected.
func TestGroupCommitWithdrawsGroupOnShutdown(t *testing.T) {
	var g groupCommit
	rec := newRoundRecorder(nil)
	leaderDone := make(chan roundOutcome, 1)
	go func() {
		out, _ := g.run(context.Background(), eventsNamed("a1", "a2"), rec.attempt)
		leaderDone <- out
	}()
	<-rec.started

	ctx, cancel := context.WithCancel(context.Background())
	withdrawn := make(chan bool, 1)
	go func() {
		_, started := g.run(ctx, eventsNamed("gone1", "gone2"), rec.attempt)
		withdrawn <- !started
	}()
	stays := make(chan roundOutcome, 1)
	require.Eventually(t, func() bool { return g.waitingGroups() == 1 }, 10*time.Second, time.Millisecond)
	go func() {
		out, _ := g.run(context.Background(), eventsNamed("b1", "b2"), rec.attempt)
		stays <- out
	}()
	require.Eventually(t, func() bool { return g.waitingGroups() == 2 }, 10*time.Second, time.Millisecond)
	cancel()
	require.True(t, <-withdrawn, "the cancelled group reports that it did not start")
	close(rec.release)
	require.NoError(t, (<-leaderDone).err)
	require.NoError(t, (<-stays).err)
	require.Equal(t, [][]string{{"a1", "a2"}, {"b1", "b2"}}, rec.recorded())
}

// TestGroupsShareRoundsOnlyWhenTheHoldAllowsIt: a group may wait one round
// before its own, so rounds are shared only when an entry's hold outlasts
// two attempts after its check.
func TestGroupsShareRoundsOnlyWhenTheHoldAllowsIt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		combine bool
	}{
		{"defaults", Config{}, true},
		{"long timeout, default reclaim", Config{Timeout: 5 * time.Minute}, false},
		{"long timeout, ample reclaim", Config{Timeout: 5 * time.Minute, ReclaimAfter: time.Hour}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.cfg, nil, nil, batchOf{})
			require.NoError(t, err)
			require.Equal(t, tc.combine, r.combineGroups())
			require.Equal(t, tc.combine, r.groups["batchOf"] != nil)
			if tc.combine {
				// The margin: what is left of the hold after its check
				// covers the round in flight and the group's own.
				require.GreaterOrEqual(t, r.reclaimAfter-r.extendEvery, 2*r.cfg.Timeout)
			}
		})
	}
}

// batchOf is a BatchListener that does nothing.
type batchOf struct{}

func (batchOf) Name() string                                      { return "batchOf" }
func (batchOf) Events() []string                                  { return []string{"X"} }
func (batchOf) Handle(context.Context, domain.Event) error        { return nil }
func (batchOf) HandleBatch(context.Context, []domain.Event) error { return nil }
