package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/extsync"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func newSyncRun(tenant domain.TenantID, typ extsync.Type) extsync.Run {
	return extsync.Run{ID: domain.NewID(), TenantID: tenant, Type: typ, Status: extsync.StatusPending,
		RequestedBy: userA, Endpoint: "https://erp.example.com/api", CreatedAt: at(0)}
}

var syncTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"ConfigRoundTripAndIsolation": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		_, err := s.GetSyncConfig(ctx, tenantA)
		requireNotFound(t, err)
		c := extsync.Config{TenantID: tenantA, BaseURL: "https://erp.example.com/api", AuthHeader: "Bearer x",
			TimeoutSeconds: 10, UpdatedBy: userA, CreatedAt: at(0), UpdatedAt: at(0)}
		require.NoError(t, s.PutSyncConfig(ctx, c))
		c2 := c
		c2.BaseURL, c2.AuthHeader, c2.TimeoutSeconds, c2.CreatedAt, c2.UpdatedAt = "https://erp2.example.com", "", 30, at(time.Hour), at(time.Hour)
		require.NoError(t, s.PutSyncConfig(ctx, c2), "a second put replaces")
		got, err := s.GetSyncConfig(ctx, tenantA)
		require.NoError(t, err)
		want := c2
		want.CreatedAt, want.UpdatedAt = stored(at(0)), stored(at(time.Hour))
		require.Equal(t, want, got, "created_at stays, the rest is replaced")
		_, err = s.GetSyncConfig(ctx, tenantB)
		requireNotFound(t, err, "another tenant's config")

		bad := c
		bad.TimeoutSeconds = 0
		require.Error(t, s.PutSyncConfig(ctx, bad), "the schema bounds the timeout")
		requireInvalid(t, s.PutSyncConfig(ctx, extsync.Config{BaseURL: "x", TimeoutSeconds: 1}))
	},
	"RunRoundTripProgressAndList": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		r := newSyncRun(tenantA, extsync.Products)
		require.NoError(t, s.InsertSyncRun(ctx, r))
		require.ErrorIs(t, s.InsertSyncRun(ctx, r), domain.ErrConflict)
		got, err := s.GetSyncRun(ctx, tenantA, r.ID)
		require.NoError(t, err)
		want := r
		want.CreatedAt, want.Errors = stored(r.CreatedAt), []extsync.RowError{}
		require.Equal(t, want, got)
		_, err = s.GetSyncRun(ctx, tenantB, r.ID)
		requireNotFound(t, err, "another tenant's run")
		_, err = s.GetSyncRun(ctx, tenantA, "nope")
		requireNotFound(t, err)
		_, err = s.LockSyncRun(ctx, tenantA, r.ID)
		require.Error(t, err, "locking needs a transaction")

		started, done := at(time.Minute), at(2*time.Minute)
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			l, err := s.LockSyncRun(ctx, tenantA, r.ID)
			require.NoError(t, err)
			l.Status, l.Pages, l.Fetched, l.Upserted, l.Failed, l.Attempts = extsync.StatusCompleted, 3, 7, 5, 2, 2
			l.NextURL, l.LastError = "https://erp.example.com/api/products?page=4", "GET x: 500"
			l.Errors = []extsync.RowError{{Page: 2, Row: 1, Key: "A-1", Message: "price is required"}, {Page: 3, Message: "note"}}
			l.StartedAt, l.CompletedAt = &started, &done
			return s.UpdateSyncRun(ctx, l)
		}))
		got, err = s.GetSyncRun(ctx, tenantA, r.ID)
		require.NoError(t, err)
		require.Equal(t, extsync.StatusCompleted, got.Status)
		require.Equal(t, []int64{3, 7, 5, 2, 2}, []int64{int64(got.Pages), got.Fetched, got.Upserted, got.Failed, int64(got.Attempts)})
		require.Equal(t, "https://erp.example.com/api/products?page=4", got.NextURL)
		require.Equal(t, []extsync.RowError{{Page: 2, Row: 1, Key: "A-1", Message: "price is required"}, {Page: 3, Message: "note"}}, got.Errors)
		require.Equal(t, stored(started), *got.StartedAt)
		require.Equal(t, stored(done), *got.CompletedAt)
		require.Nil(t, got.FailedAt)

		foreign := got
		foreign.TenantID = tenantB
		requireNotFound(t, s.UpdateSyncRun(ctx, foreign), "cannot update across tenants")

		// Newest first, by type, before a cursor; never another tenant's.
		var ids []string
		for _, typ := range []extsync.Type{extsync.Customers, extsync.Products, extsync.Customers} {
			n := newSyncRun(tenantA, typ)
			require.NoError(t, s.InsertSyncRun(ctx, n))
			ids = append(ids, n.ID)
		}
		require.NoError(t, s.InsertSyncRun(ctx, newSyncRun(tenantB, extsync.Customers)))
		list, err := s.ListSyncRuns(ctx, tenantA, extsync.ListParams{})
		require.NoError(t, err)
		require.Equal(t, []string{ids[2], ids[1], ids[0], r.ID}, syncIDs(list))
		list, err = s.ListSyncRuns(ctx, tenantA, extsync.ListParams{Type: extsync.Customers})
		require.NoError(t, err)
		require.Equal(t, []string{ids[2], ids[0]}, syncIDs(list))
		list, err = s.ListSyncRuns(ctx, tenantA, extsync.ListParams{Before: ids[1], Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []string{ids[0]}, syncIDs(list))
		_, err = s.ListSyncRuns(ctx, tenantA, extsync.ListParams{Before: "x"})
		requireInvalid(t, err)

		bad := newSyncRun(tenantA, "vendors")
		requireInvalid(t, s.InsertSyncRun(ctx, bad))
	},
	"RunHostileText": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for _, h := range hostile {
			r := newSyncRun(tenantA, extsync.Orders)
			r.Endpoint, r.NextURL, r.LastError, r.RequestedBy = h, h, h, domain.UserID(h)
			r.Errors = []extsync.RowError{{Page: 1, Row: 2, Key: h, Message: h}}
			require.NoError(t, s.InsertSyncRun(ctx, r))
			got, err := s.GetSyncRun(ctx, tenantA, r.ID)
			require.NoError(t, err)
			require.Equal(t, []string{h, h, h, h, h}, []string{got.Endpoint, got.NextURL, got.LastError,
				string(got.RequestedBy), got.Errors[0].Message})
		}
	},
	"BreakerSharedUnderItsLock": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		const ep = "https://erp.example.com/api"
		_, err := s.GetBreaker(ctx, tenantA, ep)
		requireNotFound(t, err)
		_, err = s.LockBreaker(ctx, tenantA, ep)
		require.Error(t, err, "locking needs a transaction")
		until := at(time.Hour)
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			b, err := s.LockBreaker(ctx, tenantA, ep)
			require.NoError(t, err)
			require.Equal(t, extsync.BreakerClosed, b.State, "created closed")
			require.Zero(t, b.Failures)
			b.State, b.Failures, b.OpenUntil, b.LastError, b.UpdatedAt = extsync.BreakerOpen, 5, &until, "GET x: 503", at(0)
			return s.SaveBreaker(ctx, b)
		}))
		got, err := s.GetBreaker(ctx, tenantA, ep)
		require.NoError(t, err)
		require.Equal(t, extsync.Breaker{TenantID: tenantA, Endpoint: ep, State: extsync.BreakerOpen, Failures: 5,
			OpenUntil: ptrTime(stored(until)), LastError: "GET x: 503", UpdatedAt: stored(at(0))}, got)
		_, err = s.GetBreaker(ctx, tenantB, ep)
		requireNotFound(t, err, "each tenant's endpoint has its own breaker")
		_, err = s.GetBreaker(ctx, tenantA, ep+"/other")
		requireNotFound(t, err)

		// Concurrent failures are all counted: the lock serialises them.
		done := make(chan error, 8)
		for range 8 {
			go func() {
				done <- s.InTx(ctx, func(ctx context.Context) error {
					b, err := s.LockBreaker(ctx, tenantB, ep)
					if err != nil {
						return err
					}
					b.Failures++
					return s.SaveBreaker(ctx, b)
				})
			}()
		}
		for range 8 {
			require.NoError(t, <-done)
		}
		got, err = s.GetBreaker(ctx, tenantB, ep)
		require.NoError(t, err)
		require.Equal(t, 8, got.Failures)

		require.NoError(t, s.ResetBreaker(ctx, tenantA, ep))
		_, err = s.GetBreaker(ctx, tenantA, ep)
		requireNotFound(t, err)
		_, err = s.GetBreaker(ctx, tenantB, ep)
		require.NoError(t, err, "resetting one tenant's breaker leaves the other's")
	},
	"NaturalKeys": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "SKU-1")
		id, err := s.FindByKey(ctx, tenantA, extsync.KeySKU, "SKU-1")
		require.NoError(t, err)
		require.Equal(t, p.ID, id)
		_, err = s.FindByKey(ctx, tenantB, extsync.KeySKU, "SKU-1")
		requireNotFound(t, err, "another tenant's product")
		_, err = s.FindByKey(ctx, tenantA, extsync.KeySKU, "sku-1")
		requireNotFound(t, err, "SKUs are exact")
		require.NoError(t, s.DeleteProduct(ctx, tenantA, p.ID))
		_, err = s.FindByKey(ctx, tenantA, extsync.KeySKU, "SKU-1")
		requireNotFound(t, err, "a deleted product is not found")

		c := crm.Customer{ID: domain.NewID(), TenantID: tenantA, Name: "Ann", Email: "ann@example.com", CreatedAt: at(0), UpdatedAt: at(0)}
		require.NoError(t, s.InsertCustomer(ctx, c))
		noEmail := crm.Customer{ID: domain.NewID(), TenantID: tenantA, Name: "Walk-in", CreatedAt: at(0), UpdatedAt: at(0)}
		require.NoError(t, s.InsertCustomer(ctx, noEmail))
		id, err = s.FindByKey(ctx, tenantA, extsync.KeyEmail, "ann@example.com")
		require.NoError(t, err)
		require.Equal(t, c.ID, id)
		_, err = s.FindByKey(ctx, tenantA, extsync.KeyEmail, "")
		requireNotFound(t, err, "an empty email is no key")
		_, err = s.FindByKey(ctx, tenantB, extsync.KeyEmail, "ann@example.com")
		requireNotFound(t, err)

		for _, h := range hostile {
			_, err := s.FindByKey(ctx, tenantA, extsync.KeySKU, h)
			requireNotFound(t, err, h)
		}
		_, err = s.FindByKey(ctx, tenantA, "vendor", "x")
		require.Error(t, err)
	},
	"OrderRefs": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		c := insertCustomer(t, s, tenantA, "Ann", "ann@example.com")
		p := insertProduct(t, s, tenantA, "SKU-1")
		o := insertOrder(t, s, tenantA, c.ID, p.ID, "SO-000001", at(0), "5")
		require.NoError(t, s.InsertOrderRef(ctx, tenantA, "EXT-1", o.ID))
		require.ErrorIs(t, s.InsertOrderRef(ctx, tenantA, "EXT-1", o.ID), domain.ErrConflict)
		id, err := s.FindByKey(ctx, tenantA, extsync.KeyOrderNumber, "EXT-1")
		require.NoError(t, err)
		require.Equal(t, o.ID, id)
		_, err = s.FindByKey(ctx, tenantB, extsync.KeyOrderNumber, "EXT-1")
		requireNotFound(t, err)
		requireNotFound(t, s.InsertOrderRef(ctx, tenantB, "EXT-1", o.ID), "cannot point at another tenant's order")
		requireNotFound(t, s.InsertOrderRef(ctx, tenantA, "EXT-2", domain.NewID()), "nor at a missing one")
		requireInvalid(t, s.InsertOrderRef(ctx, tenantA, "EXT-3", "nope"))
	},
}

func syncIDs(runs []extsync.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return out
}

func ptrTime(t time.Time) *time.Time { return &t }
