package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

// testClock is the clock every ERP service of a dataset reads, set before
// each step so rows carry the times the figures are computed from.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(t *testing.T, rfc3339 string) {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, rfc3339)
	require.NoError(t, err)
	c.mu.Lock()
	c.t = at
	c.mu.Unlock()
}

// erp is the real ERP services over one store, on one clock.
type erp struct {
	t           *testing.T
	store       *sqlstore.Store
	clock       *testClock
	products    *product.Service
	stock       *inventory.Service
	crm         *crm.Service
	sales       *sales.Service
	invoices    *invoice.Service
	procurement *procurement.Service
}

func newERP(t *testing.T, s *sqlstore.Store) *erp {
	c := &testClock{}
	stock := inventory.NewService(s, c.now)
	return &erp{t: t, store: s, clock: c, products: product.NewService(s, c.now), stock: stock,
		crm: crm.NewService(s, c.now), sales: sales.NewService(s, c.now), invoices: invoice.NewService(s, c.now),
		procurement: procurement.NewService(s, stock, c.now)}
}

func admin(tenant domain.TenantID) domain.Actor { return domain.SystemActor(tenant) }

func dec(s string) *decimal.Decimal {
	d := decimal.RequireFromString(s)
	return &d
}

func (e *erp) at(when string) *erp {
	e.t.Helper()
	e.clock.set(e.t, when)
	return e
}

func (e *erp) product(tenant domain.TenantID, sku, name, price string, reorder int64) string {
	e.t.Helper()
	p, err := e.products.Create(context.Background(), admin(tenant), product.CreateInput{
		SKU: sku, Name: name, Price: dec(price), ReorderLevel: &reorder})
	require.NoError(e.t, err)
	return p.ID
}

// move records a stock movement and returns its location ("" = the
// tenant's default one).
func (e *erp) move(tenant domain.TenantID, productID, locationID string, qty int64, batch, expiry string) string {
	e.t.Helper()
	m, err := e.stock.Record(context.Background(), admin(tenant), inventory.RecordInput{
		ProductID: productID, LocationID: locationID, Quantity: qty, BatchNumber: batch, ExpiryDate: expiry, Reason: "test"})
	require.NoError(e.t, err)
	return m.LocationID
}

func (e *erp) customer(tenant domain.TenantID, name string, terms int) string {
	e.t.Helper()
	c, err := e.crm.CreateCustomer(context.Background(), admin(tenant), crm.CustomerInput{Name: name, PaymentTermsDays: &terms})
	require.NoError(e.t, err)
	return c.ID
}

// line is a sales or purchase order line: product, quantity, price.
type line struct {
	product string
	qty     int64
	price   string
}

func (e *erp) order(tenant domain.TenantID, customerID string, lines ...line) string {
	e.t.Helper()
	in := sales.CreateInput{CustomerID: customerID}
	for _, l := range lines {
		in.Lines = append(in.Lines, sales.LineInput{ProductID: l.product, Quantity: l.qty, UnitPrice: dec(l.price)})
	}
	o, err := e.sales.Create(context.Background(), admin(tenant), in)
	require.NoError(e.t, err)
	return o.ID
}

func (e *erp) approve(tenant domain.TenantID, orderID string) {
	e.t.Helper()
	_, err := e.sales.Approve(context.Background(), admin(tenant), orderID)
	require.NoError(e.t, err)
}

func (e *erp) fulfill(tenant domain.TenantID, orderID string) {
	e.t.Helper()
	_, err := e.sales.Fulfill(context.Background(), admin(tenant), orderID)
	require.NoError(e.t, err)
}

func (e *erp) invoice(tenant domain.TenantID, orderID string) string {
	e.t.Helper()
	inv, err := e.invoices.GenerateForOrder(context.Background(), tenant, orderID)
	require.NoError(e.t, err)
	return inv.ID
}

func (e *erp) pay(tenant domain.TenantID, invoiceID, amount string) {
	e.t.Helper()
	_, err := e.invoices.RecordPayment(context.Background(), admin(tenant), invoiceID, invoice.PaymentInput{Amount: dec(amount), Method: "card"})
	require.NoError(e.t, err)
}

func (e *erp) vendor(tenant domain.TenantID, name string) string {
	e.t.Helper()
	v, err := e.procurement.CreateVendor(context.Background(), admin(tenant), procurement.VendorInput{Name: name})
	require.NoError(e.t, err)
	return v.ID
}

