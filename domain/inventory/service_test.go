package inventory_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

var (
	acme   = domain.Actor{TenantID: "acme", UserID: "bob", Perms: []string{domain.PermInventoryManage, domain.PermProductsManage}}
	globex = domain.Actor{TenantID: "globex", UserID: "gina", Perms: []string{domain.PermAdmin}}
)

type fixture struct {
	store     *sqlstore.Store
	products  *product.Service
	inventory *inventory.Service
}

func each(t *testing.T, fn func(t *testing.T, f fixture)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{
		"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			fn(t, fixture{store: s, products: product.NewService(s, nil), inventory: inventory.NewService(s, nil)})
		})
	}
}

func (f fixture) product(t *testing.T, actor domain.Actor, sku string, reorder int64) product.Product {
	t.Helper()
	price := decimal.RequireFromString("10")
	p, err := f.products.Create(context.Background(), actor, product.CreateInput{SKU: sku, Name: sku, Price: &price, ReorderLevel: &reorder})
	require.NoError(t, err)
	return p
}

func (f fixture) move(t *testing.T, actor domain.Actor, productID string, qty int64) inventory.Movement {
	t.Helper()
	m, err := f.inventory.Record(context.Background(), actor, inventory.RecordInput{ProductID: productID, Quantity: qty, Reason: "test"})
	require.NoError(t, err)
	return m
}

func (f fixture) lowStockEvents(t *testing.T, tenant domain.TenantID) []inventory.LowStockDetected {
	t.Helper()
	evs, err := f.store.ListEvents(context.Background(), tenant, "LowStockDetected", "", 200)
	require.NoError(t, err)
	out := make([]inventory.LowStockDetected, len(evs))
	for i, ev := range evs {
		require.NoError(t, ev.Decode(&out[i]))
	}
	return out
}

func TestLowStockOncePerCrossing(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		p := f.product(t, acme, "CH-1", 10)
		f.move(t, acme, p.ID, 12) // 12: above
		f.move(t, acme, p.ID, -5) // 7: crosses
		f.move(t, acme, p.ID, -2) // 5: still below, no new event
		f.move(t, acme, p.ID, 5)  // 10: at the level = not below
		f.move(t, acme, p.ID, -1) // 9: crosses again
		f.move(t, acme, p.ID, -9) // 0
		evs := f.lowStockEvents(t, "acme")
		require.Len(t, evs, 2)
		require.EqualValues(t, 7, evs[0].OnHand)
		require.EqualValues(t, 10, evs[0].ReorderLevel)
		require.Equal(t, "main", evs[0].LocationCode)
		require.EqualValues(t, 9, evs[1].OnHand)
		got, err := f.products.Get(context.Background(), "acme", p.ID)
		require.NoError(t, err)
		require.EqualValues(t, 0, got.OnHand)
		require.True(t, got.LowStock)
		recorded, err := f.store.ListEvents(context.Background(), "acme", "StockMovementRecorded", "", 100)
		require.NoError(t, err)
		require.Len(t, recorded, 6)
	})
}

func TestStockNeverBelowZero(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		p := f.product(t, acme, "CH-2", 0)
		f.move(t, acme, p.ID, 3)
		_, err := f.inventory.Record(ctx, acme, inventory.RecordInput{ProductID: p.ID, Quantity: -4, Reason: "sale"})
		var rule *domain.RuleError
		require.ErrorAs(t, err, &rule)
		require.Equal(t, "insufficient_stock", rule.Code)
		// Stock sits at the main location; another location has none.
		loc, err := f.inventory.CreateLocation(ctx, acme, inventory.LocationInput{Code: "north", Name: "North"})
		require.NoError(t, err)
		_, err = f.inventory.Record(ctx, acme, inventory.RecordInput{ProductID: p.ID, LocationID: loc.ID, Quantity: -1, Reason: "sale"})
		require.ErrorAs(t, err, &rule)
		got, err := f.products.Get(ctx, "acme", p.ID)
		require.NoError(t, err)
		require.EqualValues(t, 3, got.OnHand)
		moves, err := f.inventory.ListMovements(ctx, "acme", inventory.MovementFilter{ProductID: p.ID})
		require.NoError(t, err)
		require.Len(t, moves, 1, "refused movements leave no ledger entry")
	})
}

