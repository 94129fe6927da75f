package inventory_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
)

// day0 is "today" of the expiry tests, at an awkward time of day: the
// detector counts UTC calendar days, not 24-hour periods.
var day0 = time.Date(2026, 5, 10, 23, 30, 0, 0, time.UTC)

func dayN(n int) time.Time { return day0.AddDate(0, 0, n) }

func dateIn(n int) string { return dayN(n).Format("2006-01-02") }

func (f fixture) detector(t *testing.T, thresholds []int) *inventory.ExpiryDetector {
	t.Helper()
	d, err := inventory.NewExpiryDetector(f.store, thresholds)
	require.NoError(t, err)
	return d
}

func (f fixture) expiring(t *testing.T, tenant domain.TenantID) []inventory.StockExpiring {
	t.Helper()
	evs, err := f.store.ListEvents(context.Background(), tenant, "StockExpiring", "", 500)
	require.NoError(t, err)
	out := make([]inventory.StockExpiring, len(evs))
	for i, ev := range evs {
		require.NoError(t, ev.Decode(&out[i]))
		require.Equal(t, tenant, ev.TenantID)
		require.Equal(t, domain.SystemUserID, ev.ActorID)
		require.Equal(t, "product", ev.AggregateType)
		require.Equal(t, out[i].ProductID, ev.AggregateID)
	}
	return out
}

func runExpiry(t *testing.T, d *inventory.ExpiryDetector, at time.Time) int {
	t.Helper()
	n, err := d.Run(context.Background(), at)
	require.NoError(t, err)
	return n
}

func TestExpiryRaisedOncePerThreshold(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		p := f.product(t, acme, "MILK", 0)
		f.record(t, acme, p.ID, "", 12, "L-42", dateIn(100))
		d := f.detector(t, nil)
		// Every day from 100 days before expiry to 10 days after, three
		// runs a day.
		raised := 0
		for day := 0; day <= 110; day++ {
			for _, h := range []time.Duration{0, time.Minute, 20 * time.Minute} {
				raised += runExpiry(t, d, dayN(day).Add(h))
			}
		}
		evs := f.expiring(t, "acme")
		require.Equal(t, len(evs), raised)
		require.Len(t, evs, 4)
		for i, want := range []int{90, 30, 7, 0} {
			e := evs[i]
			require.Equal(t, want, e.Threshold)
			require.Equal(t, want, e.DaysRemaining, "raised on the day it crossed")
			require.Equal(t, p.ID, e.ProductID)
			require.Equal(t, "MILK", e.SKU)
			require.Equal(t, "MILK", e.Name)
			require.Equal(t, "L-42", e.BatchNumber)
			require.Equal(t, dateIn(100), e.ExpiryDate)
			require.Equal(t, "main", e.LocationCode)
			require.EqualValues(t, 12, e.Quantity)
		}
	})
}

func TestExpiryRaisesOnlyTheTightestThresholdCrossed(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		p := f.product(t, acme, "CHEESE", 0)
		f.record(t, acme, p.ID, "", 1, "soon", dateIn(5))
		f.record(t, acme, p.ID, "", 2, "gone", dateIn(-40))
		f.record(t, acme, p.ID, "", 3, "far", dateIn(91))
		f.record(t, acme, p.ID, "", 4, "month", dateIn(30))
		d := f.detector(t, nil)
		require.Equal(t, 3, runExpiry(t, d, dayN(0)), "a first run raises each batch once, at its tightest")
		require.Zero(t, runExpiry(t, d, dayN(0)))
		got := map[string][2]int{}
		for _, e := range f.expiring(t, "acme") {
			got[e.BatchNumber] = [2]int{e.Threshold, e.DaysRemaining}
		}
		require.Equal(t, map[string][2]int{"soon": {7, 5}, "gone": {0, -40}, "month": {30, 30}}, got)

		// After an outage of 60 days: "month" went past 7 and 0 → only 0;
		// "far" (31 days left) crossed 90 only; "soon", expired, crossed 0.
		require.Equal(t, 3, runExpiry(t, d, dayN(60)))
		got = map[string][2]int{}
		for _, e := range f.expiring(t, "acme")[3:] {
			got[e.BatchNumber] = [2]int{e.Threshold, e.DaysRemaining}
		}
		require.Equal(t, map[string][2]int{"month": {0, -30}, "far": {90, 31}, "soon": {0, -55}}, got)
	})
}

