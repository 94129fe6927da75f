package report

import (
	"io"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// Job is the name of the background job that generates a report.
const Job = "GenerateReports"

// Type is what a report is about.
type Type string

// Report types.
const (
	TypeSales       Type = "sales"
	TypeInventory   Type = "inventory"
	TypeFinancial   Type = "financial"
	TypeCustomer    Type = "customer"
	TypeProcurement Type = "procurement"
)

// Types lists every report type, in the order the API documents them.
var Types = []Type{TypeSales, TypeInventory, TypeFinancial, TypeCustomer, TypeProcurement}

// Valid reports whether t is one of Types.
func (t Type) Valid() bool {
	for _, v := range Types {
		if t == v {
			return true
		}
	}
	return false
}

// Status is where a report stands.
type Status string

const (
	StatusPending    Status = "pending"    // queued, not started
	StatusProcessing Status = "processing" // a worker is generating it
	StatusCompleted  Status = "completed"  // the file is written; it can be downloaded
	StatusFailed     Status = "failed"     // the job gave up (see Error); a retry of the failed job runs it again
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusProcessing, StatusCompleted, StatusFailed:
		return true
	}
	return false
}

// Parameters are what a report covers: the days From to To, both
// included, as YYYY-MM-DD (UTC calendar days).
type Parameters struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Report is one requested report and where it stands.
type Report struct {
	ID          string
	TenantID    domain.TenantID
	Type        Type
	Parameters  Parameters
	Status      Status
	File        string // path of the file relative to the data directory, once generated
	Error       string // why the last run failed
	RequestedBy domain.UserID
	CreatedAt   time.Time
	GeneratedAt *time.Time
	FailedAt    *time.Time
}

// DownloadPath is where the report's file is downloaded from.
func DownloadPath(id string) string { return "/api/v1/reports/" + id + "/download" }

// View is the JSON of a report (GET /api/v1/reports/{id}).
type View struct {
	ID          string        `json:"id"`
	Type        Type          `json:"type"`
	Parameters  Parameters    `json:"parameters"`
	Status      Status        `json:"status"`
	File        *string       `json:"file"`  // the download path once completed, else null
	Error       *string       `json:"error"` // why it failed, else null
	CreatedAt   time.Time     `json:"created_at"`
	GeneratedAt *time.Time    `json:"generated_at"`
	FailedAt    *time.Time    `json:"failed_at"`
	RequestedBy domain.UserID `json:"requested_by"`
}

// View is the public JSON form of r. The file is shown as its download
// path: where it lives on the server is no client's business.
func (r Report) View() View {
	v := View{
		ID: r.ID, Type: r.Type, Parameters: r.Parameters, Status: r.Status,
		CreatedAt: r.CreatedAt, GeneratedAt: r.GeneratedAt, FailedAt: r.FailedAt, RequestedBy: r.RequestedBy,
	}
	if r.Status == StatusCompleted {
		p := DownloadPath(r.ID)
		v.File = &p
	}
	if r.Error != "" {
		e := r.Error
		v.Error = &e
	}
	return v
}

// ListParams selects and pages a tenant's reports, newest first.
type ListParams struct {
	Type   Type   // optional
	Status Status // optional
	Before string // exclusive cursor: a report id, "" for the newest
	Limit  int
}

// Download is an open report file.
type Download struct {
	Name    string // file name to offer the browser, e.g. sales-2026-03-01-2026-03-31.json
	ModTime time.Time
	Content io.ReadSeekCloser
}
