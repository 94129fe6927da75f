package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func newMovement(p string, l inventory.Location, qty int64, offset time.Duration) inventory.Movement {
	return inventory.Movement{
		ID:          domain.NewID(),
		TenantID:    l.TenantID,
		ProductID:   p,
		LocationID:  l.ID,
		Quantity:    qty,
		Reason:      "receipt",
		ActorID:     userA,
		OnHandAfter: qty,
		CreatedAt:   at(offset),
	}
}

var inventoryTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"DefaultLocation": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		a, err := s.DefaultLocation(ctx, tenantA)
		require.NoError(t, err)
		require.Equal(t, "main", a.Code)
		require.Equal(t, tenantA, a.TenantID)
		again, err := s.DefaultLocation(ctx, tenantA)
		require.NoError(t, err)
		require.Equal(t, a, again, "created once")
		b, err := s.DefaultLocation(ctx, tenantB)
		require.NoError(t, err)
		require.NotEqual(t, a.ID, b.ID, "one per tenant")
		_, err = s.DefaultLocation(ctx, "")
		requireInvalid(t, err)
	},
	"DefaultLocationConcurrent": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		const n = 8
		ids := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				l, err := s.DefaultLocation(ctx, tenantA)
				ids[i], errs[i] = l.ID, err
			})
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, ids[0], ids[i], "every caller gets the same location")
		}
		all, err := s.ListLocations(ctx, tenantA)
		require.NoError(t, err)
		require.Len(t, all, 1)
	},
	"Locations": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		wh := insertLocation(t, s, tenantA, "wh-2")
		insertLocation(t, s, tenantA, "wh-1")
		dup := inventory.Location{ID: domain.NewID(), TenantID: tenantA, Code: "wh-2", Name: "dup"}
		require.ErrorIs(t, s.InsertLocation(ctx, dup), domain.ErrConflict)
		dup.TenantID = tenantB
		require.NoError(t, s.InsertLocation(ctx, dup), "codes are unique per tenant only")

		got, err := s.GetLocation(ctx, tenantA, wh.ID)
		require.NoError(t, err)
		require.Equal(t, wh, got)
		_, err = s.GetLocation(ctx, tenantB, wh.ID)
		requireNotFound(t, err, "another tenant's location")
		_, err = s.GetLocation(ctx, tenantA, "nope")
		requireNotFound(t, err)

		list, err := s.ListLocations(ctx, tenantA)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "wh-1", list[0].Code, "ordered by code")
		require.Equal(t, "wh-2", list[1].Code)
		listB, err := s.ListLocations(ctx, tenantB)
		require.NoError(t, err)
		require.Equal(t, []inventory.Location{dup}, listB)

		requireInvalid(t, s.InsertLocation(ctx, inventory.Location{ID: "x", TenantID: tenantA, Code: "c"}))
		requireInvalid(t, s.InsertLocation(ctx, inventory.Location{ID: domain.NewID(), TenantID: tenantA}))
	},
	"StockLevels": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "SKU-1")
		l := insertLocation(t, s, tenantA, "wh")
		n, err := s.StockLevel(ctx, tenantA, p.ID, l.ID)
		require.NoError(t, err)
		require.Zero(t, n, "nothing recorded yet")

		move := func(tenant domain.TenantID, pid, lid string, delta int64) error {
			_, _, applied, err := s.MoveStockLevel(ctx, tenant, pid, lid, delta)
			if err == nil && !applied {
				return errors.New("not applied")
			}
			return err
		}
		require.NoError(t, move(tenantA, p.ID, l.ID, 10))
		require.NoError(t, move(tenantA, p.ID, l.ID, -6))
		n, err = s.StockLevel(ctx, tenantA, p.ID, l.ID)
		require.NoError(t, err)
		require.Equal(t, int64(4), n)

		n, err = s.StockLevel(ctx, tenantB, p.ID, l.ID)
		require.NoError(t, err)
		require.Zero(t, n, "another tenant sees no stock")
		n, err = s.StockLevel(ctx, tenantA, "bad", l.ID)
		require.NoError(t, err)
		require.Zero(t, n)

		// Rows may only point at the same tenant's product and location.
		pB := insertProduct(t, s, tenantB, "SKU-1")
		lB := insertLocation(t, s, tenantB, "wh")
		require.Error(t, move(tenantB, p.ID, lB.ID, 1), "tenant B using A's product")
		require.Error(t, move(tenantB, pB.ID, l.ID, 1), "tenant B using A's location")
		require.Error(t, move(tenantA, domain.NewID(), l.ID, 1), "missing product")
		require.Error(t, move(tenantA, "bad", l.ID, 1))
		require.Error(t, move(tenantA, p.ID, l.ID, -5), "never below zero")
		n, err = s.StockLevel(ctx, tenantA, p.ID, l.ID)
		require.NoError(t, err)
		require.Equal(t, int64(4), n)
	},
	"MovementsRoundTrip": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "SKU-1")
		l := insertLocation(t, s, tenantA, "wh")
		cost := decimal.RequireFromString("3.1416")
		expiry := time.Date(2026, 4, 30, 0, 0, 0, 0, time.UTC)
		m := newMovement(p.ID, l, 12, 0)
		m.UnitCost, m.ExpiryDate, m.BatchNumber = &cost, &expiry, "B-'42'"
		require.NoError(t, s.InsertMovement(ctx, m))
		bare := newMovement(p.ID, l, -2, time.Second)
		bare.OnHandAfter = 10
		require.NoError(t, s.InsertMovement(ctx, bare))

		list, err := s.ListMovements(ctx, tenantA, inventory.MovementFilter{})
		require.NoError(t, err)
		require.Len(t, list, 2)
		got := list[1]
		require.Equal(t, m.ID, got.ID)
		require.Equal(t, tenantA, got.TenantID)
		require.Equal(t, p.ID, got.ProductID)
		require.Equal(t, l.ID, got.LocationID)
		require.Equal(t, int64(12), got.Quantity)
		require.NotNil(t, got.UnitCost)
		require.Equal(t, "3.1416", got.UnitCost.String())
		require.NotNil(t, got.ExpiryDate)
		require.True(t, expiry.Equal(*got.ExpiryDate), "expiry %s", got.ExpiryDate)
		require.Equal(t, "B-'42'", got.BatchNumber)
		require.Equal(t, "receipt", got.Reason)
		require.Equal(t, userA, got.ActorID)
		require.Equal(t, int64(12), got.OnHandAfter)
		require.Equal(t, stored(m.CreatedAt), got.CreatedAt)
		require.Nil(t, list[0].UnitCost)
		require.Nil(t, list[0].ExpiryDate)
		require.Equal(t, int64(-2), list[0].Quantity)

		require.ErrorIs(t, s.InsertMovement(ctx, m), domain.ErrConflict, "ledger ids are unique")
		bad := newMovement(p.ID, l, 1, 0)
		tooPrecise := decimal.RequireFromString("0.00001")
		bad.UnitCost = &tooPrecise
		requireInvalid(t, s.InsertMovement(ctx, bad))
	},
	"MovementsIsolation": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "SKU-1")
		l := insertLocation(t, s, tenantA, "wh")
		m := newMovement(p.ID, l, 1, 0)
		require.NoError(t, s.InsertMovement(ctx, m))

		// Tenant B can neither write against A's rows nor read A's ledger.
		lB := insertLocation(t, s, tenantB, "wh")
		requireNotFound(t, s.InsertMovement(ctx, newMovement(p.ID, lB, 1, 0)), "B moving A's product")
		pB := insertProduct(t, s, tenantB, "SKU-1")
		foreignLoc := newMovement(pB.ID, l, 1, 0)
		foreignLoc.TenantID = tenantB
		requireNotFound(t, s.InsertMovement(ctx, foreignLoc), "B using A's location")
		list, err := s.ListMovements(ctx, tenantB, inventory.MovementFilter{})
		require.NoError(t, err)
		require.Empty(t, list)
		_, err = s.ListMovements(ctx, tenantB, inventory.MovementFilter{Before: m.ID})
		requireNotFound(t, err, "A's movement is no cursor for B")
	},
	"MovementsPaging": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p1 := insertProduct(t, s, tenantA, "SKU-1")
		p2 := insertProduct(t, s, tenantA, "SKU-2")
		l := insertLocation(t, s, tenantA, "wh")
		var all, ofP1 []string
		for i := range 9 {
			pid := p1.ID
			if i%3 == 0 {
				pid = p2.ID
			}
			// Pairs share a timestamp: paging must not lose or repeat either.
			m := newMovement(pid, l, int64(i+1), time.Duration(i/2)*time.Second)
			require.NoError(t, s.InsertMovement(ctx, m))
			all = append(all, m.ID)
			if pid == p1.ID {
				ofP1 = append(ofP1, m.ID)
			}
		}
		page := func(f inventory.MovementFilter) []string {
			var ids []string
			for {
				list, err := s.ListMovements(ctx, tenantA, f)
				require.NoError(t, err)
				for i, m := range list {
					if i > 0 {
						prev := list[i-1]
						require.True(t, prev.CreatedAt.After(m.CreatedAt) ||
							(prev.CreatedAt.Equal(m.CreatedAt) && prev.ID > m.ID), "newest first")
					}
					ids = append(ids, m.ID)
				}
				if len(list) < f.Limit {
					return ids
				}
				f.Before = list[len(list)-1].ID
			}
		}
		require.ElementsMatch(t, all, page(inventory.MovementFilter{Limit: 2}))
		require.ElementsMatch(t, ofP1, page(inventory.MovementFilter{ProductID: p1.ID, Limit: 4}))
		_, err := s.ListMovements(ctx, tenantA, inventory.MovementFilter{ProductID: "bad"})
		requireInvalid(t, err)
		_, err = s.ListMovements(ctx, tenantA, inventory.MovementFilter{Before: "bad"})
		requireNotFound(t, err)
	},
}
