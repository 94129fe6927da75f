package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// part is one part of a multipart form; file parts have a file name.
type part struct {
	name, file, body string
}

func form(t testing.TB, parts ...part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.file != "" {
			h.Set("Content-Disposition", `form-data; name="`+p.name+`"; filename="`+p.file+`"`)
			h.Set("Content-Type", "text/csv")
		} else {
			h.Set("Content-Disposition", `form-data; name="`+p.name+`"`)
		}
		pw, err := w.CreatePart(h)
		require.NoError(t, err)
		_, err = io.WriteString(pw, p.body)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return w.FormDataContentType(), buf.Bytes()
}

// upload posts a multipart form to /api/v1/imports.
func (f *fixture) upload(t testing.TB, tok string, parts ...part) *httptest.ResponseRecorder {
	t.Helper()
	ct, body := form(t, parts...)
	return f.post(t, tok, ct, bytes.NewReader(body), int64(len(body)))
}

func (f *fixture) post(t testing.TB, tok, contentType string, body io.Reader, length int64) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/api/v1/imports", body)
	r.ContentLength = length
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	return rec
}

// stored lists the files in the fixture's data directory.
func (f *fixture) stored(t testing.TB) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(f.dataDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(f.dataDir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	}))
	return out
}

type importJSON struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Status       string            `json:"status"`
	FileName     string            `json:"file_name"`
	Mapping      map[string]string `json:"mapping"`
	TotalRows    *int64            `json:"total_rows"`
	ImportedRows *int64            `json:"imported_rows"`
	FailedRows   *int64            `json:"failed_rows"`
	Errors       []struct {
		Row     int64  `json:"row"`
		Message string `json:"message"`
	} `json:"errors"`
	ErrorsTruncated bool            `json:"errors_truncated"`
	CreatedAt       string          `json:"created_at"`
	CompletedAt     json.RawMessage `json:"completed_at"`
	FailedAt        json.RawMessage `json:"failed_at"`
}

const importCSV = "SKU,Product Name,Price\nA-1,Anvil,12.50\nB-2,Bolt,-1\nA-1,Anvil again,3\n"
const importMapping = `{"sku": "SKU", "name": "Product Name", "price": "Price"}`

func TestImportsAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		ctx := context.Background()
		alice := known(t, f, "acme", "alice", domain.PermImportsRun)
		bob := known(t, f, "acme", "bob")
		stranger := known(t, f, "globex", "gina", domain.PermAdmin)

		// The file first, the fields after: any order goes.
		rec := f.upload(t, alice, part{name: "file", file: "products.csv", body: importCSV},
			part{name: "type", body: "products"}, part{name: "mapping", body: importMapping})
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
		created := decode[importJSON](t, rec)
		require.NotEmpty(t, created.ID)
		require.Equal(t, "/api/v1/imports/"+created.ID, rec.Header().Get("Location"))
		require.Equal(t, "products", created.Type)
		require.Equal(t, "pending", created.Status)
		require.Equal(t, "products.csv", created.FileName)
		require.Equal(t, map[string]string{"sku": "SKU", "name": "Product Name", "price": "Price"}, created.Mapping)
		require.NotNil(t, created.TotalRows)
		require.NotNil(t, created.Errors, "errors is an empty list, not null")
		require.Empty(t, created.Errors)
		require.Equal(t, "null", string(created.CompletedAt))

		// The queued job runs (as a worker would).
		require.NoError(t, f.imports.Process(ctx, "acme", created.ID))
		rec = f.call(t, http.MethodGet, "/api/v1/imports/"+created.ID, bob, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var raw map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
		for _, k := range []string{"id", "type", "status", "total_rows", "imported_rows", "failed_rows", "errors",
			"created_at", "completed_at", "failed_at"} {
			require.Contains(t, raw, k, "the import shape of DESIGN.md §4.8")
		}
		require.NotContains(t, rec.Body.String(), "imports/t-", "the stored path is never shown")
		got := decode[importJSON](t, rec)
		require.Equal(t, "completed", got.Status)
		require.Equal(t, []int64{3, 1, 2}, []int64{*got.TotalRows, *got.ImportedRows, *got.FailedRows})
		require.Len(t, got.Errors, 2)
		require.EqualValues(t, 2, got.Errors[0].Row)
		require.Equal(t, "price: must not be negative (got -1)", got.Errors[0].Message)
		require.EqualValues(t, 3, got.Errors[1].Row)
		require.Equal(t, `sku: duplicate "A-1": row 1 has the same sku`, got.Errors[1].Message)
		require.NotEqual(t, "null", string(got.CompletedAt))
		require.Equal(t, "null", string(got.FailedAt))

		// The importing user heard of it.
		page := decode[notificationPage](t, f.call(t, http.MethodGet, "/api/v1/notifications", alice, ""))
		require.Len(t, page.Data, 1)
		require.Equal(t, "ImportCompletedNotification", page.Data[0]["type"])
		require.Equal(t, "warning", page.Data[0]["severity"])

		// Listed for the tenant, newest first; another tenant sees nothing.
		second := decode[importJSON](t, f.upload(t, alice, part{name: "type", body: "vendors"},
			part{name: "file", file: "v.csv", body: "name,email\nAcme,\n"}))
		list := decode[struct {
			Data []importJSON `json:"data"`
			Next *string      `json:"next"`
		}](t, f.call(t, http.MethodGet, "/api/v1/imports", bob, ""))
		require.Len(t, list.Data, 2)
		require.Equal(t, []string{second.ID, created.ID}, []string{list.Data[0].ID, list.Data[1].ID})
		require.Nil(t, list.Next)
		list.Data = nil
		list = decode[struct {
			Data []importJSON `json:"data"`
			Next *string      `json:"next"`
		}](t, f.call(t, http.MethodGet, "/api/v1/imports?limit=1&type=products", bob, ""))
		require.Len(t, list.Data, 1)
		require.Equal(t, created.ID, list.Data[0].ID)
		require.Empty(t, decode[struct {
			Data []importJSON `json:"data"`
		}](t, f.call(t, http.MethodGet, "/api/v1/imports", stranger, "")).Data)
		requireError(t, f.call(t, http.MethodGet, "/api/v1/imports?status=lost", bob, ""), http.StatusBadRequest, "invalid_input")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/imports?before=nope", bob, ""), http.StatusBadRequest, "invalid_input")

		// Tenant isolation: another tenant's id is 404, never the data.
		requireError(t, f.call(t, http.MethodGet, "/api/v1/imports/"+created.ID, stranger, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/imports/"+domain.NewID(), alice, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/imports/nope", alice, ""), http.StatusBadRequest, "invalid_input")
		for _, s := range f.stored(t) {
			require.Regexp(t, `^imports/t-[0-9a-f]{32}/`+second.ID+`-[A-Z2-7]{26}\.csv$`, s, "only the pending upload is kept")
		}
	})
}

