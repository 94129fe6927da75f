package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

type listPage struct {
	Data []map[string]any `json:"data"`
	Next *string          `json:"next"`
}

func listIDs(p listPage) []string {
	out := make([]string, len(p.Data))
	for i, n := range p.Data {
		out[i], _ = n["id"].(string)
	}
	return out
}

func createProduct(t testing.TB, f *fixture, tok, sku string) map[string]any {
	t.Helper()
	rec := f.call(t, http.MethodPost, "/api/v1/products", tok, `{"sku":"`+sku+`","name":"Widget `+sku+`","price":"12.50","reorder_level":5}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	return decode[map[string]any](t, rec)
}

func TestProductsAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		mgr := token(t, "acme", "pm", domain.PermProductsManage)
		reader := token(t, "acme", "viewer")

		rec := f.call(t, http.MethodPost, "/api/v1/products", mgr, `{"sku":"W-1","name":"Widget","price":"12.50","reorder_level":5}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		p := decode[map[string]any](t, rec)
		id, _ := p["id"].(string)
		require.NotEmpty(t, id)
		require.Equal(t, "/api/v1/products/"+id, rec.Header().Get("Location"))
		require.Equal(t, "W-1", p["sku"])
		require.Equal(t, "Widget", p["name"])
		price, ok := p["price"].(string)
		require.True(t, ok, "price is a decimal string: %v", p["price"])
		require.True(t, strings.HasPrefix(price, "12.5"), price)
		require.EqualValues(t, 5, p["reorder_level"])
		require.EqualValues(t, 0, p["on_hand"])

		// Any valid token of the tenant may read.
		rec = f.call(t, http.MethodGet, "/api/v1/products/"+id, reader, "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, id, decode[map[string]any](t, rec)["id"])

		// Commands need products.manage.
		requireError(t, f.call(t, http.MethodPost, "/api/v1/products", reader, `{"sku":"W-2","name":"x","price":"1"}`), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPatch, "/api/v1/products/"+id, reader, `{"name":"x"}`), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodDelete, "/api/v1/products/"+id, reader, ""), http.StatusForbidden, "forbidden")

		// Validation and conflicts.
		e := requireError(t, f.call(t, http.MethodPost, "/api/v1/products", mgr, `{"sku":"","name":"","price":"-1"}`), http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields, "sku")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/products", mgr, `{"sku":"W-1","name":"Dup","price":"1"}`), http.StatusConflict, "conflict")

		// PATCH changes only what it names.
		rec = f.call(t, http.MethodPatch, "/api/v1/products/"+id, mgr, `{"name":"Widget v2","reorder_level":7}`)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		p = decode[map[string]any](t, rec)
		require.Equal(t, "Widget v2", p["name"])
		require.Equal(t, "W-1", p["sku"])
		require.EqualValues(t, 7, p["reorder_level"])

		// Paging.
		second := createProduct(t, f, mgr, "W-2")["id"].(string)
		third := createProduct(t, f, mgr, "W-3")["id"].(string)
		page := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/products?limit=2", reader, ""))
		require.Equal(t, []string{id, second}, listIDs(page))
		require.NotNil(t, page.Next)
		page = decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/products?limit=2&after="+*page.Next, reader, ""))
		require.Equal(t, []string{third}, listIDs(page))
		require.Nil(t, page.Next)
		page = decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/products", reader, ""))
		require.Len(t, page.Data, 3)
		require.Nil(t, page.Next)

		// DELETE, then the product is gone.
		rec = f.call(t, http.MethodDelete, "/api/v1/products/"+id, mgr, "")
		require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
		requireError(t, f.call(t, http.MethodGet, "/api/v1/products/"+id, reader, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodDelete, "/api/v1/products/"+id, mgr, ""), http.StatusNotFound, "not_found")

		// Malformed ids and cursors.
		for _, path := range []string{"/api/v1/products/not-a-uuid", "/api/v1/products/1%27%20OR%20%271%27=%271", "/api/v1/products?after=zzz", "/api/v1/products?limit=-5"} {
			requireError(t, f.call(t, http.MethodGet, path, reader, ""), http.StatusBadRequest, "invalid_input")
		}
	})
}

func TestProductsIsolation(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		a := token(t, "acme", "pm", domain.PermProductsManage, domain.PermInventoryManage)
		b := token(t, "globex", "root", domain.PermAdmin)
		p := createProduct(t, f, a, "A-1")
		id := p["id"].(string)

		requireError(t, f.call(t, http.MethodGet, "/api/v1/products/"+id, b, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPatch, "/api/v1/products/"+id, b, `{"name":"stolen"}`), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodDelete, "/api/v1/products/"+id, b, ""), http.StatusNotFound, "not_found")
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/products", b, "")).Data)
		// Stock cannot be moved on another tenant's product either.
		requireError(t, f.call(t, http.MethodPost, "/api/v1/stock-movements", b, `{"product_id":"`+id+`","quantity":5,"reason":"x"}`), http.StatusNotFound, "not_found")
		// B may use the same SKU: it is B's own catalogue.
		createProduct(t, f, b, "A-1")

		rec := f.call(t, http.MethodGet, "/api/v1/products/"+id, a, "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "Widget A-1", decode[map[string]any](t, rec)["name"])
		require.Len(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/products", a, "")).Data, 1)
	})
}

func TestStockAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		mgr := token(t, "acme", "wh", domain.PermProductsManage, domain.PermInventoryManage)
		reader := token(t, "acme", "viewer")
		other := token(t, "globex", "root", domain.PermAdmin)
		pid := createProduct(t, f, mgr, "S-1")["id"].(string)

		// Locations.
		rec := f.call(t, http.MethodPost, "/api/v1/locations", mgr, `{"code":"north","name":"North store"}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		loc := decode[map[string]any](t, rec)
		locID := loc["id"].(string)
		require.Equal(t, "north", loc["code"])
		requireError(t, f.call(t, http.MethodPost, "/api/v1/locations", reader, `{"code":"x","name":"y"}`), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/locations", mgr, `{"code":"north","name":"again"}`), http.StatusConflict, "conflict")
		locs := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/locations", reader, ""))
		require.Contains(t, listIDs(locs), locID)
		require.Nil(t, locs.Next)
		require.NotContains(t, listIDs(decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/locations", other, ""))), locID)

		// Movements in and out.
		rec = f.call(t, http.MethodPost, "/api/v1/stock-movements", mgr, `{"product_id":"`+pid+`","location_id":"`+locID+`","quantity":10,"unit_cost":"3.25","batch_number":"B1","expiry_date":"2030-01-31","reason":"receipt"}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		in := decode[map[string]any](t, rec)
		require.EqualValues(t, 10, in["quantity"])
		require.EqualValues(t, 10, in["on_hand_after"])
		rec = f.call(t, http.MethodPost, "/api/v1/stock-movements", mgr, `{"product_id":"`+pid+`","location_id":"`+locID+`","quantity":-4,"reason":"sale"}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		out := decode[map[string]any](t, rec)

		// Never below zero: a business rule, 422 with its code.
		e := requireError(t, f.call(t, http.MethodPost, "/api/v1/stock-movements", mgr, `{"product_id":"`+pid+`","location_id":"`+locID+`","quantity":-100,"reason":"sale"}`), http.StatusUnprocessableEntity, "")
		require.NotEqual(t, "internal", e.Code)
		requireError(t, f.call(t, http.MethodPost, "/api/v1/stock-movements", reader, `{"product_id":"`+pid+`","quantity":1,"reason":"x"}`), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/stock-movements", mgr, `{"product_id":"nope","quantity":1,"reason":"x"}`), http.StatusBadRequest, "invalid_input")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/stock-movements", mgr, `{"product_id":"`+domain.NewID()+`","quantity":1,"reason":"x"}`), http.StatusNotFound, "not_found")

		rec = f.call(t, http.MethodGet, "/api/v1/products/"+pid, reader, "")
		require.EqualValues(t, 6, decode[map[string]any](t, rec)["on_hand"])

		// Listing: newest first, filter, paging, isolation.
		page := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/stock-movements?product_id="+pid, reader, ""))
		require.Equal(t, []string{out["id"].(string), in["id"].(string)}, listIDs(page))
		page = decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/stock-movements?limit=1", reader, ""))
		require.Equal(t, []string{out["id"].(string)}, listIDs(page))
		require.NotNil(t, page.Next)
		page = decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/stock-movements?limit=1&before="+*page.Next, reader, ""))
		require.Equal(t, []string{in["id"].(string)}, listIDs(page))
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/stock-movements", other, "")).Data)
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/stock-movements?product_id="+pid, other, "")).Data)
		for _, q := range []string{"product_id=x", "before=x", "limit=abc"} {
			requireError(t, f.call(t, http.MethodGet, "/api/v1/stock-movements?"+q, reader, ""), http.StatusBadRequest, "invalid_input")
		}
	})
}

func TestEventsAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		a := token(t, "acme", "pm", domain.PermProductsManage)
		b := token(t, "globex", "root", domain.PermAdmin)
		first := createProduct(t, f, a, "E-1")["id"].(string)
		second := createProduct(t, f, a, "E-2")["id"].(string)
		rec := f.call(t, http.MethodPatch, "/api/v1/products/"+first, a, `{"name":"renamed"}`)
		require.Equal(t, http.StatusOK, rec.Code)

		page := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events?type=ProductCreated", a, ""))
		require.Len(t, page.Data, 2)
		require.Equal(t, first, page.Data[0]["aggregate_id"])
		require.Equal(t, second, page.Data[1]["aggregate_id"])
		require.Equal(t, "ProductCreated", page.Data[0]["type"])

		all := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events", a, ""))
		require.Len(t, all.Data, 3)
		page = decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events?limit=2", a, ""))
		require.Len(t, page.Data, 2)
		require.NotNil(t, page.Next)
		page = decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events?limit=2&after="+*page.Next, a, ""))
		require.Equal(t, []string{all.Data[2]["id"].(string)}, listIDs(page))
		require.Nil(t, page.Next)

		// Another tenant sees none of it.
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events", b, "")).Data)
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events?type=ProductCreated", b, "")).Data)

		for _, q := range []string{"type=%27%20OR%201%3D1--", "type=" + strings.Repeat("A", 65), "after=1", "limit=-1"} {
			requireError(t, f.call(t, http.MethodGet, "/api/v1/events?"+q, a, ""), http.StatusBadRequest, "invalid_input")
		}
	})
}