func (e *erp) purchase(tenant domain.TenantID, vendorID string, lines ...line) string {
	e.t.Helper()
	in := procurement.CreateInput{VendorID: vendorID}
	for _, l := range lines {
		in.Lines = append(in.Lines, procurement.LineInput{ProductID: l.product, Quantity: l.qty, UnitCost: dec(l.price)})
	}
	po, err := e.procurement.CreatePurchaseOrder(context.Background(), admin(tenant), in)
	require.NoError(e.t, err)
	return po.ID
}

func (e *erp) approvePurchase(tenant domain.TenantID, id string) {
	e.t.Helper()
	_, err := e.procurement.Approve(context.Background(), admin(tenant), id)
	require.NoError(e.t, err)
}

func (e *erp) receive(tenant domain.TenantID, id string, lines ...line) {
	e.t.Helper()
	in := procurement.ReceiveInput{}
	for _, l := range lines {
		in.Lines = append(in.Lines, procurement.ReceiveLineInput{ProductID: l.product, Quantity: l.qty})
	}
	_, err := e.procurement.Receive(context.Background(), admin(tenant), id, in)
	require.NoError(e.t, err)
}

// deleteProduct deletes a product as of when: the store stamps deletions
// with the real clock, so the row is moved to the dataset's time.
func (e *erp) deleteProduct(tenant domain.TenantID, id, when string) {
	e.t.Helper()
	require.NoError(e.t, e.products.Delete(context.Background(), admin(tenant), id))
	at, err := time.Parse(time.RFC3339, when)
	require.NoError(e.t, err)
	storetest.Exec(e.t, e.store, `UPDATE products SET deleted_at = ? WHERE tenant_id = ? AND id = ?`,
		at.UTC().Format("2006-01-02T15:04:05.000000Z"), string(tenant), id)
}

// dataset names the rows of the hand-built dataset whose ids the expected
// reports mention.
type dataset struct {
	apl, brd, chs, fig      string // products of acme
	main, cold              string // locations
	beta, alpha, gamma      string // customers
	freshFarms, dairyDirect string // vendors
}

