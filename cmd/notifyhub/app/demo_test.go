package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/cmd/notifyhub/demo"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// TestDemoDrivesEveryWorkflow runs the demo fast and checks that its
// traffic, going through the real services, makes every ERP notification
// it can reach arrive where it should, and that no listener failed.
func TestDemoDrivesEveryWorkflow(t *testing.T) {
	t.Parallel()
	cfg := embedded().cfg(t)
	cfg.Demo = true
	cfg.DemoInterval = 20 * time.Millisecond
	cfg.SchedulerInterval = time.Second
	a := start(t, cfg)

	inboxes := map[domain.UserID][]string{
		"carol": {notification.TypeOrderStatus, notification.TypeInvoiceGenerated, notification.TypePaymentReceived},
		"erin":  {notification.TypePaymentReceived, notification.TypePurchaseOrderApproved},
		"dave":  {notification.TypeLowStock, notification.TypePurchaseOrderApproved, notification.TypeStockExpiry},
		"bob":   {notification.TypeLowStock, notification.TypeStockExpiry},
	}
	for user, want := range inboxes {
		tok := demoToken(t, a, user)
		have := map[string]bool{}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s had %v", user, have)
			}
		})
		eventually(t, string(user)+"'s notifications", func() bool {
			clear(have)
			for _, n := range wholeInbox(t, a, tok) {
				have[n.Type] = true
			}
			for _, typ := range want {
				if !have[typ] {
					return false
				}
			}
			return true
		})
	}
	// Carol sells but holds no inventory.alerts: no stock alert reaches her.
	carol := wholeInbox(t, a, demoToken(t, a, "carol"))
	require.Zero(t, countType(carol, notification.TypeLowStock))
	require.Zero(t, countType(carol, notification.TypeStockExpiry))

	failed, err := a.Store().ListFailedJobs(context.Background(), 100)
	require.NoError(t, err)
	require.Empty(t, failed, "a listener failed on demo traffic")

	// Shipping is one random step among several, so the inboxes above can
	// be complete before any order has shipped: wait for one.
	admin := token(t, a, "acme", "alice", domain.PermAdmin)
	eventually(t, "a fulfilled order", func() bool {
		var orders struct {
			Data []orderJSON `json:"data"`
		}
		call(t, a, admin, "GET", "/api/v1/orders?status=fulfilled", nil, http.StatusOK, &orders)
		return len(orders.Data) > 0
	})
}

// wholeInbox pages through a user's whole inbox.
func wholeInbox(t *testing.T, a *app.App, tok string) []notificationJSON {
	t.Helper()
	var all []notificationJSON
	before := ""
	for {
		var page struct {
			Data       []notificationJSON `json:"data"`
			NextBefore *string            `json:"next_before"`
		}
		call(t, a, tok, "GET", "/api/v1/notifications?limit=200&before="+before, nil, http.StatusOK, &page)
		all = append(all, page.Data...)
		if page.NextBefore == nil {
			return all
		}
		before = *page.NextBefore
	}
}

// demoToken signs a token with the demo user's own permissions: a token
// with others would change them (the first request of new claims updates
// the user).
func demoToken(t *testing.T, a *app.App, user domain.UserID) string {
	t.Helper()
	for _, u := range demo.Users {
		if u.ID == user {
			return token(t, a, u.TenantID, u.ID, u.Perms...)
		}
	}
	t.Fatalf("no demo user %s", user)
	return ""
}
