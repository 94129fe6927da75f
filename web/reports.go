package web

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/report"
	"github.com/notifyhub/notifyhub/web/auth"
)

// ReportService accepts report requests and serves reports and their
// files (*report.Service). Request and Open check reports.run themselves;
// another tenant's report is domain.ErrNotFound. Open answers
// report.ErrNotReady for a report that is not completed and
// report.ErrFileMissing when its file is gone.
type ReportService interface {
	Request(ctx context.Context, actor domain.Actor, in report.RequestInput) (report.Report, error)
	Get(ctx context.Context, tenant domain.TenantID, id string) (report.Report, error)
	List(ctx context.Context, tenant domain.TenantID, p report.ListParams) ([]report.Report, error)
	Open(ctx context.Context, actor domain.Actor, id string) (report.Report, report.Download, error)
}

// reportRoutes mounts the report API (DESIGN.md §4.7).
func (s *server) reportRoutes(r chi.Router) {
	r.Get("/reports", s.api(s.listReports))
	r.Post("/reports", s.api(s.requestReport))
	r.Get("/reports/{id}", s.api(s.getReport))
	r.Get("/reports/{id}/download", s.api(s.downloadReport))
}

// requestReport accepts a report request (202): a background job
// generates it.
func (s *server) requestReport(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if err := c.Actor().Require(domain.PermReportsRun); err != nil {
		return err // before reading a body the caller may not send
	}
	var in report.RequestInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	rep, err := s.deps.Reports.Request(r.Context(), c.Actor(), in)
	if err == nil {
		w.Header().Set("Location", "/api/v1/reports/"+rep.ID)
	}
	return reply(w, http.StatusAccepted, rep.View(), err)
}

func (s *server) getReport(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rep, err := s.deps.Reports.Get(r.Context(), c.TenantID, id)
	return reply(w, http.StatusOK, rep.View(), err)
}

// listReports lists the tenant's reports, newest first; ?type=, ?status=,
// ?before=<id> (the previous page's next) and ?limit=.
func (s *server) listReports(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	limit = pageLimit(limit)
	items, err := s.deps.Reports.List(r.Context(), c.TenantID, report.ListParams{
		Type: report.Type(q.Get("type")), Status: report.Status(q.Get("status")), Before: q.Get("before"), Limit: limit,
	})
	if err != nil {
		return err
	}
	views := make([]report.View, len(items))
	for i, rep := range items {
		views[i] = rep.View()
	}
	return reply(w, http.StatusOK, newList(views, limit, func(v report.View) string { return v.ID }), nil)
}

// downloadReport streams a completed report's JSON file as an attachment,
// to users of its tenant holding reports.run.
func (s *server) downloadReport(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rep, dl, err := s.deps.Reports.Open(r.Context(), c.Actor(), id)
	switch {
	case errors.Is(err, report.ErrNotReady):
		return newHTTPError(http.StatusConflict, "report_not_ready",
			fmt.Sprintf("the report is %s: it can be downloaded once it is completed", rep.Status))
	case errors.Is(err, report.ErrFileMissing):
		return newHTTPError(http.StatusGone, "report_file_missing",
			"the report's file is no longer available: request the report again")
	case err != nil:
		return err
	}
	defer dl.Content.Close()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": dl.Name}))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// ServeContent answers Range and conditional requests too.
	http.ServeContent(w, r, "", dl.ModTime, dl.Content)
	return nil
}
