package notification_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// TestSendToPermissionsOneTransaction: several drafts of two tenants go
// out together, each to its own tenant's holders only; each user's seqs
// follow the order of the drafts, and so do the pushes.
func TestSendToPermissionsOneTransaction(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		sent, err := f.svc.SendToPermissions(ctx, []notification.PermissionSend{
			{Tenant: "acme", Permission: domain.PermInventoryAlerts, Draft: draft("a1")},
			{Tenant: "globex", Permission: domain.PermInventoryAlerts, Draft: draft("g1")},
			{Tenant: "acme", Permission: domain.PermInventoryAlerts, Draft: draft("a2")},
			{Tenant: "acme", Permission: domain.PermSalesManage, Draft: draft("s1")},
		})
		require.NoError(t, err)
		require.Len(t, sent, 4)
		users := func(ns []domain.Notification, tenant domain.TenantID) []domain.UserID {
			var out []domain.UserID
			for _, n := range ns {
				require.Equal(t, tenant, n.TenantID)
				out = append(out, n.UserID)
			}
			return out
		}
		require.ElementsMatch(t, []domain.UserID{"alice", "bob"}, users(sent[0], "acme"))
		require.ElementsMatch(t, []domain.UserID{"bob"}, users(sent[1], "globex"))
		require.ElementsMatch(t, []domain.UserID{"alice", "bob"}, users(sent[2], "acme"))
		require.ElementsMatch(t, []domain.UserID{"alice", "carol"}, users(sent[3], "acme"))

		type inbox struct {
			tenant domain.TenantID
			user   domain.UserID
		}
		want := map[inbox][]string{
			{"acme", "alice"}: {"a1", "a2", "s1"},
			{"acme", "bob"}:   {"a1", "a2"},
			{"acme", "carol"}: {"s1"},
			{"globex", "bob"}: {"g1"},
		}
		pushed := map[inbox][]string{}
		for _, u := range f.fan.all() {
			k := inbox{u.TenantID, u.UserID}
			pushed[k] = append(pushed[k], u.Notification.Title)
			require.EqualValues(t, len(pushed[k]), u.Seq, "seqs follow the drafts, and so do the pushes")
			require.Equal(t, len(pushed[k]), u.UnreadCount)
		}
		require.Equal(t, want, pushed)
		for k, titles := range want {
			page, err := f.svc.List(ctx, k.tenant, k.user, notification.ListParams{})
			require.NoError(t, err)
			require.Len(t, page.Data, len(titles), "%v", k)
			for i, n := range page.Data { // newest first
				require.Equal(t, titles[len(titles)-1-i], n.Title)
			}
		}
	})
}

// TestSendToPermissionsJoinsTheCallersTransaction: rolled back with the
// caller's effect, nothing is stored and nothing pushed.
func TestSendToPermissionsJoinsTheCallersTransaction(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		boom := errors.New("effect failed")
		err := f.store.InTx(ctx, func(ctx context.Context) error {
			if _, err := f.svc.SendToPermissions(ctx, []notification.PermissionSend{
				{Tenant: "acme", Permission: domain.PermInventoryAlerts, Draft: draft("x")},
			}); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Empty(t, f.fan.all())
		page, err := f.svc.List(ctx, "acme", "bob", notification.ListParams{})
		require.NoError(t, err)
		require.Empty(t, page.Data)

		// An invalid draft fails the whole send.
		bad := draft("")
		_, err = f.svc.SendToPermissions(ctx, []notification.PermissionSend{
			{Tenant: "acme", Permission: domain.PermInventoryAlerts, Draft: draft("ok")},
			{Tenant: "acme", Permission: domain.PermInventoryAlerts, Draft: bad},
		})
		require.Error(t, err)
		require.Empty(t, f.fan.all())
	})
}
