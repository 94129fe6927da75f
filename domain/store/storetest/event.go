package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// claim runs ClaimUnpublished in its own transaction and marks what it got
// published.
func claim(t *testing.T, s *sqlstore.Store, limit int) []domain.Event {
	t.Helper()
	var got []domain.Event
	err := s.InTx(ctxFor(t), func(ctx context.Context) error {
		var err error
		if got, err = s.ClaimUnpublished(ctx, limit); err != nil {
			return err
		}
		return s.MarkPublished(ctx, eventIDs(got), time.Now())
	})
	require.NoError(t, err)
	return got
}

// claimMarked is claim through ClaimAndMarkPublished.
func claimMarked(t *testing.T, s *sqlstore.Store, limit int) []domain.Event {
	t.Helper()
	var got []domain.Event
	require.NoError(t, s.InTx(ctxFor(t), func(ctx context.Context) error {
		var err error
		got, err = s.ClaimAndMarkPublished(ctx, limit, time.Now(), "")
		return err
	}))
	return got
}

// claimConcurrently runs claimers goroutines, each claiming batches of
// limit events in its own transaction through claimTx until none is left,
// and returns how often each event was claimed.
func claimConcurrently(t *testing.T, claimers int, claimTx func() ([]domain.Event, error)) map[string]int {
	t.Helper()
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
		errs = make([]error, claimers)
	)
	for c := range claimers {
		wg.Go(func() {
			for {
				got, err := claimTx()
				if err != nil || len(got) == 0 {
					errs[c] = err
					return
				}
				mu.Lock()
				for _, e := range got {
					seen[e.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return seen
}

// claimJobsFirst: a claim takes dispatched jobs before any other event,
// so a job never waits behind a backlog of domain events; the others
// follow oldest first, a listener retry keeping its place among them.
func claimJobsFirst(t *testing.T, s *sqlstore.Store, claim func(*testing.T, *sqlstore.Store, int) []domain.Event) {
	t.Helper()
	ctx := ctxFor(t)
	// A backlog of domain events, then two jobs and a listener retry
	// behind it, then more events.
	var backlog []domain.Event
	for i := range 6 {
		backlog = append(backlog, newEvent(t, tenantA, "ProductCreated", time.Duration(i)*time.Second))
	}
	require.NoError(t, s.AppendEvents(ctx, backlog[:4]...))
	job1, retry, job2 := newEvent(t, tenantA, domain.EventJobDispatched, 0), newEvent(t, tenantA, domain.EventListenerRetry, 0),
		newEvent(t, tenantB, domain.EventJobDispatched, 0)
	require.NoError(t, s.AppendEvents(ctx, job1, retry, job2))
	require.NoError(t, s.AppendEvents(ctx, backlog[4:]...))

	got := claim(t, s, 1)
	require.Equal(t, []string{job1.ID}, eventIDs(got), "the oldest job before any older event")
	got = claim(t, s, 3)
	require.Equal(t, []string{job2.ID, backlog[0].ID, backlog[1].ID}, eventIDs(got),
		"the jobs left, then the other events oldest first")
	got = claim(t, s, 10)
	require.Equal(t, []string{backlog[2].ID, backlog[3].ID, retry.ID, backlog[4].ID, backlog[5].ID}, eventIDs(got),
		"a listener retry keeps its place among the events")
	require.Empty(t, claim(t, s, 10))
}

var eventTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"LatestNewestFirstPerTenant": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		a1 := newEvent(t, tenantA, "Tick", 0)
		b1 := newEvent(t, tenantB, "Tick", 0)
		a2 := newEvent(t, tenantA, "Tock", time.Second)
		a3 := newEvent(t, tenantA, "Tick", 2*time.Second)
		for _, e := range []domain.Event{a1, b1, a2, a3} {
			require.NoError(t, s.AppendEvents(ctx, e))
		}
		got, err := s.LatestEvents(ctx, tenantA, 2)
		require.NoError(t, err)
		require.Equal(t, []string{a3.ID, a2.ID}, eventIDs(got))
		got, err = s.LatestEvents(ctx, tenantB, 0)
		require.NoError(t, err)
		require.Equal(t, []string{b1.ID}, eventIDs(got), "another tenant's events never show")
		got, err = s.LatestEvents(ctx, "nobody", 10)
		require.NoError(t, err)
		require.Empty(t, got)
	},
	"RequeuePublishedSince": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		old := newEvent(t, tenantA, "Tick", 0)
		require.NoError(t, s.AppendEvents(ctx, old))
		require.Len(t, claim(t, s, 10), 1)
		cut := time.Now()
		recent := newEvent(t, tenantA, "Tick", time.Second)
		unpublished := newEvent(t, tenantB, "Tick", 2*time.Second)
		require.NoError(t, s.AppendEvents(ctx, recent))
		require.Len(t, claim(t, s, 10), 1)
		require.NoError(t, s.AppendEvents(ctx, unpublished))

		n, err := s.RequeuePublished(ctx, cut)
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "only what was published since the cut")
		got := claim(t, s, 10)
		require.ElementsMatch(t, []string{recent.ID, unpublished.ID}, eventIDs(got))
	},
	"AppendAndList": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		a1 := newEvent(t, tenantA, "ProductCreated", 0)
		a2 := newEvent(t, tenantA, "ProductUpdated", time.Second)
		a3 := newEvent(t, tenantA, "ProductCreated", 2*time.Second)
		b1 := newEvent(t, tenantB, "ProductCreated", 0)
		require.NoError(t, s.AppendEvents(ctx, a1, a2))
		require.NoError(t, s.AppendEvents(ctx, b1))
		require.NoError(t, s.AppendEvents(ctx, a3))
		require.NoError(t, s.AppendEvents(ctx), "appending nothing is fine")

		got, err := s.ListEvents(ctx, tenantA, "", "", 0)
		require.NoError(t, err)
		require.Equal(t, []string{a1.ID, a2.ID, a3.ID}, eventIDs(got), "oldest first, tenant A only")
		e := got[0]
		require.Equal(t, a1.TenantID, e.TenantID)
		require.Equal(t, a1.ActorID, e.ActorID)
		require.Equal(t, a1.Type, e.Type)
		require.Equal(t, a1.AggregateType, e.AggregateType)
		require.Equal(t, a1.AggregateID, e.AggregateID)
		require.Equal(t, stored(a1.OccurredAt), e.OccurredAt)
		require.Equal(t, string(a1.Payload), string(e.Payload), "payload byte for byte")

		got, err = s.ListEvents(ctx, tenantA, "ProductCreated", "", 0)
		require.NoError(t, err)
		require.Equal(t, []string{a1.ID, a3.ID}, eventIDs(got))
		got, err = s.ListEvents(ctx, tenantA, "", a1.ID, 1)
		require.NoError(t, err)
		require.Equal(t, []string{a2.ID}, eventIDs(got))
		got, err = s.ListEvents(ctx, tenantA, "ProductCreated", a1.ID, 0)
		require.NoError(t, err)
		require.Equal(t, []string{a3.ID}, eventIDs(got))
		got, err = s.ListEvents(ctx, tenantB, "", "", 0)
		require.NoError(t, err)
		require.Equal(t, []string{b1.ID}, eventIDs(got))

		_, err = s.ListEvents(ctx, tenantB, "", a1.ID, 0)
		requireNotFound(t, err, "A's event is no cursor for B")
		_, err = s.ListEvents(ctx, tenantA, "", "bad", 0)
		requireNotFound(t, err)
		_, err = s.ListEvents(ctx, tenantA, "", domain.NewID(), 0)
		requireNotFound(t, err)
		none, err := s.ListEvents(ctx, "tenant-c", "", "", 0)
		require.NoError(t, err)
		require.NotNil(t, none)
		require.Empty(t, none)
	},
	"AppendIsAtomic": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		first := newEvent(t, tenantA, "ProductCreated", 0)
		require.NoError(t, s.AppendEvents(ctx, first))
		fresh := newEvent(t, tenantA, "ProductCreated", 0)
		require.ErrorIs(t, s.AppendEvents(ctx, fresh, first), domain.ErrConflict)
		got, err := s.ListEvents(ctx, tenantA, "", "", 0)
		require.NoError(t, err)
		require.Equal(t, []string{first.ID}, eventIDs(got), "nothing of the failed batch is stored")

		bad := newEvent(t, tenantA, "X", 0)
		bad.Payload = []byte(`{not json`)
		requireInvalid(t, s.AppendEvents(ctx, bad))
		bad = newEvent(t, tenantA, "", 0)
		requireInvalid(t, s.AppendEvents(ctx, bad))
		bad = newEvent(t, "", "X", 0)
		requireInvalid(t, s.AppendEvents(ctx, bad))
		bad = newEvent(t, tenantA, "X", 0)
		bad.ID = "nope"
		requireInvalid(t, s.AppendEvents(ctx, bad))
	},
	"ManyEventsInOneAppend": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		events := make([]domain.Event, 250) // more than one INSERT's worth
		for i := range events {
			events[i] = newEvent(t, tenantA, "Bulk", time.Duration(i)*time.Millisecond)
		}
		require.NoError(t, s.AppendEvents(ctx, events...))
		var got []string
		after := ""
		for {
			page, err := s.ListEvents(ctx, tenantA, "", after, 100)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			got = append(got, eventIDs(page)...)
			after = page[len(page)-1].ID
		}
		require.Equal(t, eventIDs(events), got, "stored in the order given")
	},
	"ClaimAndMarkPublished": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		_, ok, err := s.OldestUnpublished(ctx)
		require.NoError(t, err)
		require.False(t, ok)

		var events []domain.Event
		for i := range 5 {
			events = append(events, newEvent(t, tenantA, "E", time.Duration(i)*time.Second))
		}
		events[3].TenantID = tenantB // the relay works across tenants
		require.NoError(t, s.AppendEvents(ctx, events...))

		_, err = s.ClaimUnpublished(ctx, 10)
		require.Error(t, err, "claiming outside a transaction would lock nothing")

		oldest, ok, err := s.OldestUnpublished(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, stored(events[0].OccurredAt), oldest)

		got := claim(t, s, 3)
		require.Equal(t, eventIDs(events[:3]), eventIDs(got), "oldest first")
		require.Equal(t, string(events[0].Payload), string(got[0].Payload))
		oldest, ok, err = s.OldestUnpublished(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, stored(events[3].OccurredAt), oldest)

		got = claim(t, s, 10)
		require.Equal(t, eventIDs(events[3:]), eventIDs(got))
		require.Empty(t, claim(t, s, 10), "published events are not claimed again")
		_, ok, err = s.OldestUnpublished(ctx)
		require.NoError(t, err)
		require.False(t, ok)

		// Marking again, or unknown and malformed ids, is harmless.
		require.NoError(t, s.MarkPublished(ctx, append(eventIDs(events), domain.NewID(), "bad"), time.Now()))
		require.NoError(t, s.MarkPublished(ctx, nil, time.Now()))
	},
	"ClaimAndMarkInOneStatement": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		var events []domain.Event
		for i := range 5 {
			events = append(events, newEvent(t, tenantA, "E", time.Duration(i)*time.Second))
		}
		events[2].TenantID = tenantB
		require.NoError(t, s.AppendEvents(ctx, events...))
		_, err := s.ClaimAndMarkPublished(ctx, 10, time.Now(), "")
		require.Error(t, err, "outside a transaction it would lock nothing")

		// A relay whose publish fails rolls back: nothing stays marked.
		err = s.InTx(ctx, func(ctx context.Context) error {
			got, err := s.ClaimAndMarkPublished(ctx, 10, time.Now(), "no such setting") // holds nothing
			require.NoError(t, err)
			require.Equal(t, eventIDs(events), eventIDs(got))
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		oldest, ok, err := s.OldestUnpublished(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, stored(events[0].OccurredAt), oldest)

		got := claimMarked(t, s, 3)
		require.Equal(t, eventIDs(events[:3]), eventIDs(got), "oldest first")
		require.Equal(t, string(events[0].Payload), string(got[0].Payload))
		require.Equal(t, events[2].TenantID, got[2].TenantID)
		require.Equal(t, stored(events[1].OccurredAt), got[1].OccurredAt)
		require.Equal(t, eventIDs(events[3:]), eventIDs(claimMarked(t, s, 10)))
		require.Empty(t, claimMarked(t, s, 10), "marked events are not claimed again")
		require.Empty(t, claim(t, s, 10))
		_, ok, err = s.OldestUnpublished(ctx)
		require.NoError(t, err)
		require.False(t, ok)

		// Concurrent claimers take each event once; the setting they all
		// hold (a share lock) does not make them wait for each other.
		require.NoError(t, s.PutSetting(ctx, "claim-epoch", "1"))
		var more []domain.Event
		for i := range 40 {
			more = append(more, newEvent(t, tenantA, "E", time.Duration(i)*time.Millisecond))
		}
		require.NoError(t, s.AppendEvents(ctx, more...))
		seen := claimConcurrently(t, 3, func() ([]domain.Event, error) {
			var got []domain.Event
			err := s.InTx(ctx, func(ctx context.Context) error {
				var err error
				got, err = s.ClaimAndMarkPublished(ctx, 6, time.Now(), "claim-epoch")
				return err
			})
			return got, err
		})
		require.Len(t, seen, len(more))
		for id, n := range seen {
			require.Equal(t, 1, n, "event %s claimed %d times", id, n)
		}
	},
	"ClaimJobsBeforeOtherEvents": func(t *testing.T, s *sqlstore.Store) {
		claimJobsFirst(t, s, claim)
	},
	"ClaimAndMarkJobsBeforeOtherEvents": func(t *testing.T, s *sqlstore.Store) {
		claimJobsFirst(t, s, claimMarked)
	},
	"ClaimUnmarkedIsClaimedAgain": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		e := newEvent(t, tenantA, "E", 0)
		require.NoError(t, s.AppendEvents(ctx, e))
		// A relay that fails to publish rolls back: the event stays unpublished.
		err := s.InTx(ctx, func(ctx context.Context) error {
			got, err := s.ClaimUnpublished(ctx, 10)
			require.NoError(t, err)
			require.Equal(t, []string{e.ID}, eventIDs(got))
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		require.Equal(t, []string{e.ID}, eventIDs(claim(t, s, 10)))
	},
	"RolledBackEventsNeverAppear": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		kept := newEvent(t, tenantA, "E", 0)
		err := s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, s.AppendEvents(ctx, newEvent(t, tenantA, "E", 0)))
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		require.NoError(t, s.AppendEvents(ctx, kept))
		require.Equal(t, []string{kept.ID}, eventIDs(claim(t, s, 10)))
		require.Empty(t, claim(t, s, 10))
	},
	"ConcurrentClaimersTakeEachEventOnce": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		const total, claimers = 60, 4
		var events []domain.Event
		for i := range total {
			events = append(events, newEvent(t, tenantA, "E", time.Duration(i)*time.Millisecond))
		}
		require.NoError(t, s.AppendEvents(ctx, events...))

		seen := claimConcurrently(t, claimers, func() ([]domain.Event, error) {
			var got []domain.Event
			err := s.InTx(ctx, func(ctx context.Context) error {
				var err error
				if got, err = s.ClaimUnpublished(ctx, 7); err != nil {
					return err
				}
				return s.MarkPublished(ctx, eventIDs(got), time.Now())
			})
			return got, err
		})
		require.Len(t, seen, total, "every event claimed")
		for id, n := range seen {
			require.Equal(t, 1, n, "event %s claimed %d times", id, n)
		}
		_, ok, err := s.OldestUnpublished(ctx)
		require.NoError(t, err)
		require.False(t, ok)
	},
	"SkipLockedClaimers": func(t *testing.T, s *sqlstore.Store) {
		if s.Dialect() != "postgres" {
			t.Skip("SQLite serialises write transactions: claimers cannot overlap")
		}
		ctx := ctxFor(t)
		var events []domain.Event
		for i := range 4 {
			events = append(events, newEvent(t, tenantA, "E", time.Duration(i)*time.Second))
		}
		require.NoError(t, s.AppendEvents(ctx, events...))

		claimed := make(chan []domain.Event)
		release := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- s.InTx(ctx, func(ctx context.Context) error {
				got, err := s.ClaimUnpublished(ctx, 2)
				if err != nil {
					return err
				}
				select {
				case claimed <- got:
				case <-ctx.Done():
					return ctx.Err()
				}
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
				return s.MarkPublished(ctx, eventIDs(got), time.Now())
			})
		}()
		var first []domain.Event
		select {
		case first = <-claimed:
		case err := <-done:
			t.Fatalf("first claimer ended early: %v", err)
		}
		require.Equal(t, eventIDs(events[:2]), eventIDs(first))

		// While the first claimer holds its rows, a second one gets the rest
		// at once instead of waiting (a deadline turns a wait into a failure).
		short, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var second []domain.Event
		err := s.InTx(short, func(ctx context.Context) error {
			var err error
			second, err = s.ClaimUnpublished(ctx, 10)
			return err
		})
		close(release)
		require.NoError(t, err)
		require.NoError(t, <-done)
		require.Equal(t, eventIDs(events[2:]), eventIDs(second))
	},
	"OutOfOrderCommitIsNotSkipped": func(t *testing.T, s *sqlstore.Store) {
		if s.Dialect() != "postgres" {
			t.Skip("SQLite serialises write transactions: commits cannot interleave")
		}
		ctx := ctxFor(t)
		early, late := newEvent(t, tenantA, "Early", 0), newEvent(t, tenantA, "Late", time.Second)
		appended := make(chan struct{})
		release := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- s.InTx(ctx, func(ctx context.Context) error {
				if err := s.AppendEvents(ctx, early); err != nil {
					return err
				}
				close(appended)
				select {
				case <-release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}()
		select {
		case <-appended:
		case err := <-done:
			t.Fatalf("early transaction ended before appending: %v", err)
		}
		// "late" takes a higher position but commits first.
		require.NoError(t, s.AppendEvents(ctx, late))
		require.Equal(t, []string{late.ID}, eventIDs(claim(t, s, 10)), "uncommitted events are invisible")
		close(release)
		require.NoError(t, <-done)
		require.Equal(t, []string{early.ID}, eventIDs(claim(t, s, 10)), "the lower position committed later is still claimed")
	},
}