func TestConcurrentSalesCrossOnceAndNeverGoNegative(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		p := f.product(t, acme, "CH-3", 10)
		f.move(t, acme, p.ID, 20)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, refused := 0, 0
		for range 30 {
			wg.Go(func() {
				_, err := f.inventory.Record(context.Background(), acme, inventory.RecordInput{ProductID: p.ID, Quantity: -1, Reason: "sale"})
				mu.Lock()
				defer mu.Unlock()
				var rule *domain.RuleError
				switch {
				case err == nil:
					ok++
				case errors.As(err, &rule):
					refused++
				default:
					t.Errorf("record: %v", err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, 20, ok)
		require.Equal(t, 10, refused)
		require.Len(t, f.lowStockEvents(t, "acme"), 1)
		got, err := f.products.Get(context.Background(), "acme", p.ID)
		require.NoError(t, err)
		require.EqualValues(t, 0, got.OnHand)
	})
}

func TestRecordRejectsBadInputAndForeignIDs(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		p := f.product(t, acme, "CH-4", 1)
		neg := decimal.RequireFromString("-1")
		cases := map[string]struct {
			in    inventory.RecordInput
			field string
		}{
			"bad product id":  {inventory.RecordInput{ProductID: "x", Quantity: 1, Reason: "r"}, "product_id"},
			"zero quantity":   {inventory.RecordInput{ProductID: p.ID, Reason: "r"}, "quantity"},
			"huge quantity":   {inventory.RecordInput{ProductID: p.ID, Quantity: 1 << 40, Reason: "r"}, "quantity"},
			"negative cost":   {inventory.RecordInput{ProductID: p.ID, Quantity: 1, UnitCost: &neg, Reason: "r"}, "unit_cost"},
			"bad expiry":      {inventory.RecordInput{ProductID: p.ID, Quantity: 1, ExpiryDate: "31/12/2026", Reason: "r"}, "expiry_date"},
			"missing reason":  {inventory.RecordInput{ProductID: p.ID, Quantity: 1}, "reason"},
			"bad location id": {inventory.RecordInput{ProductID: p.ID, LocationID: "main", Quantity: 1, Reason: "r"}, "location_id"},
		}
		for name, tc := range cases {
			_, err := f.inventory.Record(ctx, acme, tc.in)
			var v *domain.ValidationError
			require.ErrorAs(t, err, &v, name)
			require.Contains(t, v.Fields, tc.field, name)
		}
		// Another tenant's product and location are not found.
		_, err := f.inventory.Record(ctx, globex, inventory.RecordInput{ProductID: p.ID, Quantity: 5, Reason: "r"})
		require.ErrorIs(t, err, domain.ErrNotFound)
		theirs, err := f.inventory.CreateLocation(ctx, globex, inventory.LocationInput{Code: "g", Name: "G"})
		require.NoError(t, err)
		_, err = f.inventory.Record(ctx, acme, inventory.RecordInput{ProductID: p.ID, LocationID: theirs.ID, Quantity: 5, Reason: "r"})
		require.ErrorIs(t, err, domain.ErrNotFound)
		moves, err := f.inventory.ListMovements(ctx, "globex", inventory.MovementFilter{})
		require.NoError(t, err)
		require.Empty(t, moves)
		locs, err := f.inventory.ListLocations(ctx, "acme")
		require.NoError(t, err)
		for _, l := range locs {
			require.NotEqual(t, theirs.ID, l.ID)
		}
		// No permission: 403.
		_, err = f.inventory.Record(ctx, domain.Actor{TenantID: "acme", UserID: "carol"}, inventory.RecordInput{ProductID: p.ID, Quantity: 1, Reason: "r"})
		require.ErrorIs(t, err, domain.ErrForbidden)
	})
}

func TestMovementKeepsCostBatchAndExpiry(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		p := f.product(t, acme, "CH-5", 0)
		cost := decimal.RequireFromString("3.3333")
		_, err := f.inventory.Record(ctx, acme, inventory.RecordInput{ProductID: p.ID, Quantity: 4, UnitCost: &cost,
			BatchNumber: "B-7", ExpiryDate: "2027-03-01", Reason: "receipt"})
		require.NoError(t, err)
		moves, err := f.inventory.ListMovements(ctx, "acme", inventory.MovementFilter{ProductID: p.ID})
		require.NoError(t, err)
		require.Len(t, moves, 1)
		m := moves[0]
		require.Equal(t, "3.3333", m.UnitCost.String())
		require.Equal(t, "B-7", m.BatchNumber)
		require.Equal(t, "2027-03-01", m.ExpiryDate.Format("2006-01-02"))
		require.EqualValues(t, 4, m.OnHandAfter)
	})
}
