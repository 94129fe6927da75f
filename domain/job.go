package domain

import "time"

// Reserved outbox event types. They are machinery, not business facts: the
// relay routes them (a job to its queue, a retry to one listener) and the
// tenant's event log leaves them out.
const (
	// EventJobDispatched carries a job envelope to its queue. Writing it in
	// the transaction of the change that asked for the job means a
	// committed job is never lost and a rolled-back one never runs.
	EventJobDispatched = "notifyhub.job"
	// EventListenerRetry carries {"listener", "event"}: the event again,
	// for that one listener only (a retried failed job).
	EventListenerRetry = "notifyhub.retry"
)

// InternalEventTypes are the reserved types above.
var InternalEventTypes = []string{EventJobDispatched, EventListenerRetry}

// FailedJobScope says whose failed jobs an operation may see and change:
// one tenant's (the REST API, for that tenant's admins) or, with
// AllTenants, everyone's (the operator's CLI). The zero value is invalid,
// so that forgetting to scope is an error, not every tenant's data.
type FailedJobScope struct {
	Tenant     TenantID
	AllTenants bool
}

// Valid reports whether the scope names a tenant or all of them.
func (s FailedJobScope) Valid() bool { return s.AllTenants || s.Tenant != "" }

// Includes reports whether a failed job of tenant t is in scope.
func (s FailedJobScope) Includes(t TenantID) bool {
	return s.AllTenants || (s.Tenant != "" && s.Tenant == t)
}

// FailedJobCursor is a position in the newest-first listing of failed
// jobs: the next page holds the jobs that failed before it. The zero
// value starts from the newest.
type FailedJobCursor struct {
	FailedAt time.Time
	ID       string
}

// RetryReport says what retrying every failed job of a scope did.
type RetryReport struct {
	Retried int          `json:"retried"`
	Skipped []SkippedJob `json:"skipped"` // left in place: nothing to run again
}

// SkippedJob is a failed job a retry-all left in place, and why.
type SkippedJob struct {
	ID    string `json:"id"`
	Error string `json:"error"`
}
