package inventory_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
)

// countingStore counts the store calls Record makes: each is a round trip
// to the database while the product row is locked.
type countingStore struct {
	inventory.Store
	mu    sync.Mutex
	calls []string
}

func (c *countingStore) count(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, name)
}

func (c *countingStore) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

func (c *countingStore) AppendEvents(ctx context.Context, events ...domain.Event) error {
	c.count("AppendEvents")
	return c.Store.AppendEvents(ctx, events...)
}

func (c *countingStore) LockProduct(ctx context.Context, tenant domain.TenantID, id string) (product.Product, error) {
	c.count("LockProduct")
	return c.Store.LockProduct(ctx, tenant, id)
}

func (c *countingStore) LockProductAt(ctx context.Context, tenant domain.TenantID, productID, locationID string) (product.Product, inventory.Location, error) {
	c.count("LockProductAt")
	return c.Store.LockProductAt(ctx, tenant, productID, locationID)
}

func (c *countingStore) DefaultLocation(ctx context.Context, tenant domain.TenantID) (inventory.Location, error) {
	c.count("DefaultLocation")
	return c.Store.DefaultLocation(ctx, tenant)
}

func (c *countingStore) GetLocation(ctx context.Context, tenant domain.TenantID, id string) (inventory.Location, error) {
	c.count("GetLocation")
	return c.Store.GetLocation(ctx, tenant, id)
}

func (c *countingStore) StockLevel(ctx context.Context, tenant domain.TenantID, productID, locationID string) (int64, error) {
	c.count("StockLevel")
	return c.Store.StockLevel(ctx, tenant, productID, locationID)
}

func (c *countingStore) MoveStockLevel(ctx context.Context, tenant domain.TenantID, productID, locationID string, delta int64) (int64, bool, bool, error) {
	c.count("MoveStockLevel")
	return c.Store.MoveStockLevel(ctx, tenant, productID, locationID, delta)
}

func (c *countingStore) SetProductStock(ctx context.Context, tenant domain.TenantID, productID string, onHand int64, lowStock bool) error {
	c.count("SetProductStock")
	return c.Store.SetProductStock(ctx, tenant, productID, onHand, lowStock)
}

func (c *countingStore) InsertMovement(ctx context.Context, m inventory.Movement) error {
	c.count("InsertMovement")
	return c.Store.InsertMovement(ctx, m)
}

func (c *countingStore) WriteMovement(ctx context.Context, m inventory.Movement, onHand int64, lowStock bool, events ...domain.Event) error {
	c.count("WriteMovement")
	return c.Store.WriteMovement(ctx, m, onHand, lowStock, events...)
}

func (c *countingStore) AddToBatch(ctx context.Context, b inventory.Batch) error {
	c.count("AddToBatch")
	return c.Store.AddToBatch(ctx, b)
}

func (c *countingStore) StockBatches(ctx context.Context, tenant domain.TenantID, productID, locationID string) ([]inventory.Batch, error) {
	c.count("StockBatches")
	return c.Store.StockBatches(ctx, tenant, productID, locationID)
}

func (c *countingStore) SetBatchQuantity(ctx context.Context, key inventory.BatchKey, quantity int64) error {
	c.count("SetBatchQuantity")
	return c.Store.SetBatchQuantity(ctx, key, quantity)
}

// TestRecordRoundTrips pins the store calls of the hot path (a movement at
// the default location, as the POST without location_id makes) so a change
// that adds a round trip while the product is locked shows up here; and
// that the batch read is skipped only when no batch holds stock there.
func TestRecordRoundTrips(t *testing.T) {
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		cs := &countingStore{Store: f.store}
		svc := inventory.NewService(cs, func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) })
		p := f.product(t, acme, "RT-1", 10)
		record := func(in inventory.RecordInput) []string {
			t.Helper()
			in.ProductID, in.Reason = p.ID, "test"
			_, err := svc.Record(ctx, acme, in)
			require.NoError(t, err)
			return cs.take()
		}

		require.Equal(t, []string{"LockProductAt", "DefaultLocation", "MoveStockLevel", "WriteMovement"},
			record(inventory.RecordInput{Quantity: 20}), "first use creates the default location")
		require.Equal(t, []string{"LockProductAt", "MoveStockLevel", "WriteMovement"},
			record(inventory.RecordInput{Quantity: -15}), "out, crossing the reorder level, no batches")

		require.Equal(t, []string{"LockProductAt", "MoveStockLevel", "AddToBatch", "WriteMovement"},
			record(inventory.RecordInput{Quantity: 4, BatchNumber: "B1", ExpiryDate: "2027-01-01"}))
		require.Equal(t, []string{"LockProductAt", "MoveStockLevel", "StockBatches", "SetBatchQuantity", "WriteMovement"},
			record(inventory.RecordInput{Quantity: -3}), "a batch holds stock: read and consume it first")
		batches, err := f.inventory.ListBatches(ctx, acme.TenantID, p.ID)
		require.NoError(t, err)
		require.Len(t, batches, 1)
		require.EqualValues(t, 1, batches[0].Quantity)

		_, err = svc.Record(ctx, acme, inventory.RecordInput{ProductID: p.ID, Quantity: -100, Reason: "test"})
		require.ErrorContains(t, err, "insufficient_stock")
		require.Equal(t, []string{"LockProductAt", "MoveStockLevel", "StockLevel"}, cs.take(), "the level is read only for the refusal's message")
	})
}
