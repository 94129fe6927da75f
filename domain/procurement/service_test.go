package procurement_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

var (
	buyer    = domain.Actor{TenantID: "acme", UserID: "bea", Perms: []string{domain.PermProcurementManage, domain.PermProductsManage}}
	approver = domain.Actor{TenantID: "acme", UserID: "abe", Perms: []string{domain.PermProcurementApprove}}
	clerk    = domain.Actor{TenantID: "acme", UserID: "cal", Perms: []string{domain.PermInventoryManage}}
	globex   = domain.Actor{TenantID: "globex", UserID: "gina", Perms: []string{domain.PermAdmin}}
)

func dec(s string) *decimal.Decimal { d := decimal.RequireFromString(s); return &d }
func intp(n int) *int               { return &n }

type fixture struct {
	store     *sqlstore.Store
	products  *product.Service
	inventory *inventory.Service
	svc       *procurement.Service
}

func each(t *testing.T, fn func(t *testing.T, f fixture)) {
	t.Helper()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			inv := inventory.NewService(s, nil)
			fn(t, fixture{store: s, products: product.NewService(s, nil), inventory: inv, svc: procurement.NewService(s, inv, nil)})
		})
	}
}

func (f fixture) product(t *testing.T, actor domain.Actor, sku string) product.Product {
	t.Helper()
	p, err := f.products.Create(context.Background(), actor, product.CreateInput{SKU: sku, Name: "Product " + sku, Price: dec("10")})
	require.NoError(t, err)
	return p
}

func (f fixture) vendor(t *testing.T, actor domain.Actor, name string) procurement.Vendor {
	t.Helper()
	v, err := f.svc.CreateVendor(context.Background(), actor, procurement.VendorInput{Name: name, Email: "sales@example.com"})
	require.NoError(t, err)
	return v
}

// order creates a pending order of the given (product, quantity, cost) lines.
func (f fixture) order(t *testing.T, actor domain.Actor, vendor string, lines ...procurement.LineInput) procurement.PurchaseOrder {
	t.Helper()
	po, err := f.svc.CreatePurchaseOrder(context.Background(), actor, procurement.CreateInput{VendorID: vendor, Lines: lines})
	require.NoError(t, err)
	return po
}

func (f fixture) approved(t *testing.T, vendor string, lines ...procurement.LineInput) procurement.PurchaseOrder {
	t.Helper()
	po := f.order(t, buyer, vendor, lines...)
	po, err := f.svc.Approve(context.Background(), approver, po.ID)
	require.NoError(t, err)
	return po
}

func (f fixture) events(t *testing.T, tenant domain.TenantID, typ string) []domain.Event {
	t.Helper()
	evs, err := f.store.ListEvents(context.Background(), tenant, typ, "", 200)
	require.NoError(t, err)
	return evs
}

func (f fixture) onHand(t *testing.T, tenant domain.TenantID, id string) int64 {
	t.Helper()
	p, err := f.products.Get(context.Background(), tenant, id)
	require.NoError(t, err)
	return p.OnHand
}

func requireFields(t *testing.T, err error, fields ...string) {
	t.Helper()
	var v *domain.ValidationError
	require.ErrorAs(t, err, &v)
	for _, field := range fields {
		require.Contains(t, v.Fields, field, "fields: %v", v.Fields)
	}
}

func requireRule(t *testing.T, err error, code string) {
	t.Helper()
	var r *domain.RuleError
	require.ErrorAs(t, err, &r)
	require.Equal(t, code, r.Code)
}

