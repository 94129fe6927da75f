package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// MaxPayloadBytes bounds a job's payload: jobs carry ids and parameters,
// not data (a bulk send keeps its text in its own row).
const MaxPayloadBytes = 64 << 10

// Outbox is where dispatched jobs are written (the store's outbox).
type Outbox interface {
	// AppendEvents writes events in the transaction carried by ctx, or in
	// one of its own.
	AppendEvents(ctx context.Context, events ...domain.Event) error
}

// Dispatcher queues jobs.
type Dispatcher struct {
	outbox Outbox
	reg    *Registry
	now    func() time.Time
}

// NewDispatcher returns a Dispatcher for the registered job types; now
// defaults to time.Now.
func NewDispatcher(outbox Outbox, reg *Registry, now func() time.Time) *Dispatcher {
	if now == nil {
		now = time.Now
	}
	return &Dispatcher{outbox: outbox, reg: reg, now: now}
}

// Dispatch queues the job for tenant on its type's queue and returns the
// job's id. Inside the store's InTx it joins that transaction: the job is
// queued if and only if the transaction commits, and it reaches a worker
// at least once after that (see the package doc). payload is JSON-encoded
// as given (a json.RawMessage is kept as is).
func (d *Dispatcher) Dispatch(ctx context.Context, tenant domain.TenantID, job string, payload any) (string, error) {
	return d.DispatchTo(ctx, tenant, job, "", payload)
}

// DispatchTo is Dispatch on the given queue instead of the type's own
// ("" = the type's own): `notifyhub queue ping --queue` checks any queue.
func (d *Dispatcher) DispatchTo(ctx context.Context, tenant domain.TenantID, job, queue string, payload any) (string, error) {
	t, ok := d.reg.Lookup(job)
	if !ok {
		return "", fmt.Errorf("dispatch: unknown job %q", job)
	}
	if queue != "" {
		if err := runner.CheckQueue(queue); err != nil {
			return "", fmt.Errorf("dispatch %s: %w", job, err)
		}
		t.Queue = queue
	}
	if !domain.ValidExternalID(string(tenant)) {
		return "", fmt.Errorf("dispatch %s: %w", job, domain.Invalid("tenant", "must be a tenant id"))
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("dispatch %s: encode payload: %w", job, err)
	}
	if len(raw) > MaxPayloadBytes {
		return "", fmt.Errorf("dispatch %s: payload of %d bytes: %w", job, len(raw), domain.ErrTooLarge)
	}
	now := d.now().UTC()
	env := Envelope{ID: domain.NewID(), Job: job, Tenant: tenant, Payload: raw, Queue: t.Queue, DispatchedAt: now}
	body, err := json.Marshal(env)
	if err != nil {
		return "", fmt.Errorf("dispatch %s: encode envelope: %w", job, err)
	}
	ev := domain.Event{
		ID: env.ID, TenantID: tenant, Type: domain.EventJobDispatched,
		AggregateType: "job", AggregateID: job, OccurredAt: now, Payload: body,
	}
	if err := d.outbox.AppendEvents(ctx, ev); err != nil {
		return "", fmt.Errorf("dispatch %s: %w", job, err)
	}
	return env.ID, nil
}
