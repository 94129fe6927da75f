package report

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

// emptySource is a tenant without a single row.
type emptySource struct{}

func (emptySource) ReadSnapshot(ctx context.Context, fn func(ctx context.Context) error) error {
	return fn(ctx)
}
func (emptySource) EachOrder(context.Context, domain.TenantID, Window, func(OrderRow) error) error {
	return nil
}
func (emptySource) EachOrderLine(context.Context, domain.TenantID, Window, func(OrderLineRow) error) error {
	return nil
}
func (emptySource) EachProductStock(context.Context, domain.TenantID, Window, func(ProductStockRow) error) error {
	return nil
}
func (emptySource) EachBatch(context.Context, domain.TenantID, time.Time, func(BatchRow) error) error {
	return nil
}
func (emptySource) EachInvoice(context.Context, domain.TenantID, Window, func(InvoiceRow) error) error {
	return nil
}
func (emptySource) EachPayment(context.Context, domain.TenantID, Window, func(PaymentRow) error) error {
	return nil
}
func (emptySource) EachCustomer(context.Context, domain.TenantID, time.Time, func(CustomerRow) error) error {
	return nil
}
func (emptySource) EachPurchaseOrder(context.Context, domain.TenantID, Window, func(PurchaseOrderRow) error) error {
	return nil
}
func (emptySource) EachPurchaseOrderLine(context.Context, domain.TenantID, Window, func(PurchaseOrderLineRow) error) error {
	return nil
}

// An empty tenant still gets a complete document: lists are [], never
// null, money is "0.00", and the sales report lists every day.
func TestEmptyTenantGetsCompleteDocuments(t *testing.T) {
	t.Parallel()
	w, err := Parameters{From: "2024-02-28", To: "2024-03-01"}.window()
	require.NoError(t, err)
	want := map[Type]string{
		TypeSales: `{"summary": {"orders": 0, "total": "0.00", "units": 0},
			"by_status": [{"status": "pending", "count": 0, "total": "0.00"}, {"status": "approved", "count": 0, "total": "0.00"},
			              {"status": "fulfilled", "count": 0, "total": "0.00"}],
			"by_day": [{"date": "2024-02-28", "count": 0, "total": "0.00"}, {"date": "2024-02-29", "count": 0, "total": "0.00"},
			           {"date": "2024-03-01", "count": 0, "total": "0.00"}],
			"top_products_by_quantity": [], "top_products_by_revenue": []}`,
		TypeInventory: `{"summary": {"products": 0, "low_stock": 0, "units_on_hand": 0, "units_in": 0, "units_out": 0,
			"expiring_batches": 0, "expiring_units": 0}, "products": [], "expiring_batches": []}`,
		TypeFinancial: `{"invoiced": {"count": 0, "total": "0.00"}, "paid": {"count": 0, "total": "0.00"},
			"outstanding": {"count": 0, "total": "0.00"}, "overdue": {"count": 0, "total": "0.00"}, "customers": []}`,
		TypeCustomer: `{"summary": {"customers": 0, "new_customers": 0, "orders": 0, "order_total": "0.00", "payments": 0,
			"payment_total": "0.00"}, "new_customers": [], "customers": []}`,
		TypeProcurement: `{"summary": {"purchase_orders": 0, "total": "0.00", "ordered_quantity": 0, "received_quantity": 0,
			"outstanding_quantity": 0},
			"by_status": [{"status": "pending", "count": 0, "total": "0.00"}, {"status": "approved", "count": 0, "total": "0.00"},
			              {"status": "partially_received", "count": 0, "total": "0.00"}, {"status": "received", "count": 0, "total": "0.00"}],
			"by_vendor": [], "products": []}`,
	}
	for _, typ := range Types {
		doc, err := build(context.Background(), emptySource{}, Header{Type: typ, Tenant: "acme"}, w)
		require.NoError(t, err)
		raw, err := json.Marshal(doc)
		require.NoError(t, err)
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &m))
		for _, k := range []string{"report_id", "type", "tenant", "from", "to", "as_of", "generated_at"} {
			require.Contains(t, m, k, "%s: header", typ)
			delete(m, k)
		}
		body, err := json.Marshal(m)
		require.NoError(t, err)
		require.JSONEq(t, want[typ], string(body), typ)
	}
	_, err = build(context.Background(), emptySource{}, Header{Type: "payroll"}, w)
	require.True(t, domain.Permanent(err))
}
