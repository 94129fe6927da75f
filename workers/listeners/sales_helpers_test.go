package listeners_test

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// saleWorld is one store with the real services of the sales flow.
type saleWorld struct {
	t         *testing.T
	s         *sqlstore.Store
	crm       *crm.Service
	sales     *sales.Service
	products  *product.Service
	inventory *inventory.Service
}

func newSaleWorld(t *testing.T, s *sqlstore.Store) *saleWorld {
	return &saleWorld{t: t, s: s, crm: crm.NewService(s, nil), sales: sales.NewService(s, nil),
		products: product.NewService(s, nil), inventory: inventory.NewService(s, nil)}
}

func saleAdmin(tenant domain.TenantID, user domain.UserID) domain.Actor {
	return domain.Actor{TenantID: tenant, UserID: user, Perms: []string{domain.PermAdmin}}
}

func (w *saleWorld) customer(tenant domain.TenantID, name string) crm.Customer {
	w.t.Helper()
	c, err := w.crm.CreateCustomer(context.Background(), saleAdmin(tenant, "root"), crm.CustomerInput{Name: name})
	require.NoError(w.t, err)
	return c
}

func (w *saleWorld) product(tenant domain.TenantID, sku string, reorder int64) product.Product {
	w.t.Helper()
	p, err := w.products.Create(context.Background(), saleAdmin(tenant, "root"), product.CreateInput{
		SKU: sku, Name: "Product " + sku, Price: decimalPtr("10"), ReorderLevel: &reorder})
	require.NoError(w.t, err)
	return p
}

func (w *saleWorld) location(tenant domain.TenantID, code string) inventory.Location {
	w.t.Helper()
	l, err := w.inventory.CreateLocation(context.Background(), saleAdmin(tenant, "root"), inventory.LocationInput{Code: code, Name: code})
	require.NoError(w.t, err)
	return l
}

// stock moves qty in (or out) at a location ("" = the default one).
func (w *saleWorld) stock(tenant domain.TenantID, p product.Product, location string, qty int64) {
	w.t.Helper()
	_, err := w.inventory.Record(context.Background(), saleAdmin(tenant, "root"), inventory.RecordInput{
		ProductID: p.ID, LocationID: location, Quantity: qty, Reason: "setup"})
	require.NoError(w.t, err)
}

// order creates an order as user (pending).
func (w *saleWorld) order(tenant domain.TenantID, user domain.UserID, customer string, lines ...sales.LineInput) sales.Order {
	w.t.Helper()
	o, err := w.sales.Create(context.Background(), saleAdmin(tenant, user), sales.CreateInput{CustomerID: customer, Lines: lines})
	require.NoError(w.t, err)
	return o
}

func (w *saleWorld) approve(tenant domain.TenantID, id string) {
	w.t.Helper()
	_, err := w.sales.Approve(context.Background(), saleAdmin(tenant, "boss"), id)
	require.NoError(w.t, err)
}

func (w *saleWorld) fulfill(tenant domain.TenantID, id string) {
	w.t.Helper()
	_, err := w.sales.Fulfill(context.Background(), saleAdmin(tenant, "picker"), id)
	require.NoError(w.t, err)
}

// events lists the tenant's event log, oldest first, optionally of one type.
func (w *saleWorld) events(tenant domain.TenantID, typ string) []domain.Event {
	w.t.Helper()
	evs, err := w.s.ListEvents(context.Background(), tenant, typ, "", 1000)
	require.NoError(w.t, err)
	return evs
}

// lastEvent is the newest event of a type.
func (w *saleWorld) lastEvent(tenant domain.TenantID, typ string) domain.Event {
	w.t.Helper()
	evs := w.events(tenant, typ)
	require.NotEmpty(w.t, evs, "no %s event", typ)
	return evs[len(evs)-1]
}

func (w *saleWorld) level(tenant domain.TenantID, p product.Product, location string) int64 {
	w.t.Helper()
	n, err := w.s.StockLevel(context.Background(), tenant, p.ID, location)
	require.NoError(w.t, err)
	return n
}

func (w *saleWorld) movements(tenant domain.TenantID) []inventory.Movement {
	w.t.Helper()
	ms, err := w.s.ListMovements(context.Background(), tenant, inventory.MovementFilter{Limit: 500})
	require.NoError(w.t, err)
	return ms
}

func decimalPtr(s string) *decimal.Decimal { d := decimal.RequireFromString(s); return &d }
