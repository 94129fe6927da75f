package listeners_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/hub/broker/memory"
	"github.com/notifyhub/notifyhub/workers/listeners"
)

func lowStockEvent(t *testing.T, tenant domain.TenantID) domain.Event {
	t.Helper()
	ev, err := domain.NewEvent(tenant, "alice", time.Now(), inventory.LowStockDetected{
		ProductID: domain.NewID(), SKU: "CH-1", Name: "Oak <chair>", OnHand: 3, ReorderLevel: 5,
		LocationID: domain.NewID(), LocationCode: "main", LocationName: "Main",
	})
	require.NoError(t, err)
	return ev
}

func inbox(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, user domain.UserID) []domain.Notification {
	t.Helper()
	items, err := s.ListNotifications(context.Background(), tenant, user, notification.ListParams{Status: notification.StatusAll, Limit: 100})
	require.NoError(t, err)
	return items
}

func TestSendLowStockNotification(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			for _, u := range []domain.User{
				{TenantID: "acme", ID: "bob", Perms: []string{domain.PermInventoryAlerts}},
				{TenantID: "acme", ID: "alice", Perms: []string{domain.PermAdmin}},
				{TenantID: "acme", ID: "carol", Perms: []string{domain.PermSalesManage}},
				{TenantID: "globex", ID: "bob", Perms: []string{domain.PermInventoryAlerts}},
			} {
				require.NoError(t, s.UpsertUser(ctx, u))
			}
			fan, err := memory.New(memory.Config{})
			require.NoError(t, err)
			l := listeners.SendLowStockNotification{Store: s, Notifier: notification.NewService(s, fan, nil, nil)}
			ev := lowStockEvent(t, "acme")

			require.NoError(t, l.Handle(ctx, ev))
			require.NoError(t, l.Handle(ctx, ev), "a redelivered event is not an error")

			for _, user := range []domain.UserID{"bob", "alice"} {
				got := inbox(t, s, "acme", user)
				require.Len(t, got, 1, "%s gets the alert exactly once", user)
				n := got[0]
				require.Equal(t, notification.TypeLowStock, n.Type)
				require.Equal(t, domain.SeverityWarning, n.Severity)
				require.Equal(t, "Low stock: Oak <chair>", n.Title)
				var data listeners.LowStockData
				require.NoError(t, json.Unmarshal(n.Data, &data))
				require.Equal(t, "CH-1", data.SKU)
				require.EqualValues(t, 3, data.CurrentQuantity)
				require.EqualValues(t, 5, data.MinimumQuantity)
				require.Equal(t, "Main", data.Location)
				require.Equal(t, ev.ID, data.EventID)
			}
			require.Empty(t, inbox(t, s, "acme", "carol"), "no inventory.alerts: nothing")
			require.Empty(t, inbox(t, s, "globex", "bob"), "another tenant: nothing")

			// A malformed payload is an error for the runner to retry and
			// finally record, never a panic.
			bad := ev
			bad.ID = domain.NewID()
			bad.Payload = json.RawMessage(`{"on_hand": "many"}`)
			require.Error(t, l.Handle(ctx, bad))
		})
	}
}

func TestLowStockTitleFitsForLongNames(t *testing.T) {
	t.Parallel()
	s := storetest.OpenSQLite(t)
	ctx := context.Background()
	require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: "acme", ID: "bob", Perms: []string{domain.PermInventoryAlerts}}))
	fan, err := memory.New(memory.Config{})
	require.NoError(t, err)
	l := listeners.SendLowStockNotification{Store: s, Notifier: notification.NewService(s, fan, nil, nil)}
	long := strings.Repeat("é", 200) // the longest product name there is
	ev, err := domain.NewEvent("acme", "alice", time.Now(), inventory.LowStockDetected{
		ProductID: domain.NewID(), SKU: "L", Name: long, OnHand: 1, ReorderLevel: 2})
	require.NoError(t, err)
	require.NoError(t, l.Handle(ctx, ev))
	got := inbox(t, s, "acme", "bob")
	require.Len(t, got, 1)
	require.Equal(t, notification.MaxTitleLen, utf8.RuneCountInString(got[0].Title))
	require.True(t, strings.HasSuffix(got[0].Title, "…"))
}
