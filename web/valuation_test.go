package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

type valuationJSON struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Scope  struct {
		Kind       string `json:"kind"`
		ProductID  string `json:"product_id"`
		LocationID string `json:"location_id"`
	} `json:"scope"`
	Progress struct {
		ProductsTotal int `json:"products_total"`
		ProductsDone  int `json:"products_done"`
	} `json:"progress"`
	Totals *struct {
		Lines        int    `json:"lines"`
		Quantity     int    `json:"quantity"`
		FIFOValue    string `json:"fifo_value"`
		AverageValue string `json:"average_value"`
		Warnings     int    `json:"warnings"`
	} `json:"totals"`
	Results []struct {
		ProductID    string `json:"product_id"`
		SKU          string `json:"sku"`
		LocationID   string `json:"location_id"`
		LocationCode string `json:"location_code"`
		Quantity     int    `json:"quantity"`
		FIFOValue    string `json:"fifo_value"`
		AverageCost  string `json:"average_cost"`
		AverageValue string `json:"average_value"`
		Layers       []struct {
			Quantity    int    `json:"quantity"`
			UnitCost    string `json:"unit_cost"`
			ReceivedAt  string `json:"received_at"`
			BatchNumber string `json:"batch_number"`
			ExpiryDate  string `json:"expiry_date"`
			CostSource  string `json:"cost_source"`
		} `json:"layers"`
		Warnings []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"warnings"`
	} `json:"results"`
	ResultsNext *string `json:"results_next"`
	Error       *string `json:"error"`
	CreatedAt   string  `json:"created_at"`
	CompletedAt *string `json:"completed_at"`
}

// summary is a result line in short: "sku/location qty fifo avg-cost avg-value".
func (v valuationJSON) summary() []string {
	out := make([]string, len(v.Results))
	for i, r := range v.Results {
		out[i] = fmt.Sprintf("%s/%s %d %s %s %s", r.SKU, r.LocationCode, r.Quantity, r.FIFOValue, r.AverageCost, r.AverageValue)
	}
	return out
}

func moveStock(t *testing.T, f *fixture, tok, body string) {
	t.Helper()
	rec := f.call(t, http.MethodPost, "/api/v1/stock-movements", tok, body)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
}

// requestValuation posts body and runs the queued job, as a worker would.
func requestValuation(t *testing.T, f *fixture, tok, tenant, body string) valuationJSON {
	t.Helper()
	rec := f.call(t, http.MethodPost, "/api/v1/valuations", tok, body)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	v := decode[valuationJSON](t, rec)
	require.Equal(t, "pending", v.Status)
	require.Nil(t, v.Totals, "no totals before it ran")
	require.Equal(t, "/api/v1/valuations/"+v.ID, rec.Header().Get("Location"))
	require.NoError(t, f.values.Run(context.Background(), domain.TenantID(tenant), v.ID))
	rec = f.call(t, http.MethodGet, "/api/v1/valuations/"+v.ID, tok, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	got := decode[valuationJSON](t, rec)
	require.Equal(t, "completed", got.Status)
	return got
}

func TestValuationsAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		mgr := token(t, "acme", "sam", domain.PermProductsManage, domain.PermInventoryManage)
		reader := token(t, "acme", "viewer")
		them := token(t, "globex", "gina", domain.PermAdmin)

		chair := createProduct(t, f, mgr, "CHAIR")["id"].(string)
		milk := createProduct(t, f, mgr, "MILK")["id"].(string)
		rec := f.call(t, http.MethodPost, "/api/v1/locations", mgr, `{"code":"north","name":"North"}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		north := decode[map[string]any](t, rec)["id"].(string)
		moveStock(t, f, mgr, `{"product_id":"`+chair+`","quantity":10,"unit_cost":"1.00","reason":"po"}`)
		moveStock(t, f, mgr, `{"product_id":"`+chair+`","quantity":5,"unit_cost":"1.30","reason":"po"}`)
		moveStock(t, f, mgr, `{"product_id":"`+chair+`","quantity":-12,"reason":"sale"}`)
		moveStock(t, f, mgr, `{"product_id":"`+milk+`","location_id":"`+north+`","quantity":4,"unit_cost":"0.80","batch_number":"L-1","expiry_date":"2027-01-31","reason":"po"}`)
		moveStock(t, f, mgr, `{"product_id":"`+milk+`","location_id":"`+north+`","quantity":6,"unit_cost":"0.90","batch_number":"L-2","expiry_date":"2027-03-31","reason":"po"}`)
		moveStock(t, f, mgr, `{"product_id":"`+milk+`","location_id":"`+north+`","quantity":-5,"batch_number":"L-2","reason":"sale"}`)
		// Globex has its own chair, with stock.
		theirs := createProduct(t, f, them, "CHAIR")["id"].(string)
		moveStock(t, f, them, `{"product_id":"`+theirs+`","quantity":7,"unit_cost":"100","reason":"po"}`)
		rec = f.call(t, http.MethodPost, "/api/v1/locations", them, `{"code":"north","name":"North"}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		theirNorth := decode[map[string]any](t, rec)["id"].(string)

		// Everything: CHAIR 3 @ 1.30 (average 1.10); MILK at north: L-2
		// named first, 5 of 6 gone, so L-1 4 @ 0.80 + L-2 1 @ 0.90 = 4.10,
		// average (3.20 + 5.40) / 10 = 0.86 → 5 × 0.86 = 4.30.
		all := requestValuation(t, f, mgr, "acme", `{}`)
		require.Equal(t, "all", all.Scope.Kind)
		require.Equal(t, []string{"CHAIR/main 3 3.9 1.1 3.3", "MILK/north 5 4.1 0.86 4.3"}, all.summary())
		require.NotNil(t, all.Totals)
		require.Equal(t, 2, all.Totals.Lines)
		require.Equal(t, 8, all.Totals.Quantity)
		require.Equal(t, "8", all.Totals.FIFOValue)
		require.Equal(t, "7.6", all.Totals.AverageValue)
		require.Equal(t, 2, all.Progress.ProductsDone)
		require.NotNil(t, all.CompletedAt)
		require.Nil(t, all.Error)
		require.Nil(t, all.ResultsNext)
		milkLine := all.Results[1]
		require.Equal(t, milk, milkLine.ProductID)
		require.Equal(t, north, milkLine.LocationID)
		require.Len(t, milkLine.Layers, 2)
		require.Equal(t, "L-1", milkLine.Layers[0].BatchNumber)
		require.Equal(t, "2027-01-31", milkLine.Layers[0].ExpiryDate)
		require.Equal(t, "0.8", milkLine.Layers[0].UnitCost)
		require.Equal(t, "movement", milkLine.Layers[0].CostSource)
		require.NotEmpty(t, milkLine.Layers[0].ReceivedAt)
		require.Equal(t, 1, milkLine.Layers[1].Quantity)
		require.NotNil(t, milkLine.Warnings, "warnings is a list, empty here")

		// Any reader of the tenant may look; lines come in pages.
		rec = f.call(t, http.MethodGet, "/api/v1/valuations/"+all.ID+"?limit=1", reader, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		page := decode[valuationJSON](t, rec)
		require.Equal(t, []string{"CHAIR/main 3 3.9 1.1 3.3"}, page.summary())
		require.NotNil(t, page.ResultsNext)
		rec = f.call(t, http.MethodGet, "/api/v1/valuations/"+all.ID+"?limit=1&after="+*page.ResultsNext, reader, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		page = decode[valuationJSON](t, rec)
		require.Equal(t, []string{"MILK/north 5 4.1 0.86 4.3"}, page.summary())
		require.Nil(t, page.ResultsNext)
		require.Equal(t, 2, page.Totals.Lines, "totals cover every line, whatever the page")

		// One product; one location.
		one := requestValuation(t, f, mgr, "acme", `{"product_id": "`+chair+`"}`)
		require.Equal(t, "product", one.Scope.Kind)
		require.Equal(t, chair, one.Scope.ProductID)
		require.Equal(t, []string{"CHAIR/main 3 3.9 1.1 3.3"}, one.summary())
		at := requestValuation(t, f, mgr, "acme", `{"location_id": "`+north+`"}`)
		require.Equal(t, "location", at.Scope.Kind)
		require.Equal(t, []string{"MILK/north 5 4.1 0.86 4.3"}, at.summary())
		// An empty body is {}.
		rec = f.do(t, req{method: http.MethodPost, path: "/api/v1/valuations", token: mgr})
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
		empty := decode[valuationJSON](t, rec)
		require.Equal(t, "all", empty.Scope.Kind)
		require.Equal(t, "pending", empty.Status)

		// Newest first; the list carries no lines.
		rec = f.call(t, http.MethodGet, "/api/v1/valuations?limit=2", reader, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		list := decode[listPage](t, rec)
		require.Equal(t, []string{empty.ID, at.ID}, listIDs(list))
		require.NotContains(t, list.Data[0], "results")
		require.NotNil(t, list.Next)
		rec = f.call(t, http.MethodGet, "/api/v1/valuations?before="+*list.Next, reader, "")
		require.Equal(t, []string{one.ID, all.ID}, listIDs(decode[listPage](t, rec)))

		// Globex: its own results only, never acme's rows, and none of
		// acme's valuations, products or locations.
		mine := requestValuation(t, f, them, "globex", ``)
		require.Equal(t, []string{"CHAIR/main 7 700 100 700"}, mine.summary())
		require.Equal(t, theirs, mine.Results[0].ProductID)
		for _, v := range []valuationJSON{all, one, at} {
			requireError(t, f.call(t, http.MethodGet, "/api/v1/valuations/"+v.ID, them, ""), http.StatusNotFound, "not_found")
			for _, r := range v.Results {
				require.NotEqual(t, theirs, r.ProductID)
				require.NotEqual(t, theirNorth, r.LocationID)
			}
		}
		requireError(t, f.call(t, http.MethodPost, "/api/v1/valuations", them, `{"product_id": "`+chair+`"}`), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/valuations", them, `{"location_id": "`+north+`"}`), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/valuations", mgr, `{"product_id": "`+theirs+`"}`), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/valuations", mgr, `{"location_id": "`+theirNorth+`"}`), http.StatusNotFound, "not_found")
		rec = f.call(t, http.MethodGet, "/api/v1/valuations", them, "")
		require.Equal(t, []string{mine.ID}, listIDs(decode[listPage](t, rec)))
	})
}

func TestValuationsAPIBadInput(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		mgr := token(t, "acme", "sam", domain.PermProductsManage, domain.PermInventoryManage)
		chair := createProduct(t, f, mgr, "CHAIR")["id"].(string)
		rec := f.call(t, http.MethodPost, "/api/v1/locations", mgr, `{"code":"north","name":"North"}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		north := decode[map[string]any](t, rec)["id"].(string)
		for name, tc := range map[string]struct {
			body  string
			field string
		}{
			"both":              {`{"product_id": "` + chair + `", "location_id": "` + north + `"}`, "scope"},
			"malformed product": {`{"product_id": "chair"}`, "product_id"},
			"empty product":     {`{"product_id": ""}`, "product_id"},
			"hostile location":  {`{"location_id": "'; DROP TABLE valuations; --"}`, "location_id"},
			"product number":    {`{"product_id": 42}`, "product_id"},
			"unknown field":     {`{"tenant_id": "globex"}`, "tenant_id"},
			"malformed json":    {`{"product_id": `, "body"},
			"not an object":     {`["` + chair + `"]`, "body"},
			"two objects":       {`{} {}`, "body"},
		} {
			rec := f.call(t, http.MethodPost, "/api/v1/valuations", mgr, tc.body)
			e := requireError(t, rec, http.StatusBadRequest, "invalid_input")
			require.Contains(t, e.Fields, tc.field, "%s: %s", name, rec.Body.String())
		}
		requireError(t, f.call(t, http.MethodPost, "/api/v1/valuations", mgr, `{"product_id": "`+domain.NewID()+`"}`), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/valuations", mgr, `{"location_id": "`+domain.NewID()+`"}`), http.StatusNotFound, "not_found")
		require.Equal(t, http.StatusNoContent, f.call(t, http.MethodDelete, "/api/v1/products/"+chair, mgr, "").Code)
		requireError(t, f.call(t, http.MethodPost, "/api/v1/valuations", mgr, `{"product_id": "`+chair+`"}`), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/valuations", token(t, "acme", "viewer", domain.PermInventoryAlerts), `{}`),
			http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/valuations", "", `{}`), http.StatusUnauthorized, "unauthenticated")
		huge := `{"product_id": "` + strings.Repeat("x", 2<<20) + `"}`
		requireError(t, f.call(t, http.MethodPost, "/api/v1/valuations", mgr, huge), http.StatusRequestEntityTooLarge, "too_large")
		rec = f.call(t, http.MethodGet, "/api/v1/valuations", mgr, "")
		require.Empty(t, decode[listPage](t, rec).Data, "nothing was stored")

		rec = f.call(t, http.MethodPost, "/api/v1/valuations", mgr, `{}`)
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
		id := decode[valuationJSON](t, rec).ID
		for path, field := range map[string]string{
			"/api/v1/valuations/" + id + "?after=-1":  "after",
			"/api/v1/valuations/" + id + "?after=x":   "after",
			"/api/v1/valuations/" + id + "?limit=ten": "limit",
			"/api/v1/valuations/nope":                 "id",
			"/api/v1/valuations?before=nope":          "before",
			"/api/v1/valuations?limit=-5":             "limit",
		} {
			e := requireError(t, f.call(t, http.MethodGet, path, mgr, ""), http.StatusBadRequest, "invalid_input")
			require.Contains(t, e.Fields, field, path)
		}
		requireError(t, f.call(t, http.MethodGet, "/api/v1/valuations/"+domain.NewID(), mgr, ""), http.StatusNotFound, "not_found")
		// A pending valuation shows no results yet, and a huge limit is clamped.
		rec = f.call(t, http.MethodGet, "/api/v1/valuations/"+id+"?limit=99999999999999999999", mgr, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		v := decode[valuationJSON](t, rec)
		require.Equal(t, "pending", v.Status)
		require.NotNil(t, v.Results)
		require.Empty(t, v.Results)
		require.Nil(t, v.Totals)
	})
}