func TestVendors(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		v, err := f.svc.CreateVendor(ctx, buyer, procurement.VendorInput{Name: "  Steel & Co  ", Email: "orders@steel.example"})
		require.NoError(t, err)
		require.Equal(t, "Steel & Co", v.Name)
		got, err := f.svc.GetVendor(ctx, "acme", v.ID)
		require.NoError(t, err)
		require.Equal(t, v, got)

		_, err = f.svc.CreateVendor(ctx, buyer, procurement.VendorInput{Name: "Steel & Co"})
		require.ErrorIs(t, err, domain.ErrConflict)
		_, err = f.svc.CreateVendor(ctx, globex, procurement.VendorInput{Name: "Steel & Co"})
		require.NoError(t, err, "another tenant may use the name")
		_, err = f.svc.GetVendor(ctx, "globex", v.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)

		for in, field := range map[procurement.VendorInput]string{
			{Name: ""}:                                              "name",
			{Name: "   "}:                                           "name",
			{Name: strings.Repeat("x", 201)}:                        "name",
			{Name: "bell\x07"}:                                      "name",
			{Name: "ok", Email: "not an email"}:                     "email",
			{Name: "ok", Email: "Bob <bob@example.com>"}:            "email",
			{Name: "ok", Email: strings.Repeat("a", 250) + "@x.io"}: "email",
		} {
			_, err := f.svc.CreateVendor(ctx, buyer, in)
			requireFields(t, err, field)
		}
		_, err = f.svc.CreateVendor(ctx, approver, procurement.VendorInput{Name: "No perm"})
		require.ErrorIs(t, err, domain.ErrForbidden)

		var ids []string
		for i := range 3 {
			ids = append(ids, f.vendor(t, buyer, fmt.Sprintf("V%d", i)).ID)
		}
		page, err := f.svc.ListVendors(ctx, "acme", procurement.VendorFilter{Limit: 2})
		require.NoError(t, err)
		require.Len(t, page, 2)
		require.Equal(t, v.ID, page[0].ID)
		rest, err := f.svc.ListVendors(ctx, "acme", procurement.VendorFilter{After: page[1].ID})
		require.NoError(t, err)
		require.Len(t, rest, 2)
		require.Equal(t, ids[1:], []string{rest[0].ID, rest[1].ID})
		_, err = f.svc.ListVendors(ctx, "acme", procurement.VendorFilter{After: "nope"})
		requireFields(t, err, "after")
	})
}

func TestCreatePurchaseOrder(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		v := f.vendor(t, buyer, "Steel")
		a, b := f.product(t, buyer, "A"), f.product(t, buyer, "B")
		po := f.order(t, buyer, v.ID,
			procurement.LineInput{ProductID: a.ID, Quantity: 3, UnitCost: dec("3.3333")},
			procurement.LineInput{ProductID: b.ID, Quantity: 2, UnitCost: dec("0.0001")})
		require.Equal(t, "PO-000001", po.Number)
		require.Equal(t, procurement.StatusPending, po.Status)
		require.Equal(t, "10.0001", po.Total.String(), "exact: 3 × 3.3333 + 2 × 0.0001")
		require.Equal(t, domain.UserID("bea"), po.RequestedBy)
		require.Nil(t, po.ApprovedAt)
		got, err := f.svc.GetPurchaseOrder(ctx, "acme", po.ID)
		require.NoError(t, err)
		require.Equal(t, po.Total.String(), got.Total.String())
		require.Len(t, got.Lines, 2)
		require.Equal(t, 2, got.Lines[1].LineNo)
		require.Equal(t, b.ID, got.Lines[1].ProductID)
		require.Equal(t, "0.0001", got.Lines[1].UnitCost.String())
		require.Equal(t, po.CreatedAt, got.CreatedAt)
		for _, ev := range f.events(t, "acme", "") {
			require.Equal(t, "ProductCreated", ev.Type, "creating an order writes no event")
		}
		second := f.order(t, buyer, v.ID, procurement.LineInput{ProductID: a.ID, Quantity: 1, UnitCost: dec("0")})
		require.Equal(t, "PO-000002", second.Number)

		// Another tenant's vendor is not found; its product is a field
		// error like a product that does not exist; so is a deleted one.
		theirs := f.vendor(t, globex, "Theirs")
		_, err = f.svc.CreatePurchaseOrder(ctx, buyer, procurement.CreateInput{VendorID: theirs.ID,
			Lines: []procurement.LineInput{{ProductID: a.ID, Quantity: 1, UnitCost: dec("1")}}})
		require.ErrorIs(t, err, domain.ErrNotFound)
		foreign := f.product(t, globex, "G")
		gone := f.product(t, buyer, "GONE")
		require.NoError(t, f.products.Delete(ctx, buyer, gone.ID))
		_, err = f.svc.CreatePurchaseOrder(ctx, buyer, procurement.CreateInput{VendorID: v.ID, Lines: []procurement.LineInput{
			{ProductID: a.ID, Quantity: 1, UnitCost: dec("1")},
			{ProductID: foreign.ID, Quantity: 1, UnitCost: dec("1")},
			{ProductID: gone.ID, Quantity: 1, UnitCost: dec("1")},
		}})
		requireFields(t, err, "lines[1].product_id", "lines[2].product_id")

		list, err := f.svc.ListPurchaseOrders(ctx, "acme", procurement.OrderFilter{})
		require.NoError(t, err)
		require.Len(t, list, 2, "refused orders leave nothing behind")
		third := f.order(t, buyer, v.ID, procurement.LineInput{ProductID: a.ID, Quantity: 1, UnitCost: dec("1")})
		require.Equal(t, "PO-000003", third.Number, "refused orders give their number back")
	})
}

