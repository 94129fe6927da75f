package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func insertVendor(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, name string) procurement.Vendor {
	t.Helper()
	v := procurement.Vendor{ID: domain.NewID(), TenantID: tenant, Name: name, Email: "v@example.com", CreatedAt: at(0)}
	require.NoError(t, s.InsertVendor(ctxFor(t), v))
	return v
}

// newOrder is a pending order of vendor with one line per product (qty 10,
// cost 1.2345), numbered n.
func newOrder(tenant domain.TenantID, vendor string, n int, products ...string) procurement.PurchaseOrder {
	po := procurement.PurchaseOrder{
		ID: domain.NewID(), TenantID: tenant, Number: fmt.Sprintf("PO-%06d", n), VendorID: vendor,
		Status: procurement.StatusPending, RequestedBy: userA, CreatedAt: at(0), UpdatedAt: at(0),
	}
	for i, p := range products {
		po.Lines = append(po.Lines, procurement.Line{LineNo: i + 1, ProductID: p, Quantity: 10, UnitCost: decimal.RequireFromString("1.2345")})
		po.Total = po.Total.Add(decimal.RequireFromString("12.345"))
	}
	return po
}

func insertPurchaseOrder(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, vendor string, n int, products ...string) procurement.PurchaseOrder {
	t.Helper()
	po := newOrder(tenant, vendor, n, products...)
	require.NoError(t, s.InsertPurchaseOrder(ctxFor(t), po))
	return po
}

func orderIDs(list []procurement.PurchaseOrder) []string {
	out := []string{}
	for _, po := range list {
		out = append(out, po.ID)
	}
	return out
}

var procurementTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"VendorRoundTripConflictAndIsolation": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for i, h := range hostile {
			v := procurement.Vendor{ID: domain.NewID(), TenantID: tenantA, Name: h, Email: h, CreatedAt: at(time.Duration(i))}
			require.NoError(t, s.InsertVendor(ctx, v))
			got, err := s.GetVendor(ctx, tenantA, v.ID)
			require.NoError(t, err)
			require.Equal(t, h, got.Name)
			require.Equal(t, h, got.Email)
			require.Equal(t, stored(v.CreatedAt), got.CreatedAt)
			require.Equal(t, tenantA, got.TenantID)
		}
		v := insertVendor(t, s, tenantA, "Steel")
		dup := procurement.Vendor{ID: domain.NewID(), TenantID: tenantA, Name: "Steel"}
		require.ErrorIs(t, s.InsertVendor(ctx, dup), domain.ErrConflict)
		dup.TenantID = tenantB
		require.NoError(t, s.InsertVendor(ctx, dup), "names are unique per tenant only")
		_, err := s.GetVendor(ctx, tenantB, v.ID)
		requireNotFound(t, err)
		_, err = s.GetVendor(ctx, tenantA, "'; DROP TABLE vendors; --")
		requireNotFound(t, err)
		requireInvalid(t, s.InsertVendor(ctx, procurement.Vendor{ID: "x", TenantID: tenantA, Name: "n"}))
		requireInvalid(t, s.InsertVendor(ctx, procurement.Vendor{ID: domain.NewID(), TenantID: tenantA}))
	},
	"VendorPaging": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		var ids []string
		for i := range 5 {
			ids = append(ids, insertVendor(t, s, tenantA, fmt.Sprintf("V%d", i)).ID)
		}
		insertVendor(t, s, tenantB, "Theirs")
		first, err := s.ListVendors(ctx, tenantA, procurement.VendorFilter{Limit: 3})
		require.NoError(t, err)
		require.Len(t, first, 3)
		rest, err := s.ListVendors(ctx, tenantA, procurement.VendorFilter{After: first[2].ID})
		require.NoError(t, err)
		got := []string{}
		for _, v := range append(first, rest...) {
			got = append(got, v.ID)
		}
		require.Equal(t, ids, got)
		_, err = s.ListVendors(ctx, tenantA, procurement.VendorFilter{After: "bad"})
		requireInvalid(t, err)
	},
	"PurchaseOrderRoundTrip": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		v := insertVendor(t, s, tenantA, "Steel")
		p1, p2 := insertProduct(t, s, tenantA, "P1"), insertProduct(t, s, tenantA, "P2")
		po := newOrder(tenantA, v.ID, 1, p1.ID, p2.ID, p1.ID)
		po.Lines[1].UnitCost = decimal.RequireFromString("999999999999.9999")
		po.Total = decimal.RequireFromString("9999999999999.9999")
		po.UpdatedAt = at(time.Hour)
		require.NoError(t, s.InsertPurchaseOrder(ctx, po))
		got, err := s.GetPurchaseOrder(ctx, tenantA, po.ID)
		require.NoError(t, err)
		require.Equal(t, po.Number, got.Number)
		require.Equal(t, v.ID, got.VendorID)
		require.Equal(t, procurement.StatusPending, got.Status)
		require.True(t, po.Total.Equal(got.Total), got.Total.String())
		require.Equal(t, userA, got.RequestedBy)
		require.Empty(t, got.ApprovedBy)
		require.Nil(t, got.ApprovedAt)
		require.Nil(t, got.ReceivedAt)
		require.Equal(t, stored(po.CreatedAt), got.CreatedAt)
		require.Equal(t, stored(po.UpdatedAt), got.UpdatedAt)
		require.Len(t, got.Lines, 3)
		for i, l := range got.Lines {
			require.Equal(t, i+1, l.LineNo)
			require.Equal(t, po.Lines[i].ProductID, l.ProductID)
			require.EqualValues(t, 10, l.Quantity)
			require.True(t, po.Lines[i].UnitCost.Equal(l.UnitCost), l.UnitCost.String())
			require.Zero(t, l.ReceivedQuantity)
		}
		locked, err := s.LockPurchaseOrder(ctx, tenantA, po.ID)
		require.NoError(t, err)
		require.Equal(t, got.Lines, locked.Lines)

		_, err = s.GetPurchaseOrder(ctx, tenantB, po.ID)
		requireNotFound(t, err, "another tenant's order")
		_, err = s.LockPurchaseOrder(ctx, tenantB, po.ID)
		requireNotFound(t, err)
		_, err = s.GetPurchaseOrder(ctx, tenantA, "PO-000001")
		requireNotFound(t, err)

		dup := newOrder(tenantA, v.ID, 1, p1.ID)
		require.ErrorIs(t, s.InsertPurchaseOrder(ctx, dup), domain.ErrConflict, "numbers are unique per tenant")
		bad := newOrder(tenantA, v.ID, 2, p1.ID)
		bad.Lines[0].UnitCost = decimal.RequireFromString("0.00001")
		requireInvalid(t, s.InsertPurchaseOrder(ctx, bad))
		requireInvalid(t, s.InsertPurchaseOrder(ctx, newOrder(tenantA, v.ID, 3)), "no lines")
	},
	"PurchaseOrderReferencesStayInTenant": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		mine, theirs := insertVendor(t, s, tenantA, "Mine"), insertVendor(t, s, tenantB, "Theirs")
		p, foreign := insertProduct(t, s, tenantA, "P"), insertProduct(t, s, tenantB, "F")
		requireNotFound(t, s.InsertPurchaseOrder(ctx, newOrder(tenantA, theirs.ID, 1, p.ID)), "foreign vendor")
		requireNotFound(t, s.InsertPurchaseOrder(ctx, newOrder(tenantA, mine.ID, 2, p.ID, foreign.ID)), "foreign product")
		requireNotFound(t, s.InsertPurchaseOrder(ctx, newOrder(tenantA, domain.NewID(), 3, p.ID)), "no vendor")
		list, err := s.ListPurchaseOrders(ctx, tenantA, procurement.OrderFilter{})
		require.NoError(t, err)
		require.Empty(t, list, "a refused order leaves neither header nor lines")
		// Inside a transaction that rolls back, nothing stays either.
		err = s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, s.InsertPurchaseOrder(ctx, newOrder(tenantA, mine.ID, 4, p.ID)))
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		list, err = s.ListPurchaseOrders(ctx, tenantA, procurement.OrderFilter{})
		require.NoError(t, err)
		require.Empty(t, list)
	},
	"ListPurchaseOrdersFilters": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		v1, v2 := insertVendor(t, s, tenantA, "One"), insertVendor(t, s, tenantA, "Two")
		p := insertProduct(t, s, tenantA, "P")
		a := insertPurchaseOrder(t, s, tenantA, v1.ID, 1, p.ID)
		b := insertPurchaseOrder(t, s, tenantA, v2.ID, 2, p.ID, p.ID)
		c := insertPurchaseOrder(t, s, tenantA, v1.ID, 3, p.ID)
		c.Status = procurement.StatusApproved
		require.NoError(t, s.UpdatePurchaseOrder(ctx, c))
		vb := insertVendor(t, s, tenantB, "B")
		insertPurchaseOrder(t, s, tenantB, vb.ID, 1, insertProduct(t, s, tenantB, "PB").ID)

		list := func(f procurement.OrderFilter) []procurement.PurchaseOrder {
			out, err := s.ListPurchaseOrders(ctx, tenantA, f)
			require.NoError(t, err)
			return out
		}
		all := list(procurement.OrderFilter{})
		require.Equal(t, []string{a.ID, b.ID, c.ID}, orderIDs(all))
		require.Len(t, all[1].Lines, 2, "lines come with each order")
		require.Len(t, all[2].Lines, 1)
		require.Equal(t, []string{a.ID, c.ID}, orderIDs(list(procurement.OrderFilter{VendorID: v1.ID})))
		require.Equal(t, []string{c.ID}, orderIDs(list(procurement.OrderFilter{Status: procurement.StatusApproved})))
		require.Equal(t, []string{b.ID, c.ID}, orderIDs(list(procurement.OrderFilter{After: a.ID})))
		require.Equal(t, []string{a.ID}, orderIDs(list(procurement.OrderFilter{Limit: 1})))
		require.Empty(t, list(procurement.OrderFilter{VendorID: vb.ID}), "another tenant's vendor")
		_, err := s.ListPurchaseOrders(ctx, tenantA, procurement.OrderFilter{VendorID: "x"})
		requireInvalid(t, err)
		// The listing works inside a transaction too (one connection).
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			out, err := s.ListPurchaseOrders(ctx, tenantA, procurement.OrderFilter{})
			require.Len(t, out, 3)
			return err
		}))
	},
	"UpdatePurchaseOrder": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		v := insertVendor(t, s, tenantA, "V")
		p := insertProduct(t, s, tenantA, "P")
		po := insertPurchaseOrder(t, s, tenantA, v.ID, 1, p.ID, p.ID)
		approved, received := at(time.Minute), at(time.Hour)
		po.Status, po.ApprovedBy, po.ApprovedAt, po.ReceivedAt = procurement.StatusReceived, userB, &approved, &received
		po.UpdatedAt = received
		po.Lines[0].ReceivedQuantity, po.Lines[1].ReceivedQuantity = 10, 4
		require.NoError(t, s.UpdatePurchaseOrder(ctx, po))
		got, err := s.GetPurchaseOrder(ctx, tenantA, po.ID)
		require.NoError(t, err)
		require.Equal(t, procurement.StatusReceived, got.Status)
		require.Equal(t, userB, got.ApprovedBy)
		require.Equal(t, stored(approved), *got.ApprovedAt)
		require.Equal(t, stored(received), *got.ReceivedAt)
		require.EqualValues(t, 10, got.Lines[0].ReceivedQuantity)
		require.EqualValues(t, 4, got.Lines[1].ReceivedQuantity)

		// More received than ordered is refused, and changes nothing.
		over := got
		over.Status = procurement.StatusPartiallyReceived
		over.Lines[1].ReceivedQuantity = 11
		requireInvalid(t, s.UpdatePurchaseOrder(ctx, over))
		again, err := s.GetPurchaseOrder(ctx, tenantA, po.ID)
		require.NoError(t, err)
		require.Equal(t, procurement.StatusReceived, again.Status, "the header rolled back with the line")

		foreign := got
		foreign.TenantID = tenantB
		requireNotFound(t, s.UpdatePurchaseOrder(ctx, foreign))
		unknown := got
		unknown.Status = "shipped"
		requireInvalid(t, s.UpdatePurchaseOrder(ctx, unknown))
	},
	"LockPurchaseOrderSerialises": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		v := insertVendor(t, s, tenantA, "V")
		po := insertPurchaseOrder(t, s, tenantA, v.ID, 1, insertProduct(t, s, tenantA, "P").ID)
		const n = 8
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				// Read-modify-write under the lock: no update is lost.
				require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
					cur, err := s.LockPurchaseOrder(ctx, tenantA, po.ID)
					if err != nil {
						return err
					}
					cur.Lines[0].ReceivedQuantity++
					return s.UpdatePurchaseOrder(ctx, cur)
				}))
			})
		}
		wg.Wait()
		got, err := s.GetPurchaseOrder(ctx, tenantA, po.ID)
		require.NoError(t, err)
		require.EqualValues(t, n, got.Lines[0].ReceivedQuantity)
	},
	"ReceiptRoundTripAndIsolation": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		v := insertVendor(t, s, tenantA, "V")
		p := insertProduct(t, s, tenantA, "P")
		loc := insertLocation(t, s, tenantA, "dock")
		po := insertPurchaseOrder(t, s, tenantA, v.ID, 1, p.ID, p.ID)
		expiry := time.Date(2027, 5, 31, 0, 0, 0, 0, time.UTC)
		r := procurement.Receipt{
			ID: domain.NewID(), TenantID: tenantA, PurchaseOrderID: po.ID, LocationID: loc.ID,
			ReceivedBy: userB, ReceivedAt: at(time.Minute),
		}
		for i, h := range hostile {
			m := newMovement(p.ID, loc, int64(i+1), time.Duration(i))
			require.NoError(t, s.InsertMovement(ctx, m))
			l := procurement.ReceiptLine{LineNo: 1 + i%2, ProductID: p.ID, Quantity: int64(i + 1),
				UnitCost: decimal.RequireFromString("0.0001"), BatchNumber: h, MovementID: m.ID}
			if i%2 == 0 {
				l.ExpiryDate = &expiry
			}
			r.Lines = append(r.Lines, l)
		}
		require.NoError(t, s.InsertReceipt(ctx, r))
		later := r
		later.ID, later.ReceivedAt, later.Lines = domain.NewID(), at(time.Hour), r.Lines[:1]
		m := newMovement(p.ID, loc, 1, 0)
		require.NoError(t, s.InsertMovement(ctx, m))
		later.Lines = []procurement.ReceiptLine{{LineNo: 2, ProductID: p.ID, Quantity: 1, UnitCost: decimal.Zero, MovementID: m.ID}}
		require.NoError(t, s.InsertReceipt(ctx, later))

		got, err := s.ListReceipts(ctx, tenantA, po.ID, procurement.ReceiptFilter{})
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, r.ID, got[0].ID)
		require.Equal(t, tenantA, got[0].TenantID)
		require.Equal(t, po.ID, got[0].PurchaseOrderID)
		require.Equal(t, loc.ID, got[0].LocationID)
		require.Equal(t, userB, got[0].ReceivedBy)
		require.Equal(t, stored(r.ReceivedAt), got[0].ReceivedAt)
		require.Len(t, got[0].Lines, len(hostile))
		for i, l := range got[0].Lines {
			want := r.Lines[i]
			require.Equal(t, want.LineNo, l.LineNo, "lines keep their order and their order line")
			require.Equal(t, want.BatchNumber, l.BatchNumber, "hostile batch number byte for byte")
			require.Equal(t, want.MovementID, l.MovementID)
			require.Equal(t, want.Quantity, l.Quantity)
			require.True(t, want.UnitCost.Equal(l.UnitCost))
			if want.ExpiryDate == nil {
				require.Nil(t, l.ExpiryDate)
			} else {
				require.Equal(t, expiry, *l.ExpiryDate)
			}
		}
		require.Len(t, got[1].Lines, 1)
		page, err := s.ListReceipts(ctx, tenantA, po.ID, procurement.ReceiptFilter{After: r.ID})
		require.NoError(t, err)
		require.Len(t, page, 1)
		require.Equal(t, later.ID, page[0].ID)

		// Another tenant sees nothing, and may refer to nothing of ours.
		none, err := s.ListReceipts(ctx, tenantB, po.ID, procurement.ReceiptFilter{})
		require.NoError(t, err)
		require.Empty(t, none)
		none, err = s.ListReceipts(ctx, tenantA, "not-an-id", procurement.ReceiptFilter{})
		require.NoError(t, err)
		require.Empty(t, none)
		theirs := r
		theirs.ID, theirs.TenantID = domain.NewID(), tenantB
		requireNotFound(t, s.InsertReceipt(ctx, theirs), "tenant B pointing at A's order, location and movements")
		foreignLoc := insertLocation(t, s, tenantB, "b")
		mine := later
		mine.ID, mine.LocationID = domain.NewID(), foreignLoc.ID
		requireNotFound(t, s.InsertReceipt(ctx, mine), "A's receipt at B's location")
		dangling := later
		dangling.ID = domain.NewID()
		dangling.Lines = []procurement.ReceiptLine{{LineNo: 1, ProductID: p.ID, Quantity: 1, MovementID: domain.NewID()}}
		requireNotFound(t, s.InsertReceipt(ctx, dangling), "a movement that does not exist")
		got, err = s.ListReceipts(ctx, tenantA, po.ID, procurement.ReceiptFilter{})
		require.NoError(t, err)
		require.Len(t, got, 2, "refused receipts leave no header behind")
	},
}