func TestImportsAPIRefusals(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		alice := known(t, f, "acme", "alice", domain.PermImportsRun)
		bob := known(t, f, "acme", "bob", domain.PermProductsManage)
		file := part{name: "file", file: "p.csv", body: importCSV}
		typ := part{name: "type", body: "products"}
		mapping := part{name: "mapping", body: importMapping}

		requireError(t, f.upload(t, bob, file, typ, mapping), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/imports", alice, `{"type": "products"}`),
			http.StatusUnsupportedMediaType, "unsupported_media_type")

		fields := func(rec *httptest.ResponseRecorder) map[string]string {
			t.Helper()
			return requireError(t, rec, http.StatusBadRequest, "invalid_input").Fields
		}
		require.Equal(t, map[string]string{"file": "is required: a CSV file with a header row"}, fields(f.upload(t, alice, typ, mapping)))
		require.Equal(t, map[string]string{"type": "must be products, customers, vendors or inventory"},
			fields(f.upload(t, alice, part{name: "type", body: "orders"}, file)), "refused before the file is read")
		require.Equal(t, map[string]string{"colour": "is not a known part (file, type, mapping)"},
			fields(f.upload(t, alice, part{name: "colour", body: "red"}, file, typ)))
		require.Equal(t, map[string]string{"file": "give one file"}, fields(f.upload(t, alice, file, file, typ)))
		require.Equal(t, "is not a field of a products import (fields: sku, name, price, reorder_level)",
			fields(f.upload(t, alice, file, typ, part{name: "mapping", body: `{"sku": "SKU", "name": "Product Name", "price": "Price", "size": "Size"}`}))["mapping.size"])
		require.Equal(t, `column "Cost" is not in the file's header (its columns are "SKU", "Product Name", "Price")`,
			fields(f.upload(t, alice, file, typ, part{name: "mapping", body: `{"sku": "SKU", "name": "Product Name", "price": "Cost"}`}))["mapping.price"])
		require.Contains(t, fields(f.upload(t, alice, file, typ, part{name: "mapping", body: `{"sku": `})), "mapping")
		require.Equal(t, map[string]string{"file": "is empty: its first line must be a header row naming the columns"},
			fields(f.upload(t, alice, part{name: "file", file: "e.csv", body: ""}, typ)))
		require.Equal(t, map[string]string{"file": "has a header but no data rows"},
			fields(f.upload(t, alice, part{name: "file", file: "e.csv", body: "sku,name,price\n"}, typ)))

		// A truncated form.
		ct, body := form(t, typ, mapping, file)
		cut := body[:len(body)-40]
		require.Contains(t, fields(f.post(t, alice, ct, bytes.NewReader(cut), int64(len(cut)))), "body")

		// Too large: the file over the import limit (1 MiB here), streamed
		// and refused; a declared length over the route's cap, at once.
		big := "sku,name,price\n" + strings.Repeat("A,B,1\n", (1<<20)/6+10)
		requireError(t, f.upload(t, alice, typ, part{name: "file", file: "big.csv", body: big}), http.StatusRequestEntityTooLarge, "too_large")
		requireError(t, f.post(t, alice, ct, strings.NewReader("x"), 3<<20), http.StatusRequestEntityTooLarge, "too_large")
		require.Empty(t, f.stored(t), "nothing refused is kept")

		// The global 1 MiB body cap is lifted for this route only: a file
		// of nearly 1 MiB in a form of more than 1 MiB is accepted.
		var near strings.Builder
		near.WriteString("sku,name,price\n")
		for i := 0; near.Len() < (1<<20)-64; i++ {
			near.WriteString("SKU-" + strings.Repeat("x", 8) + ",Name,1\n")
		}
		ct, body = form(t, typ, part{name: "file", file: "near.csv", body: near.String()},
			part{name: "mapping", body: strings.Repeat(" ", 300) + `{"sku": "sku", "name": "name", "price": "price"}`})
		require.Greater(t, len(body), 1<<20)
		rec := f.post(t, alice, ct, bytes.NewReader(body), int64(len(body)))
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
		requireError(t, f.do(t, req{method: http.MethodPost, path: "/api/v1/products", token: alice,
			body: `{"sku": "` + strings.Repeat("x", 1<<20) + `"}`}), http.StatusRequestEntityTooLarge, "too_large")
	})
}

// TestImportFileNamesAreContained: whatever the uploaded file is called,
// it is stored under the tenant's folder with a name of ours.
func TestImportFileNamesAreContained(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		alice := known(t, f, "acme", "alice", domain.PermImportsRun)
		for _, name := range []string{"../../../../etc/passwd", `..\..\win.ini`, "tab\tname.csv", "<script>x</script>.csv", "/"} {
			rec := f.upload(t, alice, part{name: "type", body: "vendors"},
				part{name: "file", file: name, body: "name\n" + name + "\n"})
			require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
			got := decode[importJSON](t, rec)
			require.NotContains(t, got.FileName, "/")
			require.NotContains(t, got.FileName, "\t")
		}
		// A name the MIME layer refuses is a bad form.
		rec := f.upload(t, alice, part{name: "type", body: "vendors"}, part{name: "file", file: "nul\x00.csv", body: "name\nx\n"})
		requireError(t, rec, http.StatusBadRequest, "invalid_input")
		for _, s := range f.stored(t) {
			require.Regexp(t, `^imports/t-[0-9a-f]{32}/[0-9a-f-]{36}-[A-Z2-7]{26}\.csv$`, s)
		}
		require.Len(t, f.stored(t), 5)
	})
}
