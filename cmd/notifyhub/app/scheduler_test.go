package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/scheduler"
)

// TestScheduledDetectorsNotifyOnce: in each mode (two processes running
// the scheduler role in the distributed one), a batch received a few days
// before its expiry and an invoice past its due date each reach the right
// users once, while the detectors keep running every second.
func TestScheduledDetectorsNotifyOnce(t *testing.T) {
	t.Parallel()
	require.Contains(t, app.AllRoles, app.RoleScheduler, "serve runs the scheduler")
	for _, m := range []mode{embedded(), distributed()} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			cfg := m.cfg(t)
			cfg.SchedulerInterval = time.Second
			cfg.Scheduler = scheduler.Config{StartDelay: 10 * time.Millisecond}
			a := start(t, cfg)
			b := a
			if m.name == "distributed" {
				b = start(t, cfg)
			}
			admin := token(t, a, "acme", "alice", domain.PermAdmin)
			bob := dial(t, b, token(t, b, "acme", "bob", domain.PermInventoryAlerts), "")
			ivy := dial(t, b, token(t, b, "acme", "ivy", domain.PermInvoicesManage), "")
			otherBob := dial(t, b, token(t, b, "globex", "bob", domain.PermAdmin), "")
			for _, c := range []*client{bob, ivy, otherBob} {
				require.Equal(t, "unread_count", c.next().Type)
			}

			var p productJSON
			call(t, a, admin, "POST", "/api/v1/products", map[string]any{
				"sku": "MILK-1", "name": "Oat milk", "price": "2.50", "reorder_level": 0,
			}, http.StatusCreated, &p)
			expires := time.Now().UTC().AddDate(0, 0, 5).Format(time.DateOnly)
			call(t, a, admin, "POST", "/api/v1/stock-movements", map[string]any{
				"product_id": p.ID, "quantity": 24, "batch_number": "L-42", "expiry_date": expires, "reason": "receipt",
			}, http.StatusCreated, nil)
			invoiceID := storetest.SeedInvoice(t, a.Store(), storetest.InvoiceSeed{Tenant: "acme", Number: "INV-000007",
				CustomerName: "Umbrella", Total: "300.00", AmountPaid: "50", DueDate: time.Now().UTC().AddDate(0, 0, -8)})

			n := bob.nextNotification()
			require.Equal(t, "StockExpiryNotification", n.Type)
			require.Equal(t, "critical", n.Severity)
			require.Contains(t, []string{"Batch L-42 of Oat milk expires in 5 days", "Batch L-42 of Oat milk expires in 4 days"}, n.Title)
			require.Equal(t, "/products/"+p.ID, n.ActionURL)
			var data map[string]any
			require.NoError(t, json.Unmarshal(n.Data, &data))
			require.Equal(t, "L-42", data["batch_number"])
			require.EqualValues(t, 24, data["quantity"])

			r := ivy.nextNotification()
			require.Equal(t, "ReminderNotification", r.Type)
			require.Equal(t, "warning", r.Severity)
			require.Equal(t, "/invoices/"+invoiceID, r.ActionURL)
			require.NoError(t, json.Unmarshal(r.Data, &data))
			require.Equal(t, "250", data["outstanding"])
			require.Equal(t, "INV-000007", data["number"])

			// Let the detectors run a few more times (in every process),
			// then check that nothing more came: the next thing each
			// receives is a marker sent now.
			waitForRuns(t, a, 3)
			if b != a {
				waitForRuns(t, b, 3)
			}
			for _, who := range []struct {
				c      *client
				tenant domain.TenantID
				user   domain.UserID
			}{{bob, "acme", "bob"}, {ivy, "acme", "ivy"}, {otherBob, "globex", "bob"}} {
				_, err := a.Notifications.SendToUsers(context.Background(), who.tenant, []domain.UserID{who.user},
					notification.Draft{Type: "AlertNotification", Severity: domain.SeverityInfo, Title: "marker"})
				require.NoError(t, err)
				require.Equal(t, "marker", who.c.nextNotification().Title, "%s/%s got a repeat or a foreign alert", who.tenant, who.user)
			}
		})
	}
}

// waitForRuns waits until the stock-expiry detector of a has completed n
// more successful runs, read from its /metrics.
func waitForRuns(t *testing.T, a *app.App, n int) {
	t.Helper()
	first := schedulerRuns(a)
	require.GreaterOrEqual(t, first, 0, "no scheduler series in /metrics")
	require.Eventually(t, func() bool { return schedulerRuns(a) >= first+n }, 30*time.Second, 50*time.Millisecond)
}

// metricValue reads one series (name with its labels) from a's /metrics;
// -1 when it is not there.
func metricValue(a *app.App, series string) int {
	res, err := http.Get(a.URL() + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return int(f)
			}
		}
	}
	return -1
}

// schedulerRuns reads the successful runs of the stock-expiry detector
// from a's /metrics; -1 when it cannot. It runs inside Eventually, on
// another goroutine, so it does not use require.
func schedulerRuns(a *app.App) int {
	res, err := http.Get(a.URL() + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return -1
	}
	const series = `notifyhub_scheduler_runs_total{detector="stock_expiry",result="success"} `
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			return int(f)
		}
	}
	return -1
}