func TestExpiryIgnoresEmptyUntrackedAndDeleted(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		sold := f.product(t, acme, "SOLD", 0)
		f.record(t, acme, sold.ID, "", 5, "S", dateIn(3))
		f.record(t, acme, sold.ID, "", -5, "", "") // batch consumed
		loose := f.product(t, acme, "LOOSE", 0)
		f.record(t, acme, loose.ID, "", 5, "no-expiry", "") // untracked
		gone := f.product(t, acme, "GONE", 0)
		f.record(t, acme, gone.ID, "", 5, "G", dateIn(3))
		require.NoError(t, f.products.Delete(ctx, acme, gone.ID))
		require.Zero(t, runExpiry(t, f.detector(t, nil), dayN(0)))
		require.Empty(t, f.expiring(t, "acme"))
	})
}

func TestExpiryTenantIsolation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		a := f.product(t, acme, "SAME", 0)
		g := f.product(t, globex, "SAME", 0)
		f.record(t, acme, a.ID, "", 1, "B", dateIn(5))
		f.record(t, globex, g.ID, "", 2, "B", dateIn(5))
		f.record(t, globex, g.ID, "", 3, "C", dateIn(60))
		require.Equal(t, 3, runExpiry(t, f.detector(t, nil), dayN(0)))
		ae, ge := f.expiring(t, "acme"), f.expiring(t, "globex")
		require.Len(t, ae, 1)
		require.Equal(t, a.ID, ae[0].ProductID)
		require.EqualValues(t, 1, ae[0].Quantity)
		require.Len(t, ge, 2)
		for _, e := range ge {
			require.Equal(t, g.ID, e.ProductID, "globex's events are about globex's product")
		}
	})
}

func TestExpiryPagesThroughManyBatches(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		const n = 23
		for i := range n {
			actor := acme
			if i%3 == 0 {
				actor = globex
			}
			p := f.product(t, actor, fmt.Sprintf("P-%02d", i), 0)
			f.record(t, actor, p.ID, "", int64(i+1), fmt.Sprintf("B-%02d", i), dateIn(i%10))
		}
		d := f.detector(t, nil)
		d.SetPageSize(4)
		require.Equal(t, n, runExpiry(t, d, dayN(0)))
		require.Zero(t, runExpiry(t, d, dayN(0)))
		require.Len(t, f.expiring(t, "acme"), n-8)
		require.Len(t, f.expiring(t, "globex"), 8)
	})
}

func TestConcurrentExpiryRunsRaiseOnce(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		for i := range 6 {
			p := f.product(t, acme, fmt.Sprintf("C-%d", i), 0)
			f.record(t, acme, p.ID, "", 1, "B", dateIn(i))
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			total int
		)
		for range 8 {
			d := f.detector(t, nil) // as on separate processes
			wg.Go(func() {
				n, err := d.Run(context.Background(), dayN(0))
				if err != nil {
					t.Errorf("run: %v", err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			})
		}
		wg.Wait()
		require.Equal(t, 6, total)
		require.Len(t, f.expiring(t, "acme"), 6)
	})
}

func TestExpiryDetectorConfig(t *testing.T) {
	t.Parallel()
	s := struct{ inventory.ExpiryStore }{}
	for name, ts := range map[string][]int{
		"empty": {}, "negative": {30, -1}, "repeated": {7, 7}, "too far": {4000},
	} {
		_, err := inventory.NewExpiryDetector(s, ts)
		require.Error(t, err, name)
	}
	_, err := inventory.NewExpiryDetector(nil, nil)
	require.Error(t, err)
	d, err := inventory.NewExpiryDetector(s, []int{0, 14})
	require.NoError(t, err)
	require.Equal(t, inventory.ExpiryDetectorName, d.Name())
}

func TestExpiryCustomThresholds(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		p := f.product(t, acme, "CUSTOM", 0)
		f.record(t, acme, p.ID, "", 1, "B", dateIn(20))
		d := f.detector(t, []int{14, 3})
		require.Zero(t, runExpiry(t, d, dayN(0)), "20 days left: beyond the largest threshold")
		require.Equal(t, 1, runExpiry(t, d, dayN(6)))
		require.Equal(t, 1, runExpiry(t, d, dayN(17)))
		require.Zero(t, runExpiry(t, d, dayN(30)), "no 0 threshold configured: nothing at expiry")
		evs := f.expiring(t, "acme")
		require.Equal(t, []int{14, 3}, []int{evs[0].Threshold, evs[1].Threshold})
	})
}
