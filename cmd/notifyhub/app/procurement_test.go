package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// TestPurchaseOrderFlow: in each mode, through the wired app, a purchase
// order is created, approved on one process and received; the approval
// reaches the requester's and the approvers' sockets (on another process)
// as one notification each, and the receipt puts the goods on hand.
func TestPurchaseOrderFlow(t *testing.T) {
	t.Parallel()
	for _, m := range []mode{embedded(), distributed()} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			cfg := m.cfg(t)
			a := start(t, cfg)
			b := a
			if m.name == "distributed" {
				b = start(t, cfg)
			}
			buyerTok := token(t, b, "acme", "bea", domain.PermProcurementManage, domain.PermProductsManage, domain.PermProcurementApprove)
			buyer := dial(t, b, buyerTok, "")
			approverTok := token(t, a, "acme", "abe", domain.PermProcurementApprove)
			approver := dial(t, b, approverTok, "")
			clerkTok := token(t, a, "acme", "cal", domain.PermInventoryManage)
			clerk := dial(t, b, clerkTok, "")
			for _, c := range []*client{buyer, approver, clerk} {
				require.Equal(t, "unread_count", c.next().Type)
			}

			var p productJSON
			call(t, a, buyerTok, "POST", "/api/v1/products", map[string]any{"sku": "BOLT", "name": "Bolt", "price": "0.40"}, http.StatusCreated, &p)
			var vendor struct{ ID string }
			call(t, a, buyerTok, "POST", "/api/v1/vendors", map[string]any{"name": "Steel"}, http.StatusCreated, &vendor)
			var po struct {
				ID     string `json:"id"`
				Number string `json:"number"`
				Status string `json:"status"`
			}
			call(t, a, buyerTok, "POST", "/api/v1/purchase-orders", map[string]any{"vendor_id": vendor.ID,
				"lines": []map[string]any{{"product_id": p.ID, "quantity": 500, "unit_cost": "0.1225"}}}, http.StatusCreated, &po)
			call(t, a, approverTok, "POST", "/api/v1/purchase-orders/"+po.ID+"/approve", nil, http.StatusOK, &po)
			require.Equal(t, "approved", po.Status)

			for _, c := range []*client{buyer, approver} {
				n := c.nextNotification()
				require.Equal(t, "PurchaseOrderApprovedNotification", n.Type)
				require.Equal(t, "success", n.Severity)
				require.Equal(t, "/purchase-orders/"+po.ID, n.ActionURL)
				var data map[string]any
				require.NoError(t, json.Unmarshal(n.Data, &data))
				require.Equal(t, "PO-000001", data["number"])
				require.Equal(t, "61.25", data["total"])
				require.Equal(t, "Steel", data["vendor_name"])
			}

			call(t, a, clerkTok, "POST", "/api/v1/purchase-orders/"+po.ID+"/receipts",
				map[string]any{"lines": []map[string]any{{"line_no": 1, "quantity": 500}}}, http.StatusCreated, nil)
			call(t, b, clerkTok, "GET", "/api/v1/products/"+p.ID, nil, http.StatusOK, &p)
			require.EqualValues(t, 500, p.OnHand)
			call(t, b, clerkTok, "GET", "/api/v1/purchase-orders/"+po.ID, nil, http.StatusOK, &po)
			require.Equal(t, "received", po.Status)

			// The buyer, also an approver, was told once; the clerk not at
			// all: the next thing each gets is a marker sent now.
			for _, who := range []struct {
				c    *client
				user domain.UserID
			}{{buyer, "bea"}, {clerk, "cal"}} {
				_, err := a.Notifications.SendToUsers(context.Background(), "acme", []domain.UserID{who.user},
					notification.Draft{Type: "AlertNotification", Severity: domain.SeverityInfo, Title: "marker"})
				require.NoError(t, err)
				require.Equal(t, "marker", who.c.nextNotification().Title, who.user)
			}
		})
	}
}
