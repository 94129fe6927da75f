package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/valuation"
)

func newValuation(tenant domain.TenantID, sc valuation.Scope) valuation.Valuation {
	return valuation.Valuation{ID: domain.NewID(), TenantID: tenant, RequestedBy: userA, Scope: sc,
		Status: valuation.StatusPending, Totals: valuation.Totals{FIFOValue: decimal.Zero, AverageValue: decimal.Zero},
		CreatedAt: at(0)}
}

func insertValuation(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, sc valuation.Scope) valuation.Valuation {
	t.Helper()
	v := newValuation(tenant, sc)
	require.NoError(t, s.InsertValuation(ctxFor(t), v))
	return v
}

func insertMovement(t *testing.T, s *sqlstore.Store, productID string, l inventory.Location, qty int64) {
	t.Helper()
	require.NoError(t, s.InsertMovement(ctxFor(t), newMovement(productID, l, qty, 0)))
}

// money parses a decimal.
func money(s string) decimal.Decimal { return decimal.RequireFromString(s) }

var valuationTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"RoundTripLockAndUpdate": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "V-1")
		v := newValuation(tenantA, valuation.Scope{Kind: valuation.ScopeProduct, ProductID: p.ID})
		v.RequestedBy = domain.UserID(hostile[0])
		require.NoError(t, s.InsertValuation(ctx, v))
		require.ErrorIs(t, s.InsertValuation(ctx, v), domain.ErrConflict)
		got, err := s.GetValuation(ctx, tenantA, v.ID)
		require.NoError(t, err)
		want := v
		want.CreatedAt = stored(v.CreatedAt)
		requireValuation(t, want, got)

		_, err = s.GetValuation(ctx, tenantB, v.ID)
		requireNotFound(t, err, "another tenant's valuation")
		_, err = s.GetValuation(ctx, tenantA, "not-an-id")
		requireNotFound(t, err)
		_, err = s.LockValuation(ctx, tenantA, v.ID)
		require.Error(t, err, "locking needs a transaction")

		started, done := stored(at(time.Minute)), stored(at(2*time.Minute))
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			l, err := s.LockValuation(ctx, tenantA, v.ID)
			require.NoError(t, err)
			l.Status, l.StartedAt, l.CompletedAt = valuation.StatusCompleted, &started, &done
			l.Progress = valuation.Progress{ProductsTotal: 7, ProductsDone: 7}
			l.Totals = valuation.Totals{Lines: 3, Quantity: 12, FIFOValue: money("1234567890.1234"), AverageValue: money("0.0001"), Warnings: 2}
			l.Error = hostile[4]
			return s.UpdateValuation(ctx, l)
		}))
		got, err = s.GetValuation(ctx, tenantA, v.ID)
		require.NoError(t, err)
		want.Status, want.StartedAt, want.CompletedAt = valuation.StatusCompleted, &started, &done
		want.Progress = valuation.Progress{ProductsTotal: 7, ProductsDone: 7}
		want.Totals = valuation.Totals{Lines: 3, Quantity: 12, FIFOValue: money("1234567890.1234"), AverageValue: money("0.0001"), Warnings: 2}
		want.Error = hostile[4]
		requireValuation(t, want, got)

		// Another tenant's update changes nothing.
		other := got
		other.TenantID, other.Status = tenantB, valuation.StatusFailed
		requireNotFound(t, s.UpdateValuation(ctx, other))
		other.TenantID, other.Totals.FIFOValue = tenantA, money("0.00001")
		requireInvalid(t, s.UpdateValuation(ctx, other), "more than 4 places")
		got, err = s.GetValuation(ctx, tenantA, v.ID)
		require.NoError(t, err)
		require.Equal(t, valuation.StatusCompleted, got.Status)
	},
	"ScopeReferencesStayInTheTenant": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		theirs := insertProduct(t, s, tenantB, "V-1")
		theirLoc := insertLocation(t, s, tenantB, "north")
		requireNotFound(t, s.InsertValuation(ctx, newValuation(tenantA, valuation.Scope{Kind: valuation.ScopeProduct, ProductID: theirs.ID})))
		requireNotFound(t, s.InsertValuation(ctx, newValuation(tenantA, valuation.Scope{Kind: valuation.ScopeLocation, LocationID: theirLoc.ID})))
		requireInvalid(t, s.InsertValuation(ctx, newValuation(tenantA, valuation.Scope{Kind: valuation.ScopeProduct, ProductID: "x"})))
		bad := newValuation(tenantA, valuation.Scope{Kind: valuation.ScopeAll})
		bad.ID = "not-a-uuid"
		requireInvalid(t, s.InsertValuation(ctx, bad))
		require.Error(t, s.InsertValuation(ctx, newValuation(tenantA, valuation.Scope{Kind: valuation.ScopeProduct})),
			"a product scope without its product is refused by the schema")
		list, err := s.ListValuations(ctx, tenantA, "", 50)
		require.NoError(t, err)
		require.Empty(t, list)
	},
	"ListNewestFirst": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		var ids []string
		for range 5 {
			ids = append(ids, insertValuation(t, s, tenantA, valuation.Scope{Kind: valuation.ScopeAll}).ID)
		}
		insertValuation(t, s, tenantB, valuation.Scope{Kind: valuation.ScopeAll})
		list, err := s.ListValuations(ctx, tenantA, "", 2)
		require.NoError(t, err)
		require.Equal(t, []string{ids[4], ids[3]}, valuationIDs(list))
		list, err = s.ListValuations(ctx, tenantA, ids[3], 50)
		require.NoError(t, err)
		require.Equal(t, []string{ids[2], ids[1], ids[0]}, valuationIDs(list))
		_, err = s.ListValuations(ctx, tenantA, "'; --", 50)
		requireInvalid(t, err)
	},
	"ScopeProducts": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		main, north := insertLocation(t, s, tenantA, "main"), insertLocation(t, s, tenantA, "north")
		var moved []string
		for i := range 5 {
			p := insertProduct(t, s, tenantA, "P-"+string(rune('a'+i)))
			l := main
			if i%2 == 1 {
				l = north
			}
			insertMovement(t, s, p.ID, l, 3)
			moved = append(moved, p.ID)
		}
		live := append(moved, insertProduct(t, s, tenantA, "NO-MOVES").ID)
		gone := insertProduct(t, s, tenantA, "GONE")
		insertMovement(t, s, gone.ID, main, 3)
		require.NoError(t, s.DeleteProduct(ctx, tenantA, gone.ID))
		theirs := insertProduct(t, s, tenantB, "P-a")
		insertMovement(t, s, theirs.ID, insertLocation(t, s, tenantB, "main"), 3)

		all := valuation.Scope{Kind: valuation.ScopeAll}
		n, err := s.CountScopeProducts(ctx, tenantA, all)
		require.NoError(t, err)
		require.EqualValues(t, 6, n, "live products only")
		var got []string
		after := ""
		for {
			page, err := s.ScopeProducts(ctx, tenantA, all, after, 2)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			require.LessOrEqual(t, len(page), 2)
			for _, p := range page {
				got = append(got, p.ID)
				require.True(t, strings.HasPrefix(p.SKU, "P-") || p.SKU == "NO-MOVES", p.SKU)
				require.Equal(t, "Product "+p.SKU, p.Name)
			}
			after = page[len(page)-1].ID
		}
		require.ElementsMatch(t, live, got)
		require.IsIncreasing(t, got, "by id")

		// A location's run reads every live product's ledger.
		atNorth := valuation.Scope{Kind: valuation.ScopeLocation, LocationID: north.ID}
		page, err := s.ScopeProducts(ctx, tenantA, atNorth, "", 50)
		require.NoError(t, err)
		require.Len(t, page, 6)
		n, err = s.CountScopeProducts(ctx, tenantA, atNorth)
		require.NoError(t, err)
		require.EqualValues(t, 6, n)

		one := valuation.Scope{Kind: valuation.ScopeProduct, ProductID: moved[2]}
		page, err = s.ScopeProducts(ctx, tenantA, one, "", 50)
		require.NoError(t, err)
		require.Len(t, page, 1)
		require.Equal(t, moved[2], page[0].ID)

		// Nothing crosses tenants; ids that name nothing give nothing.
		for _, sc := range []valuation.Scope{
			{Kind: valuation.ScopeProduct, ProductID: theirs.ID},
			{Kind: valuation.ScopeProduct, ProductID: gone.ID},
			{Kind: valuation.ScopeProduct, ProductID: hostile[0]},
			{Kind: valuation.ScopeLocation, LocationID: hostile[3]},
			{Kind: "bogus"},
		} {
			page, err = s.ScopeProducts(ctx, tenantA, sc, "", 50)
			require.NoError(t, err)
			require.Empty(t, page, "%+v", sc)
			n, err = s.CountScopeProducts(ctx, tenantA, sc)
			require.NoError(t, err)
			require.Zero(t, n)
		}
		page, err = s.ScopeProducts(ctx, tenantB, all, "", 50)
		require.NoError(t, err)
		require.Len(t, page, 1)
		require.Equal(t, theirs.ID, page[0].ID)
		_, err = s.ScopeProducts(ctx, tenantA, all, hostile[1], 50)
		requireInvalid(t, err)
	},
	"ProductLedgers": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		main, north := insertLocation(t, s, tenantA, "main"), insertLocation(t, s, tenantA, "north")
		// Ids are time-ordered: theirs lies between a and b, c after b.
		a := insertProduct(t, s, tenantA, "A")
		theirs := insertProduct(t, s, tenantB, "A")
		b, c := insertProduct(t, s, tenantA, "B"), insertProduct(t, s, tenantA, "C")
		require.Less(t, a.ID, theirs.ID)
		require.Less(t, theirs.ID, b.ID)
		// Inserted out of time order: the ledger comes back in it.
		mA2 := newMovement(a.ID, north, -2, time.Minute)
		mA1 := newMovement(a.ID, main, 5, 0)
		cost := money("1.2345")
		mA1.UnitCost = &cost
		mA1.BatchNumber = hostile[2]
		exp := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
		mA1.ExpiryDate = &exp
		mB1 := newMovement(b.ID, main, 4, -time.Hour)
		require.NoError(t, s.InsertMovement(ctx, mA2))
		require.NoError(t, s.InsertMovement(ctx, mA1))
		require.NoError(t, s.InsertMovement(ctx, mB1))
		theirMove := newMovement(theirs.ID, insertLocation(t, s, tenantB, "main"), 9, 0)
		require.NoError(t, s.InsertMovement(ctx, theirMove))
		insertMovement(t, s, c.ID, main, 1)

		type seen struct {
			product string
			e       valuation.Entry
		}
		var got []seen
		collect := func(pid string, e valuation.Entry) { got = append(got, seen{pid, e}) }
		require.NoError(t, s.ProductLedgers(ctx, tenantA, a.ID, b.ID, collect))
		require.Len(t, got, 3, "a and b's; not c's (out of range), not another tenant's (in range)")
		byProduct := map[string][]string{}
		for _, x := range got {
			byProduct[x.product] = append(byProduct[x.product], x.e.MovementID)
		}
		require.Equal(t, []string{mA1.ID, mA2.ID}, byProduct[a.ID], "ledger order: by time")
		require.Equal(t, []string{mB1.ID}, byProduct[b.ID])
		for _, x := range got {
			if x.e.MovementID != mA1.ID {
				continue
			}
			require.Equal(t, main.ID, x.e.LocationID)
			require.EqualValues(t, 5, x.e.Quantity)
			require.NotNil(t, x.e.UnitCost)
			require.True(t, cost.Equal(*x.e.UnitCost))
			require.Equal(t, hostile[2], x.e.BatchNumber)
			require.NotNil(t, x.e.ExpiryDate)
			require.Equal(t, "2027-01-31", x.e.ExpiryDate.Format(time.DateOnly))
			require.Equal(t, stored(at(0)), x.e.At)
		}
		// Each product's movements come together.
		require.NotEqual(t, got[0].product, got[2].product)
		require.True(t, got[0].product == got[1].product || got[1].product == got[2].product)

		got = nil
		require.NoError(t, s.ProductLedgers(ctx, tenantB, a.ID, b.ID, collect))
		require.Len(t, got, 1)
		require.Equal(t, theirs.ID, got[0].product)
		got = nil
		require.NoError(t, s.ProductLedgers(ctx, tenantA, b.ID, a.ID, collect))
		require.Empty(t, got, "an empty range")
		requireInvalid(t, s.ProductLedgers(ctx, tenantA, hostile[0], b.ID, collect))
		requireInvalid(t, s.ProductLedgers(ctx, tenantA, a.ID, "", collect))
	},
	"Lines": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		loc := insertLocation(t, s, tenantA, "main")
		v := insertValuation(t, s, tenantA, valuation.Scope{Kind: valuation.ScopeAll})
		var lines []valuation.Line
		for i := range 7 {
			p := insertProduct(t, s, tenantA, "L-"+string(rune('a'+i)))
			lines = append(lines, valuation.Line{LineNo: i + 1, ProductID: p.ID, SKU: hostile[i%len(hostile)],
				Name: hostile[(i+1)%len(hostile)], LocationID: loc.ID, LocationCode: hostile[(i+2)%len(hostile)],
				Quantity: int64(i), FIFOValue: money("3.9"), AverageCost: money("1.6667"), AverageValue: money("5.0001"),
				Layers: []valuation.Layer{{Quantity: 3, UnitCost: money("1.3"), ReceivedAt: stored(at(0)),
					BatchNumber: hostile[3], ExpiryDate: "2027-01-31", MovementID: domain.NewID(), CostSource: valuation.CostFromLast}},
				Warnings: []valuation.Warning{{Code: valuation.WarnCostFromLast, Message: hostile[5]}}})
		}
		// A larger set than one insert statement takes.
		many := make([]valuation.Line, 0, 600)
		for i := range cap(many) {
			many = append(many, valuation.Line{LineNo: i + 1, ProductID: lines[i%7].ProductID, LocationID: loc.ID,
				FIFOValue: decimal.Zero, AverageCost: decimal.Zero, AverageValue: decimal.Zero})
		}
		err := s.ReplaceValuationLines(ctx, tenantA, v.ID, lines)
		require.Error(t, err, "replacing needs a transaction")
		require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context) error {
			return s.ReplaceValuationLines(ctx, tenantA, v.ID, many)
		}), domain.ErrConflict, "a product and location twice")
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			if err := s.ReplaceValuationLines(ctx, tenantA, v.ID, lines[:3]); err != nil {
				return err
			}
			return s.ReplaceValuationLines(ctx, tenantA, v.ID, lines) // replaces, never adds
		}))
		got, err := s.ValuationLines(ctx, tenantA, v.ID, 0, 1000)
		require.NoError(t, err)
		require.Len(t, got, 7)
		for i, g := range got {
			w := lines[i]
			require.Equal(t, w.LineNo, g.LineNo)
			require.Equal(t, []string{w.ProductID, w.SKU, w.Name, w.LocationID, w.LocationCode},
				[]string{g.ProductID, g.SKU, g.Name, g.LocationID, g.LocationCode}, "text comes back byte for byte")
			require.Equal(t, w.Quantity, g.Quantity)
			require.True(t, w.FIFOValue.Equal(g.FIFOValue))
			require.True(t, w.AverageCost.Equal(g.AverageCost))
			require.True(t, w.AverageValue.Equal(g.AverageValue))
			require.Len(t, g.Layers, 1)
			require.True(t, g.Layers[0].UnitCost.Equal(money("1.3")))
			g.Layers[0].UnitCost = w.Layers[0].UnitCost
			require.Equal(t, w.Layers, g.Layers)
			require.Equal(t, w.Warnings, g.Warnings)
		}
		page, err := s.ValuationLines(ctx, tenantA, v.ID, 5, 10)
		require.NoError(t, err)
		require.Equal(t, []int{6, 7}, []int{page[0].LineNo, page[1].LineNo})
		page, err = s.ValuationLines(ctx, tenantA, v.ID, 0, 2)
		require.NoError(t, err)
		require.Len(t, page, 2)

		// Another tenant's view of the valuation is empty, and it cannot
		// write lines into it or point lines at others' rows.
		page, err = s.ValuationLines(ctx, tenantB, v.ID, 0, 50)
		require.NoError(t, err)
		require.Empty(t, page)
		page, err = s.ValuationLines(ctx, tenantA, "junk", 0, 50)
		require.NoError(t, err)
		require.Empty(t, page)
		requireNotFound(t, s.InTx(ctx, func(ctx context.Context) error {
			return s.ReplaceValuationLines(ctx, tenantB, v.ID, lines[:1])
		}))
		theirs := insertProduct(t, s, tenantB, "X")
		foreign := lines[0]
		foreign.ProductID = theirs.ID
		requireNotFound(t, s.InTx(ctx, func(ctx context.Context) error {
			return s.ReplaceValuationLines(ctx, tenantA, v.ID, []valuation.Line{foreign})
		}))
		tooPrecise := lines[0]
		tooPrecise.AverageCost = money("1.00001")
		requireInvalid(t, s.InTx(ctx, func(ctx context.Context) error {
			return s.ReplaceValuationLines(ctx, tenantA, v.ID, []valuation.Line{tooPrecise})
		}))
		got, err = s.ValuationLines(ctx, tenantA, v.ID, 0, 1000)
		require.NoError(t, err)
		require.Len(t, got, 7, "failed replacements rolled back")

		// Many lines in one go: one location per line this time.
		for i := range many {
			many[i].LocationID = insertLocation(t, s, tenantA, fmt.Sprintf("bin-%03d", i)).ID
		}
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			return s.ReplaceValuationLines(ctx, tenantA, v.ID, many)
		}))
		got, err = s.ValuationLines(ctx, tenantA, v.ID, 550, 1000)
		require.NoError(t, err)
		require.Len(t, got, 50)
		require.Equal(t, 600, got[49].LineNo)
	},
}

func valuationIDs(list []valuation.Valuation) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = v.ID
	}
	return out
}

func requireValuation(t *testing.T, want, got valuation.Valuation) {
	t.Helper()
	require.True(t, want.Totals.FIFOValue.Equal(got.Totals.FIFOValue), "fifo value %s vs %s", want.Totals.FIFOValue, got.Totals.FIFOValue)
	require.True(t, want.Totals.AverageValue.Equal(got.Totals.AverageValue))
	want.Totals.FIFOValue, got.Totals.FIFOValue = decimal.Zero, decimal.Zero
	want.Totals.AverageValue, got.Totals.AverageValue = decimal.Zero, decimal.Zero
	require.Equal(t, want, got)
}
