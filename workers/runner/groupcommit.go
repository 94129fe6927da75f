package runner

import (
	"context"
	"sync"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// groupCommit lets the consumers of one BatchListener in this process
// share its transactions: one round (one HandleBatch attempt) runs at a
// time, with every group its consumers handed in while the previous round
// ran. Separate transactions of one listener nearly always lock the same
// rows (a tenant's alert recipients, whose rows number their
// notifications), so running them side by side only made each wait for
// the other's commit; taking turns, each round's batch grows with the load
// and no consumer waits on a lock held by its neighbour.
//
// The consumer whose group arrives while no round runs leads: it runs the
// round, hands every other member its outcome and, when more groups came
// meanwhile, passes the lead to the first of them. A group waits at most
// one round before its own starts, which the runner allows for when it
// checks the entries' hold (see combineGroups).
type groupCommit struct {
	mu      sync.Mutex
	running bool
	waiting []*submission
}

// submission is one consumer's group, waiting for its round.
type submission struct {
	evs  []domain.Event
	lead chan struct{}     // closed when this consumer is to run the next round
	done chan roundOutcome // the outcome, when another consumer ran the round
}

// roundOutcome is what one round did for every group in it.
type roundOutcome struct {
	err  error
	took time.Duration
	// alone: the round held a single event, not attempted as a batch; its
	// consumer runs it the usual way, with its tries.
	alone bool
}

// run submits evs and returns the outcome of the round that handled
// them, running that round itself when it leads. attempt runs one
// HandleBatch attempt of the given events. started is false when ctx
// ended before the group's round began: nothing ran, and the caller
// leaves the entries for release.
func (g *groupCommit) run(ctx context.Context, evs []domain.Event, attempt func([]domain.Event) (time.Duration, error)) (out roundOutcome, started bool) {
	s := &submission{evs: evs, lead: make(chan struct{}), done: make(chan roundOutcome, 1)}
	g.mu.Lock()
	g.waiting = append(g.waiting, s)
	if !g.running {
		g.running = true
		g.mu.Unlock()
		return g.lead(s, attempt), true
	}
	g.mu.Unlock()
	select {
	case out := <-s.done:
		return out, true
	case <-s.lead:
		return g.lead(s, attempt), true
	case <-ctx.Done():
	}
	// Shutting down: withdraw the group unless a round took it or it was
	// chosen to lead the next (the groups behind it wait on that).
	if g.withdraw(s) {
		return roundOutcome{}, false
	}
	select {
	case out := <-s.done:
		return out, true
	case <-s.lead:
		return g.lead(s, attempt), true
	}
}

// withdraw takes s out of the waiting groups, if it still waits and does
// not lead.
func (g *groupCommit) withdraw(s *submission) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-s.lead:
		return false
	default:
	}
	for i, w := range g.waiting {
		if w == s {
			g.waiting = append(g.waiting[:i], g.waiting[i+1:]...)
			return true
		}
	}
	return false
}

// lead runs one round with every group waiting (own among them), hands
// the others their outcome, passes the lead on and returns own's.
func (g *groupCommit) lead(own *submission, attempt func([]domain.Event) (time.Duration, error)) roundOutcome {
	g.mu.Lock()
	round := g.waiting
	g.waiting = nil
	g.mu.Unlock()

	var evs []domain.Event
	for _, s := range round {
		evs = append(evs, s.evs...)
	}
	out := roundOutcome{alone: len(evs) == 1}
	if !out.alone {
		out.took, out.err = attempt(evs)
	}
	for _, s := range round {
		if s != own {
			s.done <- out
		}
	}

	g.mu.Lock()
	if len(g.waiting) > 0 {
		close(g.waiting[0].lead)
	} else {
		g.running = false
	}
	g.mu.Unlock()
	return out
}
