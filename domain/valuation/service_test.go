package valuation_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/domain/valuation"
)

var (
	acme   = domain.Actor{TenantID: "acme", UserID: "bob", Perms: []string{domain.PermInventoryManage, domain.PermProductsManage}}
	globex = domain.Actor{TenantID: "globex", UserID: "gina", Perms: []string{domain.PermAdmin}}
)

// dispatcher records the jobs a request queues.
type dispatcher struct {
	mu   sync.Mutex
	jobs []valuation.Payload
}

func (d *dispatcher) Dispatch(_ context.Context, _ domain.TenantID, job string, payload any) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if job != valuation.Job {
		return "", fmt.Errorf("unexpected job %q", job)
	}
	d.jobs = append(d.jobs, payload.(valuation.Payload))
	return domain.NewID(), nil
}

func (d *dispatcher) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.jobs)
}

type fixture struct {
	store     *sqlstore.Store
	products  *product.Service
	inventory *inventory.Service
	jobs      *dispatcher
	svc       *valuation.Service
}

func each(t *testing.T, fn func(t *testing.T, f fixture)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{
		"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			d := &dispatcher{}
			fn(t, fixture{store: s, products: product.NewService(s, nil), inventory: inventory.NewService(s, nil),
				jobs: d, svc: valuation.NewService(s, d, nil)})
		})
	}
}

func (f fixture) product(t *testing.T, actor domain.Actor, sku string) product.Product {
	t.Helper()
	price, reorder := decimal.RequireFromString("10"), int64(0)
	p, err := f.products.Create(context.Background(), actor, product.CreateInput{SKU: sku, Name: "Name of " + sku, Price: &price, ReorderLevel: &reorder})
	require.NoError(t, err)
	return p
}

func (f fixture) location(t *testing.T, actor domain.Actor, code string) inventory.Location {
	t.Helper()
	l, err := f.inventory.CreateLocation(context.Background(), actor, inventory.LocationInput{Code: code, Name: code})
	require.NoError(t, err)
	return l
}

// move records a movement; cost "" leaves the unit cost out.
func (f fixture) move(t *testing.T, actor domain.Actor, productID, loc string, qty int64, cost, batch, expiry string) {
	t.Helper()
	in := inventory.RecordInput{ProductID: productID, LocationID: loc, Quantity: qty, BatchNumber: batch, ExpiryDate: expiry, Reason: "test"}
	if cost != "" {
		d := decimal.RequireFromString(cost)
		in.UnitCost = &d
	}
	_, err := f.inventory.Record(context.Background(), actor, in)
	require.NoError(t, err)
}

// ledgers is the shared scenario, with hand-computed results:
//
//	A-1 main:  10 @ 1.00, 5 @ 1.30, out 12 → 3 @ 1.30 = 3.90; average 1.10 → 3.30
//	B-2 main:  4 @ 2.00 (batch L1), 6 @ 3.00, out 5 naming L1 → all of L1, 1 of
//	           the 3.00 layer: 5 @ 3.00 = 15.00; average (8 + 18) / 10 = 2.60 → 13.00
//	B-2 north: 2 without a cost → the product's last known 3.00: 6.00 (warned)
//	C-3:       sold out → no line
//	D-4:       deleted → not valued
//
// and globex has its own A-1, which must never show up in acme's results.
type ledgers struct {
	a, b, c, d product.Product
	north      inventory.Location
	theirs     product.Product
}

func (f fixture) ledgers(t *testing.T) ledgers {
	t.Helper()
	var l ledgers
	l.a, l.b, l.c, l.d = f.product(t, acme, "A-1"), f.product(t, acme, "B-2"), f.product(t, acme, "C-3"), f.product(t, acme, "D-4")
	l.north = f.location(t, acme, "north")
	f.move(t, acme, l.a.ID, "", 10, "1.00", "", "")
	f.move(t, acme, l.a.ID, "", 5, "1.30", "", "")
	f.move(t, acme, l.a.ID, "", -12, "", "", "")
	f.move(t, acme, l.b.ID, "", 4, "2.00", "L1", "2027-01-01")
	f.move(t, acme, l.b.ID, "", 6, "3.00", "", "")
	f.move(t, acme, l.b.ID, "", -5, "", "L1", "")
	f.move(t, acme, l.b.ID, l.north.ID, 2, "", "", "")
	f.move(t, acme, l.c.ID, "", 3, "1.00", "", "")
	f.move(t, acme, l.c.ID, "", -3, "", "", "")
	f.move(t, acme, l.d.ID, "", 1, "9.00", "", "")
	require.NoError(t, f.products.Delete(context.Background(), acme, l.d.ID))
	l.theirs = f.product(t, globex, "A-1")
	f.move(t, globex, l.theirs.ID, "", 100, "50.00", "", "")
	return l
}