func TestCreatePurchaseOrderValidation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		v := f.vendor(t, buyer, "Steel")
		p := f.product(t, buyer, "A")
		line := func(mod func(*procurement.LineInput)) []procurement.LineInput {
			l := procurement.LineInput{ProductID: p.ID, Quantity: 1, UnitCost: dec("1")}
			mod(&l)
			return []procurement.LineInput{l}
		}
		many := make([]procurement.LineInput, 101)
		for i := range many {
			many[i] = procurement.LineInput{ProductID: p.ID, Quantity: 1, UnitCost: dec("1")}
		}
		cases := map[string]struct {
			in    procurement.CreateInput
			field string
		}{
			"bad vendor id":   {procurement.CreateInput{VendorID: "v1", Lines: line(func(*procurement.LineInput) {})}, "vendor_id"},
			"no lines":        {procurement.CreateInput{VendorID: v.ID}, "lines"},
			"101 lines":       {procurement.CreateInput{VendorID: v.ID, Lines: many}, "lines"},
			"bad product id":  {procurement.CreateInput{VendorID: v.ID, Lines: line(func(l *procurement.LineInput) { l.ProductID = "x'; --" })}, "lines[0].product_id"},
			"zero quantity":   {procurement.CreateInput{VendorID: v.ID, Lines: line(func(l *procurement.LineInput) { l.Quantity = 0 })}, "lines[0].quantity"},
			"negative qty":    {procurement.CreateInput{VendorID: v.ID, Lines: line(func(l *procurement.LineInput) { l.Quantity = -1 })}, "lines[0].quantity"},
			"huge quantity":   {procurement.CreateInput{VendorID: v.ID, Lines: line(func(l *procurement.LineInput) { l.Quantity = 1_000_000_001 })}, "lines[0].quantity"},
			"no unit cost":    {procurement.CreateInput{VendorID: v.ID, Lines: line(func(l *procurement.LineInput) { l.UnitCost = nil })}, "lines[0].unit_cost"},
			"negative cost":   {procurement.CreateInput{VendorID: v.ID, Lines: line(func(l *procurement.LineInput) { l.UnitCost = dec("-0.01") })}, "lines[0].unit_cost"},
			"5 places":        {procurement.CreateInput{VendorID: v.ID, Lines: line(func(l *procurement.LineInput) { l.UnitCost = dec("1.00001") })}, "lines[0].unit_cost"},
			"cost too large":  {procurement.CreateInput{VendorID: v.ID, Lines: line(func(l *procurement.LineInput) { l.UnitCost = dec("1e16") })}, "lines[0].unit_cost"},
			"total too large": {procurement.CreateInput{VendorID: v.ID, Lines: line(func(l *procurement.LineInput) { l.UnitCost, l.Quantity = dec("1e15"), 100 })}, "lines"},
		}
		for name, tc := range cases {
			_, err := f.svc.CreatePurchaseOrder(ctx, buyer, tc.in)
			var verr *domain.ValidationError
			require.ErrorAs(t, err, &verr, name)
			require.Contains(t, verr.Fields, tc.field, name)
		}
		_, err := f.svc.CreatePurchaseOrder(ctx, approver, procurement.CreateInput{VendorID: v.ID, Lines: line(func(*procurement.LineInput) {})})
		require.ErrorIs(t, err, domain.ErrForbidden)
		list, err := f.svc.ListPurchaseOrders(ctx, "acme", procurement.OrderFilter{})
		require.NoError(t, err)
		require.Empty(t, list)
	})
}

