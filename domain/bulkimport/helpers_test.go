package bulkimport_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

var (
	alice = domain.Actor{TenantID: "acme", UserID: "alice", Perms: []string{domain.PermImportsRun}}
	gina  = domain.Actor{TenantID: "globex", UserID: "gina", Perms: []string{domain.PermAdmin}}
)

// dispatcher records the jobs the service queues.
type dispatcher struct {
	mu   sync.Mutex
	jobs []bulkimport.Payload
}

func (d *dispatcher) Dispatch(_ context.Context, _ domain.TenantID, job string, payload any) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if job != bulkimport.Job {
		return "", fmt.Errorf("unexpected job %q", job)
	}
	d.jobs = append(d.jobs, payload.(bulkimport.Payload))
	return domain.NewID(), nil
}

func (d *dispatcher) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.jobs)
}

type noFanout struct{}

func (noFanout) Publish(context.Context, domain.InboxUpdate) error { return nil }

// fixture is an import service over a real store.
type fixture struct {
	store    *sqlstore.Store
	svc      *bulkimport.Service
	jobs     *dispatcher
	dataDir  string
	products *product.Service
	stock    *inventory.Service
	notes    *notification.Service
}

type options struct {
	batch    int
	max      int64
	store    bulkimport.Store                                  // default the fixture's store
	catalog  func(*sqlstore.Store) bulkimport.Catalog          // default the fixture's store
	products func(*product.Service) bulkimport.ProductCommands // default f.products
}

func newFixture(t testing.TB, s *sqlstore.Store, o options) fixture {
	t.Helper()
	f := fixture{store: s, jobs: &dispatcher{}, dataDir: t.TempDir()}
	files, err := bulkimport.OpenFiles(f.dataDir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = files.Close() })
	f.products = product.NewService(s, nil)
	f.stock = inventory.NewService(s, nil)
	f.notes = notification.NewService(s, noFanout{}, nil, slog.New(slog.DiscardHandler))
	store := o.store
	if store == nil {
		store = s
	}
	var catalog bulkimport.Catalog = s
	if o.catalog != nil {
		catalog = o.catalog(s)
	}
	var products bulkimport.ProductCommands = f.products
	if o.products != nil {
		products = o.products(f.products)
	}
	f.svc, err = bulkimport.NewService(bulkimport.Config{Files: files, MaxFileBytes: o.max, BatchSize: o.batch,
		Logger: slog.New(slog.DiscardHandler)}, store, catalog,
		bulkimport.Commands{Products: products, Customers: crm.NewService(s, nil),
			Vendors: procurement.NewService(s, f.stock, nil), Stock: f.stock},
		f.notes, f.jobs)
	require.NoError(t, err)
	ctx := context.Background()
	for _, u := range []domain.User{
		{TenantID: "acme", ID: "alice", Perms: []string{domain.PermImportsRun}},
		{TenantID: "globex", ID: "gina", Perms: []string{domain.PermAdmin}},
	} {
		require.NoError(t, s.UpsertUser(ctx, u))
	}
	return f
}

// each runs fn on both backends, in parallel.
func each(t *testing.T, o options, fn func(t *testing.T, f fixture)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{
		"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newFixture(t, open(t), o))
		})
	}
}

// start uploads body and starts an import of it.
func (f fixture) start(t testing.TB, actor domain.Actor, typ, mapping, body string) (bulkimport.Import, error) {
	t.Helper()
	return f.startFrom(t, actor, typ, mapping, strings.NewReader(body))
}

func (f fixture) startFrom(t testing.TB, actor domain.Actor, typ, mapping string, r io.Reader) (bulkimport.Import, error) {
	t.Helper()
	ctx := context.Background()
	u, err := f.svc.Receive(ctx, actor, "upload.csv", r)
	if err != nil {
		return bulkimport.Import{}, err
	}
	return f.svc.Start(ctx, actor, bulkimport.StartInput{Type: typ, Mapping: []byte(mapping), Upload: u})
}

// run starts an import and processes it to the end.
func (f fixture) run(t testing.TB, actor domain.Actor, typ, mapping, body string) bulkimport.Import {
	t.Helper()
	im, err := f.start(t, actor, typ, mapping, body)
	require.NoError(t, err)
	return f.process(t, actor.TenantID, im.ID)
}

func (f fixture) process(t testing.TB, tenant domain.TenantID, id string) bulkimport.Import {
	t.Helper()
	require.NoError(t, f.svc.Process(context.Background(), tenant, id))
	got, err := f.svc.Get(context.Background(), tenant, id)
	require.NoError(t, err)
	return got
}

// files lists the files left in the data directory.
func (f fixture) files(t testing.TB) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(f.dataDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, path)
		}
		return err
	}))
	return out
}

func (f fixture) allProducts(t testing.TB, tenant domain.TenantID) []product.Product {
	t.Helper()
	var out []product.Product
	after := ""
	for {
		page, err := f.store.ListProducts(context.Background(), tenant, product.ListParams{After: after, Limit: 200})
		require.NoError(t, err)
		out = append(out, page...)
		if len(page) < 200 {
			return out
		}
		after = page[len(page)-1].ID
	}
}

func (f fixture) bySKU(t testing.TB, tenant domain.TenantID) map[string]product.Product {
	t.Helper()
	out := map[string]product.Product{}
	for _, p := range f.allProducts(t, tenant) {
		out[p.SKU] = p
	}
	return out
}

func (f fixture) inbox(t testing.TB, tenant domain.TenantID, user domain.UserID) []domain.Notification {
	t.Helper()
	items, err := f.store.ListNotifications(context.Background(), tenant, user, notification.ListParams{Limit: 200})
	require.NoError(t, err)
	return items
}

// countEvents counts the tenant's events of a type.
func (f fixture) countEvents(t testing.TB, tenant domain.TenantID, typ string) int {
	t.Helper()
	n, after := 0, ""
	for {
		evs, err := f.store.ListEvents(context.Background(), tenant, typ, after, 500)
		require.NoError(t, err)
		n += len(evs)
		if len(evs) < 500 {
			return n
		}
		after = evs[len(evs)-1].ID
	}
}

func (f fixture) movements(t testing.TB, tenant domain.TenantID) []inventory.Movement {
	t.Helper()
	ms, err := f.store.ListMovements(context.Background(), tenant, inventory.MovementFilter{Limit: 200})
	require.NoError(t, err)
	return ms
}

// rowErrors renders an import's errors as "row: message" lines.
func rowErrors(im bulkimport.Import) []string {
	out := make([]string, len(im.Errors))
	for i, e := range im.Errors {
		out[i] = fmt.Sprintf("%d: %s", e.Row, e.Message)
	}
	return out
}
