package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

// invoiceFor seeds an approved order of tenant and invoices it.
func invoiceFor(t testing.TB, f *fixture, tenant domain.TenantID, seed storetest.OrderSeed) invoice.Invoice {
	t.Helper()
	o := storetest.SeedOrder(t, f.store, tenant, seed)
	inv, err := invoice.NewService(f.store, nil).GenerateForOrder(context.Background(), tenant, o.OrderID)
	require.NoError(t, err)
	return inv
}

func TestInvoicesAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		reader := token(t, "acme", "viewer")
		first := invoiceFor(t, f, "acme", storetest.OrderSeed{CustomerName: "Ann", PaymentTermsDays: 30,
			Lines: []storetest.SeedLine{{Name: "Oak chair", Quantity: 3, UnitPrice: "19.99"}, {Quantity: 1, UnitPrice: "0.0001"}}})
		second := invoiceFor(t, f, "acme", storetest.OrderSeed{CustomerID: first.CustomerID})
		third := invoiceFor(t, f, "acme", storetest.OrderSeed{CustomerName: "Bob"})

		rec := f.call(t, http.MethodGet, "/api/v1/invoices/"+first.ID, reader, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		got := decode[map[string]any](t, rec)
		require.Equal(t, first.ID, got["id"])
		require.Equal(t, first.OrderID, got["order_id"])
		require.Equal(t, first.CustomerID, got["customer_id"])
		require.Equal(t, "INV-000001", got["number"])
		require.Equal(t, "open", got["status"])
		require.Equal(t, "59.9701", got["total"], "money is an exact decimal string")
		require.Equal(t, "0", got["amount_paid"])
		require.Equal(t, "59.9701", got["outstanding"])
		require.Regexp(t, `^\d{4}-\d{2}-\d{2}$`, got["due_date"])
		lines, ok := got["lines"].([]any)
		require.True(t, ok)
		require.Len(t, lines, 2)
		line := lines[0].(map[string]any)
		require.EqualValues(t, 1, line["line_no"])
		require.EqualValues(t, 3, line["quantity"])
		require.Equal(t, "19.99", line["unit_price"])
		require.Equal(t, "59.97", line["amount"])
		require.Contains(t, line["description"], "Oak chair")
		require.Equal(t, []any{}, got["deliveries"], "delivery status is part of the invoice")

		page := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/invoices", reader, ""))
		require.Equal(t, []string{first.ID, second.ID, third.ID}, listIDs(page))
		require.Nil(t, page.Next)
		page = decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/invoices?limit=2", reader, ""))
		require.Equal(t, []string{first.ID, second.ID}, listIDs(page))
		require.NotNil(t, page.Next)
		page = decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/invoices?limit=2&after="+*page.Next, reader, ""))
		require.Equal(t, []string{third.ID}, listIDs(page))
		require.Nil(t, page.Next)
		for query, want := range map[string][]string{
			"order_id=" + second.OrderID:                     {second.ID},
			"customer_id=" + first.CustomerID:                {first.ID, second.ID},
			"status=open":                                    {first.ID, second.ID, third.ID},
			"status=paid":                                    {},
			"status=overdue&customer_id=" + third.CustomerID: {},
		} {
			rec := f.call(t, http.MethodGet, "/api/v1/invoices?"+query, reader, "")
			require.Equal(t, http.StatusOK, rec.Code, query)
			require.Equal(t, want, listIDs(decode[listPage](t, rec)), query)
		}
		for _, query := range []string{"order_id=1", "customer_id=" + url.QueryEscape("' OR '1'='1"), "status=void", "after=x", "limit=-1"} {
			requireError(t, f.call(t, http.MethodGet, "/api/v1/invoices?"+query, reader, ""), http.StatusBadRequest, "invalid_input")
		}
		requireError(t, f.call(t, http.MethodGet, "/api/v1/invoices/"+domain.NewID(), reader, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/invoices/not-a-uuid", reader, ""), http.StatusBadRequest, "invalid_input")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/invoices", "", ""), http.StatusUnauthorized, "unauthenticated")
	})
}

func TestInvoicePaymentsAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		clerk := token(t, "acme", "clerk", domain.PermInvoicesManage)
		reader := token(t, "acme", "viewer", domain.PermSalesManage)
		inv := invoiceFor(t, f, "acme", storetest.OrderSeed{Lines: []storetest.SeedLine{{Quantity: 1, UnitPrice: "99.9999"}}})
		payments := "/api/v1/invoices/" + inv.ID + "/payments"

		requireError(t, f.call(t, http.MethodPost, payments, reader, `{"amount":"1","method":"cash"}`), http.StatusForbidden, "forbidden")

		for body, field := range map[string]string{
			`{"method":"cash"}`:                                 "amount",
			`{"amount":"abc","method":"cash"}`:                  "body",
			`{"amount":"0","method":"cash"}`:                    "amount",
			`{"amount":"-1","method":"cash"}`:                   "amount",
			`{"amount":"1.00001","method":"cash"}`:              "amount",
			`{"amount":"99999999999999999999","method":"cash"}`: "amount",
			`{"amount":"1"}`:                                    "method",
			`{"amount":"1","method":"wire"}`:                    "method",
			`{"amount":"1","method":"cash","reference":"a\nb"}`: "reference",
			`{"amount":"1","method":"cash","reference":"` + strings.Repeat("é", 101) + `"}`: "reference",
			`{"amount":"1","method":"cash","tip":"5"}`:                                      "tip",
		} {
			e := requireError(t, f.call(t, http.MethodPost, payments, clerk, body), http.StatusBadRequest, "invalid_input")
			require.Contains(t, e.Fields, field, body)
		}
		requireError(t, f.call(t, http.MethodPost, payments, clerk, `not json`), http.StatusBadRequest, "invalid_input")
		requireError(t, f.call(t, http.MethodPost, payments, clerk, `{"amount":"100","method":"card"}`), http.StatusUnprocessableEntity, "payment_exceeds_outstanding")

		// Three payments of 33.3333 settle 99.9999 exactly.
		var ids []string
		for i, ref := range []string{storetestHostile, "wire 2", ""} {
			body := `{"amount":"33.3333","method":"bank_transfer","reference":` + jsonString(ref) + `}`
			rec := f.call(t, http.MethodPost, payments, clerk, body)
			require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
			p := decode[map[string]any](t, rec)
			require.Equal(t, inv.ID, p["invoice_id"])
			require.Equal(t, "33.3333", p["amount"])
			require.Equal(t, "bank_transfer", p["method"])
			require.Equal(t, ref, p["reference"], "reference %d round-trips", i)
			ids = append(ids, p["id"].(string))
		}
		got := decode[map[string]any](t, f.call(t, http.MethodGet, "/api/v1/invoices/"+inv.ID, reader, ""))
		require.Equal(t, "paid", got["status"])
		require.Equal(t, "99.9999", got["amount_paid"])
		require.Equal(t, "0", got["outstanding"])
		require.NotNil(t, got["paid_at"])
		requireError(t, f.call(t, http.MethodPost, payments, clerk, `{"amount":"0.0001","method":"cash"}`), http.StatusUnprocessableEntity, "invoice_paid")

		page := decode[listPage](t, f.call(t, http.MethodGet, payments, reader, ""))
		require.Equal(t, ids, listIDs(page))
		page = decode[listPage](t, f.call(t, http.MethodGet, payments+"?limit=2", reader, ""))
		require.Equal(t, ids[:2], listIDs(page))
		page = decode[listPage](t, f.call(t, http.MethodGet, payments+"?limit=2&after="+*page.Next, reader, ""))
		require.Equal(t, ids[2:], listIDs(page))
		requireError(t, f.call(t, http.MethodGet, payments+"?after=zz", reader, ""), http.StatusBadRequest, "invalid_input")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/invoices/"+domain.NewID()+"/payments", reader, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/invoices/"+domain.NewID()+"/payments", clerk, `{"amount":"1","method":"cash"}`), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/invoices/nope/payments", clerk, `{"amount":"1","method":"cash"}`), http.StatusBadRequest, "invalid_input")

		// The event log has the three payments.
		events := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events?type=InvoicePaymentReceived", reader, ""))
		require.Len(t, events.Data, 3)
	})
}

func TestInvoicesIsolation(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		inv := invoiceFor(t, f, "acme", storetest.OrderSeed{})
		other := token(t, "globex", "root", domain.PermAdmin)
		requireError(t, f.call(t, http.MethodGet, "/api/v1/invoices/"+inv.ID, other, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/invoices/"+inv.ID+"/payments", other, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/invoices/"+inv.ID+"/payments", other, `{"amount":"1","method":"cash"}`), http.StatusNotFound, "not_found")
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/invoices", other, "")).Data)
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/invoices?order_id="+inv.OrderID, other, "")).Data)
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events", other, "")).Data)

		owner := token(t, "acme", "viewer")
		got := decode[map[string]any](t, f.call(t, http.MethodGet, "/api/v1/invoices/"+inv.ID, owner, ""))
		require.Equal(t, "0", got["amount_paid"], "the foreign payment changed nothing")

		// Hostile names come back byte for byte, as JSON strings.
		hostile := `Robert'); DROP TABLE invoices; -- <script>alert("x")</script> ? $1 🚀`
		h := invoiceFor(t, f, "acme", storetest.OrderSeed{CustomerName: hostile, Lines: []storetest.SeedLine{{Name: hostile, Quantity: 1, UnitPrice: "1"}}})
		got = decode[map[string]any](t, f.call(t, http.MethodGet, "/api/v1/invoices/"+h.ID, owner, ""))
		require.Equal(t, hostile, got["customer_name"])
		require.Contains(t, got["lines"].([]any)[0].(map[string]any)["description"], hostile)
	})
}

// storetestHostile is a reference full of quoting and markup, without the
// control characters references refuse.
const storetestHostile = `Robert'); DROP TABLE payments; -- <script>"x"</script> ? $1 %s 🚀`
