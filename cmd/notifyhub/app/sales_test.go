package app_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
)

// TestOrderLifecycle: in each mode, an order approved and fulfilled through
// the API tells its creator twice (info, then success) over the socket; the
// fulfilment takes the stock out (which here crosses the reorder level, so
// the inventory.alerts holder hears of it) and the customer's statistics
// follow, all through the relay, the stream and the listeners.
func TestOrderLifecycle(t *testing.T) {
	t.Parallel()
	for _, m := range []mode{embedded(), distributed()} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			a := start(t, m.cfg(t))
			admin := token(t, a, "acme", "root", domain.PermAdmin)
			samTok := token(t, a, "acme", "sam", domain.PermSalesManage)
			annTok := token(t, a, "acme", "ann", domain.PermSalesApprove)
			sam := dial(t, a, samTok, "")
			bob := dial(t, a, token(t, a, "acme", "bob", domain.PermInventoryAlerts), "")
			for _, c := range []*client{sam, bob} {
				require.Equal(t, "unread_count", c.next().Type)
			}

			var customer struct {
				ID string `json:"id"`
			}
			call(t, a, admin, "POST", "/api/v1/customers", map[string]any{"name": "Buyer", "email": "buyer@example.com"}, http.StatusCreated, &customer)
			var p productJSON
			call(t, a, admin, "POST", "/api/v1/products", map[string]any{
				"sku": "CH-1", "name": "Oak chair", "price": "89.00", "reorder_level": 5,
			}, http.StatusCreated, &p)
			movement(t, a, admin, p.ID, 8)

			var order struct {
				ID     string `json:"id"`
				Number string `json:"number"`
				Status string `json:"status"`
			}
			call(t, a, samTok, "POST", "/api/v1/orders", map[string]any{
				"customer_id": customer.ID, "lines": []map[string]any{{"product_id": p.ID, "quantity": 4}},
			}, http.StatusCreated, &order)
			require.Equal(t, "SO-000001", order.Number)

			call(t, a, annTok, "POST", "/api/v1/orders/"+order.ID+"/approve", nil, http.StatusOK, &order)
			// Approval also makes the invoice, whose notification goes to sam too.
			n := sam.collect(map[string]int{"OrderStatusNotification": 1, "InvoiceGeneratedNotification": 1})["OrderStatusNotification"][0]
			require.Equal(t, "info", n.Severity)
			require.Equal(t, "/orders/"+order.ID, n.ActionURL)
			var data map[string]any
			require.NoError(t, json.Unmarshal(n.Data, &data))
			require.Equal(t, "approved", data["status"])
			require.Equal(t, "356", data["total"])

			call(t, a, samTok, "POST", "/api/v1/orders/"+order.ID+"/fulfill", nil, http.StatusOK, &order)
			require.Equal(t, "fulfilled", order.Status)
			n = sam.collect(map[string]int{"OrderStatusNotification": 1})["OrderStatusNotification"][0]
			require.Equal(t, "success", n.Severity)
			require.NoError(t, json.Unmarshal(n.Data, &data))
			require.Equal(t, "fulfilled", data["status"])

			// 8 → 4 on hand: below the reorder level of 5.
			low := bob.nextNotification()
			require.Equal(t, "LowStockNotification", low.Type)
			require.NoError(t, json.Unmarshal(low.Data, &data))
			require.EqualValues(t, 4, data["current_quantity"])
			call(t, a, admin, "GET", "/api/v1/products/"+p.ID, nil, http.StatusOK, &p)
			require.EqualValues(t, 4, p.OnHand)

			// Statistics are recomputed by their own listener. The condition
			// runs on another goroutine: it reports, it does not fail.
			require.Eventually(t, func() bool {
				var c struct {
					Statistics struct {
						TotalOrders int     `json:"total_orders"`
						LastOrderAt *string `json:"last_order_at"`
					} `json:"statistics"`
				}
				return getJSON(a, admin, "/api/v1/customers/"+customer.ID, &c) &&
					c.Statistics.TotalOrders == 1 && c.Statistics.LastOrderAt != nil
			}, 20*time.Second, 50*time.Millisecond)
		})
	}
}

// getJSON is a GET that reports success instead of failing the test, for
// conditions polled from another goroutine.
func getJSON(a *app.App, tok, path string, out any) bool {
	req, err := http.NewRequest(http.MethodGet, a.URL()+path, nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	return res.StatusCode == http.StatusOK && json.NewDecoder(res.Body).Decode(out) == nil
}
