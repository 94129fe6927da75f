package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func newBulk(tenant domain.TenantID) notification.Bulk {
	return notification.Bulk{
		ID: domain.NewID(), TenantID: tenant, RequestedBy: userA,
		Audience: notification.Audience{UserIDs: []domain.UserID{"a", "b"}},
		Type:     notification.TypeAnnouncement, Severity: domain.SeverityInfo,
		Title: "Quarterly stock count", Body: "Friday, all day.", ActionURL: "/inventory",
		Data: []byte(`{"when": "friday", "n": [1, 2]}`), Status: notification.BulkPending, Total: 2,
		CreatedAt: at(0),
	}
}

var bulkTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"RoundTripAndProgress": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		b := newBulk(tenantA)
		require.NoError(t, s.InsertBulk(ctx, b))
		require.ErrorIs(t, s.InsertBulk(ctx, b), domain.ErrConflict)
		got, err := s.GetBulk(ctx, tenantA, b.ID)
		require.NoError(t, err)
		require.JSONEq(t, string(b.Data), string(got.Data))
		want := b
		want.CreatedAt = stored(b.CreatedAt)
		want.Errors = []notification.RecipientError{}
		got.Data, want.Data = nil, nil
		require.Equal(t, want, got)

		_, err = s.GetBulk(ctx, tenantB, b.ID)
		requireNotFound(t, err, "another tenant's bulk")
		_, err = s.GetBulk(ctx, tenantA, "not-an-id")
		requireNotFound(t, err)
		_, err = s.LockBulk(ctx, tenantA, b.ID)
		require.Error(t, err, "locking needs a transaction")

		started := at(time.Minute)
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			l, err := s.LockBulk(ctx, tenantA, b.ID)
			require.NoError(t, err)
			l.Status, l.Sent, l.Failed, l.ResumeAfter = notification.BulkProcessing, 1, 1, "b"
			l.Errors = []notification.RecipientError{{UserID: "b", Message: "unknown user"}}
			l.StartedAt = &started
			return s.UpdateBulk(ctx, l)
		}))
		got, err = s.GetBulk(ctx, tenantA, b.ID)
		require.NoError(t, err)
		require.Equal(t, notification.BulkProcessing, got.Status)
		require.Equal(t, []int64{1, 1}, []int64{got.Sent, got.Failed})
		require.Equal(t, domain.UserID("b"), got.ResumeAfter)
		require.Equal(t, []notification.RecipientError{{UserID: "b", Message: "unknown user"}}, got.Errors)
		require.Equal(t, stored(started), *got.StartedAt)
		require.Nil(t, got.CompletedAt)

		foreign := got
		foreign.TenantID = tenantB
		requireNotFound(t, s.UpdateBulk(ctx, foreign), "cannot update across tenants")

		bad := newBulk(tenantA)
		bad.Data = []byte("{")
		requireInvalid(t, s.InsertBulk(ctx, bad))
		bad = newBulk("")
		requireInvalid(t, s.InsertBulk(ctx, bad))
	},
	"HostileText": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for _, h := range hostile {
			b := newBulk(tenantA)
			b.Title, b.Body, b.ActionURL, b.Audience = h, h, h, notification.Audience{Permission: h}
			require.NoError(t, s.InsertBulk(ctx, b))
			got, err := s.GetBulk(ctx, tenantA, b.ID)
			require.NoError(t, err)
			require.Equal(t, []string{h, h, h, h}, []string{got.Title, got.Body, got.ActionURL, got.Audience.Permission})
		}
	},
	"AudienceInByteOrder": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		// Byte order puts upper case first and non-ASCII last, unlike
		// most locales' collations.
		for _, u := range []domain.User{
			{TenantID: tenantA, ID: "carol", Perms: []string{domain.PermInventoryAlerts}},
			{TenantID: tenantA, ID: "Bob", Perms: []string{domain.PermAdmin}},
			{TenantID: tenantA, ID: "alice", Perms: []string{domain.PermSalesManage}},
			{TenantID: tenantA, ID: "Zed", Perms: []string{domain.PermInventoryAlerts}},
			{TenantID: tenantA, ID: "a.b", Perms: nil},
			{TenantID: tenantB, ID: "bob", Perms: []string{domain.PermInventoryAlerts}},
		} {
			require.NoError(t, s.UpsertUser(ctx, u))
		}
		all, err := s.UserIDsAfter(ctx, tenantA, "", "", 0)
		require.NoError(t, err)
		require.Equal(t, []domain.UserID{"Bob", "Zed", "a.b", "alice", "carol"}, all)
		page, err := s.UserIDsAfter(ctx, tenantA, "", "Zed", 2)
		require.NoError(t, err)
		require.Equal(t, []domain.UserID{"a.b", "alice"}, page)
		holders, err := s.UserIDsAfter(ctx, tenantA, domain.PermInventoryAlerts, "", 10)
		require.NoError(t, err)
		require.Equal(t, []domain.UserID{"Bob", "Zed", "carol"}, holders, "admin implies every permission")
		n, err := s.CountUsers(ctx, tenantA, domain.PermInventoryAlerts)
		require.NoError(t, err)
		require.Equal(t, int64(3), n)
		n, err = s.CountUsers(ctx, tenantA, "")
		require.NoError(t, err)
		require.Equal(t, int64(5), n)

		known, err := s.KnownUsers(ctx, tenantA, []domain.UserID{"carol", "bob", "nobody", "Bob"})
		require.NoError(t, err)
		require.Equal(t, map[domain.UserID]bool{"carol": true, "Bob": true}, known, "tenant-b's bob is not tenant-a's")
		known, err = s.KnownUsers(ctx, tenantA, nil)
		require.NoError(t, err)
		require.Empty(t, known)
	},
}
