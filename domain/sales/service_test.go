package sales_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

var (
	admin    = domain.Actor{TenantID: "acme", UserID: "root", Perms: []string{domain.PermAdmin}}
	seller   = domain.Actor{TenantID: "acme", UserID: "sam", Perms: []string{domain.PermSalesManage}}
	approver = domain.Actor{TenantID: "acme", UserID: "ann", Perms: []string{domain.PermSalesApprove}}
	outsider = domain.Actor{TenantID: "globex", UserID: "gina", Perms: []string{domain.PermAdmin}}
)

// world is one backend with the services and a customer and two products
// of acme.
type world struct {
	s        *sqlstore.Store
	svc      *sales.Service
	products *product.Service
	stock    *inventory.Service
	customer crm.Customer
	chair    product.Product
	desk     product.Product
}

func each(t *testing.T, fn func(t *testing.T, w world)) {
	t.Helper()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			w := world{s: s, svc: sales.NewService(s, nil), products: product.NewService(s, nil), stock: inventory.NewService(s, nil)}
			var err error
			w.customer, err = crm.NewService(s, nil).CreateCustomer(ctx, admin, crm.CustomerInput{Name: "Buyer"})
			require.NoError(t, err)
			w.chair, err = w.products.Create(ctx, admin, product.CreateInput{SKU: "CH-1", Name: "Chair", Price: dec("19.99")})
			require.NoError(t, err)
			w.desk, err = w.products.Create(ctx, admin, product.CreateInput{SKU: "DK-1", Name: "Desk", Price: dec("250")})
			require.NoError(t, err)
			fn(t, w)
		})
	}
}

func dec(s string) *decimal.Decimal { d := decimal.RequireFromString(s); return &d }

func events(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, typ string) []domain.Event {
	t.Helper()
	evs, err := s.ListEvents(context.Background(), tenant, typ, "", 100)
	require.NoError(t, err)
	return evs
}

func requireFields(t *testing.T, err error, fields ...string) {
	t.Helper()
	var v *domain.ValidationError
	require.True(t, errors.As(err, &v), "want a validation error, got %v", err)
	for _, f := range fields {
		require.Contains(t, v.Fields, f)
	}
}

func requireRule(t *testing.T, err error, code string) {
	t.Helper()
	var r *domain.RuleError
	require.True(t, errors.As(err, &r), "want rule %s, got %v", code, err)
	require.Equal(t, code, r.Code)
}

func (w world) stockIn(t *testing.T, p product.Product, qty int64) {
	t.Helper()
	_, err := w.stock.Record(context.Background(), admin, inventory.RecordInput{ProductID: p.ID, Quantity: qty, Reason: "receipt"})
	require.NoError(t, err)
}

func (w world) order(t *testing.T, lines ...sales.LineInput) sales.Order {
	t.Helper()
	o, err := w.svc.Create(context.Background(), seller, sales.CreateInput{CustomerID: w.customer.ID, Lines: lines})
	require.NoError(t, err)
	return o
}

