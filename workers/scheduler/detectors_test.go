package scheduler_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/postgres"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/scheduler"
)

// clock is an injected clock the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

var start = time.Date(2026, 5, 10, 9, 0, 0, 0, time.UTC)

func day(n int) time.Time { return start.AddDate(0, 0, n) }

// detectors builds a scheduler with both detectors over s, as the app
// wires them.
func detectors(t *testing.T, s *sqlstore.Store, c *clock, reg prometheus.Registerer) *scheduler.Scheduler {
	t.Helper()
	expiry, err := inventory.NewExpiryDetector(s, nil)
	require.NoError(t, err)
	overdue, err := invoice.NewOverdueDetector(s, nil)
	require.NoError(t, err)
	sc, err := scheduler.New(scheduler.Config{Now: c.Now, Registerer: reg, Logger: slog.New(slog.DiscardHandler)},
		scheduler.Job{Name: expiry.Name(), Interval: time.Minute, Run: expiry.Run},
		scheduler.Job{Name: overdue.Name(), Interval: time.Minute, Run: overdue.Run})
	require.NoError(t, err)
	return sc
}

// seed gives tenant a product with a batch expiring on day expiresOn and
// an invoice due on day dueOn; it returns the product and invoice ids.
func seed(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, expiresOn, dueOn int) (string, string) {
	t.Helper()
	ctx := context.Background()
	actor := domain.Actor{TenantID: tenant, UserID: "admin", Perms: []string{domain.PermAdmin}}
	price, reorder := decimal.RequireFromString("4.50"), int64(0)
	p, err := product.NewService(s, nil).Create(ctx, actor, product.CreateInput{SKU: "MILK", Name: "Milk of " + string(tenant),
		Price: &price, ReorderLevel: &reorder})
	require.NoError(t, err)
	_, err = inventory.NewService(s, nil).Record(ctx, actor, inventory.RecordInput{ProductID: p.ID, Quantity: 10,
		BatchNumber: "L-1", ExpiryDate: day(expiresOn).Format(time.DateOnly), Reason: "receipt"})
	require.NoError(t, err)
	inv := storetest.SeedInvoice(t, s, storetest.InvoiceSeed{Tenant: tenant, CustomerName: "Customer of " + string(tenant),
		DueDate: day(dueOn)})
	return p.ID, inv
}

type raised struct {
	subject   string // product or invoice id
	threshold int
}

// raisedEvents lists what the detectors raised in tenant, in order.
func raisedEvents(t *testing.T, s *sqlstore.Store, tenant domain.TenantID) []raised {
	t.Helper()
	evs, err := s.ListEvents(context.Background(), tenant, "", "", 1000)
	require.NoError(t, err)
	var out []raised
	for _, ev := range evs {
		switch ev.Type {
		case "StockExpiring":
			var e inventory.StockExpiring
			require.NoError(t, ev.Decode(&e))
			out = append(out, raised{e.ProductID, e.Threshold})
		case "InvoiceOverdue":
			var e invoice.InvoiceOverdue
			require.NoError(t, ev.Decode(&e))
			out = append(out, raised{e.InvoiceID, e.Threshold})
		default:
			continue
		}
		require.Equal(t, tenant, ev.TenantID)
		require.Equal(t, domain.SystemUserID, ev.ActorID)
	}
	return out
}

