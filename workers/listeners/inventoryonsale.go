package listeners

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/sales"
)

// SaleStockStore is what UpdateInventoryOnSale reads to decide where the
// stock of a sale comes from, besides the idempotency marker.
type SaleStockStore interface {
	Store
	LockProduct(ctx context.Context, tenant domain.TenantID, id string) (product.Product, error)
	DefaultLocation(ctx context.Context, tenant domain.TenantID) (inventory.Location, error)
	// ListLocations lists the tenant's locations ordered by code.
	ListLocations(ctx context.Context, tenant domain.TenantID) ([]inventory.Location, error)
	StockLevel(ctx context.Context, tenant domain.TenantID, productID, locationID string) (int64, error)
	// MarkStockOut ends the order's reservation of its stock.
	MarkStockOut(ctx context.Context, tenant domain.TenantID, orderID string, at time.Time) error
}

// StockRecorder records stock movements (inventory.Service). Inside a
// caller's transaction Record joins it.
type StockRecorder interface {
	Record(ctx context.Context, actor domain.Actor, in inventory.RecordInput) (inventory.Movement, error)
}

// UpdateInventoryOnSale takes the lines of a fulfilled order out of stock:
// one movement out per line and location, from the tenant's default
// location first, then from the other locations holding stock (by code).
// All movements of an order and the idempotency marker commit together, so
// a redelivered event moves nothing twice and a failure moves nothing at
// all. The movements raise LowStockDetected where they cross a reorder
// level, like any other. Stock that is no longer there (taken since the
// order was fulfilled) is a RuleError: permanent, the job is recorded as
// failed for an operator to resolve and retry.
type UpdateInventoryOnSale struct {
	Store     SaleStockStore
	Inventory StockRecorder
}

func (UpdateInventoryOnSale) Name() string { return "UpdateInventoryOnSale" }
func (UpdateInventoryOnSale) Events() []string {
	return []string{sales.OrderFulfilled{}.EventType()}
}

func (l UpdateInventoryOnSale) Handle(ctx context.Context, ev domain.Event) error {
	var e sales.OrderFulfilled
	if err := ev.Decode(&e); err != nil {
		return err
	}
	actor := domain.SystemActor(ev.TenantID)
	reason := "sale " + e.Number
	return once(ctx, l.Store, l.Name(), ev, func(ctx context.Context) error {
		products, err := l.lockProducts(ctx, ev.TenantID, e)
		if err != nil {
			return err
		}
		locations, err := l.sources(ctx, ev.TenantID)
		if err != nil {
			return err
		}
		for i, line := range e.Lines {
			if err := l.takeOut(ctx, actor, reason, e.Number, products[line.ProductID], locations, line); err != nil {
				return fmt.Errorf("order %s line %d (%s): %w", e.Number, i+1, line.SKU, err)
			}
		}
		// The stock went out: the order no longer holds it back from other
		// fulfilments (sales.Service.Fulfill counts it until then).
		return l.Store.MarkStockOut(ctx, ev.TenantID, e.OrderID, time.Now())
	})
}

// lockProducts locks every product of the order, in id order, before any
// level is read: no other movement changes them until commit, and two
// sales of the same products lock them in the same order (no deadlock).
func (l UpdateInventoryOnSale) lockProducts(ctx context.Context, tenant domain.TenantID, e sales.OrderFulfilled) (map[string]product.Product, error) {
	sku := map[string]string{}
	for _, line := range e.Lines {
		if line.Quantity <= 0 {
			return nil, fmt.Errorf("order %s: %s quantity %d: %w", e.Number, line.SKU, line.Quantity, domain.ErrPermanent)
		}
		sku[line.ProductID] = line.SKU
	}
	ids := slices.Sorted(maps.Keys(sku))
	out := make(map[string]product.Product, len(ids))
	for _, id := range ids {
		p, err := l.Store.LockProduct(ctx, tenant, id)
		if errors.Is(err, domain.ErrNotFound) {
			return nil, domain.Rule("product_unavailable", "product %s was deleted; order %s cannot take it out of stock", sku[id], e.Number)
		}
		if err != nil {
			return nil, err
		}
		out[id] = p
	}
	return out, nil
}

// takeOut moves one line's quantity of the locked product p out of the
// locations, in their order.
func (l UpdateInventoryOnSale) takeOut(ctx context.Context, actor domain.Actor, reason, number string,
	p product.Product, locations []inventory.Location, line sales.EventLine) error {
	tenant := actor.TenantID
	type take struct {
		location string
		quantity int64
	}
	var takes []take
	remaining := line.Quantity
	for _, loc := range locations {
		level, err := l.Store.StockLevel(ctx, tenant, p.ID, loc.ID)
		if err != nil {
			return err
		}
		if level <= 0 {
			continue
		}
		q := min(level, remaining)
		takes = append(takes, take{loc.ID, q})
		if remaining -= q; remaining == 0 {
			break
		}
	}
	if remaining > 0 {
		return domain.Rule("insufficient_stock", "%s has %d on hand over all locations; order %s needs %d",
			p.SKU, line.Quantity-remaining, number, line.Quantity)
	}
	for _, t := range takes {
		if _, err := l.Inventory.Record(ctx, actor, inventory.RecordInput{
			ProductID: p.ID, LocationID: t.location, Quantity: -t.quantity, Reason: reason,
		}); err != nil {
			return err
		}
	}
	return nil
}

// sources lists the locations to take from: the default one first, then
// the others by code.
func (l UpdateInventoryOnSale) sources(ctx context.Context, tenant domain.TenantID) ([]inventory.Location, error) {
	def, err := l.Store.DefaultLocation(ctx, tenant)
	if err != nil {
		return nil, err
	}
	all, err := l.Store.ListLocations(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]inventory.Location, 0, len(all)+1)
	out = append(out, def)
	for _, loc := range all {
		if loc.ID != def.ID {
			out = append(out, loc)
		}
	}
	return out, nil
}
