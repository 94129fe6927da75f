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

func expiringEvent(t *testing.T, tenant domain.TenantID, days int) domain.Event {
	t.Helper()
	ev, err := domain.NewEvent(tenant, domain.SystemUserID, time.Now(), inventory.StockExpiring{
		ProductID: domain.NewID(), SKU: "CH-1", Name: "Oak chair", LocationID: domain.NewID(), LocationCode: "main",
		BatchNumber: "L-42", ExpiryDate: "2026-05-15", Quantity: 12, DaysRemaining: days, Threshold: 7,
	})
	require.NoError(t, err)
	return ev
}

func detectorNotifier(t *testing.T, s *sqlstore.Store) *notification.Service {
	t.Helper()
	fan, err := memory.New(memory.Config{})
	require.NoError(t, err)
	return notification.NewService(s, fan, nil, nil)
}

func seedDetectorUsers(t *testing.T, s *sqlstore.Store, users ...domain.User) {
	t.Helper()
	for _, u := range users {
		require.NoError(t, s.UpsertUser(context.Background(), u))
	}
}

func TestSendStockExpiryAlert(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			seedDetectorUsers(t, s,
				domain.User{TenantID: "acme", ID: "bob", Perms: []string{domain.PermInventoryAlerts}},
				domain.User{TenantID: "acme", ID: "alice", Perms: []string{domain.PermAdmin}},
				domain.User{TenantID: "acme", ID: "carol", Perms: []string{domain.PermInventoryManage}},
				domain.User{TenantID: "globex", ID: "bob", Perms: []string{domain.PermInventoryAlerts}},
			)
			l := listeners.SendStockExpiryAlert{Store: s, Notifier: detectorNotifier(t, s)}
			require.Equal(t, []string{"StockExpiring"}, l.Events())
			ev := expiringEvent(t, "acme", 5)

			require.NoError(t, l.Handle(ctx, ev))
			require.NoError(t, l.Handle(ctx, ev), "a redelivered event is not an error")

			for _, user := range []domain.UserID{"bob", "alice"} {
				got := inbox(t, s, "acme", user)
				require.Len(t, got, 1, "%s gets the alert exactly once", user)
				n := got[0]
				require.Equal(t, notification.TypeStockExpiry, n.Type)
				require.Equal(t, domain.SeverityCritical, n.Severity)
				require.Equal(t, "Batch L-42 of Oak chair expires in 5 days", n.Title)
				require.Equal(t, "12 units of Oak chair (CH-1, batch L-42) at main expire on 2026-05-15.", n.Body)
				var e inventory.StockExpiring
				require.NoError(t, ev.Decode(&e))
				require.Equal(t, "/products/"+e.ProductID, n.ActionURL)
				var data map[string]any
				require.NoError(t, json.Unmarshal(n.Data, &data))
				for k, want := range map[string]any{
					"product_id": e.ProductID, "sku": "CH-1", "name": "Oak chair", "location_id": e.LocationID,
					"location_code": "main", "batch_number": "L-42", "expiry_date": "2026-05-15",
					"quantity": float64(12), "days_remaining": float64(5),
				} {
					require.Equal(t, want, data[k], k)
				}
			}
			require.Empty(t, inbox(t, s, "acme", "carol"), "no inventory.alerts: nothing")
			require.Empty(t, inbox(t, s, "globex", "bob"), "another tenant: nothing")

			bad := ev
			bad.ID = domain.NewID()
			bad.Payload = json.RawMessage(`{"days_remaining": "soon"}`)
			require.Error(t, l.Handle(ctx, bad))
			require.Len(t, inbox(t, s, "acme", "bob"), 1)
		})
	}
}

func TestStockExpirySeverityAndTitles(t *testing.T) {
	t.Parallel()
	for days, want := range map[int]domain.Severity{
		-3: domain.SeverityCritical, 0: domain.SeverityCritical, 7: domain.SeverityCritical,
		8: domain.SeverityWarning, 30: domain.SeverityWarning, 31: domain.SeverityInfo, 90: domain.SeverityInfo,
	} {
		require.Equal(t, want, listeners.ExpirySeverity(days), "%d days", days)
	}

	s := storetest.OpenSQLite(t)
	ctx := context.Background()
	seedDetectorUsers(t, s, domain.User{TenantID: "acme", ID: "bob", Perms: []string{domain.PermInventoryAlerts}})
	l := listeners.SendStockExpiryAlert{Store: s, Notifier: detectorNotifier(t, s)}
	cases := []struct {
		batch string
		name  string
		days  int
		title string
		body  string
	}{
		{"L-42", "Oak chair", -3, "Batch L-42 of Oak chair expired",
			"12 units of Oak chair (CH-1, batch L-42) at main expired on 2026-05-15, 3 days ago."},
		{"L-42", "Oak chair", 0, "Batch L-42 of Oak chair expires today",
			"12 units of Oak chair (CH-1, batch L-42) at main expire today (2026-05-15)."},
		{"L-42", "Oak chair", 1, "Batch L-42 of Oak chair expires tomorrow", ""},
		{"", "Oak chair", 30, "Stock of Oak chair expires in 30 days",
			"12 units of Oak chair (CH-1) at main expire on 2026-05-15."},
		{"L-1", strings.Repeat("é", 200), 90, "", ""},
	}
	for _, tc := range cases {
		ev, err := domain.NewEvent("acme", domain.SystemUserID, time.Now(), inventory.StockExpiring{
			ProductID: domain.NewID(), SKU: "CH-1", Name: tc.name, LocationCode: "main", BatchNumber: tc.batch,
			ExpiryDate: "2026-05-15", Quantity: 12, DaysRemaining: tc.days, Threshold: 0})
		require.NoError(t, err)
		require.NoError(t, l.Handle(ctx, ev))
		n := inbox(t, s, "acme", "bob")[0] // newest first
		require.Equal(t, listeners.ExpirySeverity(tc.days), n.Severity)
		if tc.title != "" {
			require.Equal(t, tc.title, n.Title)
		} else {
			require.Equal(t, notification.MaxTitleLen, utf8.RuneCountInString(n.Title), "clipped to fit")
			require.True(t, strings.HasSuffix(n.Title, "…"))
		}
		if tc.body != "" {
			require.Equal(t, tc.body, n.Body)
		}
	}
}
