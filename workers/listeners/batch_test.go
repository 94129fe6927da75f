package listeners_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/hub/broker/memory"
	"github.com/notifyhub/notifyhub/workers/listeners"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// The listeners that send one draft to a permission's holders commit a
// read's events together.
var (
	_ runner.BatchListener = listeners.SendLowStockNotification{}
	_ runner.BatchListener = listeners.SendStockExpiryAlert{}
	_ runner.BatchListener = listeners.SendOverdueInvoiceReminder{}
)

// TestLowStockBatch: a batch with events of two tenants, one of them
// already handled alone and one delivered twice, leaves each event's
// alert exactly once with the holders of its own tenant, in event order;
// the same batch again changes nothing; a batch with a malformed event
// stores nothing at all (the runner then handles each event alone).
func TestLowStockBatch(t *testing.T) {
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
				{TenantID: "globex", ID: "dave", Perms: []string{domain.PermSalesManage}},
			} {
				require.NoError(t, s.UpsertUser(ctx, u))
			}
			fan, err := memory.New(memory.Config{})
			require.NoError(t, err)
			l := listeners.SendLowStockNotification{Store: s, Notifier: notification.NewService(s, fan, nil, nil)}

			a1, g1, a2, a3 := lowStockEvent(t, "acme"), lowStockEvent(t, "globex"), lowStockEvent(t, "acme"), lowStockEvent(t, "acme")
			require.NoError(t, l.Handle(ctx, a2), "handled alone before the batch")
			batch := []domain.Event{a1, g1, a2, a3, a1}
			require.NoError(t, l.HandleBatch(ctx, batch))
			require.NoError(t, l.HandleBatch(ctx, batch), "a redelivered batch is not an error")

			eventIDs := func(tenant domain.TenantID, user domain.UserID) []string {
				var ids []string
				got := inbox(t, s, tenant, user)
				for i := len(got) - 1; i >= 0; i-- { // oldest first
					var data listeners.LowStockData
					require.NoError(t, json.Unmarshal(got[i].Data, &data))
					ids = append(ids, data.EventID)
					require.EqualValues(t, len(got)-i, got[i].Seq)
				}
				return ids
			}
			for _, user := range []domain.UserID{"bob", "alice"} {
				require.Equal(t, []string{a2.ID, a1.ID, a3.ID}, eventIDs("acme", user), "%s: each alert once, in order", user)
			}
			require.Equal(t, []string{g1.ID}, eventIDs("globex", "bob"))
			require.Empty(t, inbox(t, s, "acme", "carol"))
			require.Empty(t, inbox(t, s, "globex", "dave"))

			bad := lowStockEvent(t, "acme")
			bad.Payload = json.RawMessage(`{"on_hand": "many"}`)
			a4 := lowStockEvent(t, "acme")
			require.Error(t, l.HandleBatch(ctx, []domain.Event{a4, bad}))
			require.Len(t, inbox(t, s, "acme", "bob"), 3, "nothing of a failed batch stays")
			require.NoError(t, l.Handle(ctx, a4), "the good event alone, as the runner does")
			require.Len(t, inbox(t, s, "acme", "bob"), 4)
		})
	}
}

// TestExpiryAndOverdueBatches: the other permission alerts batch the same
// way, exactly once per event.
func TestExpiryAndOverdueBatches(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			for _, u := range []domain.User{
				{TenantID: "acme", ID: "bob", Perms: []string{domain.PermInventoryAlerts, domain.PermInvoicesManage}},
				{TenantID: "globex", ID: "bob", Perms: []string{domain.PermInventoryAlerts, domain.PermInvoicesManage}},
			} {
				require.NoError(t, s.UpsertUser(ctx, u))
			}
			fan, err := memory.New(memory.Config{})
			require.NoError(t, err)
			n := notification.NewService(s, fan, nil, nil)
			expiry := listeners.SendStockExpiryAlert{Store: s, Notifier: n}
			overdue := listeners.SendOverdueInvoiceReminder{Store: s, Notifier: n}
			e1, e2 := expiringEvent(t, "acme", 3), expiringEvent(t, "globex", 20)
			o1, o2 := overdueEvent(t, "acme", 5, "10.00"), overdueEvent(t, "acme", 9, "20.00")
			for range 2 {
				require.NoError(t, expiry.HandleBatch(ctx, []domain.Event{e1, e2}))
				require.NoError(t, overdue.HandleBatch(ctx, []domain.Event{o1, o2}))
			}
			types := func(tenant domain.TenantID) map[string]int {
				out := map[string]int{}
				for _, n := range inbox(t, s, tenant, "bob") {
					out[n.Type]++
				}
				return out
			}
			require.Equal(t, map[string]int{notification.TypeStockExpiry: 1, notification.TypeReminder: 2}, types("acme"))
			require.Equal(t, map[string]int{notification.TypeStockExpiry: 1}, types("globex"))
		})
	}
}
