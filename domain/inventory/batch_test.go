package inventory_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
)

// record records a movement with optional batch and expiry at loc ("" = main).
func (f fixture) record(t *testing.T, actor domain.Actor, productID, loc string, qty int64, batch, expiry string) {
	t.Helper()
	_, err := f.inventory.Record(context.Background(), actor, inventory.RecordInput{
		ProductID: productID, LocationID: loc, Quantity: qty, BatchNumber: batch, ExpiryDate: expiry, Reason: "test"})
	require.NoError(t, err)
}

// batches maps "location code/batch/expiry" to quantity.
func (f fixture) batches(t *testing.T, tenant domain.TenantID, productID string) map[string]int64 {
	t.Helper()
	list, err := f.inventory.ListBatches(context.Background(), tenant, productID)
	require.NoError(t, err)
	out := map[string]int64{}
	for _, b := range list {
		require.Positive(t, b.Quantity, "only batches holding stock are listed")
		out[b.LocationCode+"/"+b.BatchNumber+"/"+b.ExpiryDate.Format("2006-01-02")] = b.Quantity
	}
	return out
}

func TestBatchesInAndFirstExpiryFirstOut(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		p := f.product(t, acme, "MILK", 0)
		f.record(t, acme, p.ID, "", 10, "L-2", "2027-03-01")
		f.record(t, acme, p.ID, "", 5, "L-1", "2027-01-01")
		f.record(t, acme, p.ID, "", 4, "", "")              // untracked
		f.record(t, acme, p.ID, "", 2, "L-2", "2027-03-01") // same batch: adds
		f.record(t, acme, p.ID, "", 1, "L-2", "2027-04-01") // same number, other date: another batch
		require.Equal(t, map[string]int64{
			"main/L-1/2027-01-01": 5, "main/L-2/2027-03-01": 12, "main/L-2/2027-04-01": 1,
		}, f.batches(t, "acme", p.ID))

		f.record(t, acme, p.ID, "", -7, "", "") // FEFO: L-1 emptied, 2 from L-2 (March)
		require.Equal(t, map[string]int64{"main/L-2/2027-03-01": 10, "main/L-2/2027-04-01": 1},
			f.batches(t, "acme", p.ID), "an emptied batch is no longer listed")

		f.record(t, acme, p.ID, "", -1, "L-2", "2027-04-01") // named by number and date
		require.Equal(t, map[string]int64{"main/L-2/2027-03-01": 10}, f.batches(t, "acme", p.ID))

		got, err := f.products.Get(context.Background(), "acme", p.ID)
		require.NoError(t, err)
		require.EqualValues(t, 14, got.OnHand, "10 tracked + 4 untracked")
	})
}

func TestNamedBatchGoesFirstThenFEFO(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		p := f.product(t, acme, "YOG", 0)
		f.record(t, acme, p.ID, "", 5, "A", "2027-01-01")
		f.record(t, acme, p.ID, "", 5, "B", "2027-06-01")
		f.record(t, acme, p.ID, "", -3, "B", "")
		require.Equal(t, map[string]int64{"main/A/2027-01-01": 5, "main/B/2027-06-01": 2}, f.batches(t, "acme", p.ID))
		f.record(t, acme, p.ID, "", -4, "B", "") // B has 2: the other 2 come from A
		require.Equal(t, map[string]int64{"main/A/2027-01-01": 3}, f.batches(t, "acme", p.ID))
		f.record(t, acme, p.ID, "", -1, "no-such-batch", "") // unknown: plain FEFO
		require.Equal(t, map[string]int64{"main/A/2027-01-01": 2}, f.batches(t, "acme", p.ID))
	})
}

