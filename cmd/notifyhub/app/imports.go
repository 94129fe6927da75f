package app

import (
	"context"
	"errors"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/workers/jobs"
)

// DataDirName is the default data directory's name.
const DataDirName = "notifyhub-data"

// DataDir is the data directory cfg resolves to: cfg.DataDir, else
// DefaultDataDir. In distributed mode every http and worker process must
// see the same directory (shared storage).
func DataDir(cfg Config) string {
	cfg.setDefaults()
	return cfg.DataDir
}

// importStore is what the import service needs of the store: the
// process's (metered) store.
type importStore interface {
	bulkimport.Store
	bulkimport.Catalog
}

// newImports opens the data directory and builds the import service over
// the given domain services (which must share store's database).
func newImports(cfg Config, store importStore, cmds bulkimport.Commands, notes bulkimport.Notifier,
	disp *jobs.Dispatcher) (*bulkimport.Service, *bulkimport.Files, error) {
	if cfg.MaxImportBytes < 0 {
		return nil, nil, errors.New("NOTIFYHUB_IMPORT_MAX_BYTES must not be negative")
	}
	files, err := bulkimport.OpenFiles(DataDir(cfg))
	if err != nil {
		return nil, nil, err
	}
	svc, err := bulkimport.NewService(bulkimport.Config{Files: files, MaxFileBytes: cfg.MaxImportBytes, Logger: cfg.Logger},
		store, store, cmds, notes, disp)
	if err != nil {
		_ = files.Close()
		return nil, nil, err
	}
	return svc, files, nil
}

// ImportTool is the import service for `notifyhub import`: it stores an
// upload and queues its job (which a worker runs), over the database
// alone.
type ImportTool struct {
	Imports *bulkimport.Service
	Store   *sqlstore.Store
	files   *bulkimport.Files
}

// OpenImportTool opens the database and the data directory.
func OpenImportTool(ctx context.Context, cfg Config) (*ImportTool, error) {
	cfg.setDefaults()
	store, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	reg, err := jobs.NewRegistry()
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	disp := jobs.NewDispatcher(store, reg, nil)
	stock := inventory.NewService(store, nil)
	cmds := bulkimport.Commands{
		Products: product.NewService(store, nil), Customers: crm.NewService(store, nil),
		Vendors: procurement.NewService(store, stock, nil), Stock: stock,
	}
	// The tool queues imports; it never runs one, so never notifies.
	notes := notification.NewService(store, noFanout{}, nil, cfg.Logger)
	svc, files, err := newImports(cfg, store, cmds, notes, disp)
	if err == nil {
		err = reg.Register(jobs.ProcessBulkImport(svc))
	}
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	return &ImportTool{Imports: svc, Store: store, files: files}, nil
}

// Close releases the database and the data directory.
func (t *ImportTool) Close() error {
	return errors.Join(t.files.Close(), t.Store.Close())
}

type noFanout struct{}

func (noFanout) Publish(context.Context, domain.InboxUpdate) error { return nil }
