package listeners_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/listeners"
)

func TestUpdateInventoryOnSale(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			w := newSaleWorld(t, s)
			ctx := context.Background()
			l := listeners.UpdateInventoryOnSale{Store: s, Inventory: w.inventory}

			c := w.customer("acme", "Buyer")
			chair := w.product("acme", "CH-1", 8)
			desk := w.product("acme", "DK-1", 0)
			north := w.location("acme", "north")
			south := w.location("acme", "south") // holds nothing
			main, err := s.DefaultLocation(ctx, "acme")
			require.NoError(t, err)
			w.stock("acme", chair, "", 4)
			w.stock("acme", chair, north.ID, 10)
			w.stock("acme", desk, "", 1)
			// Another tenant's stock of a product with the same SKU.
			theirChair := w.product("globex", "CH-1", 0)
			w.stock("globex", theirChair, "", 50)

			// Two lines of chairs (6 + 3) and a desk: 14 chairs on hand.
			o := w.order("acme", "sam", c.ID,
				sales.LineInput{ProductID: chair.ID, Quantity: 6},
				sales.LineInput{ProductID: desk.ID, Quantity: 1},
				sales.LineInput{ProductID: chair.ID, Quantity: 3})
			w.approve("acme", o.ID)
			w.fulfill("acme", o.ID)
			ev := w.lastEvent("acme", "OrderFulfilled")
			before := len(w.movements("acme"))

			require.NoError(t, l.Handle(ctx, ev))
			// The default location is emptied first, then north.
			require.EqualValues(t, 0, w.level("acme", chair, main.ID))
			require.EqualValues(t, 5, w.level("acme", chair, north.ID))
			require.EqualValues(t, 0, w.level("acme", chair, south.ID))
			require.EqualValues(t, 0, w.level("acme", desk, main.ID))
			p, err := w.products.Get(ctx, "acme", chair.ID)
			require.NoError(t, err)
			require.EqualValues(t, 5, p.OnHand)

			moved := w.movements("acme")[:len(w.movements("acme"))-before]
			require.Len(t, moved, 4, "line 1 from main and north, the desk from main, line 3 from north")
			var out int64
			for _, m := range moved {
				require.Equal(t, "sale "+o.Number, m.Reason)
				require.Equal(t, domain.SystemUserID, m.ActorID)
				require.Negative(t, m.Quantity)
				out += m.Quantity
			}
			require.EqualValues(t, -10, out)
			// The order's stock went out: it no longer holds stock back.
			shipped, err := w.sales.Get(ctx, "acme", o.ID)
			require.NoError(t, err)
			require.NotNil(t, shipped.StockOutAt)
			awaiting, err := s.StockAwaitingShipment(ctx, "acme", []string{chair.ID, desk.ID})
			require.NoError(t, err)
			require.Empty(t, awaiting)

			// 14 → 5 crosses the chair's reorder level of 8: the point.
			low := w.events("acme", "LowStockDetected")
			require.Len(t, low, 1)
			var e inventory.LowStockDetected
			require.NoError(t, low[0].Decode(&e))
			require.Equal(t, chair.ID, e.ProductID)
			require.EqualValues(t, 5, e.OnHand)

			// Redelivered: nothing moves twice.
			require.NoError(t, l.Handle(ctx, ev))
			require.Len(t, w.movements("acme"), before+4)
			require.EqualValues(t, 5, w.level("acme", chair, north.ID))
			require.Len(t, w.events("acme", "LowStockDetected"), 1)

			// The other tenant's stock never moved.
			theirs, err := w.products.Get(ctx, "globex", theirChair.ID)
			require.NoError(t, err)
			require.EqualValues(t, 50, theirs.OnHand)
			require.Len(t, w.movements("globex"), 1)

			// The same payload under another tenant names products that
			// tenant does not have: a permanent failure that moves nothing.
			forged := ev
			forged.ID = domain.NewID()
			forged.TenantID = "globex"
			err = l.Handle(ctx, forged)
			require.Error(t, err)
			require.True(t, domain.Permanent(err), "%v", err)
			require.Len(t, w.movements("globex"), 1)
			require.Len(t, w.movements("acme"), before+4)

			// A malformed payload is permanent too.
			bad := ev
			bad.ID = domain.NewID()
			bad.Payload = json.RawMessage(`{"lines": "many"}`)
			require.True(t, domain.Permanent(l.Handle(ctx, bad)))
		})
	}
}

func TestUpdateInventoryOnSaleRefusesMissingStockWhole(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			w := newSaleWorld(t, s)
			ctx := context.Background()
			l := listeners.UpdateInventoryOnSale{Store: s, Inventory: w.inventory}
			c := w.customer("acme", "Buyer")
			desk := w.product("acme", "DK-1", 0)
			lamp := w.product("acme", "LP-1", 0)
			w.stock("acme", desk, "", 2)
			w.stock("acme", lamp, "", 1)
			o := w.order("acme", "sam", c.ID,
				sales.LineInput{ProductID: desk.ID, Quantity: 2},
				sales.LineInput{ProductID: lamp.ID, Quantity: 1})
			w.approve("acme", o.ID)
			w.fulfill("acme", o.ID)
			ev := w.lastEvent("acme", "OrderFulfilled")
			// The lamp goes elsewhere between fulfilment and the listener.
			w.stock("acme", lamp, "", -1)
			before := len(w.movements("acme"))

			err := l.Handle(ctx, ev)
			var rule *domain.RuleError
			require.ErrorAs(t, err, &rule)
			require.Equal(t, "insufficient_stock", rule.Code)
			require.True(t, domain.Permanent(err))
			// The desks of the first line did not go out either.
			require.Len(t, w.movements("acme"), before)
			p, err := w.products.Get(ctx, "acme", desk.ID)
			require.NoError(t, err)
			require.EqualValues(t, 2, p.OnHand)

			// Once the lamp is back, a retry (the same event) goes through:
			// the failure left no processed marker behind.
			w.stock("acme", lamp, "", 1)
			require.NoError(t, l.Handle(ctx, ev))
			require.Len(t, w.movements("acme"), before+1+2)
			for _, id := range []string{desk.ID, lamp.ID} {
				p, err := w.products.Get(ctx, "acme", id)
				require.NoError(t, err)
				require.Zero(t, p.OnHand)
			}
		})
	}
}

// The event's lines drive the listener; a deleted product cannot be taken
// out and is reported as a permanent failure, not retried forever.
func TestUpdateInventoryOnSaleDeletedProduct(t *testing.T) {
	t.Parallel()
	s := storetest.OpenSQLite(t)
	w := newSaleWorld(t, s)
	ctx := context.Background()
	l := listeners.UpdateInventoryOnSale{Store: s, Inventory: w.inventory}
	p := w.product("acme", "GONE", 0)
	require.NoError(t, w.products.Delete(ctx, saleAdmin("acme", "root"), p.ID))
	ev, err := domain.NewEvent("acme", "sam", time.Now(), sales.OrderFulfilled{
		OrderID: domain.NewID(), Number: "SO-000009", Lines: []sales.EventLine{{ProductID: p.ID, SKU: "GONE", Quantity: 1}}})
	require.NoError(t, err)
	err = l.Handle(ctx, ev)
	var rule *domain.RuleError
	require.ErrorAs(t, err, &rule)
	require.Equal(t, "product_unavailable", rule.Code)
}