// TestDetectorsRaiseEachThresholdOnceAcrossManyRuns drives the scheduler
// with an injected clock through 200 days, many runs a day, in two
// tenants: each item is raised once per threshold, on the day it crosses,
// in its own tenant only.
func TestDetectorsRaiseEachThresholdOnceAcrossManyRuns(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			reg := prometheus.NewRegistry()
			c := &clock{now: day(0)}
			sc := detectors(t, s, c, reg)
			acmeProduct, acmeInvoice := seed(t, s, "acme", 100, 10)
			globexProduct, globexInvoice := seed(t, s, "globex", 40, 50)
			perDay := map[int]int{}
			for d := 0; d <= 200; d++ {
				before := len(raisedEvents(t, s, "acme")) + len(raisedEvents(t, s, "globex"))
				for _, h := range []time.Duration{0, time.Hour, 14 * time.Hour} {
					c.set(day(d).Add(h))
					require.NoError(t, sc.RunNow(context.Background()))
				}
				if n := len(raisedEvents(t, s, "acme")) + len(raisedEvents(t, s, "globex")) - before; n > 0 {
					perDay[d] = n
				}
			}
			// Same day: the expiry job runs first (registration order).
			require.Equal(t, []raised{
				{acmeProduct, 90}, {acmeInvoice, 1}, {acmeInvoice, 7}, {acmeInvoice, 30}, {acmeProduct, 30},
				{acmeInvoice, 60}, {acmeProduct, 7}, {acmeProduct, 0}, {acmeInvoice, 90},
			}, raisedEvents(t, s, "acme"))
			require.Equal(t, []raised{
				{globexProduct, 90}, {globexProduct, 30}, {globexProduct, 7}, {globexProduct, 0},
				{globexInvoice, 1}, {globexInvoice, 7}, {globexInvoice, 30}, {globexInvoice, 60}, {globexInvoice, 90},
			}, raisedEvents(t, s, "globex"))
			// Each threshold on the day it was crossed: acme's batch (day
			// 100) on days 10, 70, 93, 100, its invoice (due day 10) on 11,
			// 17, 40, 70, 100; globex's batch (day 40) on 0, 10, 33, 40, its
			// invoice (due day 50) on 51, 57, 80, 110, 140.
			require.Equal(t, map[int]int{
				0: 1, 10: 2, 11: 1, 17: 1, 33: 1, 40: 2, 51: 1, 57: 1, 70: 2, 80: 1, 93: 1, 100: 2, 110: 1, 140: 1,
			}, perDay)
			for _, d := range []string{inventory.ExpiryDetectorName, invoice.OverdueDetectorName} {
				require.EqualValues(t, 201*3, metric(t, reg, "notifyhub_scheduler_runs_total", map[string]string{"detector": d, "result": "success"}))
			}
			require.EqualValues(t, 8, metric(t, reg, "notifyhub_scheduler_raised_events_total", map[string]string{"detector": inventory.ExpiryDetectorName}))
			require.EqualValues(t, 10, metric(t, reg, "notifyhub_scheduler_raised_events_total", map[string]string{"detector": invoice.OverdueDetectorName}))
		})
	}
}

// TestManySchedulersOnPostgresRaiseOnce runs the detectors from several
// "processes" (each its own connection pool on the same database) at the
// same time, round after round: every item is still raised once per
// threshold.
func TestManySchedulersOnPostgresRaiseOnce(t *testing.T) {
	t.Parallel()
	base := os.Getenv(storetest.DatabaseURLEnv)
	if base == "" {
		t.Skipf("%s is not set: skipping the concurrent PostgreSQL schedulers", storetest.DatabaseURLEnv)
	}
	url := storetest.WithSearchPath(base, storetest.NewSchema(t, base))
	const processes = 4
	stores := make([]*sqlstore.Store, processes)
	for i := range stores {
		s, err := postgres.Open(context.Background(), url, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		stores[i] = s
	}
	var want []raised
	for i := range 5 {
		tenant := domain.TenantID(fmt.Sprintf("tenant-%d", i))
		p, inv := seed(t, stores[0], tenant, 3+i, -8-i) // batch within 7 days, invoice past 7 days
		want = append(want, raised{p, 7}, raised{inv, 7})
	}
	c := &clock{now: day(0)}
	scheds := make([]*scheduler.Scheduler, processes)
	for i, s := range stores {
		scheds[i] = detectors(t, s, c, nil)
	}
	for range 3 {
		var wg sync.WaitGroup
		for _, sc := range scheds {
			wg.Go(func() {
				if err := sc.RunNow(context.Background()); err != nil {
					t.Errorf("run: %v", err)
				}
			})
		}
		wg.Wait()
	}
	var got []raised
	for i := range 5 {
		got = append(got, raisedEvents(t, stores[1], domain.TenantID(fmt.Sprintf("tenant-%d", i)))...)
	}
	require.ElementsMatch(t, want, got)
}