func TestCreateOrder(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w world) {
		o := w.order(t,
			sales.LineInput{ProductID: w.chair.ID, Quantity: 3, UnitPrice: dec("0.1")},
			sales.LineInput{ProductID: w.desk.ID, Quantity: 2}, // the product's price
			sales.LineInput{ProductID: w.chair.ID, Quantity: 1, UnitPrice: dec("0.2")},
		)
		require.Equal(t, "SO-000001", o.Number)
		require.Equal(t, sales.StatusPending, o.Status)
		require.Equal(t, domain.UserID("sam"), o.CreatedBy)
		require.Len(t, o.Lines, 3)
		require.Equal(t, "0.3", o.Lines[0].Amount.String(), "exact: 3 × 0.1")
		require.Equal(t, "CH-1", o.Lines[0].SKU)
		require.Equal(t, "250", o.Lines[1].UnitPrice.String())
		require.Equal(t, "500", o.Lines[1].Amount.String())
		require.Equal(t, "500.5", o.Total.String())

		got, err := w.svc.Get(context.Background(), "acme", o.ID)
		require.NoError(t, err)
		require.Equal(t, o.Number, got.Number)
		require.Equal(t, "500.5", got.Total.String())
		require.Len(t, got.Lines, 3)
		require.Equal(t, 3, got.Lines[2].LineNo)

		evs := events(t, w.s, "acme", "OrderCreated")
		require.Len(t, evs, 1)
		var e sales.OrderCreated
		require.NoError(t, evs[0].Decode(&e))
		require.Equal(t, o.ID, e.OrderID)
		require.Equal(t, "SO-000001", e.Number)
		require.Equal(t, w.customer.ID, e.CustomerID)
		require.Equal(t, "sam", e.CreatedBy)
		require.Equal(t, "500.5", e.Total.String())
		require.Len(t, e.Lines, 3)
		require.Equal(t, w.desk.ID, e.Lines[1].ProductID)
		require.Equal(t, "DK-1", e.Lines[1].SKU)
		require.EqualValues(t, 2, e.Lines[1].Quantity)
		require.Equal(t, "250", e.Lines[1].UnitPrice.String())
		require.Equal(t, "500", e.Lines[1].Amount.String())

		// Numbers count up per tenant.
		require.Equal(t, "SO-000002", w.order(t, sales.LineInput{ProductID: w.chair.ID, Quantity: 1}).Number)
	})
}

func TestCreateOrderRejectsBadInput(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w world) {
		ctx := context.Background()
		good := sales.LineInput{ProductID: w.chair.ID, Quantity: 1}
		hundredOne := make([]sales.LineInput, 101)
		for i := range hundredOne {
			hundredOne[i] = good
		}
		theirs, err := product.NewService(w.s, nil).Create(ctx, outsider, product.CreateInput{SKU: "X", Name: "Theirs", Price: dec("1")})
		require.NoError(t, err)
		gone, err := w.products.Create(ctx, admin, product.CreateInput{SKU: "GONE", Name: "Gone", Price: dec("1")})
		require.NoError(t, err)
		require.NoError(t, w.products.Delete(ctx, admin, gone.ID))

		cases := map[string]struct {
			in     sales.CreateInput
			fields []string
		}{
			"bad customer id": {sales.CreateInput{CustomerID: "1' OR '1'='1", Lines: []sales.LineInput{good}}, []string{"customer_id"}},
			"no lines":        {sales.CreateInput{CustomerID: w.customer.ID}, []string{"lines"}},
			"101 lines":       {sales.CreateInput{CustomerID: w.customer.ID, Lines: hundredOne}, []string{"lines"}},
			"bad product id":  {sales.CreateInput{CustomerID: w.customer.ID, Lines: []sales.LineInput{good, {ProductID: "x", Quantity: 1}}}, []string{"lines[1].product_id"}},
			"zero quantity":   {sales.CreateInput{CustomerID: w.customer.ID, Lines: []sales.LineInput{{ProductID: w.chair.ID}}}, []string{"lines[0].quantity"}},
			"negative qty":    {sales.CreateInput{CustomerID: w.customer.ID, Lines: []sales.LineInput{{ProductID: w.chair.ID, Quantity: -2}}}, []string{"lines[0].quantity"}},
			"huge qty":        {sales.CreateInput{CustomerID: w.customer.ID, Lines: []sales.LineInput{{ProductID: w.chair.ID, Quantity: 1_000_000_001}}}, []string{"lines[0].quantity"}},
			"negative price":  {sales.CreateInput{CustomerID: w.customer.ID, Lines: []sales.LineInput{{ProductID: w.chair.ID, Quantity: 1, UnitPrice: dec("-0.01")}}}, []string{"lines[0].unit_price"}},
			"5 places":        {sales.CreateInput{CustomerID: w.customer.ID, Lines: []sales.LineInput{{ProductID: w.chair.ID, Quantity: 1, UnitPrice: dec("1.00001")}}}, []string{"lines[0].unit_price"}},
			"huge price":      {sales.CreateInput{CustomerID: w.customer.ID, Lines: []sales.LineInput{{ProductID: w.chair.ID, Quantity: 1, UnitPrice: dec("1e16")}}}, []string{"lines[0].unit_price"}},
			"amount overflow": {sales.CreateInput{CustomerID: w.customer.ID, Lines: []sales.LineInput{{ProductID: w.chair.ID, Quantity: 1_000_000_000, UnitPrice: dec("99999999")}}}, []string{"lines[0].amount"}},
			"total overflow": {sales.CreateInput{CustomerID: w.customer.ID, Lines: []sales.LineInput{
				{ProductID: w.chair.ID, Quantity: 1_000_000_000, UnitPrice: dec("9999999")},
				{ProductID: w.chair.ID, Quantity: 1_000_000_000, UnitPrice: dec("9999999")}}}, []string{"lines"}},
			"foreign product": {sales.CreateInput{CustomerID: w.customer.ID, Lines: []sales.LineInput{good, {ProductID: theirs.ID, Quantity: 1}}}, []string{"lines[1].product_id"}},
			"deleted product": {sales.CreateInput{CustomerID: w.customer.ID, Lines: []sales.LineInput{{ProductID: gone.ID, Quantity: 1}}}, []string{"lines[0].product_id"}},
			"unknown product": {sales.CreateInput{CustomerID: w.customer.ID, Lines: []sales.LineInput{{ProductID: domain.NewID(), Quantity: 1}}}, []string{"lines[0].product_id"}},
		}
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				_, err := w.svc.Create(ctx, seller, tc.in)
				requireFields(t, err, tc.fields...)
			})
		}
		// Another tenant's customer, or none: 404.
		other, err := crm.NewService(w.s, nil).CreateCustomer(ctx, outsider, crm.CustomerInput{Name: "Theirs"})
		require.NoError(t, err)
		for _, id := range []string{other.ID, domain.NewID()} {
			_, err = w.svc.Create(ctx, seller, sales.CreateInput{CustomerID: id, Lines: []sales.LineInput{good}})
			require.ErrorIs(t, err, domain.ErrNotFound)
		}
		_, err = w.svc.Create(ctx, approver, sales.CreateInput{CustomerID: w.customer.ID, Lines: []sales.LineInput{good}})
		require.ErrorIs(t, err, domain.ErrForbidden)
		require.Empty(t, events(t, w.s, "acme", "OrderCreated"))
		list, err := w.svc.List(ctx, "acme", sales.Filter{})
		require.NoError(t, err)
		require.Empty(t, list)
		// A refused order does not use up a number.
		require.Equal(t, "SO-000001", w.order(t, good).Number)
	})
}

