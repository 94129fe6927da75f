package bulkimport_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
)

const productMapping = `{"sku": "SKU", "name": "Product Name", "price": "Price", "reorder_level": "Reorder"}`

func TestImportProducts(t *testing.T) {
	t.Parallel()
	each(t, options{batch: 2}, func(t *testing.T, f fixture) {
		ctx := context.Background()
		// An existing product is upserted by SKU: updated, not duplicated.
		old, err := f.products.Create(ctx, domain.Actor{TenantID: "acme", UserID: "bob", Perms: []string{domain.PermProductsManage}},
			product.CreateInput{SKU: "B-2", Name: "Old name", Price: dec("1.00")})
		require.NoError(t, err)

		im, err := f.start(t, alice, "products", productMapping,
			"\ufeffSKU,Product Name,Price,Reorder,Ignored\n"+
				"A-1,Anvil,12.50,5,x\n"+
				"B-2,\"Bolt, large\",0.3333,,y\n"+
				"C-3, Crate ,100,0,z\n")
		require.NoError(t, err)
		require.Equal(t, bulkimport.StatusPending, im.Status)
		require.Equal(t, []bulkimport.Payload{{ImportID: im.ID}}, f.jobs.jobs, "the import is queued as a job")
		require.Len(t, f.files(t), 1, "the upload waits in the data directory")

		got := f.process(t, "acme", im.ID)
		require.Equal(t, bulkimport.StatusCompleted, got.Status)
		require.Equal(t, []int64{3, 3, 0, 0}, []int64{got.TotalRows, got.Imported, got.Failed, got.Skipped})
		require.Empty(t, got.Errors)
		require.NotNil(t, got.CompletedAt)
		require.Nil(t, got.FailedAt)
		require.Empty(t, f.files(t), "a completed import's file is removed")

		ps := f.bySKU(t, "acme")
		require.Len(t, ps, 3)
		require.Equal(t, "Anvil", ps["A-1"].Name)
		require.Equal(t, "12.5", ps["A-1"].Price.String())
		require.EqualValues(t, 5, ps["A-1"].ReorderLevel)
		require.Equal(t, old.ID, ps["B-2"].ID, "upserted by SKU")
		require.Equal(t, "Bolt, large", ps["B-2"].Name)
		require.Equal(t, "0.3333", ps["B-2"].Price.String())
		require.Equal(t, "Crate", ps["C-3"].Name, "cells are trimmed")
		require.Equal(t, 3, f.countEvents(t, "acme", "ProductCreated"), "one per new product, including the existing one's creation")
		require.Equal(t, 1, f.countEvents(t, "acme", "ProductUpdated"))
		evs, err := f.store.ListEvents(ctx, "acme", "ProductUpdated", "", 10)
		require.NoError(t, err)
		require.Equal(t, domain.UserID("alice"), evs[0].ActorID, "events name the importing user")

		// The importing user is told, once.
		inbox := f.inbox(t, "acme", "alice")
		require.Len(t, inbox, 1)
		n := inbox[0]
		require.Equal(t, notification.TypeImportCompleted, n.Type)
		require.Equal(t, domain.SeveritySuccess, n.Severity)
		require.Equal(t, "Product import completed", n.Title)
		require.Equal(t, "upload.csv: 3 rows imported.", n.Body)
		require.Equal(t, "/api/v1/imports/"+im.ID, n.ActionURL)
		var data map[string]any
		require.NoError(t, json.Unmarshal(n.Data, &data))
		require.Equal(t, im.ID, data["import_id"])
		require.EqualValues(t, 3, data["imported_rows"])

		// Running the job again changes nothing.
		again := f.process(t, "acme", im.ID)
		require.Equal(t, got.Imported, again.Imported)
		require.Len(t, f.inbox(t, "acme", "alice"), 1)
	})
}

