package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func TestStrictJSON(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		mgr := token(t, "acme", "pm", domain.PermProductsManage, domain.PermInventoryManage)

		cases := []struct {
			name, path, body string
			field            string // expected in fields
		}{
			{"unknown field", "/api/v1/products", `{"sku":"X","name":"x","price":"1","tenant_id":"globex"}`, "tenant_id"},
			{"malformed", "/api/v1/products", `{"sku":"X",`, "body"},
			{"syntax error", "/api/v1/products", `{"sku":"X" "name":"x"}`, "body"},
			{"wrong type", "/api/v1/products", `{"sku":"X","name":"x","price":"1","reorder_level":"ten"}`, "reorder_level"},
			{"wrong type string", "/api/v1/products", `{"sku":42,"name":"x","price":"1"}`, "sku"},
			{"bad decimal", "/api/v1/products", `{"sku":"X","name":"x","price":"12,50"}`, "body"},
			{"trailing garbage", "/api/v1/products", `{"sku":"X","name":"x","price":"1"} garbage`, "body"},
			{"two objects", "/api/v1/products", `{"sku":"X","name":"x","price":"1"}{"sku":"Y"}`, "body"},
			{"array", "/api/v1/products", `[{"sku":"X"}]`, "body"},
			{"null", "/api/v1/locations", `null`, "code"},
			{"string", "/api/v1/locations", `"north"`, "body"},
			{"overflowing int", "/api/v1/stock-movements", `{"product_id":"` + domain.NewID() + `","quantity":99999999999999999999,"reason":"x"}`, "quantity"},
			{"float quantity", "/api/v1/stock-movements", `{"product_id":"` + domain.NewID() + `","quantity":1.5,"reason":"x"}`, "quantity"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := requireError(t, f.call(t, http.MethodPost, c.path, mgr, c.body), http.StatusBadRequest, "invalid_input")
				require.Contains(t, e.Fields, c.field)
			})
		}

		// Empty body.
		rec := f.do(t, req{method: http.MethodPost, path: "/api/v1/products", token: mgr})
		e := requireError(t, rec, http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields, "body")

		// Not JSON at all.
		rec = f.do(t, req{method: http.MethodPost, path: "/api/v1/products", token: mgr, body: "sku=X",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
		requireError(t, rec, http.StatusUnsupportedMediaType, "unsupported_media_type")

		// Oversized, declared and streamed.
		huge := `{"sku":"X","name":"` + strings.Repeat("a", 2<<20) + `","price":"1"}`
		rec = f.call(t, http.MethodPost, "/api/v1/products", mgr, huge)
		requireError(t, rec, http.StatusRequestEntityTooLarge, "too_large")
		hr := httptest.NewRequest(http.MethodPost, "/api/v1/products", io.MultiReader(strings.NewReader(huge)))
		hr.ContentLength = -1 // chunked: the size is only known while reading
		hr.Header.Set("Authorization", "Bearer "+mgr)
		rec = httptest.NewRecorder()
		f.h.ServeHTTP(rec, hr)
		requireError(t, rec, http.StatusRequestEntityTooLarge, "too_large")

		// Nothing above created a product.
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/products", mgr, "")).Data)
	})
}

func TestHostileStringsAreData(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		mgr := token(t, "acme", "pm", domain.PermProductsManage)
		for i, name := range []string{
			`Robert'); DROP TABLE products;--`,
			`" OR "1"="1`,
			`<script>alert('x')</script>`,
			`%00%27 \u202e`,
		} {
			rec := f.call(t, http.MethodPost, "/api/v1/products", mgr, `{"sku":"SKU-`+strconv.Itoa(i)+`","name":`+jsonString(name)+`,"price":"1.00"}`)
			require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
			id := decode[map[string]any](t, rec)["id"].(string)
			got := decode[map[string]any](t, f.call(t, http.MethodGet, "/api/v1/products/"+id, mgr, ""))
			require.Equal(t, name, got["name"])
		}
		require.Len(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/products", mgr, "")).Data, 4)
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}
