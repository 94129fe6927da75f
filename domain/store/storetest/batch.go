package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func batchDate(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func newBatch(p string, l inventory.Location, number, exp string, qty int64) inventory.Batch {
	return inventory.Batch{TenantID: l.TenantID, ProductID: p, LocationID: l.ID, BatchNumber: number,
		ExpiryDate: batchDate(exp), Quantity: qty, UpdatedAt: at(0)}
}

// batchQty maps "batch/expiry" to quantity.
func batchQty(list []inventory.Batch) map[string]int64 {
	out := map[string]int64{}
	for _, b := range list {
		out[b.BatchNumber+"/"+b.ExpiryDate.Format(time.DateOnly)] = b.Quantity
	}
	return out
}

var batchTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"AddListAndSetQuantity": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "P-1")
		wh := insertLocation(t, s, tenantA, "wh")
		other := insertLocation(t, s, tenantA, "other")
		require.NoError(t, s.AddToBatch(ctx, newBatch(p.ID, wh, "B", "2027-03-01", 4)))
		require.NoError(t, s.AddToBatch(ctx, newBatch(p.ID, wh, "B", "2027-03-01", 6)))
		require.NoError(t, s.AddToBatch(ctx, newBatch(p.ID, wh, "A", "2027-01-01", 1)))
		require.NoError(t, s.AddToBatch(ctx, newBatch(p.ID, wh, "", "2027-01-01", 2)))
		require.NoError(t, s.AddToBatch(ctx, newBatch(p.ID, other, "B", "2027-03-01", 9)))

		got, err := s.StockBatches(ctx, tenantA, p.ID, wh.ID)
		require.NoError(t, err)
		require.Len(t, got, 3)
		require.Equal(t, []string{"", "A", "B"}, []string{got[0].BatchNumber, got[1].BatchNumber, got[2].BatchNumber},
			"first expiry first, then batch number")
		require.EqualValues(t, 10, got[2].Quantity)
		require.Equal(t, "wh", got[2].LocationCode)
		require.Equal(t, tenantA, got[2].TenantID)
		require.Equal(t, batchDate("2027-03-01"), got[2].ExpiryDate)

		require.NoError(t, s.SetBatchQuantity(ctx, got[1].Key(), 0))
		require.NoError(t, s.SetBatchQuantity(ctx, got[2].Key(), 3))
		got, err = s.StockBatches(ctx, tenantA, p.ID, wh.ID)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{"/2027-01-01": 2, "B/2027-03-01": 3}, batchQty(got), "empty batches are left out")

		all, err := s.ListBatches(ctx, tenantA, p.ID)
		require.NoError(t, err)
		require.Len(t, all, 3)
		require.Equal(t, []string{"wh", "other", "wh"}, []string{all[0].LocationCode, all[1].LocationCode, all[2].LocationCode},
			"first expiry first; the same expiry by location code")

		q, err := s.BatchQuantity(ctx, all[1].Key())
		require.NoError(t, err)
		require.EqualValues(t, 9, q)
		missing := all[1].Key()
		missing.BatchNumber = "nope"
		q, err = s.BatchQuantity(ctx, missing)
		require.NoError(t, err)
		require.Zero(t, q)
		requireNotFound(t, s.SetBatchQuantity(ctx, missing, 1))
		requireInvalid(t, s.SetBatchQuantity(ctx, all[1].Key(), -1))
		requireInvalid(t, s.AddToBatch(ctx, newBatch(p.ID, wh, "B", "2027-03-01", 0)))
	},
	"TenantIsolation": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "P-1")
		wh := insertLocation(t, s, tenantA, "wh")
		b := newBatch(p.ID, wh, "B", "2027-03-01", 4)
		require.NoError(t, s.AddToBatch(ctx, b))

		// Tenant B naming A's product and location: nothing found, nothing changed.
		foreign := b
		foreign.TenantID = tenantB
		requireNotFound(t, s.AddToBatch(ctx, foreign))
		requireNotFound(t, s.SetBatchQuantity(ctx, foreign.Key(), 0))
		q, err := s.BatchQuantity(ctx, foreign.Key())
		require.NoError(t, err)
		require.Zero(t, q)
		list, err := s.StockBatches(ctx, tenantB, p.ID, wh.ID)
		require.NoError(t, err)
		require.Empty(t, list)
		list, err = s.ListBatches(ctx, tenantB, p.ID)
		require.NoError(t, err)
		require.Empty(t, list)
		// Malformed ids name nothing.
		list, err = s.ListBatches(ctx, tenantA, "not-a-uuid")
		require.NoError(t, err)
		require.Empty(t, list)
		bad := b
		bad.ProductID = "x'; --"
		requireNotFound(t, s.AddToBatch(ctx, bad))

		list, err = s.ListBatches(ctx, tenantA, p.ID)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{"B/2027-03-01": 4}, batchQty(list))
	},
	"HostileBatchNumbers": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "P-1")
		wh := insertLocation(t, s, tenantA, "wh")
		for i, h := range hostile {
			require.NoError(t, s.AddToBatch(ctx, newBatch(p.ID, wh, h, "2027-01-01", int64(i+1))))
		}
		list, err := s.ListBatches(ctx, tenantA, p.ID)
		require.NoError(t, err)
		require.Len(t, list, len(hostile))
		got := batchQty(list)
		for i, h := range hostile {
			require.EqualValues(t, i+1, got[h+"/2027-01-01"], "%q", h)
			q, err := s.BatchQuantity(ctx, newBatch(p.ID, wh, h, "2027-01-01", 0).Key())
			require.NoError(t, err)
			require.EqualValues(t, i+1, q)
		}
	},
	"ExpiringBatchesAcrossTenantsInPages": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		want := map[string]bool{}
		for _, tenant := range []domain.TenantID{tenantA, tenantB} {
			p := insertProduct(t, s, tenant, "P-1")
			q := insertProduct(t, s, tenant, "P-2")
			wh := insertLocation(t, s, tenant, "wh")
			for _, b := range []inventory.Batch{
				newBatch(p.ID, wh, "in", "2027-01-01", 1),
				newBatch(p.ID, wh, "edge", "2027-02-01", 1), // on the bound: included
				newBatch(p.ID, wh, "late", "2027-02-02", 1), // after it
				newBatch(q.ID, wh, "old", "2020-01-01", 2),
				newBatch(q.ID, wh, hostile[0], "2026-06-01", 3),
				newBatch(q.ID, wh, "empty", "2027-01-01", 1),
			} {
				require.NoError(t, s.AddToBatch(ctx, b))
				if b.BatchNumber == "empty" {
					require.NoError(t, s.SetBatchQuantity(ctx, b.Key(), 0))
				} else if b.BatchNumber != "late" {
					want[string(tenant)+" "+b.Key().Subject()] = true
				}
			}
			deleted := insertProduct(t, s, tenant, "P-3")
			require.NoError(t, s.AddToBatch(ctx, newBatch(deleted.ID, wh, "del", "2027-01-01", 1)))
			require.NoError(t, s.DeleteProduct(ctx, tenant, deleted.ID))
		}
		until := batchDate("2027-02-01")
		for _, limit := range []int{1, 3, 100} {
			seen := map[string]bool{}
			var after inventory.BatchKey
			for pages := 0; ; pages++ {
				require.Less(t, pages, 20, "paging does not end")
				page, err := s.ExpiringBatches(ctx, until, after, limit)
				require.NoError(t, err)
				for _, b := range page {
					key := string(b.TenantID) + " " + b.Key().Subject()
					require.False(t, seen[key], "limit %d: %s seen twice", limit, key)
					seen[key] = true
					require.Positive(t, b.Quantity)
					require.Equal(t, "wh", b.LocationCode)
					require.Contains(t, []string{"P-1", "P-2"}, b.SKU)
					require.Equal(t, "Product "+b.SKU, b.Name)
				}
				if len(page) < limit {
					break
				}
				after = page[len(page)-1].Key()
			}
			require.Equal(t, want, seen, "limit %d", limit)
		}
		_, err := s.ExpiringBatches(ctx, until, inventory.BatchKey{TenantID: tenantA, ProductID: "x"}, 10)
		requireInvalid(t, err)
	},
}

var detectorTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"RaiseOncePerKey": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		raise := func(tenant domain.TenantID, detector, subject string, threshold int) bool {
			ok, err := s.RaiseAlert(ctx, domain.DetectorAlert{TenantID: tenant, Detector: detector,
				Subject: subject, Threshold: threshold, RaisedAt: at(0)})
			require.NoError(t, err)
			return ok
		}
		require.True(t, raise(tenantA, "d", "s1", 30))
		require.False(t, raise(tenantA, "d", "s1", 30), "the same key again")
		require.True(t, raise(tenantA, "d", "s1", 7), "another threshold")
		require.True(t, raise(tenantA, "other", "s1", 30), "another detector")
		require.True(t, raise(tenantB, "d", "s1", 30), "another tenant")
		require.True(t, raise(tenantA, "d", hostile[1], 0))

		got, err := s.RaisedThresholds(ctx, "d", []domain.AlertSubject{
			{TenantID: tenantA, Subject: "s1"}, {TenantID: tenantA, Subject: "s2"},
			{TenantID: tenantA, Subject: hostile[1]}, {TenantID: "tenant-c", Subject: "s1"},
		})
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.ElementsMatch(t, []int{30, 7}, got[domain.AlertSubject{TenantID: tenantA, Subject: "s1"}])
		require.Equal(t, []int{0}, got[domain.AlertSubject{TenantID: tenantA, Subject: hostile[1]}])
		got, err = s.RaisedThresholds(ctx, "d", nil)
		require.NoError(t, err)
		require.Empty(t, got)

		_, err = s.RaiseAlert(ctx, domain.DetectorAlert{TenantID: "", Detector: "d", Subject: "s"})
		requireInvalid(t, err)
		_, err = s.RaiseAlert(ctx, domain.DetectorAlert{TenantID: tenantA, Detector: "d"})
		requireInvalid(t, err)
	},
	"RolledBackRaiseIsForgotten": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		a := domain.DetectorAlert{TenantID: tenantA, Detector: "d", Subject: "s", Threshold: 1}
		err := s.InTx(ctx, func(ctx context.Context) error {
			ok, err := s.RaiseAlert(ctx, a)
			require.NoError(t, err)
			require.True(t, ok)
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		ok, err := s.RaiseAlert(ctx, a)
		require.NoError(t, err)
		require.True(t, ok, "the event was never appended, so the raise must happen again")
	},
	"ConcurrentRaisesOneWins": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		const n = 8
		wins := make(chan bool, n)
		start := make(chan struct{})
		done := make(chan struct{})
		for range n {
			go func() {
				defer func() { done <- struct{}{} }()
				<-start
				won := false
				err := s.InTx(ctx, func(ctx context.Context) error {
					ok, err := s.RaiseAlert(ctx, domain.DetectorAlert{TenantID: tenantA, Detector: "d", Subject: "s", Threshold: 7})
					won = ok // a retried transaction overwrites what a failed attempt saw
					// Hold the transaction a moment, so others queue behind it.
					time.Sleep(5 * time.Millisecond)
					return err
				})
				if err != nil {
					t.Errorf("raise: %v", err)
				}
				wins <- won
			}()
		}
		close(start)
		for range n {
			<-done
		}
		close(wins)
		won := 0
		for ok := range wins {
			if ok {
				won++
			}
		}
		require.Equal(t, 1, won)
	},
	"OverdueInvoices": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		today := batchDate("2026-05-10")
		due := func(days int) time.Time { return today.AddDate(0, 0, days) }
		want := map[string]bool{}
		var firstA string
		for _, tenant := range []domain.TenantID{tenantA, tenantB} {
			for _, in := range []InvoiceSeed{
				{CustomerName: hostile[0], DueDate: due(-1), Total: "120.5", AmountPaid: "20.25"},
				{DueDate: due(-400), Status: "overdue"},
				{DueDate: due(-3), Status: "paid", AmountPaid: "100.00"},
				{DueDate: due(0)}, // due today: not yet overdue
				{DueDate: due(5)},
			} {
				in.Tenant = tenant
				id := SeedInvoice(t, s, in)
				if in.Status != "paid" && in.DueDate.Before(today) {
					want[string(tenant)+" "+id] = true
					if tenant == tenantA && in.Status == "" {
						firstA = id
					}
				}
			}
		}
		for _, limit := range []int{1, 2, 100} {
			seen := map[string]bool{}
			var after overdueCursor
			for pages := 0; ; pages++ {
				require.Less(t, pages, 20)
				page, err := s.OverdueInvoices(ctx, today, after.cursor(), limit)
				require.NoError(t, err)
				for _, inv := range page {
					key := string(inv.TenantID) + " " + inv.ID
					require.False(t, seen[key], "limit %d: %s twice", limit, key)
					seen[key] = true
				}
				if len(page) < limit {
					break
				}
				after = overdueCursor{page[len(page)-1].TenantID, page[len(page)-1].ID}
			}
			require.Equal(t, want, seen, "limit %d", limit)
		}

		inv, err := s.LockOverdueInvoice(ctx, tenantA, firstA)
		require.NoError(t, err)
		require.Equal(t, hostile[0], inv.CustomerName)
		require.Equal(t, "open", inv.Status)
		require.Equal(t, "100.25", inv.Outstanding().String())
		require.Equal(t, due(-1), inv.DueDate)
		_, err = s.LockOverdueInvoice(ctx, tenantB, firstA)
		requireNotFound(t, err, "another tenant's invoice")
		_, err = s.LockOverdueInvoice(ctx, tenantA, "nope")
		requireNotFound(t, err)

		require.NoError(t, s.MarkInvoiceOverdue(ctx, tenantB, firstA, at(0)), "another tenant's: no-op")
		require.Equal(t, "open", InvoiceStatus(t, s, tenantA, firstA))
		require.NoError(t, s.MarkInvoiceOverdue(ctx, tenantA, firstA, at(0)))
		require.Equal(t, "overdue", InvoiceStatus(t, s, tenantA, firstA))
		paid := SeedInvoice(t, s, InvoiceSeed{Tenant: tenantA, DueDate: due(-9), Status: "paid", AmountPaid: "100"})
		require.NoError(t, s.MarkInvoiceOverdue(ctx, tenantA, paid, at(0)))
		require.Equal(t, "paid", InvoiceStatus(t, s, tenantA, paid), "only open invoices become overdue")
	},
}
