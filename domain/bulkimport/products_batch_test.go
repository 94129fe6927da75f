package bulkimport_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// productEvents lists the tenant's Product* events as (type, actor,
// payload without the product id), in outbox order: what two tenants can
// be compared by.
func productEvents(t *testing.T, f fixture, tenant domain.TenantID) []string {
	t.Helper()
	evs, err := f.store.ListEvents(context.Background(), tenant, "", "", 500)
	require.NoError(t, err)
	var out []string
	for _, e := range evs {
		if !strings.HasPrefix(e.Type, "Product") {
			continue
		}
		var payload map[string]any
		require.NoError(t, json.Unmarshal(e.Payload, &payload))
		require.NotEmpty(t, payload["product_id"])
		require.Equal(t, e.AggregateID, payload["product_id"])
		delete(payload, "product_id")
		b, err := json.Marshal(payload)
		require.NoError(t, err)
		out = append(out, e.Type+" by "+string(e.ActorID)+": "+string(b))
	}
	return out
}

// TestProductBatchWritesWhatTheServiceWrites: a batch written at once
// (new products, changed ones, unchanged ones, a reorder level that makes
// a product low on stock, duplicates in and across batches) leaves the
// same products and the same events, in the same order, as product.Service
// called row by row: the batched path may not drift from the domain's.
func TestProductBatchWritesWhatTheServiceWrites(t *testing.T) {
	t.Parallel()
	each(t, options{batch: 4}, func(t *testing.T, f fixture) {
		ctx := context.Background()
		seed := func(tenant domain.TenantID) {
			bob := domain.Actor{TenantID: tenant, UserID: "bob", Perms: []string{domain.PermProductsManage, domain.PermInventoryManage}}
			for _, in := range []product.CreateInput{
				{SKU: "U-1", Name: "Old name", Price: dec("1.00")},
				{SKU: "U-2", Name: "Same", Price: dec("2.00"), ReorderLevel: ptr(int64(3))},
				{SKU: "U-3", Name: "Stocked", Price: dec("1"), ReorderLevel: ptr(int64(0))},
			} {
				p, err := f.products.Create(ctx, bob, in)
				require.NoError(t, err)
				if in.SKU == "U-3" {
					_, err = f.stock.Record(ctx, bob, inventory.RecordInput{ProductID: p.ID, Quantity: 5, Reason: "count"})
					require.NoError(t, err)
				}
			}
		}
		seed("acme")
		seed("globex")

		got := f.run(t, alice, "products", "", "sku,name,price,reorder_level\n"+
			"N-1,New one,1.25,4\n"+ // 1: created
			"U-1,New name,1.5,\n"+ // 2: name and price change, reorder level kept
			"U-2,Same,2.00,3\n"+ // 3: nothing changes: no event
			"N-1,Again,9,1\n"+ // 4: duplicate in the same batch
			"U-3,Stocked,1,10\n"+ // 5: reorder level above on hand: low on stock
			"N-2,New two,0,\n"+ // 6: created, no reorder level
			"U-1,Later,3,\n") // 7: duplicate of row 2, in another batch
		require.Equal(t, bulkimport.StatusCompleted, got.Status)
		require.Equal(t, []int64{7, 5, 2}, []int64{got.TotalRows, got.Imported, got.Failed})
		require.Equal(t, []string{
			`4: sku: duplicate "N-1": row 1 has the same sku`,
			`7: sku: duplicate "U-1": row 2 has the same sku`,
		}, rowErrors(got))

		// The same rows through product.Service, in globex.
		as := domain.Actor{TenantID: "globex", UserID: "alice", Perms: []string{domain.PermProductsManage}}
		existing := f.bySKU(t, "globex")
		_, err := f.products.Create(ctx, as, product.CreateInput{SKU: "N-1", Name: "New one", Price: dec("1.25"), ReorderLevel: ptr(int64(4))})
		require.NoError(t, err)
		_, err = f.products.Update(ctx, as, existing["U-1"].ID, product.UpdateInput{Name: ptr("New name"), Price: dec("1.5")})
		require.NoError(t, err)
		_, err = f.products.Update(ctx, as, existing["U-2"].ID, product.UpdateInput{Name: ptr("Same"), Price: dec("2.00"), ReorderLevel: ptr(int64(3))})
		require.NoError(t, err)
		_, err = f.products.Update(ctx, as, existing["U-3"].ID, product.UpdateInput{Name: ptr("Stocked"), Price: dec("1"), ReorderLevel: ptr(int64(10))})
		require.NoError(t, err)
		_, err = f.products.Create(ctx, as, product.CreateInput{SKU: "N-2", Name: "New two", Price: dec("0")})
		require.NoError(t, err)

		type shape struct {
			Name, Price      string
			Reorder, OnHand  int64
			LowStock         bool
			CreatedOnUpdated bool // updated_at = created_at: never updated
		}
		view := func(tenant domain.TenantID) map[string]shape {
			out := map[string]shape{}
			for sku, p := range f.bySKU(t, tenant) {
				out[sku] = shape{p.Name, p.Price.String(), p.ReorderLevel, p.OnHand, p.LowStock, p.UpdatedAt.Equal(p.CreatedAt)}
			}
			return out
		}
		want := view("globex")
		require.Equal(t, want, view("acme"))
		require.True(t, want["U-3"].LowStock, "the case is exercised")
		require.Equal(t, productEvents(t, f, "globex"), productEvents(t, f, "acme"))
		require.Len(t, productEvents(t, f, "acme"), 3+4, "3 seeded, 2 created, 2 updated")
	})
}

