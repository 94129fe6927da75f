package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// Payload is the payload of the GenerateReports job.
type Payload struct {
	ReportID string `json:"report_id"`
}

// ErrNotReady is returned by Open for a report that is not completed
// (wrapped with its status; errors.Is(err, domain.ErrConflict) holds).
var ErrNotReady = fmt.Errorf("report is not completed: %w", domain.ErrConflict)

// ErrFileMissing is returned by Open when a completed report's file is not
// in this process's storage: it was removed, or (distributed mode) the
// data directory is not shared between workers and web nodes.
var ErrFileMissing = errors.New("report file is missing")

// Service accepts report requests and, as a background job, generates
// them.
type Service struct {
	store Store
	files Files
	notes Notifier
	jobs  Dispatcher
	now   func() time.Time
	log   *slog.Logger
}

// NewService returns a Service; now defaults to time.Now, logger to
// slog.Default().
func NewService(store Store, files Files, notes Notifier, jobs Dispatcher, now func() time.Time, logger *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{store: store, files: files, notes: notes, jobs: jobs, now: now, log: logger}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Request validates a report request, stores the report and queues the job
// that generates it, in one transaction: the job runs if and only if the
// report exists.
func (s *Service) Request(ctx context.Context, actor domain.Actor, in RequestInput) (Report, error) {
	if err := actor.Require(domain.PermReportsRun); err != nil {
		return Report{}, err
	}
	typ, params, err := in.validate()
	if err != nil {
		return Report{}, err
	}
	r := Report{ID: domain.NewID(), TenantID: actor.TenantID, Type: typ, Parameters: params,
		Status: StatusPending, RequestedBy: actor.UserID, CreatedAt: s.clock()}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.InsertReport(ctx, r); err != nil {
			return err
		}
		_, err := s.jobs.Dispatch(ctx, r.TenantID, Job, Payload{ReportID: r.ID})
		return err
	})
	if err != nil {
		return Report{}, fmt.Errorf("request %s report: %w", typ, err)
	}
	return r, nil
}

// Get returns one of the tenant's reports.
func (s *Service) Get(ctx context.Context, tenant domain.TenantID, id string) (Report, error) {
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Report{}, fmt.Errorf("report %q: %w", id, domain.ErrNotFound)
	}
	return s.store.GetReport(ctx, tenant, id)
}

// Limits of List.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// List lists the tenant's reports, newest first.
func (s *Service) List(ctx context.Context, tenant domain.TenantID, p ListParams) ([]Report, error) {
	v := &domain.ValidationError{}
	if p.Type != "" && !p.Type.Valid() {
		v.Add("type", "must be one of "+typeNames())
	}
	if p.Status != "" && !p.Status.Valid() {
		v.Add("status", "must be pending, processing, completed or failed")
	}
	if p.Before != "" {
		id, err := domain.ParseID("before", p.Before)
		if err != nil {
			v.Add("before", "must be a report id")
		}
		p.Before = id
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch {
	case p.Limit <= 0:
		p.Limit = DefaultListLimit
	case p.Limit > MaxListLimit:
		p.Limit = MaxListLimit
	}
	return s.store.ListReports(ctx, tenant, p)
}

// Open opens a completed report's file for the actor, who must hold
// reports.run (domain.ErrForbidden) and belong to the report's tenant
// (another tenant's report is domain.ErrNotFound). A report that is not
// completed is ErrNotReady.
func (s *Service) Open(ctx context.Context, actor domain.Actor, id string) (Report, Download, error) {
	if err := actor.Require(domain.PermReportsRun); err != nil {
		return Report{}, Download{}, err
	}
	r, err := s.Get(ctx, actor.TenantID, id)
	if err != nil {
		return Report{}, Download{}, err
	}
	if r.Status != StatusCompleted {
		return r, Download{}, fmt.Errorf("report %s is %s: %w", r.ID, r.Status, ErrNotReady)
	}
	f, mod, err := s.files.Open(ctx, r.TenantID, r.ID)
	if errors.Is(err, domain.ErrNotFound) {
		s.log.WarnContext(ctx, "a completed report's file is missing: in distributed mode the data directory must be shared storage",
			slog.String("tenant", string(r.TenantID)), slog.String("report", r.ID), slog.String("file", r.File))
		return r, Download{}, fmt.Errorf("report %s: %w", r.ID, ErrFileMissing)
	}
	if err != nil {
		return r, Download{}, err
	}
	name := fmt.Sprintf("%s-report-%s-to-%s.json", r.Type, r.Parameters.From, r.Parameters.To)
	return r, Download{Name: name, ModTime: mod, Content: f}, nil
}

// Generate generates a report: the job's work. It marks the report
// processing, computes it from one snapshot of the tenant's rows, writes
// the file (replacing an earlier run's), then marks it completed and
// notifies the requester in one transaction. Run again on a completed
// report (a redelivered job), it writes the same document again, with the
// same generated_at, and notifies nobody.
func (s *Service) Generate(ctx context.Context, tenant domain.TenantID, id string) error {
	id, err := domain.ParseID("report_id", id)
	if err != nil {
		return fmt.Errorf("generate report: %w: %w", domain.ErrPermanent, err)
	}
	r, err := s.start(ctx, tenant, id)
	if err != nil {
		return err
	}
	w, err := r.Parameters.window()
	if err != nil {
		return err
	}
	generatedAt := s.clock()
	if r.Status == StatusCompleted && r.GeneratedAt != nil {
		generatedAt = *r.GeneratedAt
	}
	h := Header{ReportID: r.ID, Type: r.Type, Tenant: r.TenantID, From: r.Parameters.From, To: r.Parameters.To,
		AsOf: w.End, GeneratedAt: generatedAt}
	var doc any
	err = s.store.ReadSnapshot(ctx, func(ctx context.Context) error {
		var err error
		doc, err = build(ctx, s.store, h, w)
		return err
	})
	if err != nil {
		return fmt.Errorf("generate %s report %s: %w", r.Type, r.ID, err)
	}
	path, err := s.files.Write(ctx, r.TenantID, r.ID, func(out io.Writer) error {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	})
	if err != nil {
		return fmt.Errorf("write %s report %s: %w", r.Type, r.ID, err)
	}
	return s.complete(ctx, tenant, id, path, generatedAt)
}

// start locks the report and marks it processing (a completed one stays
// completed).
func (s *Service) start(ctx context.Context, tenant domain.TenantID, id string) (Report, error) {
	var r Report
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		r, err = s.store.LockReport(ctx, tenant, id)
		if errors.Is(err, domain.ErrNotFound) {
			return fmt.Errorf("report %s of %s is gone: %w", id, tenant, domain.ErrPermanent)
		}
		if err != nil || r.Status == StatusCompleted || r.Status == StatusProcessing {
			return err
		}
		r.Status = StatusProcessing
		return s.store.UpdateReport(ctx, r)
	})
	return r, err
}

