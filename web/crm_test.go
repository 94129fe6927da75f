package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func createCustomer(t testing.TB, f *fixture, tok, name, email string) map[string]any {
	t.Helper()
	rec := f.call(t, http.MethodPost, "/api/v1/customers", tok, `{"name":`+jsonString(name)+`,"email":`+jsonString(email)+`}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	return decode[map[string]any](t, rec)
}

func TestCustomersAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		mgr := token(t, "acme", "am", domain.PermCRMManage)
		reader := token(t, "acme", "viewer")

		rec := f.call(t, http.MethodPost, "/api/v1/customers", mgr, `{"name":"Acme Buyer","email":"Buyer@Example.com"}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		c := decode[map[string]any](t, rec)
		id, _ := c["id"].(string)
		require.NotEmpty(t, id)
		require.Equal(t, "/api/v1/customers/"+id, rec.Header().Get("Location"))
		require.Equal(t, "Acme Buyer", c["name"])
		require.Equal(t, "buyer@example.com", c["email"])
		require.Nil(t, c["lead_id"])
		require.Equal(t, map[string]any{
			"total_orders": float64(0), "total_spent": "0", "outstanding_balance": "0",
			"last_order_at": nil, "last_payment_at": nil,
		}, c["statistics"], "statistics shape (DESIGN.md §4.8), money as strings")
		require.NotEmpty(t, c["created_at"])

		rec = f.call(t, http.MethodGet, "/api/v1/customers/"+id, reader, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Equal(t, c, decode[map[string]any](t, rec))

		// Commands need crm.manage; reads any token of the tenant.
		requireError(t, f.call(t, http.MethodPost, "/api/v1/customers", reader, `{"name":"x"}`), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/customers", token(t, "acme", "s", domain.PermSalesManage), `{"name":"x"}`), http.StatusForbidden, "forbidden")

		// Validation: every bad field named at once.
		e := requireError(t, f.call(t, http.MethodPost, "/api/v1/customers", mgr, `{"name":"","email":"not an email"}`), http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields, "name")
		require.Contains(t, e.Fields, "email")
		for field, body := range map[string]string{
			"name":               `{"name":"` + strings.Repeat("n", 201) + `"}`,
			"email":              `{"name":"x","email":"` + strings.Repeat("e", 250) + `@x.io"}`,
			"payment_terms_days": `{"name":"x","payment_terms_days":400}`,
			"nickname":           `{"name":"x","nickname":"unknown field"}`,
			"body":               `{"name":"x"} {"name":"y"}`,
		} {
			e := requireError(t, f.call(t, http.MethodPost, "/api/v1/customers", mgr, body), http.StatusBadRequest, "invalid_input")
			require.Contains(t, e.Fields, field, body)
		}
		// Duplicate email, in any case.
		requireError(t, f.call(t, http.MethodPost, "/api/v1/customers", mgr, `{"name":"Again","email":"BUYER@example.com"}`), http.StatusConflict, "conflict")

		// Paging.
		second := createCustomer(t, f, mgr, "Second", "")["id"].(string)
		third := createCustomer(t, f, mgr, "Third", "")["id"].(string)
		page := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/customers?limit=2", reader, ""))
		require.Equal(t, []string{id, second}, listIDs(page))
		require.NotNil(t, page.Next)
		page = decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/customers?limit=2&after="+*page.Next, reader, ""))
		require.Equal(t, []string{third}, listIDs(page))
		require.Nil(t, page.Next)

		for _, path := range []string{"/api/v1/customers/not-a-uuid", "/api/v1/customers/1%27%20OR%20%271%27=%271",
			"/api/v1/customers?after=zzz", "/api/v1/customers?limit=-5"} {
			requireError(t, f.call(t, http.MethodGet, path, reader, ""), http.StatusBadRequest, "invalid_input")
		}
		requireError(t, f.call(t, http.MethodGet, "/api/v1/customers/"+domain.NewID(), reader, ""), http.StatusNotFound, "not_found")

		// Oversized bodies: declared and streamed.
		huge := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`
		requireError(t, f.call(t, http.MethodPost, "/api/v1/customers", mgr, huge), http.StatusRequestEntityTooLarge, "too_large")
		hr := httptest.NewRequest(http.MethodPost, "/api/v1/customers", io.MultiReader(strings.NewReader(huge)))
		hr.ContentLength = -1
		hr.Header.Set("Authorization", "Bearer "+mgr)
		rr := httptest.NewRecorder()
		f.h.ServeHTTP(rr, hr)
		requireError(t, rr, http.StatusRequestEntityTooLarge, "too_large")
		require.Len(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/customers", reader, "")).Data, 3)
	})
}

func TestCustomerHostileStringsRoundTrip(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		mgr := token(t, "acme", "am", domain.PermCRMManage)
		for _, name := range []string{
			`Robert'); DROP TABLE customers; --`,
			`' OR '1'='1`,
			`"double" and 'single' quotes, \backslash\ and a trailing \`,
			`? $1 :name @p1 %s %_ -- /* */ ;`,
			"Zażółć gęślą jaźń — 日本語 — 🚀👩🏽‍💻 — \u202eRTL",
			`<script>alert("x")</script>&amp;`,
		} {
			c := createCustomer(t, f, mgr, name, "")
			got := decode[map[string]any](t, f.call(t, http.MethodGet, "/api/v1/customers/"+c["id"].(string), mgr, ""))
			require.Equal(t, name, got["name"])
			l := f.call(t, http.MethodPost, "/api/v1/leads", mgr, `{"name":`+jsonString(name)+`}`)
			require.Equal(t, http.StatusCreated, l.Code, l.Body.String())
			require.Equal(t, name, decode[map[string]any](t, l)["name"])
		}
		// Control characters are refused, not stored.
		e := requireError(t, f.call(t, http.MethodPost, "/api/v1/customers", mgr, `{"name":"a\u0000b"}`), http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields, "name")
	})
}

func TestLeadsAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		mgr := token(t, "acme", "am", domain.PermCRMManage)
		reader := token(t, "acme", "viewer")
		other := token(t, "globex", "root", domain.PermAdmin)

		rec := f.call(t, http.MethodPost, "/api/v1/leads", mgr, `{"name":"Prospect","email":"Lead@Example.com"}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		lead := decode[map[string]any](t, rec)
		id := lead["id"].(string)
		require.Equal(t, "/api/v1/leads/"+id, rec.Header().Get("Location"))
		require.Equal(t, "open", lead["status"])
		require.Equal(t, "lead@example.com", lead["email"])
		require.Nil(t, lead["customer_id"])
		requireError(t, f.call(t, http.MethodPost, "/api/v1/leads", reader, `{"name":"x"}`), http.StatusForbidden, "forbidden")
		e := requireError(t, f.call(t, http.MethodPost, "/api/v1/leads", mgr, `{"name":"x","email":"a@"}`), http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields, "email")

		// Another tenant sees nothing and converts nothing.
		requireError(t, f.call(t, http.MethodGet, "/api/v1/leads/"+id, other, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/leads/"+id+"/convert", other, ""), http.StatusNotFound, "not_found")
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/leads", other, "")).Data)
		requireError(t, f.call(t, http.MethodPost, "/api/v1/leads/"+id+"/convert", reader, ""), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/leads/nope/convert", mgr, ""), http.StatusBadRequest, "invalid_input")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/leads/"+domain.NewID()+"/convert", mgr, ""), http.StatusNotFound, "not_found")

		rec = f.call(t, http.MethodPost, "/api/v1/leads/"+id+"/convert", mgr, "")
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		c := decode[map[string]any](t, rec)
		require.Equal(t, "/api/v1/customers/"+c["id"].(string), rec.Header().Get("Location"))
		require.Equal(t, id, c["lead_id"])
		require.Equal(t, "Prospect", c["name"])
		require.Equal(t, "lead@example.com", c["email"])
		require.Contains(t, c, "statistics")

		got := decode[map[string]any](t, f.call(t, http.MethodGet, "/api/v1/leads/"+id, reader, ""))
		require.Equal(t, "converted", got["status"])
		require.Equal(t, c["id"], got["customer_id"])
		requireError(t, f.call(t, http.MethodPost, "/api/v1/leads/"+id+"/convert", mgr, ""), http.StatusUnprocessableEntity, "lead_already_converted")

		// A lead whose email already belongs to a customer: 409.
		dup := decode[map[string]any](t, f.call(t, http.MethodPost, "/api/v1/leads", mgr, `{"name":"Same","email":"LEAD@example.com"}`))
		requireError(t, f.call(t, http.MethodPost, "/api/v1/leads/"+dup["id"].(string)+"/convert", mgr, ""), http.StatusConflict, "conflict")

		openLeads := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/leads?status=open", reader, ""))
		require.Equal(t, []string{dup["id"].(string)}, listIDs(openLeads))
		converted := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/leads?status=converted", reader, ""))
		require.Equal(t, []string{id}, listIDs(converted))
		require.Len(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/leads", reader, "")).Data, 2)
		for _, q := range []string{"status=won", "after=x", "limit=z"} {
			requireError(t, f.call(t, http.MethodGet, "/api/v1/leads?"+q, reader, ""), http.StatusBadRequest, "invalid_input")
		}
		// The customer is one of acme's only.
		requireError(t, f.call(t, http.MethodGet, "/api/v1/customers/"+c["id"].(string), other, ""), http.StatusNotFound, "not_found")
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/customers", other, "")).Data)
	})
}
