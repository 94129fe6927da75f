package extsync

import (
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// Job is the name of the background job that runs a sync.
const Job = "SyncExternalData"

// Type is what a sync pulls; it is also the path segment of the endpoint
// ({base_url}/{type}).
type Type string

const (
	Products  Type = "products"
	Customers Type = "customers"
	Inventory Type = "inventory"
	Orders    Type = "orders"
)

// Types lists every sync type.
var Types = []Type{Products, Customers, Inventory, Orders}

// Valid reports whether t is a sync type.
func (t Type) Valid() bool {
	switch t {
	case Products, Customers, Inventory, Orders:
		return true
	}
	return false
}

// Status is where a sync run stands.
type Status string

const (
	StatusPending    Status = "pending"    // queued, not started
	StatusProcessing Status = "processing" // fetching and upserting, page by page
	StatusCompleted  Status = "completed"  // the last page was handled
	StatusFailed     Status = "failed"     // the job gave up (see last_error); a retry resumes it
)

// RowError is one record that could not be upserted, or a note about the
// run (Row 0).
type RowError struct {
	Page    int    `json:"page"`
	Row     int    `json:"row"`           // 1-based position in the page's data; 0 = not a row
	Key     string `json:"key,omitempty"` // the record's natural key, when it had one
	Message string `json:"message"`
}

// Run is one sync run and its progress (a sync_logs row).
type Run struct {
	ID          string
	TenantID    domain.TenantID
	Type        Type
	Status      Status
	RequestedBy domain.UserID
	Endpoint    string // the base URL the run fetches from (set when it starts)
	// NextURL is the page to fetch next ("" before the first). It advances
	// with each page's counts, in one transaction.
	NextURL     string
	Pages       int
	Fetched     int64 // records received
	Upserted    int64 // records now matching the source: created, updated or already equal
	Failed      int64 // records rejected (see Errors)
	Errors      []RowError
	Attempts    int // times the job started on this run
	LastError   string
	CreatedAt   time.Time
	StartedAt   *time.Time
	CompletedAt *time.Time
	FailedAt    *time.Time
}

// View is the JSON of a run (GET /api/v1/syncs/{id}). It leaves out the
// endpoint: any user of the tenant may read runs, while the configuration
// is for admins.
type View struct {
	ID          string        `json:"id"`
	Type        Type          `json:"type"`
	Status      Status        `json:"status"`
	RequestedBy domain.UserID `json:"requested_by"`
	Pages       int           `json:"pages"`
	Fetched     int64         `json:"fetched"`
	Upserted    int64         `json:"upserted"`
	Failed      int64         `json:"failed"`
	Errors      []RowError    `json:"errors"`
	Attempts    int           `json:"attempts"`
	LastError   string        `json:"last_error,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	StartedAt   *time.Time    `json:"started_at"`
	CompletedAt *time.Time    `json:"completed_at"`
	FailedAt    *time.Time    `json:"failed_at"`
}

// View is the public JSON form of r.
func (r Run) View() View {
	errs := r.Errors
	if errs == nil {
		errs = []RowError{}
	}
	return View{
		ID: r.ID, Type: r.Type, Status: r.Status, RequestedBy: r.RequestedBy,
		Pages: r.Pages, Fetched: r.Fetched, Upserted: r.Upserted, Failed: r.Failed, Errors: errs,
		Attempts: r.Attempts, LastError: r.LastError, CreatedAt: r.CreatedAt,
		StartedAt: r.StartedAt, CompletedAt: r.CompletedAt, FailedAt: r.FailedAt,
	}
}

// ListParams pages through a tenant's runs, newest first.
type ListParams struct {
	Type   Type   // "" for every type
	Before string // exclusive cursor: a run id, "" for the newest
	Limit  int
}

// Payload is the payload of the Job.
type Payload struct {
	SyncID string `json:"sync_id"`
}
