package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// businessStockTests cover the store calls of the stock movement hot path.
var businessStockTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"LockProductAt": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "LPA-1")
		got, loc, err := s.LockProductAt(ctx, tenantA, p.ID, "")
		require.NoError(t, err)
		require.Equal(t, p.ID, got.ID)
		require.Equal(t, p.ReorderLevel, got.ReorderLevel)
		require.Equal(t, inventory.Location{}, loc, "no default location yet")

		main, err := s.DefaultLocation(ctx, tenantA)
		require.NoError(t, err)
		_, loc, err = s.LockProductAt(ctx, tenantA, p.ID, "")
		require.NoError(t, err)
		require.Equal(t, main, loc)

		wh := insertLocation(t, s, tenantA, "wh-1")
		_, loc, err = s.LockProductAt(ctx, tenantA, p.ID, wh.ID)
		require.NoError(t, err)
		require.Equal(t, wh, loc)

		foreignLoc := insertLocation(t, s, tenantB, "wh-b")
		got, loc, err = s.LockProductAt(ctx, tenantA, p.ID, foreignLoc.ID)
		require.NoError(t, err)
		require.Equal(t, p.ID, got.ID)
		require.Equal(t, inventory.Location{}, loc, "another tenant's location is not found")
		_, loc, err = s.LockProductAt(ctx, tenantA, p.ID, "not-a-uuid")
		require.NoError(t, err)
		require.Equal(t, inventory.Location{}, loc)

		_, _, err = s.LockProductAt(ctx, tenantB, p.ID, "")
		requireNotFound(t, err, "another tenant's product")
		_, _, err = s.LockProductAt(ctx, tenantA, domain.NewID(), "")
		requireNotFound(t, err)
		_, _, err = s.LockProductAt(ctx, tenantA, "nope", "")
		requireNotFound(t, err)
		require.NoError(t, s.DeleteProduct(ctx, tenantA, p.ID))
		_, _, err = s.LockProductAt(ctx, tenantA, p.ID, "")
		requireNotFound(t, err, "deleted product")
	},
	"MoveStockLevel": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "MSL-1")
		wh := insertLocation(t, s, tenantA, "wh-1")
		other := insertLocation(t, s, tenantA, "wh-2")

		_, _, applied, err := s.MoveStockLevel(ctx, tenantA, p.ID, wh.ID, -1)
		require.NoError(t, err)
		require.False(t, applied, "nothing on hand yet")
		after, batched, applied, err := s.MoveStockLevel(ctx, tenantA, p.ID, wh.ID, 10)
		require.NoError(t, err)
		require.True(t, applied)
		require.False(t, batched)
		require.EqualValues(t, 10, after)
		after, _, applied, err = s.MoveStockLevel(ctx, tenantA, p.ID, wh.ID, 5)
		require.NoError(t, err)
		require.True(t, applied)
		require.EqualValues(t, 15, after)

		after, batched, applied, err = s.MoveStockLevel(ctx, tenantA, p.ID, wh.ID, -4)
		require.NoError(t, err)
		require.True(t, applied)
		require.False(t, batched, "no batches")
		require.EqualValues(t, 11, after)
		_, _, applied, err = s.MoveStockLevel(ctx, tenantA, p.ID, wh.ID, -12)
		require.NoError(t, err)
		require.False(t, applied, "would go below zero")
		level, err := s.StockLevel(ctx, tenantA, p.ID, wh.ID)
		require.NoError(t, err)
		require.EqualValues(t, 11, level, "a refused move changes nothing")
		after, _, applied, err = s.MoveStockLevel(ctx, tenantA, p.ID, wh.ID, -11)
		require.NoError(t, err)
		require.True(t, applied, "down to exactly zero")
		require.EqualValues(t, 0, after)

		// batched: only batches holding stock at that location count.
		_, _, _, err = s.MoveStockLevel(ctx, tenantA, p.ID, wh.ID, 20)
		require.NoError(t, err)
		require.NoError(t, s.AddToBatch(ctx, newBatch(p.ID, other, "B", "2027-03-01", 3)))
		_, batched, _, err = s.MoveStockLevel(ctx, tenantA, p.ID, wh.ID, -1)
		require.NoError(t, err)
		require.False(t, batched, "a batch at another location")
		b := newBatch(p.ID, wh, "A", "2027-01-01", 2)
		require.NoError(t, s.AddToBatch(ctx, b))
		_, batched, _, err = s.MoveStockLevel(ctx, tenantA, p.ID, wh.ID, -1)
		require.NoError(t, err)
		require.True(t, batched)
		require.NoError(t, s.SetBatchQuantity(ctx, b.Key(), 0))
		_, batched, _, err = s.MoveStockLevel(ctx, tenantA, p.ID, wh.ID, -1)
		require.NoError(t, err)
		require.False(t, batched, "an emptied batch")

		_, _, _, err = s.MoveStockLevel(ctx, tenantA, "nope", wh.ID, 1)
		requireNotFound(t, err)
	},
	"MoveStockLevelTenantIsolation": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "MSL-ISO")
		wh := insertLocation(t, s, tenantA, "wh-1")
		_, _, _, err := s.MoveStockLevel(ctx, tenantA, p.ID, wh.ID, 7)
		require.NoError(t, err)
		// Tenant B naming A's product and location moves nothing.
		_, _, applied, err := s.MoveStockLevel(ctx, tenantB, p.ID, wh.ID, -3)
		require.NoError(t, err)
		require.False(t, applied)
		_, _, _, err = s.MoveStockLevel(ctx, tenantB, p.ID, wh.ID, 3)
		require.Error(t, err, "a level for a product tenant B does not have")
		level, err := s.StockLevel(ctx, tenantA, p.ID, wh.ID)
		require.NoError(t, err)
		require.EqualValues(t, 7, level)
		level, err = s.StockLevel(ctx, tenantB, p.ID, wh.ID)
		require.NoError(t, err)
		require.Zero(t, level)
	},
	"MoveStockLevelConcurrentNeverBelowZero": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "MSL-RACE")
		wh := insertLocation(t, s, tenantA, "wh-1")
		_, _, _, err := s.MoveStockLevel(ctx, tenantA, p.ID, wh.ID, 10)
		require.NoError(t, err)
		const n = 8
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			took int
		)
		for range n {
			wg.Go(func() {
				err := s.InTx(ctx, func(ctx context.Context) error {
					if _, _, err := s.LockProductAt(ctx, tenantA, p.ID, wh.ID); err != nil {
						return err
					}
					_, _, applied, err := s.MoveStockLevel(ctx, tenantA, p.ID, wh.ID, -3)
					if applied {
						mu.Lock()
						took++
						mu.Unlock()
					}
					return err
				})
				require.NoError(t, err)
			})
		}
		wg.Wait()
		require.Equal(t, 3, took, "10 on hand: three moves of 3 fit")
		level, err := s.StockLevel(ctx, tenantA, p.ID, wh.ID)
		require.NoError(t, err)
		require.EqualValues(t, 1, level)
	},
	"WriteMovement": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "WM-1")
		wh := insertLocation(t, s, tenantA, "wh-1")
		_, _, _, err := s.MoveStockLevel(ctx, tenantA, p.ID, wh.ID, 9)
		require.NoError(t, err)
		move := func() inventory.Movement {
			return inventory.Movement{ID: domain.NewID(), TenantID: tenantA, ProductID: p.ID, LocationID: wh.ID,
				Quantity: 9, Reason: "in", ActorID: userA, OnHandAfter: 9, CreatedAt: at(0)}
		}
		m := move()
		evs := []domain.Event{newEvent(t, tenantA, "StockMovementRecorded", 0), newEvent(t, tenantA, "LowStockDetected", time.Second)}
		signalled(s) // drop a pending signal
		require.NoError(t, s.WriteMovement(ctx, m, 3, true, evs...))
		require.True(t, signalled(s), "appending events signals the relay")
		got, err := s.GetProduct(ctx, tenantA, p.ID)
		require.NoError(t, err)
		require.EqualValues(t, 3, got.OnHand)
		require.True(t, got.LowStock)
		moves, err := s.ListMovements(ctx, tenantA, inventory.MovementFilter{ProductID: p.ID, Limit: 10})
		require.NoError(t, err)
		require.Len(t, moves, 1)
		require.Equal(t, m.ID, moves[0].ID)
		require.EqualValues(t, 9, moves[0].OnHandAfter)
		logged, err := s.ListEvents(ctx, tenantA, "", "", 10)
		require.NoError(t, err)
		require.Equal(t, eventIDs(evs), eventIDs(logged))
		require.JSONEq(t, string(evs[1].Payload), string(logged[1].Payload))

		// Without events: only the ledger and the product.
		require.NoError(t, s.WriteMovement(ctx, move(), 12, false))
		got, err = s.GetProduct(ctx, tenantA, p.ID)
		require.NoError(t, err)
		require.EqualValues(t, 12, got.OnHand)
		require.False(t, got.LowStock)

		// Any failure leaves nothing behind: a reused movement id, a
		// reused event id, a product of another tenant.
		count := func() (int, int) {
			moves, err := s.ListMovements(ctx, tenantA, inventory.MovementFilter{ProductID: p.ID, Limit: 10})
			require.NoError(t, err)
			logged, err := s.ListEvents(ctx, tenantA, "", "", 10)
			require.NoError(t, err)
			return len(moves), len(logged)
		}
		err = s.WriteMovement(ctx, m, 1, true, newEvent(t, tenantA, "StockMovementRecorded", 0))
		require.ErrorIs(t, err, domain.ErrConflict)
		err = s.WriteMovement(ctx, move(), 1, true, evs[0])
		require.ErrorIs(t, err, domain.ErrConflict)
		foreign := move()
		foreign.TenantID = tenantB
		err = s.WriteMovement(ctx, foreign, 1, true, newEvent(t, tenantB, "StockMovementRecorded", 0))
		require.Error(t, err, "tenant B cannot write a movement of A's product")
		nm, ne := count()
		require.Equal(t, 2, nm)
		require.Equal(t, 2, ne)
		got, err = s.GetProduct(ctx, tenantA, p.ID)
		require.NoError(t, err)
		require.EqualValues(t, 12, got.OnHand, "the failed writes changed nothing")
		logged, err = s.ListEvents(ctx, tenantB, "", "", 10)
		require.NoError(t, err)
		require.Empty(t, logged)

		// Inside a caller's transaction it rolls back with it.
		err = s.InTx(ctx, func(ctx context.Context) error {
			if err := s.WriteMovement(ctx, move(), 0, true, newEvent(t, tenantA, "StockMovementRecorded", 0)); err != nil {
				return err
			}
			return errors.New("caller fails")
		})
		require.ErrorContains(t, err, "caller fails")
		nm, ne = count()
		require.Equal(t, 2, nm)
		require.Equal(t, 2, ne)

		err = s.WriteMovement(ctx, move(), -1, false)
		requireInvalid(t, err)
	},
}
