package bulkimport_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
)

// TestRowsAreValidatedOneByOne: each bad row fails alone with its row
// number and reason; the good rows around it are imported.
func TestRowsAreValidatedOneByOne(t *testing.T) {
	t.Parallel()
	each(t, options{batch: 4}, func(t *testing.T, f fixture) {
		body := "sku,name,price,reorder_level\n" +
			"OK-1,Fine,1.00,\n" + // 1
			",No SKU,1.00,\n" + // 2
			"P-3,Bad price,12;50,\n" + // 3
			"P-4,Negative,-1,\n" + // 4
			"P-5,Too precise,1.23456,\n" + // 5
			"OK-1,Again,2.00,\n" + // 6: duplicate of row 1
			"P-7,Wide,1,2,3\n" + // 7: a column too many
			"P-8,\"broken \"quote\",1,\n" + // 8: malformed CSV
			"P-9,Frac reorder,1,2.5\n" + // 9
			"P-10,Huge,1e9,\n" + // 10: no exponents
			"P-11,\x01bell,1,\n" + // 11
			"P-12,\xff\xfe,1,\n" + // 12: not UTF-8
			"P-13,Reorder,1,-4\n" + // 13
			"P-14,,,\n" + // 14: name and price missing
			strings.Repeat("S", 65) + ",Long SKU,1,\n" + // 15
			"OK-16,Last,99999.9999,1000000000\n" // 16
		im := f.run(t, alice, "products", "", body)
		require.Equal(t, bulkimport.StatusCompleted, im.Status)
		require.Equal(t, []int64{16, 2, 14}, []int64{im.TotalRows, im.Imported, im.Failed})
		require.Equal(t, []string{
			`2: sku: is required (the column "sku" is empty)`,
			`3: price: "12;50" is not a decimal number like 12.50`,
			`4: price: must not be negative (got -1)`,
			`5: price: must have at most 4 decimal places (got 1.23456)`,
			`6: sku: duplicate "OK-1": row 1 has the same sku`,
			`7: the row has 5 columns; the header has 4`,
			`8: the row is not valid CSV: extraneous or missing " in quoted-field`,
			`9: reorder_level: must be a whole number (got 2.5)`,
			`10: price: "1e9" is not a decimal number like 12.50`,
			`11: name: must not contain control characters`,
			`12: name: is not valid UTF-8 text`,
			`13: reorder_level: must not be negative (got -4)`,
			`14: name: is required (the column "name" is empty); price: is required (the column "price" is empty)`,
			`15: sku: must be at most 64 characters`,
		}, rowErrors(im))
		ps := f.bySKU(t, "acme")
		require.Len(t, ps, 2)
		require.Equal(t, "Fine", ps["OK-1"].Name, "the first of two rows with one SKU wins")
		require.EqualValues(t, 1_000_000_000, ps["OK-16"].ReorderLevel)

		n := f.inbox(t, "acme", "alice")
		require.Len(t, n, 1)
		require.Equal(t, domain.SeverityWarning, n[0].Severity, "some rows failed")
		require.Equal(t, "Product import completed with 14 failed rows", n[0].Title)
	})
}

func TestStockRowsValidated(t *testing.T) {
	t.Parallel()
	each(t, options{}, func(t *testing.T, f fixture) {
		f.run(t, alice, "products", "", "sku,name,price\nA,A,1\n")
		im := f.run(t, alice, "inventory", "", "sku,quantity,location,expiry_date,unit_cost\n"+
			"A,5,,,\n"+
			"A,-3,,,\n"+
			"A,0,,,\n"+
			"GHOST,1,,,\n"+
			"A,1,NOWHERE,,\n"+
			"A,1,,31/12/2030,\n"+
			"A,1,,,-1\n"+
			"A,,,,\n"+
			"A,1000000001,,,\n"+
			"A,2,,2031-02-28,0.5\n")
		require.Equal(t, []int64{10, 2, 8}, []int64{im.TotalRows, im.Imported, im.Failed})
		require.Equal(t, []string{
			"2: quantity: must not be negative (got -3)",
			"3: quantity: must be between 1 and 1000000000 (got 0)",
			`4: sku: unknown SKU "GHOST" (import or create the product first)`,
			`5: location: unknown location code "NOWHERE"`,
			`6: expiry_date: "31/12/2030" is not a date like 2026-12-31`,
			"7: unit_cost: must not be negative (got -1)",
			`8: quantity: is required (the column "quantity" is empty)`,
			"9: quantity: must be between 1 and 1000000000 (got 1000000001)",
		}, rowErrors(im))
		require.EqualValues(t, 7, f.bySKU(t, "acme")["A"].OnHand)
	})
}

