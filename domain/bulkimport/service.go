package bulkimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// Defaults of Config.
const (
	DefaultMaxFileBytes = 1 << 30 // 1 GiB
	DefaultBatchSize    = 2000
	defaultPage         = 50
	maxPage             = 200
)

// Config configures a Service.
type Config struct {
	// Files is where uploads are kept. Required.
	Files *Files
	// MaxFileBytes bounds an uploaded file. Default 1 GiB.
	MaxFileBytes int64
	// BatchSize is how many rows one transaction imports. Default 2,000.
	BatchSize int
	Now       func() time.Time // default time.Now
	Logger    *slog.Logger     // default slog.Default()
}

// Service accepts imports and, as the ProcessBulkImport job, runs them.
type Service struct {
	cfg      Config
	store    Store
	catalog  Catalog
	commands Commands
	notifier Notifier
	jobs     Dispatcher
	log      *slog.Logger
}

// NewService returns a Service. commands must run on store's database.
func NewService(cfg Config, store Store, catalog Catalog, commands Commands, notifier Notifier, jobs Dispatcher) (*Service, error) {
	switch {
	case cfg.Files == nil:
		return nil, errors.New("bulkimport: Config.Files is required")
	case cfg.MaxFileBytes < 0 || cfg.BatchSize < 0:
		return nil, errors.New("bulkimport: MaxFileBytes and BatchSize must not be negative")
	case store == nil || catalog == nil || notifier == nil || jobs == nil:
		return nil, errors.New("bulkimport: store, catalog, notifier and dispatcher are required")
	case commands.Products == nil || commands.Customers == nil || commands.Vendors == nil || commands.Stock == nil:
		return nil, errors.New("bulkimport: every command service is required")
	}
	if cfg.MaxFileBytes == 0 {
		cfg.MaxFileBytes = DefaultMaxFileBytes
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg, store: store, catalog: catalog, commands: commands, notifier: notifier, jobs: jobs,
		log: cfg.Logger.With(slog.String("component", "bulkimport"))}, nil
}

// MaxFileBytes is the largest file an import accepts.
func (s *Service) MaxFileBytes() int64 { return s.cfg.MaxFileBytes }

// Receive streams an uploaded file to the actor's tenant's folder (never
// holding it in memory) and returns it, for Start. A file over
// MaxFileBytes is domain.ErrTooLarge, and nothing is kept.
func (s *Service) Receive(ctx context.Context, actor domain.Actor, name string, r io.Reader) (*Upload, error) {
	if err := actor.Require(domain.PermImportsRun); err != nil {
		return nil, err
	}
	return s.cfg.Files.save(ctx, actor.TenantID, name, r, s.cfg.MaxFileBytes)
}

// StartInput is what starts an import: its type, the mapping (JSON, see
// ParseMapping) and the received file.
type StartInput struct {
	Type    string
	Mapping []byte
	Upload  *Upload
}

// Start checks the import against its file (type, mapping and header, at
// least one data row) before any work, then stores it and queues the job
// that runs it, in one transaction. It takes the upload over: on error the
// file is removed.
func (s *Service) Start(ctx context.Context, actor domain.Actor, in StartInput) (im Import, err error) {
	defer func() {
		if err != nil && in.Upload != nil {
			if rmErr := in.Upload.Remove(); rmErr != nil {
				s.log.WarnContext(ctx, "remove refused upload", slog.Any("error", rmErr))
			}
		}
	}()
	if err := actor.Require(domain.PermImportsRun); err != nil {
		return Import{}, err
	}
	v := &domain.ValidationError{}
	t := Type(strings.TrimSpace(in.Type))
	if !t.Valid() {
		v.Add("type", "must be products, customers, vendors or inventory")
	}
	mapping, err := ParseMapping(in.Mapping)
	if err != nil {
		return Import{}, err
	}
	if in.Upload == nil {
		v.Add("file", "is required: a CSV file with a header row")
	} else if in.Upload.TenantID != actor.TenantID {
		return Import{}, fmt.Errorf("upload of another tenant: %w", domain.ErrNotFound)
	}
	if err := v.Err(); err != nil {
		return Import{}, err
	}
	mapping, err = s.check(t, mapping, in.Upload)
	if err != nil {
		return Import{}, err
	}
	u := in.Upload
	im = Import{
		ID: u.ID, TenantID: actor.TenantID, Type: t, Status: StatusPending, RequestedBy: actor.UserID,
		FileName: u.Name, FilePath: u.Path, FileSize: u.Size, FileSHA256: u.SHA256, Mapping: mapping,
		CreatedAt: s.cfg.Now().UTC().Truncate(time.Microsecond),
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.InsertImport(ctx, im); err != nil {
			return err
		}
		_, err := s.jobs.Dispatch(ctx, im.TenantID, Job, Payload{ImportID: im.ID})
		return err
	})
	if err != nil {
		return Import{}, fmt.Errorf("start import: %w", err)
	}
	return im, nil
}

// check reads the file's header and first row: the mapping must fit the
// header, and there must be a row to import.
func (s *Service) check(t Type, mapping map[string]string, u *Upload) (map[string]string, error) {
	f, err := s.cfg.Files.open(u.TenantID, u.Path)
	if err != nil {
		return nil, fmt.Errorf("check upload: %w", err)
	}
	defer f.Close()
	header, end, err := readHeader(f)
	var bad badInput
	if errors.As(err, &bad) {
		return nil, domain.Invalid("file", string(bad))
	}
	if err != nil {
		return nil, err
	}
	mapping, _, err = resolve(t, mapping, header)
	if err != nil {
		return nil, err
	}
	c, err := openCSV(f, end, len(header), MaxRecordBytes)
	if err != nil {
		return nil, err
	}
	if _, err := c.next(); errors.Is(err, io.EOF) {
		return nil, domain.Invalid("file", "has a header but no data rows")
	}
	return mapping, nil
}

// Get returns one of the tenant's imports; domain.ErrNotFound for a
// missing, malformed or another tenant's id.
func (s *Service) Get(ctx context.Context, tenant domain.TenantID, id string) (Import, error) {
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Import{}, fmt.Errorf("import %q: %w", id, domain.ErrNotFound)
	}
	return s.store.GetImport(ctx, tenant, id)
}

// List pages through the tenant's imports, newest first.
func (s *Service) List(ctx context.Context, tenant domain.TenantID, p ListParams) ([]Import, error) {
	v := &domain.ValidationError{}
	if p.Before != "" {
		id, err := domain.ParseID("before", p.Before)
		if err != nil {
			v.Add("before", "must be an import id")
		}
		p.Before = id
	}
	if p.Type != "" && !p.Type.Valid() {
		v.Add("type", "must be products, customers, vendors or inventory")
	}
	switch p.Status {
	case "", StatusPending, StatusProcessing, StatusCompleted, StatusFailed:
	default:
		v.Add("status", "must be pending, processing, completed or failed")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch {
	case p.Limit <= 0:
		p.Limit = defaultPage
	case p.Limit > maxPage:
		p.Limit = maxPage
	}
	return s.store.ListImports(ctx, tenant, p)
}

// MarkFailed records that the import's job gave up (it used its tries)
// and tells the importing user; a retry of the failed job resumes the
// import. A completed or already failed import stays as it is.
func (s *Service) MarkFailed(ctx context.Context, tenant domain.TenantID, id string, cause error) error {
	id, err := domain.ParseID("import_id", id)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		im, err := s.store.LockImport(ctx, tenant, id)
		if err != nil || im.Status == StatusCompleted || im.Status == StatusFailed {
			return err
		}
		return s.fail(ctx, im, cause.Error())
	})
}
