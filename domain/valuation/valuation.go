package valuation

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// Job is the name of the background job that runs a valuation.
const Job = "RecalculateInventoryValuation"

// Status is where a valuation stands.
type Status string

const (
	StatusPending    Status = "pending"    // queued, not started
	StatusProcessing Status = "processing" // reading the ledger
	StatusCompleted  Status = "completed"  // results written
	StatusFailed     Status = "failed"     // the job gave up (see error); a retry of the failed job runs it again
)

// ScopeKind says what a valuation covers.
type ScopeKind string

const (
	ScopeAll      ScopeKind = "all"      // every live product, every location
	ScopeProduct  ScopeKind = "product"  // one product, every location
	ScopeLocation ScopeKind = "location" // every live product, one location
)

// Scope is what a valuation covers.
type Scope struct {
	Kind       ScopeKind `json:"kind"`
	ProductID  string    `json:"product_id,omitempty"`
	LocationID string    `json:"location_id,omitempty"`
}

// Progress counts the products of the scope the current run has read.
type Progress struct {
	ProductsTotal int64 `json:"products_total"`
	ProductsDone  int64 `json:"products_done"`
}

// Totals sum a completed valuation's lines (exactly).
type Totals struct {
	Lines        int64           `json:"lines"`
	Quantity     int64           `json:"quantity"`
	FIFOValue    decimal.Decimal `json:"fifo_value"`
	AverageValue decimal.Decimal `json:"average_value"`
	Warnings     int64           `json:"warnings"` // over every line
}

// Valuation is one run of RecalculateInventoryValuation: what it covers,
// how far it got and, once completed, the totals of its lines.
type Valuation struct {
	ID          string
	TenantID    domain.TenantID
	RequestedBy domain.UserID
	Scope       Scope
	Status      Status
	Progress    Progress
	Totals      Totals // zero until completed
	Error       string // why the job gave up (status failed)
	CreatedAt   time.Time
	StartedAt   *time.Time
	CompletedAt *time.Time
	FailedAt    *time.Time
}

// Line is the valuation of one product at one location.
type Line struct {
	LineNo       int             `json:"-"` // 1.., in SKU then location code order
	ProductID    string          `json:"product_id"`
	SKU          string          `json:"sku"`  // as when valued
	Name         string          `json:"name"` // as when valued
	LocationID   string          `json:"location_id"`
	LocationCode string          `json:"location_code"`
	Quantity     int64           `json:"quantity"`
	FIFOValue    decimal.Decimal `json:"fifo_value"`
	AverageCost  decimal.Decimal `json:"average_cost"`
	AverageValue decimal.Decimal `json:"average_value"`
	Layers       []Layer         `json:"layers"` // FIFO layers left, oldest first
	Warnings     []Warning       `json:"warnings"`
}

// Summary is the JSON of a valuation without its lines
// (GET /api/v1/valuations).
type Summary struct {
	ID          string        `json:"id"`
	Status      Status        `json:"status"`
	Scope       Scope         `json:"scope"`
	RequestedBy domain.UserID `json:"requested_by"`
	Progress    Progress      `json:"progress"`
	Totals      *Totals       `json:"totals"` // null until completed
	Error       *string       `json:"error"`  // null unless failed
	CreatedAt   time.Time     `json:"created_at"`
	StartedAt   *time.Time    `json:"started_at"`
	CompletedAt *time.Time    `json:"completed_at"`
	FailedAt    *time.Time    `json:"failed_at"`
}

// Detail is the JSON of a valuation with a page of its lines
// (GET /api/v1/valuations/{id}): ResultsNext is the after= of the next
// page, null on the last.
type Detail struct {
	Summary
	Results     []Line  `json:"results"`
	ResultsNext *string `json:"results_next"`
}

// Summary is the public JSON form of v without lines.
func (v Valuation) Summary() Summary {
	s := Summary{ID: v.ID, Status: v.Status, Scope: v.Scope, RequestedBy: v.RequestedBy, Progress: v.Progress,
		CreatedAt: v.CreatedAt, StartedAt: v.StartedAt, CompletedAt: v.CompletedAt, FailedAt: v.FailedAt}
	if v.Status == StatusCompleted {
		t := v.Totals
		s.Totals = &t
	}
	if v.Error != "" {
		e := v.Error
		s.Error = &e
	}
	return s
}

// Payload is the payload of the Job job.
type Payload struct {
	ValuationID string `json:"valuation_id"`
}

// ProductRef is a product of a valuation's scope, as the job reads it.
type ProductRef struct {
	ID   string
	SKU  string
	Name string
}