// request asks for a valuation and runs its job, as a worker would.
func (f fixture) run(t *testing.T, actor domain.Actor, in valuation.RequestInput) valuation.Detail {
	t.Helper()
	ctx := context.Background()
	v, err := f.svc.Request(ctx, actor, in)
	require.NoError(t, err)
	require.Equal(t, valuation.StatusPending, v.Status)
	require.NoError(t, f.svc.Run(ctx, actor.TenantID, v.ID))
	d, err := f.svc.Get(ctx, actor.TenantID, v.ID, valuation.LinePage{})
	require.NoError(t, err)
	require.Equal(t, valuation.StatusCompleted, d.Status)
	return d
}

// row is a line in short: "sku/location qty fifo avg-cost avg-value [layers] warnings".
func row(l valuation.Line) string {
	s := fmt.Sprintf("%s/%s %d %s %s %s [", l.SKU, l.LocationCode, l.Quantity,
		l.FIFOValue.StringFixed(2), l.AverageCost.StringFixed(4), l.AverageValue.StringFixed(2))
	for i, x := range l.Layers {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%d@%s", x.Quantity, x.UnitCost.StringFixed(2))
		if x.BatchNumber != "" {
			s += "/" + x.BatchNumber
		}
	}
	s += "]"
	for _, w := range l.Warnings {
		s += " " + w.Code
	}
	return s
}

func rows(lines []valuation.Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = row(l)
	}
	return out
}

func TestValuationOfEveryProduct(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		l := f.ledgers(t)
		d := f.run(t, acme, valuation.RequestInput{})
		require.Equal(t, []string{
			"A-1/main 3 3.90 1.1000 3.30 [3@1.30]",
			"B-2/main 5 15.00 2.6000 13.00 [5@3.00]",
			"B-2/north 2 6.00 3.0000 6.00 [2@3.00] " + valuation.WarnCostFromLast,
		}, rows(d.Results))
		require.Equal(t, valuation.Scope{Kind: valuation.ScopeAll}, d.Scope)
		require.NotNil(t, d.Totals)
		require.EqualValues(t, 3, d.Totals.Lines)
		require.EqualValues(t, 10, d.Totals.Quantity)
		require.Equal(t, "24.9", d.Totals.FIFOValue.String())
		require.Equal(t, "22.3", d.Totals.AverageValue.String())
		require.EqualValues(t, 1, d.Totals.Warnings)
		require.Equal(t, valuation.Progress{ProductsTotal: 3, ProductsDone: 3}, d.Progress, "A, B and C; D is deleted")
		require.Nil(t, d.Error)
		require.Nil(t, d.ResultsNext)
		require.NotNil(t, d.StartedAt)
		require.NotNil(t, d.CompletedAt)
		require.Equal(t, domain.UserID("bob"), d.RequestedBy)

		first := d.Results[0]
		require.Equal(t, l.a.ID, first.ProductID)
		require.Equal(t, "Name of A-1", first.Name)
		require.Len(t, first.Layers, 1)
		require.Equal(t, valuation.CostFromMovement, first.Layers[0].CostSource)
		require.NotEmpty(t, first.Layers[0].MovementID)
		require.False(t, first.Layers[0].ReceivedAt.IsZero())
		require.Equal(t, l.north.ID, d.Results[2].LocationID)
		require.Equal(t, valuation.CostFromLast, d.Results[2].Layers[0].CostSource)

		// Another tenant sees its own stock only, and not acme's valuation.
		theirs := f.run(t, globex, valuation.RequestInput{})
		require.Equal(t, []string{"A-1/main 100 5000.00 50.0000 5000.00 [100@50.00]"}, rows(theirs.Results))
		require.Equal(t, l.theirs.ID, theirs.Results[0].ProductID)
		_, err := f.svc.Get(context.Background(), "globex", d.ID, valuation.LinePage{})
		require.ErrorIs(t, err, domain.ErrNotFound)
		list, err := f.svc.List(context.Background(), "globex", "", 50)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, theirs.ID, list[0].ID)
	})
}

