package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/report"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func newReport(tenant domain.TenantID, typ report.Type) report.Report {
	return report.Report{
		ID: domain.NewID(), TenantID: tenant, Type: typ,
		Parameters: report.Parameters{From: "2026-03-01", To: "2026-03-31"},
		Status:     report.StatusPending, RequestedBy: userA, CreatedAt: at(0),
	}
}

var reportTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"RoundTripAndUpdate": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		r := newReport(tenantA, report.TypeSales)
		require.NoError(t, s.InsertReport(ctx, r))
		require.ErrorIs(t, s.InsertReport(ctx, r), domain.ErrConflict)
		got, err := s.GetReport(ctx, tenantA, r.ID)
		require.NoError(t, err)
		want := r
		want.CreatedAt = stored(r.CreatedAt)
		require.Equal(t, want, got)

		_, err = s.GetReport(ctx, tenantB, r.ID)
		requireNotFound(t, err, "another tenant's report")
		_, err = s.GetReport(ctx, tenantA, "../../etc/passwd")
		requireNotFound(t, err)
		_, err = s.LockReport(ctx, tenantA, r.ID)
		require.Error(t, err, "locking needs a transaction")

		generated := at(time.Hour)
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			l, err := s.LockReport(ctx, tenantA, r.ID)
			require.NoError(t, err)
			l.Status, l.File, l.GeneratedAt = report.StatusCompleted, "reports/x/y.json", &generated
			return s.UpdateReport(ctx, l)
		}))
		got, err = s.GetReport(ctx, tenantA, r.ID)
		require.NoError(t, err)
		require.Equal(t, report.StatusCompleted, got.Status)
		require.Equal(t, "reports/x/y.json", got.File)
		require.Equal(t, stored(generated), *got.GeneratedAt)
		require.Nil(t, got.FailedAt)

		foreign := got
		foreign.TenantID = tenantB
		requireNotFound(t, s.UpdateReport(ctx, foreign), "cannot update across tenants")
		requireInvalid(t, s.InsertReport(ctx, newReport("", report.TypeSales)))
		bad := newReport(tenantA, "bogus")
		requireInvalid(t, s.InsertReport(ctx, bad), "the type is checked by the schema too")
	},
	"HostileText": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for _, h := range hostile {
			r := newReport(tenantA, report.TypeFinancial)
			r.Parameters = report.Parameters{From: h, To: h}
			r.Error, r.File, r.Status = h, h, report.StatusFailed
			require.NoError(t, s.InsertReport(ctx, r))
			got, err := s.GetReport(ctx, tenantA, r.ID)
			require.NoError(t, err)
			require.Equal(t, h, got.Error)
			require.Equal(t, h, got.File)
			require.Equal(t, report.Parameters{From: h, To: h}, got.Parameters)
		}
	},
	"ListNewestFirstFilteredAndPaged": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		var ids []string
		for i, typ := range []report.Type{report.TypeSales, report.TypeInventory, report.TypeSales, report.TypeCustomer} {
			r := newReport(tenantA, typ)
			if i == 2 {
				r.Status = report.StatusCompleted
			}
			require.NoError(t, s.InsertReport(ctx, r))
			ids = append(ids, r.ID)
		}
		require.NoError(t, s.InsertReport(ctx, newReport(tenantB, report.TypeSales)))

		all, err := s.ListReports(ctx, tenantA, report.ListParams{})
		require.NoError(t, err)
		require.Equal(t, []string{ids[3], ids[2], ids[1], ids[0]}, reportIDs(all), "newest first, this tenant's only")
		page, err := s.ListReports(ctx, tenantA, report.ListParams{Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []string{ids[3], ids[2]}, reportIDs(page))
		page, err = s.ListReports(ctx, tenantA, report.ListParams{Limit: 2, Before: ids[2]})
		require.NoError(t, err)
		require.Equal(t, []string{ids[1], ids[0]}, reportIDs(page))
		sales, err := s.ListReports(ctx, tenantA, report.ListParams{Type: report.TypeSales})
		require.NoError(t, err)
		require.Equal(t, []string{ids[2], ids[0]}, reportIDs(sales))
		done, err := s.ListReports(ctx, tenantA, report.ListParams{Status: report.StatusCompleted})
		require.NoError(t, err)
		require.Equal(t, []string{ids[2]}, reportIDs(done))
		_, err = s.ListReports(ctx, tenantA, report.ListParams{Before: "x' OR 1=1 --"})
		requireInvalid(t, err)
	},
	"SourceWindowsAreHalfOpenAndScoped": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		end := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
		// Orders at the first instant, the last microsecond, and the end
		// (excluded), and one of another tenant inside the window.
		first := SeedOrder(t, s, tenantA, OrderSeed{})
		last := SeedOrder(t, s, tenantA, OrderSeed{CustomerID: first.CustomerID})
		after := SeedOrder(t, s, tenantA, OrderSeed{CustomerID: first.CustomerID})
		other := SeedOrder(t, s, tenantB, OrderSeed{})
		setCreated := func(tenant domain.TenantID, id string, at time.Time) {
			Exec(t, s, `UPDATE orders SET created_at = ? WHERE tenant_id = ? AND id = ?`,
				at.Format(seedTimeLayout), string(tenant), id)
		}
		setCreated(tenantA, first.OrderID, start)
		setCreated(tenantA, last.OrderID, end.Add(-time.Microsecond))
		setCreated(tenantA, after.OrderID, end)
		setCreated(tenantB, other.OrderID, start.Add(time.Hour))

		var got []string
		w := report.Window{Start: start, End: end}
		require.NoError(t, s.EachOrder(ctx, tenantA, w, func(o report.OrderRow) error {
			got = append(got, o.ID)
			require.True(t, o.Total.Equal(decimal.RequireFromString("25")), o.Total.String())
			return nil
		}))
		require.Equal(t, []string{first.OrderID, last.OrderID}, got)
		var lines int
		require.NoError(t, s.EachOrderLine(ctx, tenantA, w, func(l report.OrderLineRow) error {
			lines++
			require.Equal(t, int64(2), l.Quantity)
			require.Equal(t, "Product 1", l.ProductName)
			return nil
		}))
		require.Equal(t, 2, lines)
		got = nil
		require.NoError(t, s.EachOrder(ctx, tenantA, report.Window{End: end}, func(o report.OrderRow) error {
			got = append(got, o.ID)
			return nil
		}), "a zero start reads from the beginning")
		require.Equal(t, []string{first.OrderID, last.OrderID}, got)
		require.ErrorIs(t, s.EachOrder(ctx, tenantA, w, func(report.OrderRow) error { return errBoom }), errBoom)
	},
	"ReadSnapshotIsConsistentAndBlocksNoWriter": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		end := time.Now().Add(time.Hour)
		count := func(ctx context.Context) int {
			n := 0
			require.NoError(t, s.EachCustomer(ctx, tenantA, end, func(report.CustomerRow) error { n++; return nil }))
			return n
		}
		SeedOrder(t, s, tenantA, OrderSeed{})
		require.NoError(t, s.ReadSnapshot(ctx, func(ctx context.Context) error {
			require.Equal(t, 1, count(ctx))
			// A writer commits meanwhile, without waiting for the reader.
			done := make(chan error, 1)
			go func() {
				now := time.Now().UTC().Format(seedTimeLayout)
				q := `INSERT INTO customers (tenant_id, id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`
				if s.Dialect() == "postgres" {
					q = `INSERT INTO customers (tenant_id, id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)`
				}
				_, err := s.DB().ExecContext(context.Background(), q, string(tenantA), domain.NewID(), "Later", now, now)
				done <- err
			}()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Fatal("a write waited for the read snapshot")
			}
			require.Equal(t, 1, count(ctx), "the snapshot does not see the later commit")
			return nil
		}))
		require.Equal(t, 2, count(ctx))
	},
}

func reportIDs(list []report.Report) []string {
	out := make([]string, len(list))
	for i, r := range list {
		out[i] = r.ID
	}
	return out
}
