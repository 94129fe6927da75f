package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	cfg.DemoInterval = 10 * time.Millisecond
	cfg.SchedulerInterval = time.Second
	a := start(t, cfg)

	inboxes := map[domain.UserID][]string{
		"carol": {notification.TypeOrderStatus, notification.TypeInvoiceGenerated, notification.TypePaymentReceived},
		"erin":  {notification.TypePaymentReceived, notification.TypePurchaseOrderApproved},
		"dave":  {notification.TypeLowStock, notification.TypePurchaseOrderApproved, notification.TypeStockExpiry},
		"bob":   {notification.TypeLowStock, notification.TypeStockExpiry},
	}
	for user, want := range inboxes {
		tok := token(t, a, "acme", user)
		eventually(t, string(user)+"'s notifications", func() bool {
			have := map[string]bool{}
			for _, n := range inboxOf(t, a, tok) {
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
	carol := inboxOf(t, a, token(t, a, "acme", "carol"))
	require.Zero(t, countType(carol, notification.TypeLowStock))
	require.Zero(t, countType(carol, notification.TypeStockExpiry))

	failed, err := a.Store().ListFailedJobs(context.Background(), 100)
	require.NoError(t, err)
	require.Empty(t, failed, "a listener failed on demo traffic")

	var orders struct {
		Data []orderJSON `json:"data"`
	}
	call(t, a, token(t, a, "acme", "alice", domain.PermAdmin), "GET", "/api/v1/orders?status=fulfilled", nil, http.StatusOK, &orders)
	require.NotEmpty(t, orders.Data)
}
