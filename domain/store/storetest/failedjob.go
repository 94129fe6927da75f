package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func ids(jobs []domain.FailedJob) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func cursorOf(j domain.FailedJob) domain.FailedJobCursor {
	return domain.FailedJobCursor{FailedAt: j.FailedAt, ID: j.ID}
}

// failedJobTests cover failed-job management: scoped paging, scoped
// deletes, counts, pruning, and the restart marker's setting.
var failedJobTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"ScopedPagingNewestFirst": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		var mine []domain.FailedJob
		for i := range 5 {
			j := newFailedJob(time.Duration(i) * time.Second)
			require.NoError(t, s.InsertFailedJob(ctx, j))
			mine = append(mine, j)
		}
		// Two at the same instant: the id breaks the tie.
		tie := newFailedJob(2 * time.Second)
		require.NoError(t, s.InsertFailedJob(ctx, tie))
		mine = append(mine, tie)
		other := newFailedJob(10 * time.Second)
		other.TenantID = tenantB
		require.NoError(t, s.InsertFailedJob(ctx, other))
		unreadable := newFailedJob(11 * time.Second)
		unreadable.TenantID = ""
		require.NoError(t, s.InsertFailedJob(ctx, unreadable))

		scopeA := domain.FailedJobScope{Tenant: tenantA}
		var seen []string
		var cursor domain.FailedJobCursor
		for {
			page, err := s.FailedJobs(ctx, scopeA, cursor, 4)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), 4)
			for _, j := range page {
				require.Equal(t, tenantA, j.TenantID, "only the tenant's own")
			}
			seen = append(seen, ids(page)...)
			if len(page) < 4 {
				break
			}
			cursor = cursorOf(page[len(page)-1])
		}
		require.Len(t, seen, 6, "every job once, none twice")
		require.Equal(t, []string{mine[4].ID, mine[3].ID}, seen[:2], "newest first")
		tied := []string{mine[2].ID, tie.ID}
		if tie.ID > mine[2].ID {
			tied = []string{tie.ID, mine[2].ID}
		}
		require.Equal(t, tied, seen[2:4], "same instant: higher id first")

		all, err := s.FailedJobs(ctx, domain.FailedJobScope{AllTenants: true}, domain.FailedJobCursor{}, 100)
		require.NoError(t, err)
		require.Len(t, all, 8)
		require.Equal(t, unreadable.ID, all[0].ID)
		b, err := s.FailedJobs(ctx, domain.FailedJobScope{Tenant: tenantB}, domain.FailedJobCursor{}, 0)
		require.NoError(t, err)
		require.Equal(t, []string{other.ID}, ids(b))

		_, err = s.FailedJobs(ctx, domain.FailedJobScope{}, domain.FailedJobCursor{}, 10)
		requireInvalid(t, err, "no scope is an error, not every tenant")
		_, err = s.FailedJobs(ctx, scopeA, domain.FailedJobCursor{ID: "nope"}, 10)
		requireInvalid(t, err)
	},
	"DeleteScopedAndCount": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for _, tenant := range []domain.TenantID{tenantA, tenantA, tenantB} {
			j := newFailedJob(0)
			j.TenantID = tenant
			require.NoError(t, s.InsertFailedJob(ctx, j))
		}
		listener := newFailedJob(0)
		listener.Queue = "events"
		require.NoError(t, s.InsertFailedJob(ctx, listener))
		counts, err := s.CountFailedJobs(ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{"default": 3, "events": 1}, counts)

		_, err = s.DeleteFailedJobs(ctx, domain.FailedJobScope{})
		requireInvalid(t, err)
		n, err := s.DeleteFailedJobs(ctx, domain.FailedJobScope{Tenant: tenantB})
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		left, err := s.FailedJobs(ctx, domain.FailedJobScope{AllTenants: true}, domain.FailedJobCursor{}, 100)
		require.NoError(t, err)
		require.Len(t, left, 3, "the other tenant's stay")
		n, err = s.DeleteFailedJobs(ctx, domain.FailedJobScope{AllTenants: true})
		require.NoError(t, err)
		require.Equal(t, int64(3), n)
		counts, err = s.CountFailedJobs(ctx)
		require.NoError(t, err)
		require.Empty(t, counts)
	},
	"Prune": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		old, recent := newFailedJob(-48*time.Hour), newFailedJob(0)
		require.NoError(t, s.InsertFailedJob(ctx, old))
		require.NoError(t, s.InsertFailedJob(ctx, recent))
		n, err := s.PruneFailedJobs(ctx, at(-time.Hour))
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		_, err = s.GetFailedJob(ctx, old.ID)
		requireNotFound(t, err)
		_, err = s.GetFailedJob(ctx, recent.ID)
		require.NoError(t, err)

		_, err = s.MarkProcessed(ctx, "l", domain.NewID())
		require.NoError(t, err)
		n, err = s.PruneProcessedEvents(ctx, time.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Zero(t, n, "a fresh marker stays")
		n, err = s.PruneProcessedEvents(ctx, time.Now().Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, int64(1), n)

		published, unpublished, fresh := newEvent(t, tenantA, "E", 0), newEvent(t, tenantA, "E", 0), newEvent(t, tenantA, "E", 0)
		require.NoError(t, s.AppendEvents(ctx, published, unpublished, fresh))
		require.NoError(t, s.MarkPublished(ctx, []string{published.ID}, time.Now().Add(-40*24*time.Hour)))
		require.NoError(t, s.MarkPublished(ctx, []string{fresh.ID}, time.Now()))
		n, err = s.PrunePublishedEvents(ctx, time.Now().Add(-30*24*time.Hour))
		require.NoError(t, err)
		require.Equal(t, int64(1), n, "only the old published event")
		left, err := s.ListEvents(ctx, tenantA, "", "", 10)
		require.NoError(t, err)
		require.Equal(t, []string{unpublished.ID, fresh.ID}, eventIDs(left), "unpublished events are never pruned")
	},
	"InternalEventsLeftOutOfTheLog": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		business := newEvent(t, tenantA, "ProductCreated", 0)
		job := newEvent(t, tenantA, domain.EventJobDispatched, time.Second)
		retry := newEvent(t, tenantA, domain.EventListenerRetry, 2*time.Second)
		require.NoError(t, s.AppendEvents(ctx, business, job, retry))
		list, err := s.ListEvents(ctx, tenantA, "", "", 10)
		require.NoError(t, err)
		require.Equal(t, []string{business.ID}, eventIDs(list))
		list, err = s.ListEvents(ctx, tenantA, domain.EventJobDispatched, "", 10)
		require.NoError(t, err)
		require.Empty(t, list, "not even by type")
		latest, err := s.LatestEvents(ctx, tenantA, 10)
		require.NoError(t, err)
		require.Equal(t, []string{business.ID}, eventIDs(latest))
		var claimed []domain.Event
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			claimed, err = s.ClaimUnpublished(ctx, 10)
			return err
		}))
		require.Len(t, claimed, 3, "the relay still publishes them")
	},
	"PutSetting": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		require.NoError(t, s.PutSetting(ctx, "queue_restart", "one"))
		require.NoError(t, s.PutSetting(ctx, "queue_restart", "two"))
		v, err := s.Setting(ctx, "queue_restart")
		require.NoError(t, err)
		require.Equal(t, "two", v)
		requireInvalid(t, s.PutSetting(ctx, "", "x"))
	},
}
