package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

type importStatus struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	TotalRows    int    `json:"total_rows"`
	ImportedRows int    `json:"imported_rows"`
	FailedRows   int    `json:"failed_rows"`
	Errors       []struct {
		Row     int    `json:"row"`
		Message string `json:"message"`
	} `json:"errors"`
}

// uploadImport posts a CSV file as POST /api/v1/imports does it.
func uploadImport(t *testing.T, a *app.App, tok, typ, mapping, csv string, wantStatus int) importStatus {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	require.NoError(t, w.WriteField("type", typ))
	if mapping != "" {
		require.NoError(t, w.WriteField("mapping", mapping))
	}
	fw, err := w.CreateFormFile("file", typ+".csv")
	require.NoError(t, err)
	_, err = io.WriteString(fw, csv)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	req, err := http.NewRequest(http.MethodPost, a.URL()+"/api/v1/imports", &buf)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", w.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, wantStatus, res.StatusCode, string(raw))
	var out importStatus
	if wantStatus == http.StatusAccepted {
		require.NoError(t, json.Unmarshal(raw, &out))
	}
	return out
}

// TestImportEndToEnd: in each mode, a CSV posted to the API is imported by
// a worker through the job queue; the importing user's open notification
// center hears of it live; the rows land in that tenant only, and another
// tenant can neither see the import nor find its rows.
func TestImportEndToEnd(t *testing.T) {
	t.Parallel()
	for _, m := range []mode{embedded(), distributed()} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			cfg := m.cfg(t)
			cfg.Queues.Sleep = 20 * time.Millisecond
			cfg.DataDir = filepath.Join(t.TempDir(), "data")
			a := start(t, cfg)
			alice := token(t, a, "acme", "alice", domain.PermImportsRun)
			clerk := token(t, a, "acme", "clerk", domain.PermProductsManage)
			stranger := token(t, a, "globex", "gina", domain.PermAdmin)
			sock := dial(t, a, alice, "")
			require.Equal(t, "unread_count", sock.next().Type)

			im := uploadImport(t, a, alice, "products", `{"sku": "SKU", "name": "Name", "price": "Price"}`,
				"SKU,Name,Price\nA-1,Anvil,12.50\nB-2,Bolt,0.25\nC-3,Crate,oops\n", http.StatusAccepted)
			require.Equal(t, "pending", im.Status)
			n := sock.nextNotification()
			require.Equal(t, notification.TypeImportCompleted, n.Type)
			require.Equal(t, "warning", n.Severity)
			require.Equal(t, "Product import completed with 1 failed row", n.Title)
			require.Equal(t, "/api/v1/imports/"+im.ID, n.ActionURL)

			var got importStatus
			call(t, a, clerk, "GET", "/api/v1/imports/"+im.ID, nil, http.StatusOK, &got)
			require.Equal(t, "completed", got.Status)
			require.Equal(t, []int{3, 2, 1}, []int{got.TotalRows, got.ImportedRows, got.FailedRows})
			require.Equal(t, 3, got.Errors[0].Row)
			require.Equal(t, `price: "oops" is not a decimal number like 12.50`, got.Errors[0].Message)
			var products struct {
				Data []productJSON `json:"data"`
			}
			call(t, a, clerk, "GET", "/api/v1/products", nil, http.StatusOK, &products)
			require.Len(t, products.Data, 2)

			call(t, a, stranger, "GET", "/api/v1/imports/"+im.ID, nil, http.StatusNotFound, nil)
			call(t, a, stranger, "GET", "/api/v1/products", nil, http.StatusOK, &products)
			require.Empty(t, products.Data)
			// The completed import's upload is gone from the data directory.
			require.Eventually(t, func() bool {
				entries, _ := filepath.Glob(filepath.Join(cfg.DataDir, "imports", "*", "*.csv"))
				return len(entries) == 0
			}, 10*time.Second, 20*time.Millisecond)
			uploadImport(t, a, clerk, "products", "", "sku,name,price\nX,Y,1\n", http.StatusForbidden)
		})
	}
}

func TestDataDirDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.Equal(t, filepath.Join(dir, app.DataDirName), app.DataDir(app.Config{DatabaseURL: filepath.Join(dir, "nh.db")}))
	require.Equal(t, app.DataDirName, app.DataDir(app.Config{DatabaseURL: "postgres://x@h/db"}))
	require.Equal(t, "/srv/shared", app.DataDir(app.Config{DatabaseURL: "postgres://x@h/db", DataDir: "/srv/shared"}))
	// A data directory that cannot be made refuses to start.
	blocker := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(blocker, []byte("x"), 0o600))
	_, err := app.New(t.Context(), app.Config{DatabaseURL: filepath.Join(dir, "nh2.db"), DataDir: filepath.Join(blocker, "sub"),
		Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "data directory"), err.Error())
	_, err = app.New(t.Context(), app.Config{DatabaseURL: filepath.Join(dir, "nh3.db"), MaxImportBytes: -1, Addr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler)})
	require.ErrorContains(t, err, "NOTIFYHUB_IMPORT_MAX_BYTES")
}
