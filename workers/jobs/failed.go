package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// ListenerQueue is the queue failed_jobs records listener failures under
// (the event topic); every other queue is a job queue.
const ListenerQueue = "events"

// FailedStore is what failed-job management needs from the store.
type FailedStore interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	AppendEvents(ctx context.Context, events ...domain.Event) error
	// FailedJobs lists the scope's failed jobs newest first, from after
	// the cursor (zero: the newest).
	FailedJobs(ctx context.Context, scope domain.FailedJobScope, before domain.FailedJobCursor, limit int) ([]domain.FailedJob, error)
	// GetFailedJob: domain.ErrNotFound when absent.
	GetFailedJob(ctx context.Context, id string) (domain.FailedJob, error)
	// DeleteFailedJob: domain.ErrNotFound when absent.
	DeleteFailedJob(ctx context.Context, id string) error
	DeleteFailedJobs(ctx context.Context, scope domain.FailedJobScope) (int64, error)
	PruneFailedJobs(ctx context.Context, before time.Time) (int64, error)
	PruneProcessedEvents(ctx context.Context, before time.Time) (int64, error)
	PrunePublishedEvents(ctx context.Context, before time.Time) (int64, error)
}

// Failed manages failed jobs: the operator's CLI with every tenant in
// scope, the REST API with the caller's tenant only.
type Failed struct {
	store FailedStore
	now   func() time.Time
}

// NewFailed returns a Failed; now defaults to time.Now.
func NewFailed(store FailedStore, now func() time.Time) *Failed {
	if now == nil {
		now = time.Now
	}
	return &Failed{store: store, now: now}
}

// Page limits of List.
const (
	DefaultPage = 50
	MaxPage     = 200
)

// List returns up to limit (default 50, at most 200) failed jobs of the
// scope, newest first, older than the job before ("" for the newest; an id
// outside the scope is domain.ErrNotFound).
func (f *Failed) List(ctx context.Context, scope domain.FailedJobScope, before string, limit int) ([]domain.FailedJob, error) {
	var cursor domain.FailedJobCursor
	if before != "" {
		j, err := f.Get(ctx, scope, before)
		if err != nil {
			return nil, err
		}
		cursor = domain.FailedJobCursor{FailedAt: j.FailedAt, ID: j.ID}
	}
	switch {
	case limit <= 0:
		limit = DefaultPage
	case limit > MaxPage:
		limit = MaxPage
	}
	return f.store.FailedJobs(ctx, scope, cursor, limit)
}

// Get returns one failed job of the scope; domain.ErrNotFound for another
// tenant's, a missing or a malformed id.
func (f *Failed) Get(ctx context.Context, scope domain.FailedJobScope, id string) (domain.FailedJob, error) {
	if !scope.Valid() {
		return domain.FailedJob{}, errors.New("failed jobs: no scope")
	}
	j, err := f.store.GetFailedJob(ctx, id)
	if err != nil {
		return domain.FailedJob{}, err
	}
	if !scope.Includes(j.TenantID) {
		return domain.FailedJob{}, fmt.Errorf("failed job %s: %w", id, domain.ErrNotFound)
	}
	return j, nil
}

// Retry queues the failed job again, with its original payload, for the
// same queue or the same listener only, and removes it from failed_jobs
// in the same transaction: it is never both gone and not queued. Of
// concurrent retries of one job, one wins; the others get ErrNotFound.
// A job whose entry could not be read has nothing to run again: a
// domain.RuleError (422) says so.
func (f *Failed) Retry(ctx context.Context, scope domain.FailedJobScope, id string) error {
	return f.store.InTx(ctx, func(ctx context.Context) error {
		j, err := f.Get(ctx, scope, id)
		if err != nil {
			return err
		}
		ev, err := f.requeue(j)
		if err != nil {
			return err
		}
		if err := f.store.AppendEvents(ctx, ev); err != nil {
			return err
		}
		return f.store.DeleteFailedJob(ctx, j.ID)
	})
}