func TestImportCustomersVendorsAndStock(t *testing.T) {
	t.Parallel()
	each(t, options{}, func(t *testing.T, f fixture) {
		ctx := context.Background()
		customers := f.run(t, alice, "customers", `{"email": "E-mail", "name": "Name", "payment_terms_days": "Terms"}`,
			"Name,E-mail,Terms\nAda Lovelace,ADA@Example.com,14\nBob,bob@example.com,\n")
		require.Equal(t, bulkimport.StatusCompleted, customers.Status, rowErrors(customers))
		require.EqualValues(t, 2, customers.Imported)
		list, err := f.store.ListCustomers(ctx, "acme", crm.ListParams{})
		require.NoError(t, err)
		require.Len(t, list, 2)
		byEmail := map[string]crm.Customer{}
		for _, c := range list {
			byEmail[c.Email] = c
		}
		require.Equal(t, "Ada Lovelace", byEmail["ada@example.com"].Name, "emails are matched lower-cased")
		require.Equal(t, 14, byEmail["ada@example.com"].PaymentTermsDays)
		require.Equal(t, 30, byEmail["bob@example.com"].PaymentTermsDays, "the default terms")
		require.Equal(t, 2, f.countEvents(t, "acme", "CustomerCreated"))

		// A second file updates by email.
		again := f.run(t, alice, "customers", "", "email,name,payment_terms_days\nada@example.com,Ada King,45\n")
		require.EqualValues(t, 1, again.Imported, rowErrors(again))
		list, err = f.store.ListCustomers(ctx, "acme", crm.ListParams{})
		require.NoError(t, err)
		require.Len(t, list, 2)
		c, err := f.store.GetCustomer(ctx, "acme", byEmail["ada@example.com"].ID)
		require.NoError(t, err)
		require.Equal(t, "Ada King", c.Name)
		require.Equal(t, 45, c.PaymentTermsDays)

		vendors := f.run(t, alice, "vendors", `{"name": "Vendor", "email": "Mail"}`,
			"Vendor,Mail\nAcme Supplies,orders@acme.test\nBolt Co,\n")
		require.EqualValues(t, 2, vendors.Imported, rowErrors(vendors))
		again = f.run(t, alice, "vendors", `{"name": "Vendor", "email": "Mail"}`, "Vendor,Mail\nBolt Co,sales@bolt.test\nAcme Supplies,\n")
		require.EqualValues(t, 2, again.Imported, rowErrors(again))
		vs, err := f.store.ListVendors(ctx, "acme", procurement.VendorFilter{})
		require.NoError(t, err)
		require.Len(t, vs, 2)
		emails := map[string]string{}
		for _, v := range vs {
			emails[v.Name] = v.Email
		}
		require.Equal(t, map[string]string{"Acme Supplies": "orders@acme.test", "Bolt Co": "sales@bolt.test"}, emails,
			"an empty email keeps the one known")

		// Stock: movements in for existing SKUs, at named locations.
		f.run(t, alice, "products", "", "sku,name,price,reorder_level\nA-1,Anvil,10,20\nB-2,Bolt,1,0\n")
		wh, err := f.stock.CreateLocation(ctx, domain.Actor{TenantID: "acme", Perms: []string{domain.PermAdmin}},
			inventory.LocationInput{Code: "WH-2", Name: "Second warehouse"})
		require.NoError(t, err)
		stock := f.run(t, alice, "inventory",
			`{"sku": "SKU", "quantity": "Qty", "location": "Where", "unit_cost": "Cost", "batch_number": "Lot", "expiry_date": "Expires", "reason": "Why"}`,
			"SKU,Qty,Where,Cost,Lot,Expires,Why\n"+
				"A-1,5,,2.5,,,\n"+
				"A-1,7,WH-2,,L1,2030-01-31,opening balance\n"+
				"B-2,3,WH-2,,,,\n")
		require.Equal(t, bulkimport.StatusCompleted, stock.Status)
		require.Equal(t, []int64{3, 3, 0}, []int64{stock.TotalRows, stock.Imported, stock.Failed}, rowErrors(stock))
		ps := f.bySKU(t, "acme")
		require.EqualValues(t, 12, ps["A-1"].OnHand)
		require.EqualValues(t, 3, ps["B-2"].OnHand)
		ms := f.movements(t, "acme")
		require.Len(t, ms, 3)
		reasons := map[string]bool{}
		for _, m := range ms {
			reasons[m.Reason] = true
			require.Equal(t, domain.UserID("alice"), m.ActorID)
		}
		require.True(t, reasons["opening balance"])
		require.True(t, reasons["import "+stock.ID+", row 1"], "a default reason names the import and row")
		batches, err := f.stock.ListBatches(ctx, "acme", ps["A-1"].ID)
		require.NoError(t, err)
		require.Len(t, batches, 1)
		require.Equal(t, wh.ID, batches[0].LocationID)
		require.Equal(t, "L1", batches[0].BatchNumber)
		require.Equal(t, 3, f.countEvents(t, "acme", "StockMovementRecorded"))
		require.Len(t, f.inbox(t, "acme", "alice"), 6, "one notification per import")
	})
}

