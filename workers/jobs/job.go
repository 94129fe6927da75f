package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// Defaults of a job type's policy.
const (
	DefaultTries   = 3
	DefaultTimeout = 2 * time.Minute
)

// DefaultBackoff is the default delay before the 2nd and 3rd try.
var DefaultBackoff = []time.Duration{10 * time.Second, time.Minute}

// Type is a kind of background job. Tries, Timeout and Backoff are the
// job's own defaults; a worker's --tries, --timeout and --backoff override
// them.
type Type struct {
	Name    string          // unique, e.g. "SendBulkNotifications"
	Queue   string          // queue it is dispatched to; default "default"
	Tries   int             // default 3
	Timeout time.Duration   // default 2m; the attempt's ctx ends then
	Backoff []time.Duration // default 10s, 1m; the last repeats
	// Handle runs the job for tenant. It must be idempotent: a job runs
	// again after a crash, a takeover or a retry. An error marked
	// domain.ErrPermanent (or a validation or rule error) skips the
	// remaining tries.
	Handle func(ctx context.Context, tenant domain.TenantID, payload json.RawMessage) error
	// Failed, when set, runs once the job has used up its tries and been
	// recorded as a failed job (to mark the job's own record failed).
	Failed func(ctx context.Context, tenant domain.TenantID, payload json.RawMessage, cause error) error
}

func (t Type) policy() runner.Policy {
	return runner.Policy{Tries: t.Tries, Timeout: t.Timeout, Backoff: t.Backoff}
}

// Envelope is a job on its queue: what Dispatch writes and a worker reads.
// A failed job keeps it as its payload, so a retry runs the same job (same
// id) again.
type Envelope struct {
	ID           string          `json:"id"` // uuid v7; stays the same across retries
	Job          string          `json:"job"`
	Tenant       domain.TenantID `json:"tenant"`
	Payload      json.RawMessage `json:"payload"`
	Queue        string          `json:"queue"`
	DispatchedAt time.Time       `json:"dispatched_at"`
}

func decodeEnvelope(body []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return Envelope{}, fmt.Errorf("undecodable job: %w: %w", domain.ErrPermanent, err)
	}
	if e.ID == "" || e.Job == "" || e.Tenant == "" {
		return e, fmt.Errorf("undecodable job: id, job and tenant are required: %w", domain.ErrPermanent)
	}
	return e, nil
}

// Registry holds the job types a process knows. Register every type while
// wiring the process, before workers or dispatchers use it; after that it
// is only read, and safe for concurrent use.
type Registry struct {
	types map[string]Type
	names []string
}

var _ runner.Jobs = (*Registry)(nil)

// NewRegistry returns a registry of the types, with their defaults applied.
func NewRegistry(types ...Type) (*Registry, error) {
	r := &Registry{types: map[string]Type{}}
	for _, t := range types {
		if err := r.Register(t); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register adds a job type, with its defaults applied. A type may depend
// on a dispatcher of this same registry (a job queueing another), hence
// registration after construction.
func (r *Registry) Register(t Type) error {
	switch {
	case t.Name == "" || len(t.Name) > 100:
		return fmt.Errorf("jobs: a job type needs a name of at most 100 bytes, got %q", t.Name)
	case t.Handle == nil:
		return fmt.Errorf("jobs: job %q has no Handle", t.Name)
	case r.types[t.Name].Name != "":
		return fmt.Errorf("jobs: two job types named %q", t.Name)
	case t.Tries < 0 || t.Timeout < 0:
		return fmt.Errorf("jobs: job %q: tries and timeout must not be negative", t.Name)
	}
	if t.Queue == "" {
		t.Queue = runner.QueueDefault
	}
	if err := runner.CheckQueue(t.Queue); err != nil {
		return fmt.Errorf("jobs: job %q: %w", t.Name, err)
	}
	if t.Tries == 0 {
		t.Tries = DefaultTries
	}
	if t.Timeout == 0 {
		t.Timeout = DefaultTimeout
	}
	if len(t.Backoff) == 0 {
		t.Backoff = DefaultBackoff
	}
	for _, b := range t.Backoff {
		if b < 0 {
			return fmt.Errorf("jobs: job %q: backoff must not be negative", t.Name)
		}
	}
	r.types[t.Name] = t
	r.names = append(r.names, t.Name)
	return nil
}

// Lookup returns the type named name.
func (r *Registry) Lookup(name string) (Type, bool) {
	t, ok := r.types[name]
	return t, ok
}

// Policies lists every type's own policy (runner.Jobs).
func (r *Registry) Policies() []runner.Policy {
	out := make([]runner.Policy, 0, len(r.names))
	for _, n := range r.names {
		out = append(out, r.types[n].policy())
	}
	return out
}

// Task decodes a queue entry into the job to run (runner.Jobs). An
// unknown job is a permanent failure: it goes to failed_jobs at once, to
// be retried once a worker that knows it is deployed.
func (r *Registry) Task(queue string, body []byte) (runner.Task, error) {
	task := runner.Task{Queue: queue, Payload: body}
	e, err := decodeEnvelope(body)
	task.Name, task.Tenant = e.Job, e.Tenant
	if err != nil {
		return task, err
	}
	t, ok := r.types[e.Job]
	if !ok {
		return task, fmt.Errorf("unknown job %q (not registered in this worker): %w", e.Job, domain.ErrPermanent)
	}
	task.Policy = t.policy()
	task.Run = func(ctx context.Context) error { return t.Handle(ctx, e.Tenant, e.Payload) }
	if t.Failed != nil {
		task.OnFailed = func(ctx context.Context, cause error) error { return t.Failed(ctx, e.Tenant, e.Payload, cause) }
	}
	return task, nil
}