func TestValuationOfOneProductOrLocation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		l := f.ledgers(t)
		byProduct := f.run(t, acme, valuation.RequestInput{ProductID: &l.b.ID})
		require.Equal(t, valuation.Scope{Kind: valuation.ScopeProduct, ProductID: l.b.ID}, byProduct.Scope)
		require.Equal(t, []string{
			"B-2/main 5 15.00 2.6000 13.00 [5@3.00]",
			"B-2/north 2 6.00 3.0000 6.00 [2@3.00] " + valuation.WarnCostFromLast,
		}, rows(byProduct.Results))

		// The north location alone: B-2's north line, with the same cost as
		// in the full valuation (its last known cost comes from main).
		byLocation := f.run(t, acme, valuation.RequestInput{LocationID: &l.north.ID})
		require.Equal(t, valuation.Scope{Kind: valuation.ScopeLocation, LocationID: l.north.ID}, byLocation.Scope)
		require.Equal(t, []string{"B-2/north 2 6.00 3.0000 6.00 [2@3.00] " + valuation.WarnCostFromLast}, rows(byLocation.Results))
		require.Equal(t, valuation.Progress{ProductsTotal: 3, ProductsDone: 3}, byLocation.Progress, "every live product's ledger was read")

		soldOut := f.run(t, acme, valuation.RequestInput{ProductID: &l.c.ID})
		require.Empty(t, soldOut.Results, "nothing left to value")
		require.EqualValues(t, 0, soldOut.Totals.Lines)
		require.True(t, soldOut.Totals.FIFOValue.IsZero())

		list, err := f.svc.List(context.Background(), "acme", "", 50)
		require.NoError(t, err)
		require.Len(t, list, 3)
		require.Equal(t, soldOut.ID, list[0].ID, "newest first")
		older, err := f.svc.List(context.Background(), "acme", list[0].ID, 50)
		require.NoError(t, err)
		require.Len(t, older, 2)
		require.Equal(t, byProduct.ID, older[1].ID)
	})
}

func TestValuationRequestIsValidatedAndScoped(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		l := f.ledgers(t)
		theirLoc := f.location(t, globex, "north")
		str := func(s string) *string { return &s }
		for name, tc := range map[string]struct {
			actor domain.Actor
			in    valuation.RequestInput
			want  func(t *testing.T, err error)
		}{
			"both given":               {acme, valuation.RequestInput{ProductID: &l.a.ID, LocationID: &l.north.ID}, invalid("scope")},
			"malformed product":        {acme, valuation.RequestInput{ProductID: str("'; DROP TABLE valuations; --")}, invalid("product_id")},
			"empty product":            {acme, valuation.RequestInput{ProductID: str("")}, invalid("product_id")},
			"malformed location":       {acme, valuation.RequestInput{LocationID: str("north")}, invalid("location_id")},
			"unknown product":          {acme, valuation.RequestInput{ProductID: str(domain.NewID())}, notFound},
			"their product":            {acme, valuation.RequestInput{ProductID: &l.theirs.ID}, notFound},
			"their location":           {acme, valuation.RequestInput{LocationID: &theirLoc.ID}, notFound},
			"deleted product":          {acme, valuation.RequestInput{ProductID: &l.d.ID}, notFound},
			"our product, their token": {globex, valuation.RequestInput{ProductID: &l.a.ID}, notFound},
			"no permission": {domain.Actor{TenantID: "acme", UserID: "eve", Perms: []string{domain.PermInventoryAlerts}},
				valuation.RequestInput{}, func(t *testing.T, err error) { require.ErrorIs(t, err, domain.ErrForbidden) }},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := f.svc.Request(ctx, tc.actor, tc.in)
				tc.want(t, err)
			})
		}
		require.Zero(t, f.jobs.count(), "no job was queued")
		for _, tenant := range []domain.TenantID{"acme", "globex"} {
			list, err := f.svc.List(ctx, tenant, "", 50)
			require.NoError(t, err)
			require.Empty(t, list, "no valuation was stored")
		}
		_, err := f.svc.Get(ctx, "acme", "nope", valuation.LinePage{})
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = f.svc.Get(ctx, "acme", domain.NewID(), valuation.LinePage{})
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = f.svc.List(ctx, "acme", "nope", 50)
		var v *domain.ValidationError
		require.ErrorAs(t, err, &v)
	})
}

