package invoice_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

// day0 is "today" of these tests, late in the UTC day: days overdue are
// UTC calendar days, not 24-hour periods.
var day0 = time.Date(2026, 5, 10, 23, 45, 0, 0, time.UTC)

func dayN(n int) time.Time { return day0.AddDate(0, 0, n) }

func eachStore(t *testing.T, fn func(t *testing.T, s *sqlstore.Store)) {
	t.Helper()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open(t))
		})
	}
}

func detector(t *testing.T, s *sqlstore.Store, thresholds []int) *invoice.OverdueDetector {
	t.Helper()
	d, err := invoice.NewOverdueDetector(s, thresholds)
	require.NoError(t, err)
	return d
}

func run(t *testing.T, d *invoice.OverdueDetector, at time.Time) int {
	t.Helper()
	n, err := d.Run(context.Background(), at)
	require.NoError(t, err)
	return n
}

func overdueEvents(t *testing.T, s *sqlstore.Store, tenant domain.TenantID) []invoice.InvoiceOverdue {
	t.Helper()
	evs, err := s.ListEvents(context.Background(), tenant, "InvoiceOverdue", "", 500)
	require.NoError(t, err)
	out := make([]invoice.InvoiceOverdue, len(evs))
	for i, ev := range evs {
		require.NoError(t, ev.Decode(&out[i]))
		require.Equal(t, tenant, ev.TenantID)
		require.Equal(t, domain.SystemUserID, ev.ActorID)
		require.Equal(t, "invoice", ev.AggregateType)
		require.Equal(t, out[i].InvoiceID, ev.AggregateID)
	}
	return out
}

func TestOverdueRaisedOncePerThreshold(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *sqlstore.Store) {
		id := storetest.SeedInvoice(t, s, storetest.InvoiceSeed{Tenant: "acme", CustomerName: "Umbrella Corp",
			Number: "INV-000042", Total: "120.50", AmountPaid: "20.25", DueDate: dayN(0)})
		d := detector(t, s, nil)
		raised := 0
		for day := -3; day <= 120; day++ {
			for _, h := range []time.Duration{-23 * time.Hour, -time.Hour, 0} { // three runs within the day
				raised += run(t, d, dayN(day).Add(h))
			}
			want := "open"
			if day >= 1 {
				want = "overdue"
			}
			require.Equal(t, want, storetest.InvoiceStatus(t, s, "acme", id), "day %d", day)
		}
		evs := overdueEvents(t, s, "acme")
		require.Equal(t, len(evs), raised)
		require.Len(t, evs, 5)
		for i, want := range []int{1, 7, 30, 60, 90} {
			e := evs[i]
			require.Equal(t, want, e.Threshold)
			require.Equal(t, want, e.DaysOverdue, "raised on the day it crossed")
			require.Equal(t, id, e.InvoiceID)
			require.Equal(t, "INV-000042", e.Number)
			require.Equal(t, "Umbrella Corp", e.CustomerName)
			require.NotEmpty(t, e.CustomerID)
			require.Equal(t, "120.5", e.Total.String())
			require.Equal(t, "100.25", e.Outstanding.String())
			require.Equal(t, dayN(0).Format(time.DateOnly), e.DueDate)
		}
	})
}

func TestOverdueRaisesOnlyTheTightestThresholdCrossed(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *sqlstore.Store) {
		late := storetest.SeedInvoice(t, s, storetest.InvoiceSeed{Tenant: "acme", Number: "LATE", DueDate: dayN(-45)})
		ancient := storetest.SeedInvoice(t, s, storetest.InvoiceSeed{Tenant: "acme", Number: "OLD", DueDate: dayN(-4000)})
		d := detector(t, s, nil)
		require.Equal(t, 2, run(t, d, dayN(0)))
		require.Zero(t, run(t, d, dayN(0)))
		// After a 50-day outage: LATE went past 60 and 90 → only 90.
		require.Equal(t, 1, run(t, d, dayN(50)))
		got := map[string][2]int{}
		for _, e := range overdueEvents(t, s, "acme") {
			got[fmt.Sprint(e.Number, e.Threshold)] = [2]int{e.Threshold, e.DaysOverdue}
		}
		require.Equal(t, map[string][2]int{"LATE30": {30, 45}, "OLD90": {90, 4000}, "LATE90": {90, 95}}, got)
		require.Equal(t, "overdue", storetest.InvoiceStatus(t, s, "acme", late))
		require.Equal(t, "overdue", storetest.InvoiceStatus(t, s, "acme", ancient))
	})
}

