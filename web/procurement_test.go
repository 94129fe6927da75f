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

// procurementTokens are the roles of a purchasing flow in tenant acme, and
// an admin of globex.
type procurementTokens struct {
	buyer, approver, clerk, reader, other string
}

func newProcurementTokens(t *testing.T) procurementTokens {
	return procurementTokens{
		buyer:    token(t, "acme", "bea", domain.PermProcurementManage, domain.PermProductsManage),
		approver: token(t, "acme", "abe", domain.PermProcurementApprove),
		clerk:    token(t, "acme", "cal", domain.PermInventoryManage),
		reader:   token(t, "acme", "viewer"),
		other:    token(t, "globex", "root", domain.PermAdmin),
	}
}

func mustCreate(t *testing.T, f *fixture, path, tok, body string) map[string]any {
	t.Helper()
	rec := f.call(t, http.MethodPost, path, tok, body)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	return decode[map[string]any](t, rec)
}

func createVendor(t *testing.T, f *fixture, tok, name string) string {
	t.Helper()
	return mustCreate(t, f, "/api/v1/vendors", tok, `{"name":`+jsonString(name)+`,"email":"sales@example.com"}`)["id"].(string)
}

// createPurchaseOrder posts a purchase order of one line per (product, quantity),
// each at unit cost 2.5.
func createPurchaseOrder(t *testing.T, f *fixture, tok, vendor string, lines ...any) map[string]any {
	t.Helper()
	var parts []string
	for i := 0; i < len(lines); i += 2 {
		parts = append(parts, fmt.Sprintf(`{"product_id":%q,"quantity":%d,"unit_cost":"2.5"}`, lines[i], lines[i+1]))
	}
	return mustCreate(t, f, "/api/v1/purchase-orders", tok, `{"vendor_id":"`+vendor+`","lines":[`+strings.Join(parts, ",")+`]}`)
}

func (f *fixture) onHand(t *testing.T, tok, productID string) float64 {
	t.Helper()
	rec := f.call(t, http.MethodGet, "/api/v1/products/"+productID, tok, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	return decode[map[string]any](t, rec)["on_hand"].(float64)
}

func (f *fixture) eventCount(t *testing.T, tok, typ string) int {
	t.Helper()
	return len(decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events?limit=200&type="+typ, tok, "")).Data)
}

func TestVendorsAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		tk := newProcurementTokens(t)

		rec := f.call(t, http.MethodPost, "/api/v1/vendors", tk.buyer, `{"name":" Steel & Co ","email":"orders@steel.example"}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		v := decode[map[string]any](t, rec)
		id := v["id"].(string)
		require.Equal(t, "/api/v1/vendors/"+id, rec.Header().Get("Location"))
		require.Equal(t, "Steel & Co", v["name"])
		require.Equal(t, "orders@steel.example", v["email"])
		require.NotEmpty(t, v["created_at"])

		got := decode[map[string]any](t, f.call(t, http.MethodGet, "/api/v1/vendors/"+id, tk.reader, ""))
		require.Equal(t, v, got)

		requireError(t, f.call(t, http.MethodPost, "/api/v1/vendors", tk.reader, `{"name":"x"}`), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/vendors", tk.approver, `{"name":"x"}`), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/vendors", tk.buyer, `{"name":"Steel & Co"}`), http.StatusConflict, "conflict")
		e := requireError(t, f.call(t, http.MethodPost, "/api/v1/vendors", tk.buyer, `{"name":"","email":"nope"}`), http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields, "name")
		require.Contains(t, e.Fields, "email")
		e = requireError(t, f.call(t, http.MethodPost, "/api/v1/vendors", tk.buyer, `{"name":"`+strings.Repeat("n", 201)+`","email":"`+strings.Repeat("e", 250)+`@x.io"}`), http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields, "name")
		require.Contains(t, e.Fields, "email")
		e = requireError(t, f.call(t, http.MethodPost, "/api/v1/vendors", tk.buyer, `{"name":"x","phone":"1"}`), http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields, "phone")

		// Hostile names are data.
		for _, name := range []string{`Robert'); DROP TABLE vendors;--`, `" OR "1"="1`, `<script>alert('x')</script>`, `? $1 %s \u202e 🚀`} {
			vid := createVendor(t, f, tk.buyer, name)
			require.Equal(t, name, decode[map[string]any](t, f.call(t, http.MethodGet, "/api/v1/vendors/"+vid, tk.reader, ""))["name"])
		}

		page := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/vendors?limit=2", tk.reader, ""))
		require.Len(t, page.Data, 2)
		require.Equal(t, id, page.Data[0]["id"])
		require.NotNil(t, page.Next)
		rest := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/vendors?after="+*page.Next, tk.reader, ""))
		require.Len(t, rest.Data, 3)
		require.Nil(t, rest.Next)

		// Another tenant sees none of it; malformed ids are 400.
		requireError(t, f.call(t, http.MethodGet, "/api/v1/vendors/"+id, tk.other, ""), http.StatusNotFound, "not_found")
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/vendors", tk.other, "")).Data)
		mustCreate(t, f, "/api/v1/vendors", tk.other, `{"name":"Steel & Co"}`)
		requireError(t, f.call(t, http.MethodGet, "/api/v1/vendors/1%27%20OR%201=1", tk.reader, ""), http.StatusBadRequest, "invalid_input")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/vendors?after=zz", tk.reader, ""), http.StatusBadRequest, "invalid_input")
	})
}

func TestPurchaseOrdersAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		tk := newProcurementTokens(t)
		vendor := createVendor(t, f, tk.buyer, "Steel")
		a := createProduct(t, f, tk.buyer, "A")["id"].(string)
		b := createProduct(t, f, tk.buyer, "B")["id"].(string)

		body := `{"vendor_id":"` + vendor + `","lines":[{"product_id":"` + a + `","quantity":3,"unit_cost":"3.3333"},{"product_id":"` + b + `","quantity":2,"unit_cost":"0.0001"}]}`
		rec := f.call(t, http.MethodPost, "/api/v1/purchase-orders", tk.buyer, body)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		po := decode[map[string]any](t, rec)
		id := po["id"].(string)
		require.Equal(t, "/api/v1/purchase-orders/"+id, rec.Header().Get("Location"))
		require.Equal(t, "PO-000001", po["number"])
		require.Equal(t, "pending", po["status"])
		require.Equal(t, "10.0001", po["total"], "exact, and a decimal string")
		require.Equal(t, vendor, po["vendor_id"])
		require.Equal(t, "bea", po["requested_by"])
		require.Nil(t, po["approved_at"])
		lines := po["lines"].([]any)
		require.Len(t, lines, 2)
		line := lines[1].(map[string]any)
		require.EqualValues(t, 2, line["line_no"])
		require.Equal(t, b, line["product_id"])
		require.EqualValues(t, 2, line["quantity"])
		require.Equal(t, "0.0001", line["unit_cost"])
		require.EqualValues(t, 0, line["received_quantity"])

		got := decode[map[string]any](t, f.call(t, http.MethodGet, "/api/v1/purchase-orders/"+id, tk.reader, ""))
		require.Equal(t, id, got["id"])
		require.Equal(t, "10.0001", got["total"])

		// Permissions.
		requireError(t, f.call(t, http.MethodPost, "/api/v1/purchase-orders", tk.reader, body), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/purchase-orders", tk.approver, body), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/purchase-orders/"+id+"/approve", tk.buyer, ""), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/purchase-orders/"+id+"/receipts", tk.buyer, `{"lines":[{"line_no":1,"quantity":1}]}`), http.StatusForbidden, "forbidden")

		// Validation, field by field.
		for _, tc := range []struct{ body, field string }{
			{`{"vendor_id":"x","lines":[{"product_id":"` + a + `","quantity":1,"unit_cost":"1"}]}`, "vendor_id"},
			{`{"vendor_id":"` + vendor + `","lines":[]}`, "lines"},
			{`{"vendor_id":"` + vendor + `"}`, "lines"},
			{`{"vendor_id":"` + vendor + `","lines":[{"product_id":"` + a + `","quantity":0,"unit_cost":"1"}]}`, "lines[0].quantity"},
			{`{"vendor_id":"` + vendor + `","lines":[{"product_id":"` + a + `","quantity":1000000001,"unit_cost":"1"}]}`, "lines[0].quantity"},
			{`{"vendor_id":"` + vendor + `","lines":[{"product_id":"` + a + `","quantity":1}]}`, "lines[0].unit_cost"},
			{`{"vendor_id":"` + vendor + `","lines":[{"product_id":"` + a + `","quantity":1,"unit_cost":"1.00001"}]}`, "lines[0].unit_cost"},
			{`{"vendor_id":"` + vendor + `","lines":[{"product_id":"` + a + `","quantity":1,"unit_cost":"-1"}]}`, "lines[0].unit_cost"},
			{`{"vendor_id":"` + vendor + `","lines":[{"product_id":"` + a + `","quantity":1,"unit_cost":"1"},{"product_id":"'; --","quantity":1,"unit_cost":"1"}]}`, "lines[1].product_id"},
			{`{"vendor_id":"` + vendor + `","lines":[{"product_id":"` + domain.NewID() + `","quantity":1,"unit_cost":"1"}]}`, "lines[0].product_id"},
			{`{"vendor_id":"` + vendor + `","lines":[{"product_id":"` + a + `","quantity":1.5,"unit_cost":"1"}]}`, "lines.quantity"},
			{`{"vendor_id":"` + vendor + `","lines":[{"product_id":"` + a + `","quantity":1,"unit_cost":"abc"}]}`, "body"},
			{`{"vendor_id":"` + vendor + `","lines":[{"product_id":"` + a + `","quantity":1,"unit_cost":"1","sku":"A"}]}`, "sku"},
		} {
			e := requireError(t, f.call(t, http.MethodPost, "/api/v1/purchase-orders", tk.buyer, tc.body), http.StatusBadRequest, "invalid_input")
			require.Contains(t, e.Fields, tc.field, tc.body)
		}
		many := make([]string, 101)
		for i := range many {
			many[i] = `{"product_id":"` + a + `","quantity":1,"unit_cost":"1"}`
		}
		e := requireError(t, f.call(t, http.MethodPost, "/api/v1/purchase-orders", tk.buyer, `{"vendor_id":"`+vendor+`","lines":[`+strings.Join(many, ",")+`]}`), http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields, "lines")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/purchase-orders", tk.buyer, `{"vendor_id":"`+domain.NewID()+`","lines":[{"product_id":"`+a+`","quantity":1,"unit_cost":"1"}]}`), http.StatusNotFound, "not_found")

		// Another tenant's vendor is not found; its product is answered
		// like a product that does not exist (a field error naming the
		// line), never used.
		theirVendor := createVendor(t, f, tk.other, "Theirs")
		theirProduct := createProduct(t, f, tk.other, "T")["id"].(string)
		requireError(t, f.call(t, http.MethodPost, "/api/v1/purchase-orders", tk.buyer, `{"vendor_id":"`+theirVendor+`","lines":[{"product_id":"`+a+`","quantity":1,"unit_cost":"1"}]}`), http.StatusNotFound, "not_found")
		e = requireError(t, f.call(t, http.MethodPost, "/api/v1/purchase-orders", tk.buyer, `{"vendor_id":"`+vendor+`","lines":[{"product_id":"`+a+`","quantity":1,"unit_cost":"1"},{"product_id":"`+theirProduct+`","quantity":1,"unit_cost":"1"}]}`), http.StatusBadRequest, "invalid_input")
		require.Equal(t, "no such product", e.Fields["lines[1].product_id"])
		require.Len(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/purchase-orders", tk.reader, "")).Data, 1, "refused orders are not stored")
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/purchase-orders", tk.other, "")).Data)

		// Receiving needs an approved order.
		requireError(t, f.call(t, http.MethodPost, "/api/v1/purchase-orders/"+id+"/receipts", tk.clerk, `{"lines":[{"line_no":1,"quantity":1}]}`), http.StatusUnprocessableEntity, "purchase_order_not_approved")

		rec = f.call(t, http.MethodPost, "/api/v1/purchase-orders/"+id+"/approve", tk.approver, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		approved := decode[map[string]any](t, rec)
		require.Equal(t, "approved", approved["status"])
		require.Equal(t, "abe", approved["approved_by"])
		require.NotNil(t, approved["approved_at"])
		requireError(t, f.call(t, http.MethodPost, "/api/v1/purchase-orders/"+id+"/approve", tk.approver, ""), http.StatusUnprocessableEntity, "purchase_order_not_pending")
		require.Equal(t, 1, f.eventCount(t, tk.reader, "PurchaseOrderApproved"))

		// Listing with filters.
		second := createPurchaseOrder(t, f, tk.buyer, vendor, a, 1)["id"].(string)
		other := createVendor(t, f, tk.buyer, "Other")
		third := createPurchaseOrder(t, f, tk.buyer, other, b, 1)["id"].(string)
		for query, want := range map[string][]string{
			"":                                   {id, second, third},
			"?status=approved":                   {id},
			"?status=pending&vendor_id=" + other: {third},
			"?vendor_id=" + vendor:               {id, second},
			"?limit=1&after=" + id:               {second},
			"?status=received":                   {},
		} {
			page := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/purchase-orders"+query, tk.reader, ""))
			require.Equal(t, want, listIDs(page), query)
		}
		for _, query := range []string{"?status=shipped", "?vendor_id=x", "?after=1", "?limit=-1"} {
			requireError(t, f.call(t, http.MethodGet, "/api/v1/purchase-orders"+query, tk.reader, ""), http.StatusBadRequest, "invalid_input")
		}
		requireError(t, f.call(t, http.MethodGet, "/api/v1/purchase-orders/not-an-id", tk.reader, ""), http.StatusBadRequest, "invalid_input")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/purchase-orders/"+domain.NewID(), tk.reader, ""), http.StatusNotFound, "not_found")
	})
}

func TestGoodsReceiptsAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		tk := newProcurementTokens(t)
		vendor := createVendor(t, f, tk.buyer, "Steel")
		a := createProduct(t, f, tk.buyer, "A")["id"].(string)
		b := createProduct(t, f, tk.buyer, "B")["id"].(string)
		po := createPurchaseOrder(t, f, tk.buyer, vendor, a, 10, b, 4, a, 2)
		id := po["id"].(string)
		rec := f.call(t, http.MethodPost, "/api/v1/purchase-orders/"+id+"/approve", tk.approver, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		receipts := "/api/v1/purchase-orders/" + id + "/receipts"

		// A first receipt: part of line 1 in a batch, all of B by product.
		rec = f.call(t, http.MethodPost, receipts, tk.clerk, `{"lines":[
			{"line_no":1,"quantity":6,"batch_number":"L-<1>","expiry_date":"2027-06-30"},
			{"product_id":"`+b+`","quantity":4,"unit_cost":"2.25"}]}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		r1 := decode[map[string]any](t, rec)
		require.Equal(t, id, r1["purchase_order_id"])
		require.Equal(t, "cal", r1["received_by"])
		lines := r1["lines"].([]any)
		require.Len(t, lines, 2)
		first := lines[0].(map[string]any)
		require.EqualValues(t, 1, first["line_no"])
		require.Equal(t, "2.5", first["unit_cost"])
		require.Equal(t, "L-<1>", first["batch_number"])
		require.Equal(t, "2027-06-30", first["expiry_date"])
		require.NotEmpty(t, first["movement_id"])
		require.Nil(t, lines[1].(map[string]any)["expiry_date"])
		require.Equal(t, "2.25", lines[1].(map[string]any)["unit_cost"])
		require.EqualValues(t, 6, f.onHand(t, tk.reader, a))
		require.EqualValues(t, 4, f.onHand(t, tk.reader, b))
		got := decode[map[string]any](t, f.call(t, http.MethodGet, "/api/v1/purchase-orders/"+id, tk.reader, ""))
		require.Equal(t, "partially_received", got["status"])
		require.EqualValues(t, 6, got["lines"].([]any)[0].(map[string]any)["received_quantity"])

		// The movement is in the ledger with the receipt's reason.
		moves := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/stock-movements?product_id="+a, tk.reader, ""))
		require.Len(t, moves.Data, 1)
		require.Equal(t, first["movement_id"], moves.Data[0]["id"])
		require.Equal(t, "receipt PO-000001", moves.Data[0]["reason"])

		// What a refused receipt must leave untouched.
		movements := func() int {
			return len(decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/stock-movements?limit=200", tk.reader, "")).Data)
		}
		unchanged := func(why string) {
			t.Helper()
			require.Equal(t, 2, movements(), why)
			require.Equal(t, 2, f.eventCount(t, tk.reader, "StockMovementRecorded"), why)
			require.Equal(t, 1, f.eventCount(t, tk.reader, "GoodsReceived"), why)
			require.EqualValues(t, 6, f.onHand(t, tk.reader, a), why)
			require.EqualValues(t, 4, f.onHand(t, tk.reader, b), why)
			require.Len(t, decode[listPage](t, f.call(t, http.MethodGet, receipts, tk.reader, "")).Data, 1, why)
		}

		// Over-receipt across two receipts: 6 of 10 received, 5 more is
		// too many, even when another line of the receipt is fine.
		e := requireError(t, f.call(t, http.MethodPost, receipts, tk.clerk, `{"lines":[{"line_no":3,"quantity":1},{"line_no":1,"quantity":5}]}`), http.StatusUnprocessableEntity, "over_receipt")
		require.Contains(t, e.Message, "line 1")
		unchanged("over-receipt")
		requireError(t, f.call(t, http.MethodPost, receipts, tk.clerk, `{"lines":[{"line_no":2,"quantity":1}]}`), http.StatusUnprocessableEntity, "over_receipt")
		unchanged("line 2 is complete")

		// A listed twice on the order: product_id alone is ambiguous.
		e = requireError(t, f.call(t, http.MethodPost, receipts, tk.clerk, `{"lines":[{"product_id":"`+a+`","quantity":1}]}`), http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields, "lines[0].product_id")
		unchanged("ambiguous product")

		// Malformed input.
		for _, tc := range []struct{ body, field string }{
			{`{"lines":[]}`, "lines"},
			{`{}`, "lines"},
			{`{"lines":[{"quantity":1}]}`, "lines[0].line_no"},
			{`{"lines":[{"line_no":9,"quantity":1}]}`, "lines[0].line_no"},
			{`{"lines":[{"line_no":1,"quantity":0}]}`, "lines[0].quantity"},
			{`{"lines":[{"line_no":1,"quantity":-3}]}`, "lines[0].quantity"},
			{`{"lines":[{"line_no":1,"quantity":1,"unit_cost":"0.12345"}]}`, "lines[0].unit_cost"},
			{`{"lines":[{"line_no":1,"quantity":1,"expiry_date":"30/06/2027"}]}`, "lines[0].expiry_date"},
			{`{"lines":[{"line_no":1,"quantity":1,"batch_number":"` + strings.Repeat("b", 65) + `"}]}`, "lines[0].batch_number"},
			{`{"lines":[{"line_no":1,"quantity":1,"batch_number":"a\tb"}]}`, "lines[0].batch_number"},
			{`{"location_id":"main","lines":[{"line_no":1,"quantity":1}]}`, "location_id"},
			{`{"lines":[{"line_no":1,"quantity":1,"reason":"x"}]}`, "reason"},
			{`{"lines":[{"line_no":"1","quantity":1}]}`, "lines.line_no"},
		} {
			e := requireError(t, f.call(t, http.MethodPost, receipts, tk.clerk, tc.body), http.StatusBadRequest, "invalid_input")
			require.Contains(t, e.Fields, tc.field, tc.body)
		}
		unchanged("malformed receipts")

		// Cross-tenant: their location, their eyes on our order.
		theirLoc := mustCreate(t, f, "/api/v1/locations", tk.other, `{"code":"g","name":"G"}`)["id"].(string)
		requireError(t, f.call(t, http.MethodPost, receipts, tk.clerk, `{"location_id":"`+theirLoc+`","lines":[{"line_no":1,"quantity":1}]}`), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, receipts, tk.other, `{"lines":[{"line_no":1,"quantity":1}]}`), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodGet, receipts, tk.other, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/purchase-orders/"+id, tk.other, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/purchase-orders/"+id+"/approve", tk.other, ""), http.StatusNotFound, "not_found")
		unchanged("cross-tenant")
		require.Equal(t, 0, f.eventCount(t, tk.other, "StockMovementRecorded"))
		require.Equal(t, 0, f.eventCount(t, tk.other, "GoodsReceived"))

		// The rest, at a location of ours: the order is received.
		north := mustCreate(t, f, "/api/v1/locations", tk.clerk, `{"code":"north","name":"North"}`)["id"].(string)
		rec = f.call(t, http.MethodPost, receipts, tk.clerk, `{"location_id":"`+north+`","lines":[{"line_no":1,"quantity":4},{"line_no":3,"product_id":"`+a+`","quantity":2}]}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		require.Equal(t, north, decode[map[string]any](t, rec)["location_id"])
		got = decode[map[string]any](t, f.call(t, http.MethodGet, "/api/v1/purchase-orders/"+id, tk.reader, ""))
		require.Equal(t, "received", got["status"])
		require.NotNil(t, got["received_at"])
		require.EqualValues(t, 12, f.onHand(t, tk.reader, a))
		requireError(t, f.call(t, http.MethodPost, receipts, tk.clerk, `{"lines":[{"line_no":1,"quantity":1}]}`), http.StatusUnprocessableEntity, "purchase_order_not_approved")

		page := decode[listPage](t, f.call(t, http.MethodGet, receipts, tk.reader, ""))
		require.Len(t, page.Data, 2)
		require.Equal(t, r1["id"], page.Data[0]["id"])
		require.Nil(t, page.Next)
		page = decode[listPage](t, f.call(t, http.MethodGet, receipts+"?limit=1", tk.reader, ""))
		require.Equal(t, []string{r1["id"].(string)}, listIDs(page))
		require.NotNil(t, page.Next)
		page = decode[listPage](t, f.call(t, http.MethodGet, receipts+"?after="+*page.Next, tk.reader, ""))
		require.Len(t, page.Data, 1)
		requireError(t, f.call(t, http.MethodGet, receipts+"?after=x", tk.reader, ""), http.StatusBadRequest, "invalid_input")

		evs := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events?type=GoodsReceived", tk.reader, ""))
		require.Len(t, evs.Data, 2)
		payload := evs.Data[1]["payload"].(map[string]any)
		require.Equal(t, true, payload["fully_received"])
		require.Equal(t, "PO-000001", payload["number"])
		require.Len(t, payload["lines"].([]any), 2)
	})
}