func invalid(field string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var v *domain.ValidationError
		require.ErrorAs(t, err, &v)
		require.Contains(t, v.Fields, field)
	}
}

func notFound(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, domain.ErrNotFound)
}

// flaky fails the final write of the lines, once, as a crash between
// the ledger reads and the commit would; it records the progress written.
type flaky struct {
	*sqlstore.Store
	mu       sync.Mutex
	failNext bool
	progress []int64
}

func (s *flaky) ReplaceValuationLines(ctx context.Context, tenant domain.TenantID, id string, lines []valuation.Line) error {
	if err := s.Store.ReplaceValuationLines(ctx, tenant, id, lines); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext {
		s.failNext = false
		return errors.New("connection lost")
	}
	return nil
}

func (s *flaky) UpdateValuation(ctx context.Context, v valuation.Valuation) error {
	s.mu.Lock()
	s.progress = append(s.progress, v.Progress.ProductsDone)
	s.mu.Unlock()
	return s.Store.UpdateValuation(ctx, v)
}

func (f fixture) countLines(t *testing.T, tenant domain.TenantID, id string) int {
	t.Helper()
	lines, err := f.store.ValuationLines(context.Background(), tenant, id, 0, 1000)
	require.NoError(t, err)
	return len(lines)
}

func TestValuationRunsAgainSafely(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		f.ledgers(t)
		for i := range 5 {
			p := f.product(t, acme, fmt.Sprintf("E-%d", i))
			f.move(t, acme, p.ID, "", int64(i+1), "0.5", "", "")
		}
		st := &flaky{Store: f.store, failNext: true}
		svc := valuation.NewService(st, f.jobs, nil)
		svc.PageSize = 2
		v, err := svc.Request(ctx, acme, valuation.RequestInput{})
		require.NoError(t, err)

		// The first run reads everything, then loses its final write: the
		// transaction rolls back, nothing of it is left but progress.
		require.Error(t, svc.Run(ctx, "acme", v.ID))
		got, err := svc.Get(ctx, "acme", v.ID, valuation.LinePage{})
		require.NoError(t, err)
		require.Equal(t, valuation.StatusProcessing, got.Status)
		require.Equal(t, valuation.Progress{ProductsTotal: 8, ProductsDone: 8}, got.Progress)
		require.Zero(t, f.countLines(t, "acme", v.ID))
		require.Equal(t, []int64{0, 2, 4, 6, 8}, st.progress, "progress after each page of 2")

		// Stale lines an earlier run might have left are replaced, not
		// added to.
		other := f.product(t, acme, "STALE")
		loc, err := f.store.DefaultLocation(ctx, "acme")
		require.NoError(t, err)
		require.NoError(t, f.store.InTx(ctx, func(ctx context.Context) error {
			return f.store.ReplaceValuationLines(ctx, "acme", v.ID, []valuation.Line{{LineNo: 1, ProductID: other.ID,
				SKU: "STALE", LocationID: loc.ID, LocationCode: "main", Quantity: 99}})
		}))

		// The retry starts over and writes one set of results.
		st.progress = nil
		require.NoError(t, svc.Run(ctx, "acme", v.ID))
		require.Equal(t, []int64{0, 2, 4, 6, 8, 9, 9}, st.progress, "progress restarts from zero; STALE is a product too")
		done, err := svc.Get(ctx, "acme", v.ID, valuation.LinePage{Limit: 1000})
		require.NoError(t, err)
		require.Equal(t, valuation.StatusCompleted, done.Status)
		require.Len(t, done.Results, 8, "A-1, B-2 twice, E-0..E-4")
		require.EqualValues(t, 8, done.Totals.Lines)
		for _, l := range done.Results {
			require.NotEqual(t, "STALE", l.SKU)
		}
		require.Equal(t, "A-1/main 3 3.90 1.1000 3.30 [3@1.30]", row(done.Results[0]))
		require.Equal(t, "E-4/main 5 2.50 0.5000 2.50 [5@0.50]", row(done.Results[7]))

		// A completed valuation is left alone by a redelivered job.
		st.progress = nil
		require.NoError(t, svc.Run(ctx, "acme", v.ID))
		require.Empty(t, st.progress, "nothing written")
		again, err := svc.Get(ctx, "acme", v.ID, valuation.LinePage{Limit: 1000})
		require.NoError(t, err)
		require.Equal(t, done.CompletedAt, again.CompletedAt)
		require.Equal(t, rows(done.Results), rows(again.Results))

		// Pages of lines.
		page1, err := svc.Get(ctx, "acme", v.ID, valuation.LinePage{Limit: 3})
		require.NoError(t, err)
		require.Len(t, page1.Results, 3)
		require.NotNil(t, page1.ResultsNext)
		require.Equal(t, "3", *page1.ResultsNext)
		last, err := svc.Get(ctx, "acme", v.ID, valuation.LinePage{After: 6, Limit: 3})
		require.NoError(t, err)
		require.Equal(t, rows(done.Results[6:]), rows(last.Results))
		require.Nil(t, last.ResultsNext, "the last page")
		past, err := svc.Get(ctx, "acme", v.ID, valuation.LinePage{After: 100})
		require.NoError(t, err)
		require.Empty(t, past.Results)
		_, err = svc.Get(ctx, "acme", v.ID, valuation.LinePage{After: -1})
		var verr *domain.ValidationError
		require.ErrorAs(t, err, &verr)

		// Running with a malformed id or for another tenant fails for good.
		err = svc.Run(ctx, "acme", "nope")
		require.True(t, domain.Permanent(err), "%v", err)
		err = svc.Run(ctx, "globex", v.ID)
		require.True(t, domain.Permanent(err), "%v", err)
	})
}