// TestStartRefusesBeforeAnyWork: a wrong type, mapping or file is a 400
// at once; nothing is queued and the upload is removed.
func TestStartRefusesBeforeAnyWork(t *testing.T) {
	t.Parallel()
	each(t, options{max: 4 << 10}, func(t *testing.T, f fixture) {
		const csv = "SKU,Product Name,Price\nA,Anvil,1\n"
		cases := []struct {
			name, typ, mapping, body string
			field, message           string
		}{
			{"unknown type", "orders", "", csv, "type", "must be products, customers, vendors or inventory"},
			{"no type", "", "", csv, "type", "must be products, customers, vendors or inventory"},
			{"unknown field", "products", `{"sku": "SKU", "name": "Product Name", "price": "Price", "colour": "Price"}`, csv,
				"mapping.colour", "is not a field of a products import (fields: sku, name, price, reorder_level)"},
			{"missing header", "products", `{"sku": "SKU", "name": "Title", "price": "Price"}`, csv,
				"mapping.name", `column "Title" is not in the file's header (its columns are "SKU", "Product Name", "Price")`},
			{"required field unmapped", "products", `{"sku": "SKU", "name": "Product Name"}`, csv,
				"mapping", `must map price (required for a products import; header: its columns are "SKU", "Product Name", "Price")`},
			{"default mapping misses", "products", "", csv,
				"mapping", `must map name (required for a products import; header: its columns are "SKU", "Product Name", "Price")`},
			{"empty column name", "products", `{"sku": " ", "name": "Product Name", "price": "Price"}`, csv,
				"mapping.sku", "must name a column of the CSV header"},
			{"ambiguous column", "products", `{"sku": "SKU", "name": "Name", "price": "Price"}`, "SKU,Name,Price,Name\nA,B,1,C\n",
				"mapping.name", `column "Name" appears more than once in the file's header`},
			{"mapping not an object", "products", `["sku"]`, csv, "mapping",
				`must be a JSON object of our field names to CSV header names, e.g. {"sku": "SKU", "name": "Product Name"}`},
			{"mapping not strings", "products", `{"sku": 1}`, csv, "mapping",
				`must be a JSON object of our field names to CSV header names, e.g. {"sku": "SKU", "name": "Product Name"}`},
			{"mapping trailing data", "products", `{"sku": "SKU"} {}`, csv, "mapping",
				`must be a JSON object of our field names to CSV header names, e.g. {"sku": "SKU", "name": "Product Name"}`},
			{"empty file", "products", "", "", "file", "is empty: its first line must be a header row naming the columns"},
			{"blank lines only", "products", "", "\n\n\r\n", "file", "is empty: its first line must be a header row naming the columns"},
			{"header only", "products", "", "sku,name,price\n", "file", "has a header but no data rows"},
			{"broken header", "products", "", "sku,\"name,price\n1,2,3\n", "file",
				`has a header row that is not valid CSV: extraneous or missing " in quoted-field`},
			{"huge header", "products", "", strings.Repeat("x", 70<<10) + "\n", "file",
				"has a header row longer than 65536 bytes (an unbalanced quote?)"},
		}
		for _, c := range cases {
			if len(c.body) > 4<<10 {
				continue // over this fixture's size limit; see below
			}
			_, err := f.start(t, alice, c.typ, c.mapping, c.body)
			var v *domain.ValidationError
			require.ErrorAs(t, err, &v, c.name)
			require.Equal(t, map[string]string{c.field: c.message}, v.Fields, c.name)
		}
		require.Zero(t, f.jobs.count(), "nothing was queued")
		require.Empty(t, f.files(t), "refused uploads are removed")

		// Over the size limit: refused while streaming, nothing kept.
		_, err := f.start(t, alice, "products", "", "sku,name,price\n"+strings.Repeat("A,B,1\n", 1000))
		require.ErrorIs(t, err, domain.ErrTooLarge)
		require.Empty(t, f.files(t))

		// Without imports.run, nothing is read or kept.
		_, err = f.start(t, domain.Actor{TenantID: "acme", UserID: "bob", Perms: []string{domain.PermProductsManage}}, "products", "", csv)
		require.ErrorIs(t, err, domain.ErrForbidden)
		require.Empty(t, f.files(t))
	})
}

func TestHugeHeaderRefused(t *testing.T) {
	t.Parallel()
	each(t, options{}, func(t *testing.T, f fixture) {
		_, err := f.start(t, alice, "products", "", strings.Repeat("x", 70<<10)+"\nA\n")
		var v *domain.ValidationError
		require.ErrorAs(t, err, &v)
		require.Equal(t, "has a header row longer than 65536 bytes (an unbalanced quote?)", v.Fields["file"])
		require.Empty(t, f.files(t))
	})
}

// TestUnbalancedQuoteStopsTheImport: a quote that never closes makes the
// rest of a large file one field; the import fails on that row before
// importing anything, instead of reading the file into memory.
func TestUnbalancedQuoteStopsTheImport(t *testing.T) {
	t.Parallel()
	each(t, options{}, func(t *testing.T, f fixture) {
		var b strings.Builder
		b.WriteString("sku,name,price\nA,Fine,1\nB,\"never closed,1\n")
		for b.Len() < 2*bulkimport.MaxRecordBytes {
			b.WriteString("C,more text without any quote,1\n")
		}
		im := f.run(t, alice, "products", "", b.String())
		require.Equal(t, bulkimport.StatusFailed, im.Status)
		require.NotNil(t, im.FailedAt)
		require.Nil(t, im.CompletedAt)
		require.Zero(t, im.Imported, "the file is checked before anything is imported")
		require.Equal(t, []string{"2: the row is longer than 1048576 bytes (an unbalanced quote makes the rest of the file one field)"}, rowErrors(im))
		require.Contains(t, im.LastError, "row 2: the row is longer than 1048576 bytes")
		require.Empty(t, f.allProducts(t, "acme"))
		n := f.inbox(t, "acme", "alice")
		require.Len(t, n, 1)
		require.Equal(t, domain.SeverityCritical, n[0].Severity)
		require.Equal(t, "Product import failed", n[0].Title)

		// Running the job again (a retry) fails the same way, once.
		require.NoError(t, f.svc.Process(context.Background(), "acme", im.ID))
		again, err := f.svc.Get(context.Background(), "acme", im.ID)
		require.NoError(t, err)
		require.Equal(t, bulkimport.StatusFailed, again.Status)
		require.Len(t, again.Errors, 1)
	})
}