// TestReimportDuplicatesNothing: importing the same file twice (or a
// changed one for the same keys) creates no second product, customer or
// vendor, and moves no stock twice.
func TestReimportDuplicatesNothing(t *testing.T) {
	t.Parallel()
	each(t, options{batch: 3}, func(t *testing.T, f fixture) {
		ctx := context.Background()
		files := map[string]string{
			"products":  "sku,name,price\nP1,One,1\nP2,Two,2\nP3,Three,3\nP4,Four,4\n",
			"customers": "email,name\na@x.test,A\nb@x.test,B\n",
			"vendors":   "name,email\nV1,v1@x.test\nV2,\n",
			"inventory": "sku,quantity\nP1,10\nP2,20\nP1,1\nP3,3\nP4,4\n",
		}
		for _, typ := range []string{"products", "customers", "vendors", "inventory"} {
			first := f.run(t, alice, typ, "", files[typ])
			require.Equal(t, bulkimport.StatusCompleted, first.Status, typ)
			require.Zero(t, first.Failed, "%s: %v", typ, rowErrors(first))
		}
		snapshot := func() []int {
			cs, err := f.store.ListCustomers(ctx, "acme", crm.ListParams{Limit: 200})
			require.NoError(t, err)
			vs, err := f.store.ListVendors(ctx, "acme", procurement.VendorFilter{Limit: 200})
			require.NoError(t, err)
			return []int{len(f.allProducts(t, "acme")), len(cs), len(vs), len(f.movements(t, "acme")),
				f.countEvents(t, "acme", "ProductCreated"), f.countEvents(t, "acme", "CustomerCreated"),
				f.countEvents(t, "acme", "StockMovementRecorded")}
		}
		before := snapshot()
		require.Equal(t, []int{4, 2, 2, 5, 4, 2, 5}, before)
		onHand := f.bySKU(t, "acme")["P1"].OnHand
		require.EqualValues(t, 11, onHand)

		for _, typ := range []string{"products", "customers", "vendors", "inventory"} {
			again := f.run(t, alice, typ, "", files[typ])
			require.Equal(t, bulkimport.StatusCompleted, again.Status, typ)
			require.Zero(t, again.Failed, "%s: %v", typ, rowErrors(again))
			if typ == "inventory" {
				require.EqualValues(t, 5, again.Skipped, "every row was applied by the first import")
				require.EqualValues(t, 5, again.Imported)
			}
		}
		require.Equal(t, before, snapshot(), "the second imports changed nothing")
		require.Zero(t, f.countEvents(t, "acme", "ProductUpdated"), "nothing changed, so nothing is announced")
		require.Equal(t, onHand, f.bySKU(t, "acme")["P1"].OnHand)

		// A different file moves stock again: the key is the file's content.
		other := f.run(t, alice, "inventory", "", "sku,quantity,reason\nP1,10,second delivery\n")
		require.Zero(t, other.Skipped)
		require.EqualValues(t, 21, f.bySKU(t, "acme")["P1"].OnHand)
	})
}

func TestImportedPricesAreExact(t *testing.T) {
	t.Parallel()
	each(t, options{}, func(t *testing.T, f fixture) {
		im := f.run(t, alice, "products", "", "sku,name,price\nX,X,123456789012.3456\nY,Y,0.0001\nZ,Z,+7.\n")
		require.EqualValues(t, 3, im.Imported, rowErrors(im))
		ps := f.bySKU(t, "acme")
		require.True(t, decimal.RequireFromString("123456789012.3456").Equal(ps["X"].Price))
		require.True(t, decimal.RequireFromString("0.0001").Equal(ps["Y"].Price))
		require.True(t, decimal.RequireFromString("7").Equal(ps["Z"].Price))
	})
}

func dec(s string) *decimal.Decimal { d := decimal.RequireFromString(s); return &d }