// buildDataset writes the hand-built dataset of the report tests through
// the real services: acme's March 2026 with rows just before and after
// it, and a globex whose rows fall inside the range and must never show
// in acme's reports. The figures each report must give are worked out in
// generatereport_test.go.
func buildDataset(t *testing.T, s *sqlstore.Store) dataset {
	const acme, globex = domain.TenantID("acme"), domain.TenantID("globex")
	e := newERP(t, s)
	var d dataset
	ctx := context.Background()

	// Catalogue and stock.
	e.at("2026-02-01T10:00:00Z")
	d.apl = e.product(acme, "APL", "Apple Juice", "2.50", 60)
	d.brd = e.product(acme, "BRD", "Bread", "3.20", 20)
	d.chs = e.product(acme, "CHS", "Cheese", "7.125", 0)
	d.fig = e.product(acme, "FIG", "Figs", "1.00", 0)
	egg := e.product(acme, "EGG", "Eggs", "0.30", 0)
	cold, err := e.stock.CreateLocation(ctx, admin(acme), inventory.LocationInput{Code: "cold", Name: "Cold room"})
	require.NoError(t, err)
	d.cold = cold.ID
	d.main = e.at("2026-02-10T08:00:00Z").move(acme, d.apl, "", 100, "", "")
	e.at("2026-02-15T08:00:00Z").move(acme, egg, d.main, 3, "", "")
	e.at("2026-03-01T08:00:00Z").move(acme, d.brd, d.main, 4, "", "")
	e.at("2026-03-05T12:00:00Z").move(acme, d.apl, d.main, -30, "", "")
	e.at("2026-03-10T09:00:00Z").move(acme, d.chs, d.cold, 20, "L1", "2026-04-15")
	e.at("2026-03-10T09:30:00Z").move(acme, d.chs, d.main, 5, "L0", "2026-03-20")
	e.at("2026-03-12T09:00:00Z").move(acme, d.chs, d.main, 7, "L9", "2026-06-01")
	e.deleteProduct(acme, egg, "2026-03-20T12:00:00Z")   // gone before the end: not listed
	e.deleteProduct(acme, d.fig, "2026-04-02T12:00:00Z") // gone after it: listed
	e.at("2026-04-02T09:00:00Z").product(acme, "DTS", "Dates", "4.00", 0)
	e.at("2026-04-03T08:00:00Z").move(acme, d.apl, d.main, -65, "", "")

	// Customers, orders, invoices, payments.
	e.at("2026-02-01T10:00:00Z")
	d.beta = e.customer(acme, "Beta Foods", 30)
	e.at("2026-03-03T10:00:00Z")
	d.alpha = e.customer(acme, "Alpha Mart", 10)
	e.at("2026-03-25T10:00:00Z")
	d.gamma = e.customer(acme, "Gamma Co", 30)
	e.at("2026-04-05T10:00:00Z").customer(acme, "Delta", 30)

	e.at("2026-02-20T10:00:00Z")
	o1 := e.order(acme, d.beta, line{d.apl, 10, "2.50"})
	e.at("2026-02-21T10:00:00Z").approve(acme, o1)
	inv1 := e.invoice(acme, o1) // due 2026-03-23
	e.at("2026-02-25T10:00:00Z").pay(acme, inv1, "10.00")
	e.at("2026-03-15T10:00:00Z").pay(acme, inv1, "5.00")

	e.at("2026-03-02T09:00:00Z")
	o2 := e.order(acme, d.beta, line{d.apl, 4, "2.50"}, line{d.brd, 2, "3.20"})
	e.at("2026-03-02T10:00:00Z").approve(acme, o2)
	inv2 := e.invoice(acme, o2) // due 2026-04-01
	e.at("2026-03-04T10:00:00Z").fulfill(acme, o2)
	e.at("2026-03-20T10:00:00Z").pay(acme, inv2, "6.40")

	e.at("2026-03-05T09:00:00Z")
	o3 := e.order(acme, d.alpha, line{d.chs, 3, "7.125"})
	e.at("2026-03-05T15:00:00Z").order(acme, d.alpha, line{d.apl, 1, "2.40"})
	e.at("2026-03-06T10:00:00Z").approve(acme, o3)
	inv3 := e.invoice(acme, o3) // due 2026-03-16
	e.at("2026-04-02T10:00:00Z").pay(acme, inv3, "5.00")

	e.at("2026-03-31T23:59:59.999999Z")
	o5 := e.order(acme, d.beta, line{d.brd, 1, "3.20"})
	e.at("2026-04-01T00:00:00Z").approve(acme, o5)
	e.invoice(acme, o5)
	e.order(acme, d.beta, line{d.apl, 1, "2.50"})

	// Procurement.
	e.at("2026-02-01T10:00:00Z")
	d.freshFarms = e.vendor(acme, "Fresh Farms")
	d.dairyDirect = e.vendor(acme, "Dairy Direct")
	e.at("2026-02-25T10:00:00Z")
	po1 := e.purchase(acme, d.freshFarms, line{d.apl, 10, "1.00"})
	e.at("2026-02-26T10:00:00Z").approvePurchase(acme, po1)
	e.at("2026-03-03T10:00:00Z")
	po2 := e.purchase(acme, d.freshFarms, line{d.apl, 50, "1.10"}, line{d.brd, 20, "0.80"})
	e.at("2026-03-04T10:00:00Z").approvePurchase(acme, po2)
	e.at("2026-03-08T10:00:00Z").receive(acme, po2, line{d.apl, 50, ""}, line{d.brd, 10, ""})
	e.at("2026-03-10T10:00:00Z")
	po3 := e.purchase(acme, d.dairyDirect, line{d.chs, 30, "4.0000"})
	e.at("2026-03-11T10:00:00Z").approvePurchase(acme, po3)
	e.at("2026-03-12T10:00:00Z").receive(acme, po3, line{d.chs, 30, ""})
	e.at("2026-03-20T10:00:00Z")
	po4 := e.purchase(acme, d.dairyDirect, line{d.chs, 10, "4.25"})
	e.at("2026-04-02T10:00:00Z").approvePurchase(acme, po4)
	e.at("2026-03-28T10:00:00Z")
	po5 := e.purchase(acme, d.freshFarms, line{d.apl, 5, "1.10"})
	e.at("2026-03-29T10:00:00Z").approvePurchase(acme, po5)
	e.at("2026-04-02T11:00:00Z").receive(acme, po2, line{d.brd, 10, ""})
	e.at("2026-04-03T10:00:00Z").purchase(acme, d.freshFarms, line{d.brd, 1, "0.80"})

	// globex, all inside the range.
	e.at("2026-03-10T10:00:00Z")
	glx := e.product(globex, "APL", "Globex Apples", "9.99", 1000)
	e.move(globex, glx, "", 500, "G1", "2026-04-01")
	gc := e.customer(globex, "Alpha Mart", 0)
	gv := e.vendor(globex, "Fresh Farms")
	go1 := e.order(globex, gc, line{glx, 100, "10.00"})
	e.approve(globex, go1)
	ginv := e.invoice(globex, go1)
	e.pay(globex, ginv, "400.00")
	gpo := e.purchase(globex, gv, line{glx, 7, "3.00"})
	e.approvePurchase(globex, gpo)
	e.receive(globex, gpo, line{glx, 7, ""})
	return d
}