func TestApproveAndFulfill(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w world) {
		ctx := context.Background()
		o := w.order(t,
			sales.LineInput{ProductID: w.chair.ID, Quantity: 4},
			sales.LineInput{ProductID: w.desk.ID, Quantity: 1},
			sales.LineInput{ProductID: w.chair.ID, Quantity: 2})

		// Fulfilling a pending order, approving without the permission.
		_, err := w.svc.Fulfill(ctx, seller, o.ID)
		requireRule(t, err, "order_not_approved")
		_, err = w.svc.Approve(ctx, seller, o.ID)
		require.ErrorIs(t, err, domain.ErrForbidden)
		_, err = w.svc.Approve(ctx, outsider, o.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)

		approved, err := w.svc.Approve(ctx, approver, o.ID)
		require.NoError(t, err)
		require.Equal(t, sales.StatusApproved, approved.Status)
		require.Equal(t, domain.UserID("ann"), approved.ApprovedBy)
		require.NotNil(t, approved.ApprovedAt)
		_, err = w.svc.Approve(ctx, approver, o.ID)
		requireRule(t, err, "order_not_pending")
		evs := events(t, w.s, "acme", "OrderApproved")
		require.Len(t, evs, 1)
		var a sales.OrderApproved
		require.NoError(t, evs[0].Decode(&a))
		require.Equal(t, sales.OrderApproved{OrderID: o.ID, Number: o.Number, CustomerID: w.customer.ID,
			Total: a.Total, CreatedBy: "sam", ApprovedBy: "ann"}, a)
		require.True(t, o.Total.Equal(a.Total))

		// Fulfil needs 6 chairs (two lines) and 1 desk on hand.
		_, err = w.svc.Fulfill(ctx, approver, o.ID)
		require.ErrorIs(t, err, domain.ErrForbidden)
		_, err = w.svc.Fulfill(ctx, outsider, o.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)
		w.stockIn(t, w.chair, 5)
		w.stockIn(t, w.desk, 1)
		_, err = w.svc.Fulfill(ctx, seller, o.ID)
		requireRule(t, err, "insufficient_stock")
		w.stockIn(t, w.chair, 1)
		fulfilled, err := w.svc.Fulfill(ctx, seller, o.ID)
		require.NoError(t, err)
		require.Equal(t, sales.StatusFulfilled, fulfilled.Status)
		require.Equal(t, domain.UserID("sam"), fulfilled.FulfilledBy)
		require.NotNil(t, fulfilled.FulfilledAt)
		require.Equal(t, domain.UserID("ann"), fulfilled.ApprovedBy)
		_, err = w.svc.Fulfill(ctx, seller, o.ID)
		requireRule(t, err, "order_not_approved")
		_, err = w.svc.Approve(ctx, approver, o.ID)
		requireRule(t, err, "order_not_pending")

		evs = events(t, w.s, "acme", "OrderFulfilled")
		require.Len(t, evs, 1)
		var f sales.OrderFulfilled
		require.NoError(t, evs[0].Decode(&f))
		require.Equal(t, o.ID, f.OrderID)
		require.Equal(t, "sam", f.FulfilledBy)
		require.Equal(t, "sam", f.CreatedBy)
		require.Len(t, f.Lines, 3)
		require.EqualValues(t, 4, f.Lines[0].Quantity)

		got, err := w.svc.Get(ctx, "acme", o.ID)
		require.NoError(t, err)
		require.Equal(t, sales.StatusFulfilled, got.Status)
		// Fulfil itself moves no stock: the listener does.
		p, err := w.products.Get(ctx, "acme", w.chair.ID)
		require.NoError(t, err)
		require.EqualValues(t, 6, p.OnHand)
	})
}

