package jobs_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/workers/jobs"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// importEnv is the import service wired to a job system.
type importEnv struct {
	*env
	imports *bulkimport.Service
	dataDir string
}

func newImportEnv(t *testing.T, b backend) importEnv {
	t.Helper()
	e := newEnv(t, b)
	dir := t.TempDir()
	files, err := bulkimport.OpenFiles(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = files.Close() })
	stock := inventory.NewService(b.store, nil)
	svc, err := bulkimport.NewService(bulkimport.Config{Files: files, BatchSize: 25, Logger: logger()}, b.store, b.store,
		bulkimport.Commands{Products: product.NewService(b.store, nil), Customers: crm.NewService(b.store, nil),
			Vendors: procurement.NewService(b.store, stock, nil), Stock: stock},
		notification.NewService(b.store, noFanout{}, nil, logger()), e.disp)
	require.NoError(t, err)
	require.NoError(t, e.reg.Register(jobs.ProcessBulkImport(svc)))
	for _, u := range []domain.User{
		{TenantID: "acme", ID: "alice", Perms: []string{domain.PermImportsRun}},
		{TenantID: "globex", ID: "alice", Perms: []string{domain.PermAdmin}},
	} {
		require.NoError(t, b.store.UpsertUser(context.Background(), u))
	}
	return importEnv{env: e, imports: svc, dataDir: dir}
}

func (e importEnv) start(t *testing.T, actor domain.Actor, typ, body string) bulkimport.Import {
	t.Helper()
	ctx := context.Background()
	u, err := e.imports.Receive(ctx, actor, typ+".csv", strings.NewReader(body))
	require.NoError(t, err)
	im, err := e.imports.Start(ctx, actor, bulkimport.StartInput{Type: typ, Upload: u})
	require.NoError(t, err)
	e.flush(t)
	return im
}

func (e importEnv) wait(t *testing.T, tenant domain.TenantID, id string, status bulkimport.Status) bulkimport.Import {
	t.Helper()
	var got bulkimport.Import
	eventually(t, func() bool {
		var err error
		got, err = e.imports.Get(context.Background(), tenant, id)
		return err == nil && got.Status == status
	}, "the import ends "+string(status))
	return got
}

// TestProcessBulkImportThroughTheQueue: in each deployment, an import
// queued with its record is run by a worker; the rows and the user's
// notification land in the importing tenant only.
func TestProcessBulkImportThroughTheQueue(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		e := newImportEnv(t, b)
		acme := domain.Actor{TenantID: "acme", UserID: "alice", Perms: []string{domain.PermImportsRun}}
		var body strings.Builder
		body.WriteString("sku,name,price\n")
		for i := range 60 {
			body.WriteString("SKU-" + string(rune('A'+i%26)) + strings.Repeat("x", i/26) + ",Thing,1.5\n")
		}
		body.WriteString("BAD,Thing,-1\n")
		im := e.start(t, acme, "products", body.String())
		e.env.start(t, runner.QueueConfig{})
		got := e.wait(t, "acme", im.ID, bulkimport.StatusCompleted)
		require.Equal(t, []int64{61, 60, 1}, []int64{got.TotalRows, got.Imported, got.Failed})

		ps, err := b.store.ListProducts(context.Background(), "acme", product.ListParams{Limit: 200})
		require.NoError(t, err)
		require.Len(t, ps, 60)
		ps, err = b.store.ListProducts(context.Background(), "globex", product.ListParams{Limit: 200})
		require.NoError(t, err)
		require.Empty(t, ps)
		inbox, err := b.store.ListNotifications(context.Background(), "acme", "alice", notification.ListParams{})
		require.NoError(t, err)
		require.Len(t, inbox, 1)
		require.Equal(t, notification.TypeImportCompleted, inbox[0].Type)
		require.Equal(t, domain.SeverityWarning, inbox[0].Severity)
		other, err := b.store.ListNotifications(context.Background(), "globex", "alice", notification.ListParams{})
		require.NoError(t, err)
		require.Empty(t, other)
		require.Empty(t, e.failedJobs(t))

		// The other types, queued together, through the same worker.
		var queued []bulkimport.Import
		for _, c := range []struct{ typ, body string }{
			{"customers", "email,name\nada@x.test,Ada\nbob@x.test,Bob\n"},
			{"vendors", "name,email\nAcme Supplies,orders@acme.test\n"},
			{"inventory", "sku,quantity\nSKU-A,5\nSKU-B,7\nGHOST,1\n"},
		} {
			queued = append(queued, e.start(t, acme, c.typ, c.body))
		}
		want := [][]int64{{2, 2, 0}, {1, 1, 0}, {3, 2, 1}}
		for i, im := range queued {
			got := e.wait(t, "acme", im.ID, bulkimport.StatusCompleted)
			require.Equal(t, want[i], []int64{got.TotalRows, got.Imported, got.Failed}, im.Type)
		}
		cs, err := b.store.ListCustomers(context.Background(), "acme", crm.ListParams{})
		require.NoError(t, err)
		require.Len(t, cs, 2)
		vs, err := b.store.ListVendors(context.Background(), "acme", procurement.VendorFilter{})
		require.NoError(t, err)
		require.Len(t, vs, 1)
		ms, err := b.store.ListMovements(context.Background(), "acme", inventory.MovementFilter{})
		require.NoError(t, err)
		require.Len(t, ms, 2)
	})
}

// TestImportWhoseFileIsGoneFails: a worker that cannot reach the upload
// (a data directory that is not shared) retries, then records a failed
// job and marks the import failed, telling the user why.
func TestImportWhoseFileIsGoneFails(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		e := newImportEnv(t, b)
		acme := domain.Actor{TenantID: "acme", UserID: "alice", Perms: []string{domain.PermImportsRun}}
		im := e.start(t, acme, "products", "sku,name,price\nA,A,1\n")
		stored, err := b.store.GetImport(context.Background(), "acme", im.ID)
		require.NoError(t, err)
		require.NoError(t, os.Remove(filepath.Join(e.dataDir, stored.FilePath)))

		e.env.start(t, runner.QueueConfig{Override: runner.Policy{Tries: 2, Backoff: []time.Duration{10 * time.Millisecond}}})
		got := e.wait(t, "acme", im.ID, bulkimport.StatusFailed)
		require.Contains(t, got.LastError, "is missing from the data directory")
		require.Contains(t, got.LastError, "NOTIFYHUB_DATA_DIR must be storage shared")
		eventually(t, func() bool { return len(e.failedJobs(t)) == 1 }, "a failed job")
		fj := e.failedJobs(t)[0]
		require.Equal(t, bulkimport.Job, fj.Job)
		require.Equal(t, domain.TenantID("acme"), fj.TenantID)
		require.Equal(t, 2, fj.Attempts)
		inbox, err := b.store.ListNotifications(context.Background(), "acme", "alice", notification.ListParams{})
		require.NoError(t, err)
		require.Len(t, inbox, 1)
		require.Equal(t, domain.SeverityCritical, inbox[0].Severity)
	})
}