func TestApprove(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		v := f.vendor(t, buyer, "Steel <b>")
		p := f.product(t, buyer, "A")
		po := f.order(t, buyer, v.ID, procurement.LineInput{ProductID: p.ID, Quantity: 4, UnitCost: dec("2.5")})

		_, err := f.svc.Approve(ctx, buyer, po.ID)
		require.ErrorIs(t, err, domain.ErrForbidden, "procurement.manage does not approve")
		_, err = f.svc.Approve(ctx, globex, po.ID)
		require.ErrorIs(t, err, domain.ErrNotFound, "another tenant's order")
		_, err = f.svc.Approve(ctx, approver, domain.NewID())
		require.ErrorIs(t, err, domain.ErrNotFound)

		got, err := f.svc.Approve(ctx, approver, po.ID)
		require.NoError(t, err)
		require.Equal(t, procurement.StatusApproved, got.Status)
		require.Equal(t, domain.UserID("abe"), got.ApprovedBy)
		require.NotNil(t, got.ApprovedAt)
		reread, err := f.svc.GetPurchaseOrder(ctx, "acme", po.ID)
		require.NoError(t, err)
		require.Equal(t, got.Status, reread.Status)
		require.Equal(t, *got.ApprovedAt, *reread.ApprovedAt)

		evs := f.events(t, "acme", "PurchaseOrderApproved")
		require.Len(t, evs, 1)
		require.Equal(t, po.ID, evs[0].AggregateID)
		require.Equal(t, domain.UserID("abe"), evs[0].ActorID)
		var e procurement.PurchaseOrderApproved
		require.NoError(t, evs[0].Decode(&e))
		require.Equal(t, procurement.PurchaseOrderApproved{
			PurchaseOrderID: po.ID, Number: "PO-000001", VendorID: v.ID, VendorName: "Steel <b>",
			Total: e.Total, RequestedBy: "bea", ApprovedBy: "abe",
		}, e)
		require.Equal(t, "10", e.Total.String())

		_, err = f.svc.Approve(ctx, approver, po.ID)
		requireRule(t, err, "purchase_order_not_pending")
		require.Len(t, f.events(t, "acme", "PurchaseOrderApproved"), 1)
		require.Empty(t, f.events(t, "globex", ""))
	})
}

func TestConcurrentApprovalsWriteOneEvent(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		v := f.vendor(t, buyer, "Steel")
		p := f.product(t, buyer, "A")
		po := f.order(t, buyer, v.ID, procurement.LineInput{ProductID: p.ID, Quantity: 1, UnitCost: dec("1")})
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, refused := 0, 0
		for range 8 {
			wg.Go(func() {
				_, err := f.svc.Approve(context.Background(), approver, po.ID)
				mu.Lock()
				defer mu.Unlock()
				var rule *domain.RuleError
				switch {
				case err == nil:
					ok++
				case errors.As(err, &rule) && rule.Code == "purchase_order_not_pending":
					refused++
				default:
					t.Errorf("approve: %v", err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, 1, ok)
		require.Equal(t, 7, refused)
		require.Len(t, f.events(t, "acme", "PurchaseOrderApproved"), 1)
	})
}

func TestListPurchaseOrdersFilters(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		v1, v2 := f.vendor(t, buyer, "One"), f.vendor(t, buyer, "Two")
		p := f.product(t, buyer, "A")
		l := procurement.LineInput{ProductID: p.ID, Quantity: 1, UnitCost: dec("1")}
		a := f.order(t, buyer, v1.ID, l)
		b := f.approved(t, v2.ID, l)
		c := f.order(t, buyer, v1.ID, l, l)

		ids := func(f procurement.OrderFilter, svc *procurement.Service) []string {
			list, err := svc.ListPurchaseOrders(ctx, "acme", f)
			require.NoError(t, err)
			out := []string{}
			for _, po := range list {
				require.NotEmpty(t, po.Lines, "listed orders carry their lines")
				out = append(out, po.ID)
			}
			return out
		}
		require.Equal(t, []string{a.ID, b.ID, c.ID}, ids(procurement.OrderFilter{}, f.svc))
		require.Equal(t, []string{a.ID, c.ID}, ids(procurement.OrderFilter{VendorID: v1.ID}, f.svc))
		require.Equal(t, []string{b.ID}, ids(procurement.OrderFilter{Status: procurement.StatusApproved}, f.svc))
		require.Equal(t, []string{c.ID}, ids(procurement.OrderFilter{VendorID: v1.ID, Status: procurement.StatusPending, After: a.ID}, f.svc))
		require.Equal(t, []string{a.ID}, ids(procurement.OrderFilter{Limit: 1}, f.svc))
		require.Empty(t, ids(procurement.OrderFilter{VendorID: domain.NewID()}, f.svc))

		_, err := f.svc.ListPurchaseOrders(ctx, "acme", procurement.OrderFilter{Status: "shipped", VendorID: "x", After: "y"})
		requireFields(t, err, "status", "vendor_id", "after")
		list, err := f.svc.ListPurchaseOrders(ctx, "globex", procurement.OrderFilter{})
		require.NoError(t, err)
		require.Empty(t, list)
		_, err = f.svc.GetPurchaseOrder(ctx, "globex", a.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
}
