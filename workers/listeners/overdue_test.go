package listeners_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/listeners"
)

func overdueEvent(t *testing.T, tenant domain.TenantID, days int, outstanding string) domain.Event {
	t.Helper()
	ev, err := domain.NewEvent(tenant, domain.SystemUserID, time.Now(), invoice.InvoiceOverdue{
		InvoiceID: domain.NewID(), Number: "INV-000042", CustomerID: domain.NewID(), CustomerName: "Umbrella <Corp>",
		Total: decimal.RequireFromString("120.50"), Outstanding: decimal.RequireFromString(outstanding),
		DueDate: "2026-04-01", DaysOverdue: days, Threshold: days,
	})
	require.NoError(t, err)
	return ev
}

func TestSendOverdueInvoiceReminder(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			seedDetectorUsers(t, s,
				domain.User{TenantID: "acme", ID: "bob", Perms: []string{domain.PermInvoicesManage}},
				domain.User{TenantID: "acme", ID: "alice", Perms: []string{domain.PermAdmin}},
				domain.User{TenantID: "acme", ID: "carol", Perms: []string{domain.PermSalesManage}},
				domain.User{TenantID: "globex", ID: "bob", Perms: []string{domain.PermInvoicesManage}},
			)
			l := listeners.SendOverdueInvoiceReminder{Store: s, Notifier: detectorNotifier(t, s)}
			require.Equal(t, []string{"InvoiceOverdue"}, l.Events())
			ev := overdueEvent(t, "acme", 7, "100.5")
			require.NoError(t, l.Handle(ctx, ev))
			require.NoError(t, l.Handle(ctx, ev), "a redelivered event is not an error")

			var e invoice.InvoiceOverdue
			require.NoError(t, ev.Decode(&e))
			for _, user := range []domain.UserID{"bob", "alice"} {
				got := inbox(t, s, "acme", user)
				require.Len(t, got, 1, "%s is reminded exactly once", user)
				n := got[0]
				require.Equal(t, notification.TypeReminder, n.Type)
				require.Equal(t, domain.SeverityWarning, n.Severity)
				require.Equal(t, "Invoice INV-000042 is 7 days overdue", n.Title)
				require.Equal(t, "Umbrella <Corp> still owes 100.50 on invoice INV-000042, due on 2026-04-01.", n.Body)
				require.Equal(t, "/invoices/"+e.InvoiceID, n.ActionURL)
				var data map[string]any
				require.NoError(t, json.Unmarshal(n.Data, &data))
				for k, want := range map[string]any{
					"invoice_id": e.InvoiceID, "number": "INV-000042", "customer_id": e.CustomerID,
					"customer_name": "Umbrella <Corp>", "outstanding": "100.5", "due_date": "2026-04-01",
					"days_overdue": float64(7),
				} {
					require.Equal(t, want, data[k], k)
				}
			}
			require.Empty(t, inbox(t, s, "acme", "carol"), "no invoices.manage: nothing")
			require.Empty(t, inbox(t, s, "globex", "bob"), "another tenant: nothing")

			// One day; an amount with more than two decimals is shown whole.
			require.NoError(t, l.Handle(ctx, overdueEvent(t, "acme", 1, "0.1234")))
			n := inbox(t, s, "acme", "bob")[0]
			require.Equal(t, "Invoice INV-000042 is 1 day overdue", n.Title)
			require.Contains(t, n.Body, "owes 0.1234 on")

			bad := ev
			bad.ID = domain.NewID()
			bad.Payload = json.RawMessage(`{"outstanding": "lots"}`)
			require.Error(t, l.Handle(ctx, bad))
			require.Len(t, inbox(t, s, "acme", "bob"), 2)
		})
	}
}
