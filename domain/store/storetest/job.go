package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func newFailedJob(offset time.Duration) domain.FailedJob {
	return domain.FailedJob{
		ID:       domain.NewID(),
		Queue:    "default",
		Job:      "GenerateReport",
		TenantID: tenantA,
		Payload:  []byte(`{"report": "sales", "from": "2026-01-01"}`),
		Attempts: 3,
		Error:    `timeout after 300s: "context deadline exceeded"`,
		FailedAt: at(offset),
	}
}

var jobTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"MarkProcessed": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		id := domain.NewID()
		first, err := s.MarkProcessed(ctx, "low-stock", id)
		require.NoError(t, err)
		require.True(t, first)
		first, err = s.MarkProcessed(ctx, "low-stock", id)
		require.NoError(t, err)
		require.False(t, first, "second delivery of the same event")
		first, err = s.MarkProcessed(ctx, "invoice", id)
		require.NoError(t, err)
		require.True(t, first, "keys are per listener")
		first, err = s.MarkProcessed(ctx, "low-stock", "1719835200000-0")
		require.NoError(t, err)
		require.True(t, first, "any message id works as a key")
		_, err = s.MarkProcessed(ctx, "", id)
		requireInvalid(t, err)
	},
	"MarkProcessedMany": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		a, b, c := domain.NewID(), domain.NewID(), domain.NewID()
		first, err := s.MarkProcessed(ctx, "low-stock", b)
		require.NoError(t, err)
		require.True(t, first)
		got, err := s.MarkProcessedMany(ctx, "low-stock", []string{a, b, c, a})
		require.NoError(t, err)
		require.Equal(t, []bool{true, false, true, false}, got, "b was there; a repeats in the batch")
		got, err = s.MarkProcessedMany(ctx, "invoice", []string{a, b})
		require.NoError(t, err)
		require.Equal(t, []bool{true, true}, got, "keys are per listener")
		got, err = s.MarkProcessedMany(ctx, "low-stock", []string{c})
		require.NoError(t, err)
		require.Equal(t, []bool{false}, got)
		got, err = s.MarkProcessedMany(ctx, "low-stock", nil)
		require.NoError(t, err)
		require.Empty(t, got)
		_, err = s.MarkProcessedMany(ctx, "", []string{a})
		requireInvalid(t, err)
		_, err = s.MarkProcessedMany(ctx, "low-stock", []string{domain.NewID(), ""})
		requireInvalid(t, err)
		// Inside a transaction that rolls back, the keys vanish with it.
		d := domain.NewID()
		err = s.InTx(ctx, func(ctx context.Context) error {
			got, err := s.MarkProcessedMany(ctx, "l", []string{d, domain.NewID()})
			require.NoError(t, err)
			require.Equal(t, []bool{true, true}, got)
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		got, err = s.MarkProcessedMany(ctx, "l", []string{d, d})
		require.NoError(t, err)
		require.Equal(t, []bool{true, false}, got)
	},
	"MarkProcessedRollsBackWithEffect": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		id := domain.NewID()
		err := s.InTx(ctx, func(ctx context.Context) error {
			first, err := s.MarkProcessed(ctx, "l", id)
			require.NoError(t, err)
			require.True(t, first)
			return errBoom // the effect failed
		})
		require.ErrorIs(t, err, errBoom)
		first, err := s.MarkProcessed(ctx, "l", id)
		require.NoError(t, err)
		require.True(t, first, "the key vanished with the rolled-back effect")
	},
	"FailedJobs": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		list, err := s.ListFailedJobs(ctx, 0)
		require.NoError(t, err)
		require.NotNil(t, list)
		require.Empty(t, list)

		old, mid, recent := newFailedJob(0), newFailedJob(time.Second), newFailedJob(time.Minute)
		mid.Payload = nil
		for _, j := range []domain.FailedJob{mid, recent, old} {
			require.NoError(t, s.InsertFailedJob(ctx, j))
		}
		require.ErrorIs(t, s.InsertFailedJob(ctx, old), domain.ErrConflict)

		list, err = s.ListFailedJobs(ctx, 0)
		require.NoError(t, err)
		require.Len(t, list, 3)
		require.Equal(t, []string{recent.ID, mid.ID, old.ID}, []string{list[0].ID, list[1].ID, list[2].ID}, "newest first")
		list, err = s.ListFailedJobs(ctx, 2)
		require.NoError(t, err)
		require.Len(t, list, 2)

		got, err := s.GetFailedJob(ctx, old.ID)
		require.NoError(t, err)
		want := old
		want.FailedAt = stored(old.FailedAt)
		require.Equal(t, string(want.Payload), string(got.Payload))
		got.Payload, want.Payload = nil, nil
		require.Equal(t, want, got)
		got, err = s.GetFailedJob(ctx, mid.ID)
		require.NoError(t, err)
		require.Equal(t, "null", string(got.Payload), "no payload is JSON null")

		require.NoError(t, s.DeleteFailedJob(ctx, old.ID))
		requireNotFound(t, s.DeleteFailedJob(ctx, old.ID))
		_, err = s.GetFailedJob(ctx, old.ID)
		requireNotFound(t, err)
		_, err = s.GetFailedJob(ctx, "bad")
		requireNotFound(t, err)
		requireNotFound(t, s.DeleteFailedJob(ctx, "bad"))

		n, err := s.DeleteAllFailedJobs(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(2), n)
		n, err = s.DeleteAllFailedJobs(ctx)
		require.NoError(t, err)
		require.Zero(t, n)

		bad := newFailedJob(0)
		bad.Payload = []byte("{")
		requireInvalid(t, s.InsertFailedJob(ctx, bad))
		bad = newFailedJob(0)
		bad.Queue = ""
		requireInvalid(t, s.InsertFailedJob(ctx, bad))
	},
	"HostileStrings": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for _, h := range hostile {
			j := newFailedJob(0)
			j.Queue, j.Job, j.Error, j.TenantID = h, h, h, domain.TenantID(h)
			require.NoError(t, s.InsertFailedJob(ctx, j))
			got, err := s.GetFailedJob(ctx, j.ID)
			require.NoError(t, err)
			require.Equal(t, h, got.Queue)
			require.Equal(t, h, got.Job)
			require.Equal(t, h, got.Error)
			require.Equal(t, domain.TenantID(h), got.TenantID)
		}
	},
}