// requeue builds the outbox row that runs j again.
func (f *Failed) requeue(j domain.FailedJob) (domain.Event, error) {
	notRetryable := func(why string) error {
		return domain.Rule("not_retryable", "failed job %s cannot be retried: %s; forget it instead", j.ID, why)
	}
	if j.TenantID == "" {
		return domain.Event{}, notRetryable("its entry could not be read")
	}
	out := domain.Event{
		ID: domain.NewID(), TenantID: j.TenantID, AggregateType: "failed_job", AggregateID: j.ID,
		OccurredAt: f.now().UTC(),
	}
	if j.Queue == ListenerQueue {
		var ev domain.Event
		if err := json.Unmarshal(j.Payload, &ev); err != nil || ev.ID == "" || ev.Type == "" {
			return domain.Event{}, notRetryable("its event could not be read")
		}
		if ev.TenantID != j.TenantID {
			return domain.Event{}, notRetryable("its event belongs to another tenant")
		}
		payload, err := json.Marshal(listenerRetry{Listener: j.Job, Event: ev})
		if err != nil {
			return domain.Event{}, fmt.Errorf("encode listener retry: %w", err)
		}
		out.Type, out.Payload = domain.EventListenerRetry, payload
		return out, nil
	}
	e, err := decodeEnvelope(j.Payload)
	if err != nil {
		return domain.Event{}, notRetryable("its job envelope could not be read")
	}
	if e.Tenant != j.TenantID {
		return domain.Event{}, notRetryable("its job belongs to another tenant")
	}
	e.Queue = j.Queue // back where it failed
	payload, err := json.Marshal(e)
	if err != nil {
		return domain.Event{}, fmt.Errorf("encode job: %w", err)
	}
	out.Type, out.Payload = domain.EventJobDispatched, payload
	return out, nil
}

// RetryAll retries every failed job of the scope. Jobs that cannot be
// retried stay and are reported; a store error stops it (what was retried
// stays retried).
func (f *Failed) RetryAll(ctx context.Context, scope domain.FailedJobScope) (domain.RetryReport, error) {
	rep := domain.RetryReport{Skipped: []domain.SkippedJob{}}
	var cursor domain.FailedJobCursor
	for {
		page, err := f.store.FailedJobs(ctx, scope, cursor, MaxPage)
		if err != nil {
			return rep, err
		}
		for _, j := range page {
			err := f.Retry(ctx, scope, j.ID)
			var rule *domain.RuleError
			switch {
			case err == nil:
				rep.Retried++
			case errors.Is(err, domain.ErrNotFound):
				// Retried or forgotten meanwhile by someone else.
			case errors.As(err, &rule):
				rep.Skipped = append(rep.Skipped, domain.SkippedJob{ID: j.ID, Error: rule.Message})
			default:
				return rep, err
			}
		}
		if len(page) < MaxPage {
			return rep, nil
		}
		last := page[len(page)-1]
		cursor = domain.FailedJobCursor{FailedAt: last.FailedAt, ID: last.ID}
	}
}

// Forget deletes one failed job of the scope.
func (f *Failed) Forget(ctx context.Context, scope domain.FailedJobScope, id string) error {
	return f.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := f.Get(ctx, scope, id); err != nil {
			return err
		}
		return f.store.DeleteFailedJob(ctx, id)
	})
}

// Flush deletes every failed job of the scope and returns how many.
func (f *Failed) Flush(ctx context.Context, scope domain.FailedJobScope) (int64, error) {
	if !scope.Valid() {
		return 0, errors.New("failed jobs: no scope")
	}
	return f.store.DeleteFailedJobs(ctx, scope)
}

// Retention of processed_events markers and published outbox rows.
const (
	// DefaultEventRetention keeps them 30 days: the event log
	// (GET /api/v1/events) shows that far back.
	DefaultEventRetention = 30 * 24 * time.Hour
	// MinEventRetention is the least prune accepts. A marker must outlive
	// every redelivery of its event, or an effect could run twice: entries
	// are redelivered within reclaim-after, and the relay republishes the
	// last hour when Redis comes back empty. A day is far beyond both.
	MinEventRetention = 24 * time.Hour
)

// PruneReport says how many rows Prune deleted.
type PruneReport struct {
	FailedJobs      int64 `json:"failed_jobs"`
	ProcessedEvents int64 `json:"processed_events"`
	Events          int64 `json:"events"`
}

// Prune deletes failed jobs older than failedOlderThan, and
// processed_events markers and published outbox events older than
// eventsOlderThan (at least MinEventRetention). Unpublished events are
// never pruned.
func (f *Failed) Prune(ctx context.Context, failedOlderThan, eventsOlderThan time.Duration) (PruneReport, error) {
	var rep PruneReport
	if failedOlderThan <= 0 {
		return rep, domain.Invalid("older_than", "must be positive")
	}
	if eventsOlderThan < MinEventRetention {
		return rep, domain.Invalid("events_older_than", fmt.Sprintf("must be at least %s: an event may be redelivered until then", MinEventRetention))
	}
	now := f.now()
	var err error
	if rep.FailedJobs, err = f.store.PruneFailedJobs(ctx, now.Add(-failedOlderThan)); err != nil {
		return rep, err
	}
	if rep.ProcessedEvents, err = f.store.PruneProcessedEvents(ctx, now.Add(-eventsOlderThan)); err != nil {
		return rep, err
	}
	if rep.Events, err = f.store.PrunePublishedEvents(ctx, now.Add(-eventsOlderThan)); err != nil {
		return rep, err
	}
	return rep, nil
}
