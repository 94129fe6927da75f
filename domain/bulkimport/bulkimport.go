package bulkimport

import (
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// Job is the name of the background job that processes an import.
const Job = "ProcessBulkImport"

// MaxStoredErrors is how many failed rows an import lists (the first
// ones); failed_rows counts them all.
const MaxStoredErrors = 1000

// Type is what a file imports.
type Type string

// Import types.
const (
	Products  Type = "products"
	Customers Type = "customers"
	Vendors   Type = "vendors"
	Inventory Type = "inventory"
)

// Types lists every import type.
var Types = []Type{Products, Customers, Vendors, Inventory}

// Valid reports whether t is one of Types.
func (t Type) Valid() bool {
	switch t {
	case Products, Customers, Vendors, Inventory:
		return true
	}
	return false
}

// Status is where an import stands.
type Status string

// Import statuses.
const (
	StatusPending    Status = "pending"    // queued, not started
	StatusProcessing Status = "processing" // rows being applied, batch by batch
	StatusCompleted  Status = "completed"  // every row imported or counted as failed
	StatusFailed     Status = "failed"     // stopped (see Error); a retry of its job resumes it
)

// RowError is a row that was not imported, and why. Row counts data rows
// from 1 (the header is not a row).
type RowError struct {
	Row     int64  `json:"row"`
	Message string `json:"message"`
}

// Import is one import and its progress (a row of import_logs).
type Import struct {
	ID           string
	TenantID     domain.TenantID
	Type         Type
	Status       Status
	RequestedBy  domain.UserID
	FileName     string // as uploaded, for people
	FilePath     string // relative to the data directory
	FileSize     int64
	FileSHA256   string            // hex
	Mapping      map[string]string // our field → CSV header
	Counted      bool              // TotalRows holds the file's row count
	TotalRows    int64
	Imported     int64 // applied, or already in place (Skipped)
	Failed       int64
	Skipped      int64 // inventory rows an earlier import of the same file applied
	Errors       []RowError
	ResumeRow    int64 // rows handled so far
	ResumeOffset int64 // byte offset just after row ResumeRow (0: after the header)
	LastError    string
	CreatedAt    time.Time
	StartedAt    *time.Time
	CompletedAt  *time.Time
	FailedAt     *time.Time
}

// View is the JSON of an import (GET /api/v1/imports/{id}).
type View struct {
	ID            string            `json:"id"`
	Type          Type              `json:"type"`
	Status        Status            `json:"status"`
	FileName      string            `json:"file_name"`
	FileSize      int64             `json:"file_size"`
	Mapping       map[string]string `json:"mapping"`
	RequestedBy   domain.UserID     `json:"requested_by"`
	TotalRows     int64             `json:"total_rows"`
	ImportedRows  int64             `json:"imported_rows"`
	FailedRows    int64             `json:"failed_rows"`
	SkippedRows   int64             `json:"skipped_rows"`
	ProcessedRows int64             `json:"processed_rows"`
	Errors        []RowError        `json:"errors"`
	// ErrorsTruncated: more rows failed than Errors lists.
	ErrorsTruncated bool       `json:"errors_truncated"`
	Error           string     `json:"error,omitempty"` // why a failed import stopped
	CreatedAt       time.Time  `json:"created_at"`
	StartedAt       *time.Time `json:"started_at"`
	CompletedAt     *time.Time `json:"completed_at"`
	FailedAt        *time.Time `json:"failed_at"`
}

// View is the public JSON form of im, listing at most maxErrors errors
// (all that are stored when maxErrors < 0).
func (im Import) View(maxErrors int) View {
	errs := im.Errors
	if maxErrors >= 0 && len(errs) > maxErrors {
		errs = errs[:maxErrors]
	}
	if errs == nil {
		errs = []RowError{}
	}
	mapping := im.Mapping
	if mapping == nil {
		mapping = map[string]string{}
	}
	return View{
		ID: im.ID, Type: im.Type, Status: im.Status, FileName: im.FileName, FileSize: im.FileSize,
		Mapping: mapping, RequestedBy: im.RequestedBy, TotalRows: im.TotalRows,
		ImportedRows: im.Imported, FailedRows: im.Failed, SkippedRows: im.Skipped, ProcessedRows: im.ResumeRow,
		Errors: errs, ErrorsTruncated: int64(len(errs)) < im.Failed, Error: im.LastError,
		CreatedAt: im.CreatedAt, StartedAt: im.StartedAt, CompletedAt: im.CompletedAt, FailedAt: im.FailedAt,
	}
}

// ListParams pages through a tenant's imports, newest first.
type ListParams struct {
	Before string // exclusive cursor: an import id, "" for the newest
	Limit  int
	Type   Type   // "" for every type
	Status Status // "" for every status
}

// Payload is the payload of the Job job.
type Payload struct {
	ImportID string `json:"import_id"`
}