func TestMovingOutMoreThanTrackedKeepsTheInvariant(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		p := f.product(t, acme, "JAM", 0)
		north, err := f.inventory.CreateLocation(ctx, acme, inventory.LocationInput{Code: "north", Name: "North"})
		require.NoError(t, err)
		f.record(t, acme, p.ID, "", 3, "J-1", "2027-01-01")
		f.record(t, acme, p.ID, "", 10, "", "")
		f.record(t, acme, p.ID, north.ID, 6, "J-1", "2027-01-01")
		f.record(t, acme, p.ID, "", -5, "", "") // 3 tracked + 2 untracked
		require.Equal(t, map[string]int64{"north/J-1/2027-01-01": 6}, f.batches(t, "acme", p.ID),
			"a movement consumes the batches of its own location only")
		level, err := f.store.StockLevel(ctx, "acme", p.ID, mainID(t, f))
		require.NoError(t, err)
		require.EqualValues(t, 8, level)
		// A refused movement (more than on hand) changes no batch either.
		_, err = f.inventory.Record(ctx, acme, inventory.RecordInput{ProductID: p.ID, LocationID: north.ID, Quantity: -7, Reason: "r"})
		var rule *domain.RuleError
		require.ErrorAs(t, err, &rule)
		require.Equal(t, map[string]int64{"north/J-1/2027-01-01": 6}, f.batches(t, "acme", p.ID))
	})
}

func mainID(t *testing.T, f fixture) string {
	t.Helper()
	l, err := f.store.DefaultLocation(context.Background(), "acme")
	require.NoError(t, err)
	return l.ID
}

// TestBatchesNeverExceedOnHand drives random movements in and out, with and
// without expiry dates and batch numbers, at two locations, and checks
// after each that Σ batches ≤ on hand at every location.
func TestBatchesNeverExceedOnHand(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		p := f.product(t, acme, "RND", 0)
		north, err := f.inventory.CreateLocation(ctx, acme, inventory.LocationInput{Code: "north", Name: "North"})
		require.NoError(t, err)
		locs := []string{mainID(t, f), north.ID}
		codes := map[string]string{locs[0]: "main", locs[1]: "north"}
		rng := rand.New(rand.NewPCG(1, 2))
		dates := []string{"", "2027-01-01", "2027-02-01", "2026-12-01"}
		numbers := []string{"", "X", "Y"}
		for i := range 80 {
			loc := locs[rng.IntN(2)]
			level, err := f.store.StockLevel(ctx, "acme", p.ID, loc)
			require.NoError(t, err)
			in := inventory.RecordInput{ProductID: p.ID, LocationID: loc, Reason: "r",
				BatchNumber: numbers[rng.IntN(len(numbers))], ExpiryDate: dates[rng.IntN(len(dates))]}
			if level == 0 || rng.IntN(2) == 0 {
				in.Quantity = 1 + rng.Int64N(9)
			} else {
				in.Quantity = -(1 + rng.Int64N(level))
			}
			_, err = f.inventory.Record(ctx, acme, in)
			require.NoError(t, err, "step %d", i)

			sums := map[string]int64{}
			list, err := f.inventory.ListBatches(ctx, "acme", p.ID)
			require.NoError(t, err)
			for _, b := range list {
				sums[b.LocationID] += b.Quantity
			}
			for _, l := range locs {
				level, err := f.store.StockLevel(ctx, "acme", p.ID, l)
				require.NoError(t, err)
				require.LessOrEqual(t, sums[l], level, "step %d at %s: batches exceed on hand", i, codes[l])
			}
		}
	})
}

func TestListBatchesIsolationAndBadIDs(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		p := f.product(t, acme, "ISO", 0)
		f.record(t, acme, p.ID, "", 5, "B", "2027-01-01")
		theirs := f.product(t, globex, "ISO", 0)
		f.record(t, globex, theirs.ID, "", 7, "B", "2027-01-01")

		_, err := f.inventory.ListBatches(ctx, "globex", p.ID)
		require.ErrorIs(t, err, domain.ErrNotFound, "another tenant's product")
		_, err = f.inventory.ListBatches(ctx, "acme", domain.NewID())
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = f.inventory.ListBatches(ctx, "acme", "'; DROP TABLE stock_batches; --")
		var v *domain.ValidationError
		require.ErrorAs(t, err, &v)
		require.Equal(t, map[string]int64{"main/B/2027-01-01": 5}, f.batches(t, "acme", p.ID))
		require.Equal(t, map[string]int64{"main/B/2027-01-01": 7}, f.batches(t, "globex", theirs.ID))
	})
}
