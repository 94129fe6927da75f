package web_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func TestBatchesAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		mgr := token(t, "acme", "wh", domain.PermProductsManage, domain.PermInventoryManage)
		reader := token(t, "acme", "viewer")
		other := token(t, "globex", "root", domain.PermAdmin)
		pid := createProduct(t, f, mgr, "B-1")["id"].(string)
		soon := time.Now().UTC().AddDate(0, 0, 3).Format(time.DateOnly)
		move := func(body map[string]any) {
			t.Helper()
			body["product_id"], body["reason"] = pid, "test"
			raw, err := json.Marshal(body)
			require.NoError(t, err)
			rec := f.call(t, http.MethodPost, "/api/v1/stock-movements", mgr, string(raw))
			require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		}
		move(map[string]any{"quantity": 10, "batch_number": "L-2", "expiry_date": "2030-01-31"})
		move(map[string]any{"quantity": 4, "batch_number": `L-1 <"'>`, "expiry_date": soon})
		move(map[string]any{"quantity": 5})  // untracked
		move(map[string]any{"quantity": -6}) // first expiry first: L-1 emptied, 2 from L-2

		page := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/products/"+pid+"/batches", reader, ""))
		require.Nil(t, page.Next)
		require.Len(t, page.Data, 1)
		b := page.Data[0]
		require.Equal(t, "L-2", b["batch_number"])
		require.Equal(t, "2030-01-31", b["expiry_date"])
		require.EqualValues(t, 8, b["quantity"])
		require.Equal(t, pid, b["product_id"])
		require.Equal(t, "main", b["location_code"])
		require.NotEmpty(t, b["location_id"])
		require.Positive(t, b["days_remaining"])
		require.NotContains(t, b, "tenant_id")

		move(map[string]any{"quantity": 1, "batch_number": `L-1 <"'>`, "expiry_date": soon})
		page = decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/products/"+pid+"/batches", reader, ""))
		require.Len(t, page.Data, 2)
		require.Equal(t, `L-1 <"'>`, page.Data[0]["batch_number"], "first expiry first, text byte for byte")
		// 3 days, or 2 should UTC midnight pass since soon was computed.
		require.Contains(t, []any{3.0, 2.0}, page.Data[0]["days_remaining"])

		// Another tenant's product, an unknown one: 404; a malformed id: 400.
		requireError(t, f.call(t, http.MethodGet, "/api/v1/products/"+pid+"/batches", other, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/products/"+domain.NewID()+"/batches", reader, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/products/not-a-uuid/batches", reader, ""), http.StatusBadRequest, "invalid_input")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/products/"+pid+"/batches", "", ""), http.StatusUnauthorized, "")

		// A product without batches lists none: [] rather than null.
		empty := createProduct(t, f, mgr, "B-2")["id"].(string)
		rec := f.call(t, http.MethodGet, "/api/v1/products/"+empty+"/batches", reader, "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.JSONEq(t, `{"data":[],"next":null}`, rec.Body.String())
	})
}
