package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func newImport(tenant domain.TenantID) bulkimport.Import {
	id := domain.NewID()
	return bulkimport.Import{
		ID: id, TenantID: tenant, Type: bulkimport.Products, Status: bulkimport.StatusPending, RequestedBy: userA,
		FileName: "products.csv", FilePath: "imports/t-x/" + id + "-R.csv", FileSize: 1234,
		FileSHA256: "ab12", Mapping: map[string]string{"sku": "SKU", "name": "Product Name"}, CreatedAt: at(0),
	}
}

func keys(pairs ...any) []bulkimport.RowKey {
	var out []bulkimport.RowKey
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, bulkimport.RowKey{Key: pairs[i].(string), Row: int64(pairs[i+1].(int))})
	}
	return out
}

var importTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"RoundTripAndProgress": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		im := newImport(tenantA)
		require.NoError(t, s.InsertImport(ctx, im))
		require.ErrorIs(t, s.InsertImport(ctx, im), domain.ErrConflict)
		got, err := s.GetImport(ctx, tenantA, im.ID)
		require.NoError(t, err)
		want := im
		want.CreatedAt = stored(im.CreatedAt)
		want.Errors = []bulkimport.RowError{}
		require.Equal(t, want, got)

		_, err = s.GetImport(ctx, tenantB, im.ID)
		requireNotFound(t, err, "another tenant's import")
		_, err = s.GetImport(ctx, tenantA, "not-an-id")
		requireNotFound(t, err)
		_, err = s.LockImport(ctx, tenantA, im.ID)
		require.Error(t, err, "locking needs a transaction")

		started, done := at(time.Minute), at(time.Hour)
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			l, err := s.LockImport(ctx, tenantA, im.ID)
			require.NoError(t, err)
			l.Status, l.Counted, l.TotalRows, l.Imported, l.Failed, l.Skipped = bulkimport.StatusCompleted, true, 10, 8, 2, 1
			l.Errors = []bulkimport.RowError{{Row: 3, Message: "price: bad"}, {Row: 9, Message: "sku: dup"}}
			l.ResumeRow, l.ResumeOffset, l.LastError = 10, 4321, "was slow"
			l.StartedAt, l.CompletedAt, l.FailedAt = &started, &done, &done
			return s.UpdateImport(ctx, l)
		}))
		got, err = s.GetImport(ctx, tenantA, im.ID)
		require.NoError(t, err)
		require.Equal(t, bulkimport.StatusCompleted, got.Status)
		require.True(t, got.Counted)
		require.Equal(t, []int64{10, 8, 2, 1, 10, 4321}, []int64{got.TotalRows, got.Imported, got.Failed, got.Skipped, got.ResumeRow, got.ResumeOffset})
		require.Equal(t, []bulkimport.RowError{{Row: 3, Message: "price: bad"}, {Row: 9, Message: "sku: dup"}}, got.Errors)
		require.Equal(t, "was slow", got.LastError)
		require.Equal(t, stored(started), *got.StartedAt)
		require.Equal(t, stored(done), *got.CompletedAt)
		require.Equal(t, stored(done), *got.FailedAt)

		foreign := got
		foreign.TenantID = tenantB
		requireNotFound(t, s.UpdateImport(ctx, foreign), "cannot update across tenants")
		bad := newImport("")
		requireInvalid(t, s.InsertImport(ctx, bad))
		bad = newImport(tenantA)
		bad.Type = "orders"
		require.Error(t, s.InsertImport(ctx, bad), "the schema knows the types")
	},
	"ListNewestFirst": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		var ids []string
		for i := range 5 {
			im := newImport(tenantA)
			if i%2 == 1 {
				im.Type, im.Status = bulkimport.Inventory, bulkimport.StatusFailed
			}
			require.NoError(t, s.InsertImport(ctx, im))
			ids = append(ids, im.ID)
		}
		require.NoError(t, s.InsertImport(ctx, newImport(tenantB)))
		list, err := s.ListImports(ctx, tenantA, bulkimport.ListParams{Limit: 3})
		require.NoError(t, err)
		require.Equal(t, []string{ids[4], ids[3], ids[2]}, importIDs(list))
		list, err = s.ListImports(ctx, tenantA, bulkimport.ListParams{Before: ids[2], Limit: 3})
		require.NoError(t, err)
		require.Equal(t, []string{ids[1], ids[0]}, importIDs(list))
		list, err = s.ListImports(ctx, tenantA, bulkimport.ListParams{Type: bulkimport.Inventory})
		require.NoError(t, err)
		require.Equal(t, []string{ids[3], ids[1]}, importIDs(list))
		list, err = s.ListImports(ctx, tenantA, bulkimport.ListParams{Status: bulkimport.StatusPending})
		require.NoError(t, err)
		require.Equal(t, []string{ids[4], ids[2], ids[0]}, importIDs(list))
		list, err = s.ListImports(ctx, tenantB, bulkimport.ListParams{})
		require.NoError(t, err)
		require.Len(t, list, 1, "only the tenant's own")
		_, err = s.ListImports(ctx, tenantA, bulkimport.ListParams{Before: "nope"})
		requireInvalid(t, err)
	},
	"HostileText": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for _, h := range hostile {
			im := newImport(tenantA)
			im.FileName, im.LastError = h, h
			im.Mapping = map[string]string{"name": h}
			im.Errors = []bulkimport.RowError{{Row: 1, Message: h}}
			require.NoError(t, s.InsertImport(ctx, im))
			got, err := s.GetImport(ctx, tenantA, im.ID)
			require.NoError(t, err)
			require.Equal(t, h, got.FileName)
			require.Equal(t, h, got.LastError)
			require.Equal(t, h, got.Mapping["name"])
			require.Equal(t, h, got.Errors[0].Message)
		}
	},
	"ImportedProducts": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		// More than one statement's worth, and another tenant with the
		// same SKUs.
		var ps, theirs []product.Product
		for i := range 700 {
			p := product.Product{ID: domain.NewID(), TenantID: tenantA, SKU: fmt.Sprintf("S-%d", i), Name: hostile[i%len(hostile)],
				Price: decimal.RequireFromString("1.2345"), ReorderLevel: int64(i), CreatedAt: at(0), UpdatedAt: at(0)}
			ps = append(ps, p)
			p.ID, p.TenantID, p.Name = domain.NewID(), tenantB, "theirs"
			theirs = append(theirs, p)
		}
		require.NoError(t, s.InsertImportedProducts(ctx, ps))
		require.NoError(t, s.InsertImportedProducts(ctx, theirs))
		err := s.InsertImportedProducts(ctx, []product.Product{{ID: domain.NewID(), TenantID: tenantA, SKU: "S-3", Name: "x", CreatedAt: at(0)}})
		require.ErrorIs(t, err, domain.ErrConflict, "a live product has the SKU")

		skus := []string{"S-0", "S-699", "missing"}
		var found map[string]product.Product
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			found, err = s.LockImportProductsBySKU(ctx, tenantA, skus)
			return err
		}))
		require.Len(t, found, 2)
		require.Equal(t, ps[699].ID, found["S-699"].ID)
		require.Equal(t, ps[699].Name, found["S-699"].Name)
		require.Equal(t, "1.2345", found["S-0"].Price.String())
		_, err = s.LockImportProductsBySKU(ctx, tenantA, skus)
		require.Error(t, err, "locks only inside a transaction")

		for i := range ps {
			ps[i].Name, ps[i].Price, ps[i].LowStock, ps[i].UpdatedAt = "renamed", decimal.RequireFromString("9"), i%2 == 0, at(time.Hour)
		}
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error { return s.UpdateImportedProducts(ctx, tenantA, ps) }))
		got, err := s.ImportProductsBySKU(ctx, tenantA, []string{"S-0", "S-1", "S-699"})
		require.NoError(t, err)
		for _, sku := range []string{"S-0", "S-1", "S-699"} {
			require.Equal(t, "renamed", got[sku].Name)
			require.Equal(t, "9", got[sku].Price.String())
			require.WithinDuration(t, at(time.Hour), got[sku].UpdatedAt, time.Microsecond)
		}
		require.True(t, got["S-0"].LowStock)
		require.False(t, got["S-1"].LowStock)
		other, err := s.ImportProductsBySKU(ctx, tenantB, []string{"S-0"})
		require.NoError(t, err)
		require.Equal(t, "theirs", other["S-0"].Name, "the other tenant's product with the SKU is untouched")

		// Another tenant's product, or a deleted one, is not updated.
		err = s.UpdateImportedProducts(ctx, tenantA, theirs[:1])
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.NoError(t, s.DeleteProduct(ctx, tenantA, ps[5].ID))
		err = s.InTx(ctx, func(ctx context.Context) error { return s.UpdateImportedProducts(ctx, tenantA, ps[4:6]) })
		require.ErrorIs(t, err, domain.ErrNotFound)
	},
	"ClaimKeys": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		im, other := newImport(tenantA), newImport(tenantA)
		require.NoError(t, s.InsertImport(ctx, im))
		require.NoError(t, s.InsertImport(ctx, other))
		dups, err := s.ClaimImportKeys(ctx, tenantA, im.ID, keys("A", 1, "B", 2, "A", 3, hostile[0], 4, "A", 5))
		require.NoError(t, err)
		require.Equal(t, map[string]int64{"A": 1}, dups, "later rows with a key claimed in the same call")
		dups, err = s.ClaimImportKeys(ctx, tenantA, im.ID, keys("C", 6, "B", 7, hostile[0], 8))
		require.NoError(t, err)
		require.Equal(t, map[string]int64{"B": 2, hostile[0]: 4}, dups, "keys claimed by an earlier call")
		dups, err = s.ClaimImportKeys(ctx, tenantA, other.ID, keys("A", 1, "B", 2))
		require.NoError(t, err)
		require.Empty(t, dups, "keys are per import")
		// Many keys, past one statement's worth.
		var many []bulkimport.RowKey
		for i := range 450 {
			many = append(many, bulkimport.RowKey{Key: fmt.Sprintf("K%d", i), Row: int64(100 + i)})
		}
		dups, err = s.ClaimImportKeys(ctx, tenantA, im.ID, many)
		require.NoError(t, err)
		require.Empty(t, dups)
		again := []bulkimport.RowKey{{Key: "K0", Row: 999}}
		for _, k := range many[440:] {
			again = append(again, bulkimport.RowKey{Key: k.Key, Row: k.Row + 1000})
		}
		dups, err = s.ClaimImportKeys(ctx, tenantA, im.ID, again)
		require.NoError(t, err)
		require.Len(t, dups, 11)
		require.EqualValues(t, 100, dups["K0"])

		_, err = s.ClaimImportKeys(ctx, tenantB, im.ID, keys("Z", 1))
		requireNotFound(t, err, "keys of another tenant's import")
		require.NoError(t, s.DeleteImportKeys(ctx, tenantA, im.ID))
		dups, err = s.ClaimImportKeys(ctx, tenantA, im.ID, keys("A", 1))
		require.NoError(t, err)
		require.Empty(t, dups, "forgotten")
		dups, err = s.ClaimImportKeys(ctx, tenantA, other.ID, keys("A", 9))
		require.NoError(t, err)
		require.Equal(t, map[string]int64{"A": 1}, dups, "the other import's keys stay")
	},
	"StockRows": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		im := newImport(tenantA)
		require.NoError(t, s.InsertImport(ctx, im))
		p := insertProduct(t, s, tenantA, "SKU-1")
		loc := insertLocation(t, s, tenantA, "main")
		m := inventory.Movement{ID: domain.NewID(), TenantID: tenantA, ProductID: p.ID, LocationID: loc.ID,
			Quantity: 5, Reason: "import", OnHandAfter: 5, CreatedAt: at(0)}
		require.NoError(t, s.InsertMovement(ctx, m))
		row := bulkimport.StockRow{TenantID: tenantA, FileSHA256: "f00d", Row: 7, ImportID: im.ID, MovementID: m.ID}
		require.NoError(t, s.InsertImportedStockRow(ctx, row))
		require.ErrorIs(t, s.InsertImportedStockRow(ctx, row), domain.ErrConflict)
		applied, err := s.ImportedStockRows(ctx, tenantA, "f00d", []int64{6, 7, 8})
		require.NoError(t, err)
		require.Equal(t, map[int64]bool{7: true}, applied)
		applied, err = s.ImportedStockRows(ctx, tenantA, "beef", []int64{7})
		require.NoError(t, err)
		require.Empty(t, applied, "keyed by the file's content")
		applied, err = s.ImportedStockRows(ctx, tenantB, "f00d", []int64{7})
		require.NoError(t, err)
		require.Empty(t, applied, "and by tenant")
		foreign := row
		foreign.TenantID, foreign.Row = tenantB, 8
		requireNotFound(t, s.InsertImportedStockRow(ctx, foreign), "a movement of another tenant")
	},
	"CatalogLookups": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		a := insertProduct(t, s, tenantA, "A-1")
		insertProduct(t, s, tenantB, "B-1")
		gone := insertProduct(t, s, tenantA, "GONE")
		require.NoError(t, s.DeleteProduct(ctx, tenantA, gone.ID))
		ps, err := s.ImportProductsBySKU(ctx, tenantA, []string{"A-1", "B-1", "GONE", hostile[0]})
		require.NoError(t, err)
		require.Len(t, ps, 1, "live products of the tenant only")
		require.Equal(t, a.ID, ps["A-1"].ID)

		c := crm.Customer{ID: domain.NewID(), TenantID: tenantA, Name: "Ada", Email: "ada@x.test", PaymentTermsDays: 30,
			CreatedAt: at(0), UpdatedAt: at(0)}
		require.NoError(t, s.InsertCustomer(ctx, c))
		require.NoError(t, s.InsertCustomer(ctx, crm.Customer{ID: domain.NewID(), TenantID: tenantA, Name: "No mail",
			CreatedAt: at(0), UpdatedAt: at(0)}))
		cs, err := s.ImportCustomersByEmail(ctx, tenantA, []string{"ada@x.test", ""})
		require.NoError(t, err)
		require.Len(t, cs, 1)
		cs, err = s.ImportCustomersByEmail(ctx, tenantB, []string{"ada@x.test"})
		require.NoError(t, err)
		require.Empty(t, cs)
		c.Name, c.PaymentTermsDays = hostile[4], 45
		require.NoError(t, s.UpdateImportedCustomer(ctx, c))
		got, err := s.GetCustomer(ctx, tenantA, c.ID)
		require.NoError(t, err)
		require.Equal(t, []any{hostile[4], 45}, []any{got.Name, got.PaymentTermsDays})
		foreign := c
		foreign.TenantID = tenantB
		requireNotFound(t, s.UpdateImportedCustomer(ctx, foreign))

		v := procurement.Vendor{ID: domain.NewID(), TenantID: tenantA, Name: hostile[2], CreatedAt: at(0)}
		require.NoError(t, s.InsertVendor(ctx, v))
		vs, err := s.ImportVendorsByName(ctx, tenantA, []string{hostile[2], "other"})
		require.NoError(t, err)
		require.Len(t, vs, 1)
		v.Email = "sales@x.test"
		require.NoError(t, s.UpdateImportedVendor(ctx, v))
		gv, err := s.GetVendor(ctx, tenantA, v.ID)
		require.NoError(t, err)
		require.Equal(t, "sales@x.test", gv.Email)
		v.TenantID = tenantB
		requireNotFound(t, s.UpdateImportedVendor(ctx, v))

		// Many keys, past one statement's worth.
		var skus []string
		for i := range 450 {
			skus = append(skus, fmt.Sprintf("S-%d", i))
		}
		skus = append(skus, "A-1")
		ps, err = s.ImportProductsBySKU(ctx, tenantA, skus)
		require.NoError(t, err)
		require.Len(t, ps, 1)
	},
}

func importIDs(list []bulkimport.Import) []string {
	out := make([]string, len(list))
	for i, im := range list {
		out[i] = im.ID
	}
	return out
}