func TestValuationMarkedFailedAndRetried(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		f.ledgers(t)
		v, err := f.svc.Request(ctx, acme, valuation.RequestInput{})
		require.NoError(t, err)
		require.NoError(t, f.svc.MarkFailed(ctx, "acme", v.ID, errors.New("timed out after 5m0s")))
		got, err := f.svc.Get(ctx, "acme", v.ID, valuation.LinePage{})
		require.NoError(t, err)
		require.Equal(t, valuation.StatusFailed, got.Status)
		require.NotNil(t, got.Error)
		require.Equal(t, "timed out after 5m0s", *got.Error)
		require.NotNil(t, got.FailedAt)
		require.Nil(t, got.Totals)
		require.Empty(t, got.Results)
		require.ErrorIs(t, f.svc.MarkFailed(ctx, "globex", v.ID, errors.New("x")), domain.ErrNotFound)

		// A retry of the failed job completes it and clears the error.
		require.NoError(t, f.svc.Run(ctx, "acme", v.ID))
		got, err = f.svc.Get(ctx, "acme", v.ID, valuation.LinePage{})
		require.NoError(t, err)
		require.Equal(t, valuation.StatusCompleted, got.Status)
		require.Nil(t, got.Error)
		require.Nil(t, got.FailedAt)
		require.Len(t, got.Results, 3)
		// Marking a completed valuation failed (a late hook) changes nothing.
		require.NoError(t, f.svc.MarkFailed(ctx, "acme", v.ID, errors.New("late")))
		got, err = f.svc.Get(ctx, "acme", v.ID, valuation.LinePage{})
		require.NoError(t, err)
		require.Equal(t, valuation.StatusCompleted, got.Status)
	})
}
