package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// orderBody is a create-order body for one product and quantity.
func orderBody(customer, product string, qty int, price string) string {
	line := fmt.Sprintf(`{"product_id":%q,"quantity":%d`, product, qty)
	if price != "" {
		line += fmt.Sprintf(`,"unit_price":%q`, price)
	}
	return fmt.Sprintf(`{"customer_id":%q,"lines":[%s}]}`, customer, line)
}

func createOrder(t testing.TB, f *fixture, tok, body string) map[string]any {
	t.Helper()
	rec := f.call(t, http.MethodPost, "/api/v1/orders", tok, body)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	return decode[map[string]any](t, rec)
}

func stockIn(t testing.TB, f *fixture, tok, product string, qty int) {
	t.Helper()
	rec := f.call(t, http.MethodPost, "/api/v1/stock-movements", tok, fmt.Sprintf(`{"product_id":%q,"quantity":%d,"reason":"receipt"}`, product, qty))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
}

func TestOrdersAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		admin := token(t, "acme", "root", domain.PermAdmin)
		seller := token(t, "acme", "sam", domain.PermSalesManage)
		approver := token(t, "acme", "ann", domain.PermSalesApprove)
		reader := token(t, "acme", "viewer")
		customer := createCustomer(t, f, admin, "Buyer", "")["id"].(string)
		chair := createProduct(t, f, admin, `Robert'); DROP TABLE order_lines; --`)["id"].(string) // price 12.50
		desk := createProduct(t, f, admin, "DK-1")["id"].(string)

		body := fmt.Sprintf(`{"customer_id":%q,"lines":[{"product_id":%q,"quantity":3,"unit_price":"0.1"},{"product_id":%q,"quantity":2}]}`, customer, chair, desk)
		rec := f.call(t, http.MethodPost, "/api/v1/orders", seller, body)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		o := decode[map[string]any](t, rec)
		id := o["id"].(string)
		require.Equal(t, "/api/v1/orders/"+id, rec.Header().Get("Location"))
		require.Equal(t, "SO-000001", o["number"])
		require.Equal(t, customer, o["customer_id"])
		require.Equal(t, "pending", o["status"])
		require.Equal(t, "25.3", o["total"], "exact decimal string")
		require.Equal(t, "sam", o["created_by"])
		lines := o["lines"].([]any)
		require.Len(t, lines, 2)
		first := lines[0].(map[string]any)
		require.Equal(t, map[string]any{"line_no": float64(1), "product_id": chair, "sku": `Robert'); DROP TABLE order_lines; --`,
			"quantity": float64(3), "unit_price": "0.1", "amount": "0.3"}, first)
		require.Equal(t, "12.5", lines[1].(map[string]any)["unit_price"], "the product's price when none is given")

		got := f.call(t, http.MethodGet, "/api/v1/orders/"+id, reader, "")
		require.Equal(t, http.StatusOK, got.Code, got.Body.String())
		require.Equal(t, o, decode[map[string]any](t, got))

		// Permissions.
		requireError(t, f.call(t, http.MethodPost, "/api/v1/orders", reader, body), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/orders", approver, body), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/orders/"+id+"/approve", seller, ""), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/orders/"+id+"/fulfill", approver, ""), http.StatusForbidden, "forbidden")

		// Rules: fulfil before approval; approve twice.
		requireError(t, f.call(t, http.MethodPost, "/api/v1/orders/"+id+"/fulfill", seller, ""), http.StatusUnprocessableEntity, "order_not_approved")
		rec = f.call(t, http.MethodPost, "/api/v1/orders/"+id+"/approve", approver, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		approved := decode[map[string]any](t, rec)
		require.Equal(t, "approved", approved["status"])
		require.Equal(t, "ann", approved["approved_by"])
		require.NotNil(t, approved["approved_at"])
		requireError(t, f.call(t, http.MethodPost, "/api/v1/orders/"+id+"/approve", approver, ""), http.StatusUnprocessableEntity, "order_not_pending")

		// Not enough stock, then enough.
		stockIn(t, f, admin, chair, 3)
		stockIn(t, f, admin, desk, 1)
		e := requireError(t, f.call(t, http.MethodPost, "/api/v1/orders/"+id+"/fulfill", seller, ""), http.StatusUnprocessableEntity, "insufficient_stock")
		require.Contains(t, e.Message, "DK-1")
		stockIn(t, f, admin, desk, 1)
		rec = f.call(t, http.MethodPost, "/api/v1/orders/"+id+"/fulfill", seller, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		fulfilled := decode[map[string]any](t, rec)
		require.Equal(t, "fulfilled", fulfilled["status"])
		require.Equal(t, "sam", fulfilled["fulfilled_by"])
		require.Len(t, fulfilled["lines"], 2)
		requireError(t, f.call(t, http.MethodPost, "/api/v1/orders/"+id+"/fulfill", seller, ""), http.StatusUnprocessableEntity, "order_not_approved")

		// Listing with filters and paging.
		other := createCustomer(t, f, admin, "Other", "")["id"].(string)
		second := createOrder(t, f, seller, orderBody(other, desk, 1, ""))["id"].(string)
		third := createOrder(t, f, seller, orderBody(customer, desk, 1, "9.99"))["id"].(string)
		page := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/orders?limit=2", reader, ""))
		require.Equal(t, []string{id, second}, listIDs(page))
		require.NotNil(t, page.Next)
		page = decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/orders?limit=2&after="+*page.Next, reader, ""))
		require.Equal(t, []string{third}, listIDs(page))
		require.Nil(t, page.Next)
		require.Equal(t, []string{id, third}, listIDs(decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/orders?customer_id="+customer, reader, ""))))
		require.Equal(t, []string{second, third}, listIDs(decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/orders?status=pending", reader, ""))))
		require.Equal(t, []string{id}, listIDs(decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/orders?status=fulfilled&customer_id="+customer, reader, ""))))
		for _, q := range []string{"status=shipped", "customer_id=x", "after=%27%20OR%201=1", "limit=-1"} {
			requireError(t, f.call(t, http.MethodGet, "/api/v1/orders?"+q, reader, ""), http.StatusBadRequest, "invalid_input")
		}
		for _, path := range []string{"/api/v1/orders/nope", "/api/v1/orders/nope/approve", "/api/v1/orders/nope/fulfill"} {
			method := http.MethodPost
			if path == "/api/v1/orders/nope" {
				method = http.MethodGet
			}
			requireError(t, f.call(t, method, path, admin, ""), http.StatusBadRequest, "invalid_input")
		}
		requireError(t, f.call(t, http.MethodGet, "/api/v1/orders/"+domain.NewID(), reader, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/orders/"+domain.NewID()+"/approve", admin, ""), http.StatusNotFound, "not_found")
	})
}

func TestCreateOrderRejectsBadInput(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		admin := token(t, "acme", "root", domain.PermAdmin)
		customer := createCustomer(t, f, admin, "Buyer", "")["id"].(string)
		p := createProduct(t, f, admin, "CH-1")["id"].(string)
		hundredOne := `{"customer_id":"` + customer + `","lines":[` +
			strings.TrimSuffix(strings.Repeat(`{"product_id":"`+p+`","quantity":1},`, 101), ",") + `]}`
		for name, c := range map[string]struct {
			body  string
			field string
		}{
			"no lines":         {`{"customer_id":"` + customer + `","lines":[]}`, "lines"},
			"lines missing":    {`{"customer_id":"` + customer + `"}`, "lines"},
			"101 lines":        {hundredOne, "lines"},
			"bad customer":     {orderBody("x", p, 1, ""), "customer_id"},
			"bad product":      {orderBody(customer, "x", 1, ""), "lines[0].product_id"},
			"unknown product":  {orderBody(customer, domain.NewID(), 1, ""), "lines[0].product_id"},
			"zero quantity":    {orderBody(customer, p, 0, ""), "lines[0].quantity"},
			"huge quantity":    {orderBody(customer, p, 1_000_000_001, ""), "lines[0].quantity"},
			"negative price":   {orderBody(customer, p, 1, "-1"), "lines[0].unit_price"},
			"5 places":         {orderBody(customer, p, 1, "1.00001"), "lines[0].unit_price"},
			"price not number": {orderBody(customer, p, 1, "lots"), "body"},
			"float quantity":   {`{"customer_id":"` + customer + `","lines":[{"product_id":"` + p + `","quantity":1.5}]}`, "lines.quantity"},
			"unknown field":    {`{"customer_id":"` + customer + `","discount":"10%","lines":[]}`, "discount"},
		} {
			t.Run(name, func(t *testing.T) {
				e := requireError(t, f.call(t, http.MethodPost, "/api/v1/orders", admin, c.body), http.StatusBadRequest, "invalid_input")
				require.Contains(t, e.Fields, c.field)
			})
		}
		// A customer that is not the tenant's: 404.
		theirs := createCustomer(t, f, token(t, "globex", "root", domain.PermAdmin), "Theirs", "")["id"].(string)
		requireError(t, f.call(t, http.MethodPost, "/api/v1/orders", admin, orderBody(theirs, p, 1, "")), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/orders", admin, orderBody(domain.NewID(), p, 1, "")), http.StatusNotFound, "not_found")
		// Oversized.
		huge := `{"customer_id":"` + customer + `","lines":[` + strings.Repeat(`{"product_id":"`+p+`","quantity":1},`, 40_000) + `]}`
		requireError(t, f.call(t, http.MethodPost, "/api/v1/orders", admin, huge), http.StatusRequestEntityTooLarge, "too_large")

		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/orders", admin, "")).Data)
		// Refused orders used no number.
		require.Equal(t, "SO-000001", createOrder(t, f, admin, orderBody(customer, p, 1, ""))["number"])
	})
}

func TestOrdersIsolation(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		a := token(t, "acme", "root", domain.PermAdmin)
		b := token(t, "globex", "root", domain.PermAdmin)
		customer := createCustomer(t, f, a, "Buyer", "")["id"].(string)
		p := createProduct(t, f, a, "CH-1")["id"].(string)
		stockIn(t, f, a, p, 5)
		id := createOrder(t, f, a, orderBody(customer, p, 1, ""))["id"].(string)

		requireError(t, f.call(t, http.MethodGet, "/api/v1/orders/"+id, b, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/orders/"+id+"/approve", b, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/orders/"+id+"/fulfill", b, ""), http.StatusNotFound, "not_found")
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/orders", b, "")).Data)
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/orders?customer_id="+customer, b, "")).Data)
		requireError(t, f.call(t, http.MethodGet, "/api/v1/customers/"+customer, b, ""), http.StatusNotFound, "not_found")
		// B cannot order A's product for B's customer either.
		theirCustomer := createCustomer(t, f, b, "Theirs", "")["id"].(string)
		e := requireError(t, f.call(t, http.MethodPost, "/api/v1/orders", b, orderBody(theirCustomer, p, 1, "")), http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields, "lines[0].product_id")
		// B's numbering is its own.
		bp := createProduct(t, f, b, "CH-1")["id"].(string)
		require.Equal(t, "SO-000001", createOrder(t, f, b, orderBody(theirCustomer, bp, 1, ""))["number"])

		// A's order is untouched and A's events are A's alone.
		got := decode[map[string]any](t, f.call(t, http.MethodGet, "/api/v1/orders/"+id, a, ""))
		require.Equal(t, "pending", got["status"])
		events := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events?type=OrderCreated", b, ""))
		require.Len(t, events.Data, 1)
		require.NotEqual(t, id, events.Data[0]["aggregate_id"])
	})
}