// TestProductImportsNeverCrossTenants: a SKU that another tenant also has
// creates a product in the importing tenant, and an update by SKU touches
// only the importing tenant's product: the other's keeps its values, its
// updated_at, and gets no event.
func TestProductImportsNeverCrossTenants(t *testing.T) {
	t.Parallel()
	each(t, options{}, func(t *testing.T, f fixture) {
		ctx := context.Background()
		for _, tenant := range []domain.TenantID{"acme", "globex"} {
			bob := domain.Actor{TenantID: tenant, UserID: "bob", Perms: []string{domain.PermProductsManage}}
			_, err := f.products.Create(ctx, bob, product.CreateInput{SKU: "B", Name: string(tenant) + " B", Price: dec("2")})
			require.NoError(t, err)
		}
		gina := domain.Actor{TenantID: "globex", UserID: "bob", Perms: []string{domain.PermProductsManage}}
		_, err := f.products.Create(ctx, gina, product.CreateInput{SKU: "A", Name: "globex A", Price: dec("1")})
		require.NoError(t, err)
		before := f.bySKU(t, "globex")
		eventsBefore := productEvents(t, f, "globex")

		got := f.run(t, alice, "products", "", "sku,name,price\nA,acme A,5\nB,acme B changed,6\n")
		require.Equal(t, []int64{2, 2, 0}, []int64{got.TotalRows, got.Imported, got.Failed})

		require.Equal(t, before, f.bySKU(t, "globex"), "globex's products are untouched")
		require.Equal(t, eventsBefore, productEvents(t, f, "globex"))
		acme := f.bySKU(t, "acme")
		require.Len(t, acme, 2)
		require.Equal(t, "acme A", acme["A"].Name)
		require.NotEqual(t, before["A"].ID, acme["A"].ID)
		require.Equal(t, "acme B changed", acme["B"].Name)
		require.Equal(t, "6", acme["B"].Price.String())
	})
}

// refusingCatalog fails a batch of new products holding SKU sku as taken,
// as a concurrent create of that SKU would.
type refusingCatalog struct {
	*sqlstore.Store
	sku string
}

func (c refusingCatalog) InsertImportedProducts(ctx context.Context, ps []product.Product) error {
	if slices.ContainsFunc(ps, func(p product.Product) bool { return p.SKU == c.sku }) {
		return domain.ErrConflict
	}
	return c.Store.InsertImportedProducts(ctx, ps)
}

// refusingProducts is product.Service refusing to create SKU sku.
type refusingProducts struct {
	*product.Service
	sku string
}

func (p refusingProducts) Create(ctx context.Context, actor domain.Actor, in product.CreateInput) (product.Product, error) {
	if in.SKU == p.sku {
		return product.Product{}, &domain.RuleError{Code: "taken", Message: "the SKU was taken meanwhile"}
	}
	return p.Service.Create(ctx, actor, in)
}

// TestRefusedRowInABatch: when the domain refuses one row of a batch
// written at once, the batch is rolled back and imported row by row: the
// refused row is reported with its number and reason, every other row of
// the batch (before and after it) is imported exactly once, with its
// event.
func TestRefusedRowInABatch(t *testing.T) {
	t.Parallel()
	each(t, options{
		batch:    4,
		catalog:  func(s *sqlstore.Store) bulkimport.Catalog { return refusingCatalog{s, "BAD"} },
		products: func(p *product.Service) bulkimport.ProductCommands { return refusingProducts{p, "BAD"} },
	}, func(t *testing.T, f fixture) {
		got := f.run(t, alice, "products", "", "sku,name,price\nA,a,1\nB,b,1\nBAD,bad,1\nC,c,1\nD,d,1\nE,e,1\n")
		require.Equal(t, bulkimport.StatusCompleted, got.Status)
		require.Equal(t, []int64{6, 5, 1}, []int64{got.TotalRows, got.Imported, got.Failed})
		require.Equal(t, []string{"3: the SKU was taken meanwhile"}, rowErrors(got))
		ps := f.bySKU(t, "acme")
		require.Len(t, ps, 5)
		require.NotContains(t, ps, "BAD")
		require.Equal(t, 5, f.countEvents(t, "acme", "ProductCreated"))
	})
}

func ptr[T any](v T) *T { return &v }