func TestOverdueSkipsPaidAndNotYetDue(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *sqlstore.Store) {
		paid := storetest.SeedInvoice(t, s, storetest.InvoiceSeed{Tenant: "acme", DueDate: dayN(-10), Status: "paid", AmountPaid: "100.00"})
		today := storetest.SeedInvoice(t, s, storetest.InvoiceSeed{Tenant: "acme", DueDate: dayN(0)})
		future := storetest.SeedInvoice(t, s, storetest.InvoiceSeed{Tenant: "acme", DueDate: dayN(30)})
		// Marked overdue by someone else, but never raised: raised now.
		marked := storetest.SeedInvoice(t, s, storetest.InvoiceSeed{Tenant: "acme", Number: "MARKED", DueDate: dayN(-2), Status: "overdue"})
		require.Equal(t, 1, run(t, detector(t, s, nil), dayN(0)))
		evs := overdueEvents(t, s, "acme")
		require.Len(t, evs, 1)
		require.Equal(t, marked, evs[0].InvoiceID)
		require.Equal(t, "paid", storetest.InvoiceStatus(t, s, "acme", paid))
		require.Equal(t, "open", storetest.InvoiceStatus(t, s, "acme", today))
		require.Equal(t, "open", storetest.InvoiceStatus(t, s, "acme", future))
		require.Equal(t, "overdue", storetest.InvoiceStatus(t, s, "acme", marked))
	})
}

func TestOverdueMarksOpenInvoicesEvenWhenAlreadyRaised(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *sqlstore.Store) {
		id := storetest.SeedInvoice(t, s, storetest.InvoiceSeed{Tenant: "acme", DueDate: dayN(-3)})
		d := detector(t, s, nil)
		require.Equal(t, 1, run(t, d, dayN(0)))
		// Something reopened it (a refund, a correction): it is still overdue.
		storetest.Exec(t, s, `UPDATE invoices SET status = 'open' WHERE id = ?`, id)
		require.Zero(t, run(t, d, dayN(0)), "the threshold was raised already")
		require.Equal(t, "overdue", storetest.InvoiceStatus(t, s, "acme", id))
	})
}

func TestOverdueTenantIsolation(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *sqlstore.Store) {
		a := storetest.SeedInvoice(t, s, storetest.InvoiceSeed{Tenant: "acme", Number: "INV-1", CustomerName: "A", DueDate: dayN(-1)})
		g1 := storetest.SeedInvoice(t, s, storetest.InvoiceSeed{Tenant: "globex", Number: "INV-1", CustomerName: "G", DueDate: dayN(-8)})
		g2 := storetest.SeedInvoice(t, s, storetest.InvoiceSeed{Tenant: "globex", Number: "INV-2", CustomerName: "G", DueDate: dayN(-1)})
		require.Equal(t, 3, run(t, detector(t, s, nil), dayN(0)))
		ae := overdueEvents(t, s, "acme")
		require.Len(t, ae, 1)
		require.Equal(t, a, ae[0].InvoiceID)
		require.Equal(t, "A", ae[0].CustomerName)
		ge := overdueEvents(t, s, "globex")
		require.Len(t, ge, 2)
		require.ElementsMatch(t, []string{g1, g2}, []string{ge[0].InvoiceID, ge[1].InvoiceID})
		for _, e := range ge {
			require.Equal(t, "G", e.CustomerName)
		}
	})
}

func TestOverduePagesAndConcurrentRunsRaiseOnce(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *sqlstore.Store) {
		const n = 13
		for i := range n {
			tenant := domain.TenantID("acme")
			if i%2 == 0 {
				tenant = "globex"
			}
			storetest.SeedInvoice(t, s, storetest.InvoiceSeed{Tenant: tenant, DueDate: dayN(-1 - i*3)})
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			total int
		)
		for range 6 {
			d := detector(t, s, nil) // as on separate processes
			d.SetPageSize(4)
			wg.Go(func() {
				got, err := d.Run(context.Background(), dayN(0))
				if err != nil {
					t.Errorf("run: %v", err)
				}
				mu.Lock()
				total += got
				mu.Unlock()
			})
		}
		wg.Wait()
		require.Equal(t, n, total)
		require.Len(t, overdueEvents(t, s, "acme"), 6)
		require.Len(t, overdueEvents(t, s, "globex"), 7)
	})
}

func TestOverdueDetectorConfig(t *testing.T) {
	t.Parallel()
	s := struct{ invoice.OverdueStore }{}
	for name, ts := range map[string][]int{
		"empty": {}, "zero": {0, 7}, "repeated": {7, 7}, "too far": {4000},
	} {
		_, err := invoice.NewOverdueDetector(s, ts)
		require.Error(t, err, name)
	}
	_, err := invoice.NewOverdueDetector(nil, nil)
	require.Error(t, err)
	d, err := invoice.NewOverdueDetector(s, []int{3})
	require.NoError(t, err)
	require.Equal(t, invoice.OverdueDetectorName, d.Name())
}