func TestFulfillRefusesDeletedProduct(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w world) {
		ctx := context.Background()
		o := w.order(t, sales.LineInput{ProductID: w.desk.ID, Quantity: 1})
		_, err := w.svc.Approve(ctx, admin, o.ID)
		require.NoError(t, err)
		require.NoError(t, w.products.Delete(ctx, admin, w.desk.ID))
		_, err = w.svc.Fulfill(ctx, admin, o.ID)
		requireRule(t, err, "product_unavailable")
		got, err := w.svc.Get(ctx, "acme", o.ID)
		require.NoError(t, err)
		require.Equal(t, sales.StatusApproved, got.Status, "a refused fulfilment changes nothing")
		require.Empty(t, events(t, w.s, "acme", "OrderFulfilled"))
	})
}

func TestConcurrentApprovalsPassOnce(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w world) {
		ctx := context.Background()
		o := w.order(t, sales.LineInput{ProductID: w.chair.ID, Quantity: 1})
		const racers = 6
		errs := make(chan error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range racers {
			wg.Go(func() {
				<-start
				_, err := w.svc.Approve(ctx, approver, o.ID)
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		ok := 0
		for err := range errs {
			if err == nil {
				ok++
				continue
			}
			requireRule(t, err, "order_not_pending")
		}
		require.Equal(t, 1, ok)
		require.Len(t, events(t, w.s, "acme", "OrderApproved"), 1)
	})
}

func TestListOrders(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w world) {
		ctx := context.Background()
		var ids []string
		for i := range 3 {
			ids = append(ids, w.order(t, sales.LineInput{ProductID: w.chair.ID, Quantity: int64(i + 1)}).ID)
		}
		_, err := w.svc.Approve(ctx, admin, ids[1])
		require.NoError(t, err)
		list := func(f sales.Filter) []string {
			t.Helper()
			got, err := w.svc.List(ctx, "acme", f)
			require.NoError(t, err)
			out := make([]string, len(got))
			for i, o := range got {
				out[i] = o.ID
			}
			return out
		}
		require.Equal(t, ids, list(sales.Filter{}))
		require.Equal(t, ids[:2], list(sales.Filter{Limit: 2}))
		require.Equal(t, ids[2:], list(sales.Filter{After: ids[1], Limit: 2}))
		require.Equal(t, []string{ids[1]}, list(sales.Filter{Status: sales.StatusApproved}))
		require.Equal(t, []string{ids[0], ids[2]}, list(sales.Filter{CustomerID: w.customer.ID, Status: sales.StatusPending}))
		none, err := w.svc.List(ctx, "globex", sales.Filter{})
		require.NoError(t, err)
		require.Empty(t, none)
		_, err = w.svc.Get(ctx, "globex", ids[0])
		require.ErrorIs(t, err, domain.ErrNotFound)

		for field, f := range map[string]sales.Filter{
			"status": {Status: "lost"}, "customer_id": {CustomerID: "x"}, "after": {After: "'; --"},
		} {
			_, err := w.svc.List(ctx, "acme", f)
			requireFields(t, err, field)
		}
	})
}

