package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
)

type syncStatus struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Pages    int    `json:"pages"`
	Upserted int    `json:"upserted"`
	Failed   int    `json:"failed"`
	Errors   []struct {
		Message string `json:"message"`
	} `json:"errors"`
	LastError string `json:"last_error"`
}

// fakeERP serves each sync type as one page, the products over two.
func fakeERP(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer erp-key" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		page := r.URL.Query().Get("page")
		switch r.URL.Path + "?" + page {
		case "/v1/products?1":
			fmt.Fprint(w, `{"data": [{"sku": "ANV-1", "name": "Anvil", "price": "120.00", "reorder_level": 2}], "next": 2}`)
		case "/v1/products?2":
			fmt.Fprint(w, `{"data": [{"sku": "BLT-2", "name": "Bolt", "price": "0.40"}], "next": null}`)
		case "/v1/customers?1":
			fmt.Fprint(w, `{"data": [{"email": "buyer@example.com", "name": "Buyer Ltd"}]}`)
		case "/v1/inventory?1":
			fmt.Fprint(w, `{"data": [{"sku": "ANV-1", "on_hand": 7}, {"sku": "BLT-2", "on_hand": 500}]}`)
		case "/v1/orders?1":
			fmt.Fprint(w, `{"data": [{"number": "WEB-1001", "customer_email": "buyer@example.com",
				"lines": [{"sku": "ANV-1", "quantity": 1}, {"sku": "BLT-2", "quantity": 20}]}]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestSyncExternalDataEndToEnd: in each mode, an admin configures the
// tenant's endpoint and syncs products, customers, stock and orders over
// the REST API; workers run the jobs; the ERP rows appear, in that tenant
// only.
func TestSyncExternalDataEndToEnd(t *testing.T) {
	t.Parallel()
	for _, m := range []mode{embedded(), distributed()} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			erp := fakeERP(t)
			cfg := m.cfg(t)
			cfg.Queues.Sleep = 20 * time.Millisecond
			cfg.SyncAllowHosts = []string{"127.0.0.1"}
			a := start(t, cfg)
			admin := token(t, a, "acme", "alice", domain.PermAdmin)
			stranger := token(t, a, "globex", "gina", domain.PermAdmin)

			call(t, a, admin, "PUT", "/api/v1/sync-config", map[string]any{
				"base_url": "http://169.254.169.254/latest/meta-data"}, http.StatusBadRequest, nil)
			call(t, a, admin, "PUT", "/api/v1/sync-config", map[string]any{
				"base_url": erp.URL + "/v1", "auth_header": "Bearer erp-key", "timeout_seconds": 5}, http.StatusOK, nil)

			for _, typ := range []string{"products", "customers", "inventory", "orders"} {
				var created syncStatus
				call(t, a, admin, "POST", "/api/v1/syncs", map[string]any{"type": typ}, http.StatusAccepted, &created)
				var st syncStatus
				require.Eventually(t, func() bool {
					call(t, a, admin, "GET", "/api/v1/syncs/"+created.ID, nil, http.StatusOK, &st)
					return st.Status == "completed" || st.Status == "failed"
				}, 30*time.Second, 20*time.Millisecond, "the %s sync ends", typ)
				require.Equal(t, "completed", st.Status, "%s: %s", typ, st.LastError)
				require.Zero(t, st.Failed, "%s: %+v", typ, st.Errors)
				call(t, a, stranger, "GET", "/api/v1/syncs/"+created.ID, nil, http.StatusNotFound, nil)
			}

			var products struct {
				Data []struct {
					SKU    string `json:"sku"`
					OnHand int64  `json:"on_hand"`
				} `json:"data"`
			}
			call(t, a, admin, "GET", "/api/v1/products", nil, http.StatusOK, &products)
			require.Len(t, products.Data, 2)
			onHand := map[string]int64{}
			for _, p := range products.Data {
				onHand[p.SKU] = p.OnHand
			}
			require.Equal(t, map[string]int64{"ANV-1": 7, "BLT-2": 500}, onHand)
			var orders struct {
				Data []struct {
					Total  string `json:"total"`
					Status string `json:"status"`
				} `json:"data"`
			}
			call(t, a, admin, "GET", "/api/v1/orders", nil, http.StatusOK, &orders)
			require.Len(t, orders.Data, 1)
			require.Equal(t, "pending", orders.Data[0].Status)

			call(t, a, stranger, "GET", "/api/v1/products", nil, http.StatusOK, &products)
			require.Empty(t, products.Data, "nothing crossed into another tenant")
			call(t, a, stranger, "GET", "/api/v1/sync-config", nil, http.StatusNotFound, nil)
		})
	}
}

func TestBadSyncAllowHostsRefusesToStart(t *testing.T) {
	t.Parallel()
	_, err := app.New(context.Background(), app.Config{
		Addr: "127.0.0.1:0", DatabaseURL: filepath.Join(t.TempDir(), "notifyhub.db"), SyncAllowHosts: []string{"10.0.0.0/99"},
	})
	require.ErrorContains(t, err, "NOTIFYHUB_SYNC_ALLOW_HOSTS")
}
