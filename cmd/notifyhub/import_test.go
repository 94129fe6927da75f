package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/workers/relay"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// serveEmbedded runs a notifyhub process (every role) on a SQLite file,
// as `notifyhub serve` would, until the test ends.
func serveEmbedded(t *testing.T, db string) *app.App {
	t.Helper()
	a, err := app.New(context.Background(), app.Config{
		DatabaseURL: db, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler),
		Relay:  relay.Config{PollInterval: 20 * time.Millisecond},
		Queues: runner.QueueConfig{Sleep: 20 * time.Millisecond},
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, a.Close())
	})
	return a
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

// TestImportCommand: `notifyhub import` queues the file through the
// database alone, shows the progress while a worker of another process
// imports it, and exits 0 when it completed, 1 when it failed.
func TestImportCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "nh.db")
	a := serveEmbedded(t, db)
	ctx := context.Background()
	require.NoError(t, a.Store().UpsertUser(ctx, domain.User{TenantID: "acme", ID: "alice"}))

	file := writeFile(t, "products.csv", "SKU,Product Name,Price\nA-1,Anvil,12.50\nB-2,Bolt,-1\nC-3,Crate,3\n")
	mapping := writeFile(t, "mapping.json", `{"sku": "SKU", "name": "Product Name", "price": "Price"}`)
	out, errOut, err := runCLI(t, "import", file, "--type", "products", "--tenant", "acme", "--user", "alice",
		"--mapping-file", mapping, "--database-url", db, "--poll", "20ms", "--log-level", "error")
	require.NoError(t, err, errOut)
	id := regexp.MustCompile(`^import ([0-9a-f-]{36}) queued\n`).FindStringSubmatch(out)
	require.NotNil(t, id, out)
	require.Contains(t, out, "import "+id[1]+" completed: 3 rows, 2 imported, 1 failed\n")
	require.Contains(t, errOut, "row 2: price: must not be negative (got -1)\n")
	// The rate shows once the import has taken a second (a loaded machine).
	require.Regexp(t, `\[#{30}\] 100% 3/3 rows(, [0-9,]+ rows/s)?, 1 failed, completed`, errOut)

	ps, err := a.Store().ListProducts(ctx, "acme", product.ListParams{})
	require.NoError(t, err)
	require.Len(t, ps, 2)
	inbox, err := a.Store().ListNotifications(ctx, "acme", "alice", notification.ListParams{})
	require.NoError(t, err)
	require.Len(t, inbox, 1, "--user is told")
	require.Equal(t, notification.TypeImportCompleted, inbox[0].Type)
	evs, err := a.Store().ListEvents(ctx, "acme", "ProductCreated", "", 10)
	require.NoError(t, err)
	require.Equal(t, domain.UserID("alice"), evs[0].ActorID)

	// The same file again: nothing new.
	out, _, err = runCLI(t, "import", "--type", "products", "--tenant", "acme", "--mapping",
		`{"sku": "SKU", "name": "Product Name", "price": "Price"}`, "--database-url", db, "--poll", "20ms", file)
	require.NoError(t, err)
	require.Contains(t, out, "completed: 3 rows, 2 imported, 1 failed")
	ps, err = a.Store().ListProducts(ctx, "acme", product.ListParams{})
	require.NoError(t, err)
	require.Len(t, ps, 2)

	// A file that fails: exit status 1 with the reason.
	var big strings.Builder
	big.WriteString("sku,name,price\nA,\"open quote,1\n")
	for big.Len() < 2*bulkimport.MaxRecordBytes {
		big.WriteString("B,text,1\n")
	}
	_, errOut, err = runCLI(t, "import", writeFile(t, "broken.csv", big.String()), "--type", "products",
		"--tenant", "acme", "--database-url", db, "--poll", "20ms")
	require.ErrorContains(t, err, "failed: row 1: the row is longer than 1048576 bytes")
	require.Contains(t, errOut, "failed")

	// --no-wait returns at once with the id.
	out, _, err = runCLI(t, "import", file, "--no-wait", "--type", "products", "--tenant", "globex",
		"--mapping-file", mapping, "--database-url", db)
	require.NoError(t, err)
	require.Regexp(t, `^import [0-9a-f-]{36} queued\n$`, out)
}

func TestImportCommandRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "nh.db")
	file := writeFile(t, "p.csv", "SKU,Name,Price\nA,B,1\n")
	cases := map[string]struct {
		args []string
		want string
	}{
		"no file":         {[]string{"--type", "products", "--tenant", "acme"}, "name the CSV file"},
		"missing file":    {[]string{filepath.Join(dir, "nope.csv"), "--type", "products", "--tenant", "acme"}, "no such file"},
		"no tenant":       {[]string{file, "--type", "products"}, "--tenant is required"},
		"bad user":        {[]string{file, "--type", "products", "--tenant", "acme", "--user", "a b"}, "--user must be a user id"},
		"bad type":        {[]string{file, "--type", "orders", "--tenant", "acme"}, "--type must be"},
		"two mappings":    {[]string{file, "--type", "products", "--tenant", "acme", "--mapping", "{}", "--mapping-file", file}, "not both"},
		"wrong mapping":   {[]string{file, "--type", "products", "--tenant", "acme", "--mapping", `{"sku": "SKU", "name": "Name", "price": "Cost"}`}, `the import was refused: mapping.price: column "Cost" is not in the file's header`},
		"broken mapping":  {[]string{file, "--type", "products", "--tenant", "acme", "--mapping", `{"sku"`}, "the import was refused: mapping: must be a JSON object"},
		"extra argument":  {[]string{file, "--type", "products", "--tenant", "acme", "more"}, "unexpected arguments"},
		"too large":       {[]string{file, "--type", "products", "--tenant", "acme", "--import-max-bytes", "10"}, "larger than the limit of 10 bytes"},
		"bad poll":        {[]string{file, "--type", "products", "--tenant", "acme", "--poll", "0s"}, "--poll must be positive"},
		"zero max bytes":  {[]string{file, "--type", "products", "--tenant", "acme", "--import-max-bytes", "0"}, "--import-max-bytes must be positive"},
		"no mapping file": {[]string{file, "--type", "products", "--tenant", "acme", "--mapping-file", filepath.Join(dir, "x.json")}, "--mapping-file"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := runCLI(t, append([]string{"import", "--database-url", db, "--log-level", "error"}, c.args...)...)
			require.ErrorContains(t, err, c.want)
		})
	}
	// Nothing refused was kept or queued.
	entries, _ := filepath.Glob(filepath.Join(dir, app.DataDirName, "imports", "*", "*"))
	require.Empty(t, entries)
}

func TestProgressLines(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	b := newProgressBar(&buf)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.now = func() time.Time { return now }
	im := bulkimport.Import{Status: bulkimport.StatusPending}
	b.show(im, 2*time.Second)
	b.show(im, 12*time.Second) // same status, too soon: no line
	im.Status = bulkimport.StatusProcessing
	b.show(im, 13*time.Second)
	im.Counted, im.TotalRows = true, 50_000
	b.show(im, 14*time.Second)
	now = now.Add(10 * time.Second)
	im.ResumeRow, im.Failed = 25_000, 3
	b.show(im, 24*time.Second)
	im.Status, im.ResumeRow = bulkimport.StatusCompleted, 50_000
	now = now.Add(10 * time.Second)
	b.show(im, 34*time.Second)
	require.Equal(t, strings.Join([]string{
		"queued, waiting for a worker (2s)",
		"counting the rows of the file...",
		"[..............................]   0% 0/50,000 rows",
		"[###############...............]  50% 25,000/50,000 rows, 2,500 rows/s, 10s left, 3 failed",
		"[##############################] 100% 50,000/50,000 rows, 2,500 rows/s, 3 failed, completed",
	}, "\n")+"\n", buf.String())
}

// TestImportMaxBytesFromTheEnvironment: a malformed
// NOTIFYHUB_IMPORT_MAX_BYTES stops serve and import with its name; the
// flag given overrides it. (Not parallel: it sets the environment.)
func TestImportMaxBytesFromTheEnvironment(t *testing.T) {
	db := filepath.Join(t.TempDir(), "nh.db")
	t.Setenv("NOTIFYHUB_IMPORT_MAX_BYTES", "1GB")
	_, _, err := runCLI(t, "serve", "--database-url", db)
	require.ErrorContains(t, err, `NOTIFYHUB_IMPORT_MAX_BYTES: "1GB" is not a positive number of bytes`)
	_, _, err = runCLI(t, "import", "x.csv", "--type", "products", "--tenant", "acme", "--database-url", db)
	require.ErrorContains(t, err, "NOTIFYHUB_IMPORT_MAX_BYTES")
	_, _, err = runCLI(t, "import", "x.csv", "--type", "products", "--tenant", "acme", "--database-url", db,
		"--import-max-bytes", "100")
	require.ErrorContains(t, err, "no such file", "the flag overrides the environment")
}