// TestFulfilmentsNeverPromiseTheSameStock: the stock-out of a fulfilled
// order runs later (UpdateInventoryOnSale); until it has, the order's
// quantities are promised, so a second order cannot be fulfilled from the
// same units, concurrently or not. Once the stock went out and was
// replenished, it can.
func TestFulfilmentsNeverPromiseTheSameStock(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w world) {
		ctx := context.Background()
		w.stockIn(t, w.chair, 5)
		var orders []sales.Order
		for range 4 {
			o := w.order(t, sales.LineInput{ProductID: w.chair.ID, Quantity: 3})
			_, err := w.svc.Approve(ctx, approver, o.ID)
			require.NoError(t, err)
			orders = append(orders, o)
		}
		// Four fulfilments at once, 3 chairs each, 5 on hand: one passes.
		errs := make([]error, len(orders))
		var wg sync.WaitGroup
		for i, o := range orders {
			wg.Go(func() { _, errs[i] = w.svc.Fulfill(ctx, seller, o.ID) })
		}
		wg.Wait()
		var shipped []sales.Order
		for i, err := range errs {
			if err == nil {
				shipped = append(shipped, orders[i])
				continue
			}
			requireRule(t, err, "insufficient_stock")
		}
		require.Len(t, shipped, 1)
		awaiting, err := w.s.StockAwaitingShipment(ctx, "acme", []string{w.chair.ID, w.desk.ID, "not-an-id"})
		require.NoError(t, err)
		require.Equal(t, map[string]int64{w.chair.ID: 3}, awaiting)
		// Another tenant sees nothing of it.
		other, err := w.s.StockAwaitingShipment(ctx, "globex", []string{w.chair.ID})
		require.NoError(t, err)
		require.Empty(t, other)

		// The stock goes out (as the listener does), 2 are left; a restock
		// of 1 makes 3, enough for the next order.
		_, err = w.stock.Record(ctx, admin, inventory.RecordInput{ProductID: w.chair.ID, Quantity: -3, Reason: "sale"})
		require.NoError(t, err)
		require.NoError(t, w.s.MarkStockOut(ctx, "acme", shipped[0].ID, time.Now()))
		require.NoError(t, w.s.MarkStockOut(ctx, "acme", shipped[0].ID, time.Now()), "marking twice is harmless")
		require.ErrorIs(t, w.s.MarkStockOut(ctx, "globex", shipped[0].ID, time.Now()), domain.ErrNotFound)
		got, err := w.svc.Get(ctx, "acme", shipped[0].ID)
		require.NoError(t, err)
		require.NotNil(t, got.StockOutAt)
		var next sales.Order
		for _, o := range orders {
			if o.ID != shipped[0].ID {
				next = o
				break
			}
		}
		_, err = w.svc.Fulfill(ctx, seller, next.ID)
		requireRule(t, err, "insufficient_stock")
		w.stockIn(t, w.chair, 1)
		_, err = w.svc.Fulfill(ctx, seller, next.ID)
		require.NoError(t, err)
	})
}