// complete marks the report completed and, the first time, tells the
// requester, in one transaction: the notification is sent once.
func (s *Service) complete(ctx context.Context, tenant domain.TenantID, id, path string, generatedAt time.Time) error {
	return s.store.InTx(ctx, func(ctx context.Context) error {
		r, err := s.store.LockReport(ctx, tenant, id)
		if err != nil {
			return err
		}
		first := r.Status != StatusCompleted
		r.Status, r.File, r.Error, r.FailedAt = StatusCompleted, path, "", nil
		if first || r.GeneratedAt == nil {
			r.GeneratedAt = &generatedAt
		}
		if err := s.store.UpdateReport(ctx, r); err != nil {
			return err
		}
		if !first {
			return nil
		}
		return s.notify(ctx, r, notification.Draft{
			Type: notification.TypeReportGenerated, Severity: domain.SeveritySuccess,
			Title:     notification.Clip(fmt.Sprintf("%s report ready: %s to %s", r.Type.label(), r.Parameters.From, r.Parameters.To), notification.MaxTitleLen),
			Body:      "Your report is ready to download.",
			ActionURL: DownloadPath(r.ID),
			Data:      map[string]string{"report_id": r.ID, "type": string(r.Type), "from": r.Parameters.From, "to": r.Parameters.To},
		})
	})
}

// MarkFailed records that the report's job gave up (it used its tries, or
// failed for good) and tells the requester, critically, in one
// transaction. A completed or already failed report is left alone, so the
// requester hears once per failure; a retry of the failed job runs it
// again.
func (s *Service) MarkFailed(ctx context.Context, tenant domain.TenantID, id string, cause error) error {
	id, err := domain.ParseID("report_id", id)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		r, err := s.store.LockReport(ctx, tenant, id)
		if err != nil || r.Status == StatusCompleted || r.Status == StatusFailed {
			return err
		}
		now := s.clock()
		r.Status, r.Error, r.FailedAt = StatusFailed, notification.Clip(cause.Error(), 500), &now
		if err := s.store.UpdateReport(ctx, r); err != nil {
			return err
		}
		return s.notify(ctx, r, notification.Draft{
			Type: notification.TypeReportGenerated, Severity: domain.SeverityCritical,
			Title:     notification.Clip(fmt.Sprintf("%s report failed: %s to %s", r.Type.label(), r.Parameters.From, r.Parameters.To), notification.MaxTitleLen),
			Body:      notification.Clip("The report could not be generated: "+r.Error, notification.MaxBodyLen),
			ActionURL: "/api/v1/reports/" + r.ID,
			Data: map[string]string{"report_id": r.ID, "type": string(r.Type), "from": r.Parameters.From,
				"to": r.Parameters.To, "error": r.Error},
		})
	})
}

// notify sends d to the report's requester, if the tenant knows them.
func (s *Service) notify(ctx context.Context, r Report, d notification.Draft) error {
	if _, err := s.store.GetUser(ctx, r.TenantID, r.RequestedBy); err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			s.log.WarnContext(ctx, "report requester unknown: not notified",
				slog.String("tenant", string(r.TenantID)), slog.String("report", r.ID))
			return nil
		}
		return err
	}
	_, err := s.notes.SendToUsers(ctx, r.TenantID, []domain.UserID{r.RequestedBy}, d)
	return err
}

func (t Type) label() string {
	switch t {
	case TypeSales:
		return "Sales"
	case TypeInventory:
		return "Inventory"
	case TypeFinancial:
		return "Financial"
	case TypeCustomer:
		return "Customer"
	case TypeProcurement:
		return "Procurement"
	}
	return string(t)
}

// build computes the document of a report type.
func build(ctx context.Context, src Source, h Header, w Window) (any, error) {
	switch h.Type {
	case TypeSales:
		return buildSales(ctx, src, h, w)
	case TypeInventory:
		return buildInventory(ctx, src, h, w)
	case TypeFinancial:
		return buildFinancial(ctx, src, h, w)
	case TypeCustomer:
		return buildCustomer(ctx, src, h, w)
	case TypeProcurement:
		return buildProcurement(ctx, src, h, w)
	}
	return nil, fmt.Errorf("report type %q: %w", h.Type, domain.ErrPermanent)
}
