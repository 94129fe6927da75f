package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

const failedJobCols = `id, queue, job, tenant_id, payload, attempts, error, failed_at`

// MarkProcessed records that listener has handled eventID; first is false
// when it already had. Call it in the transaction of the listener's effect,
// so that the effect and the key commit or vanish together.
func (s *Store) MarkProcessed(ctx context.Context, listener, eventID string) (bool, error) {
	if listener == "" || eventID == "" {
		return false, fmt.Errorf("mark processed: %w", domain.Invalid("listener", "listener and event id are required"))
	}
	res, err := s.exec(ctx, `INSERT INTO processed_events (listener, event_id, processed_at) VALUES (?, ?, ?)
		ON CONFLICT (listener, event_id) DO NOTHING`, listener, eventID, encTime(now()))
	if err != nil {
		return false, s.wrap("mark processed", err)
	}
	n, err := affected("mark processed", res)
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// MarkProcessedMany is MarkProcessed for several events of one listener:
// first[i] tells whether eventIDs[i] was recorded now (false for one
// already there, and for a repeat of an id earlier in the list). On
// PostgreSQL it is one statement, where MarkProcessed per event is a round
// trip each inside a listener's batch transaction.
func (s *Store) MarkProcessedMany(ctx context.Context, listener string, eventIDs []string) ([]bool, error) {
	first := make([]bool, len(eventIDs))
	if listener == "" || slices.Contains(eventIDs, "") {
		return nil, fmt.Errorf("mark processed: %w", domain.Invalid("listener", "listener and event ids are required"))
	}
	if !s.pgArrays() || len(eventIDs) < 2 {
		for i, id := range eventIDs {
			f, err := s.MarkProcessed(ctx, listener, id)
			if err != nil {
				return nil, err
			}
			first[i] = f
		}
		return first, nil
	}
	rows, err := s.query(ctx, `INSERT INTO processed_events (listener, event_id, processed_at)
		SELECT ?, e, ? FROM unnest(CAST(? AS text[])) AS e
		ON CONFLICT (listener, event_id) DO NOTHING RETURNING event_id`, listener, encTime(now()), eventIDs)
	if err != nil {
		return nil, s.wrap("mark processed", err)
	}
	defer rows.Close()
	inserted := make(map[string]bool, len(eventIDs))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("mark processed: scan: %w", err)
		}
		inserted[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("mark processed", err)
	}
	for i, id := range eventIDs {
		if inserted[id] {
			first[i] = true
			delete(inserted, id) // a repeat later in the list is not first
		}
	}
	return first, nil
}

func scanFailedJob(sc scanner) (domain.FailedJob, error) {
	var (
		j       domain.FailedJob
		payload []byte
	)
	err := sc.Scan(&j.ID, &j.Queue, &j.Job, &j.TenantID, &payload, &j.Attempts, &j.Error, timeCol{&j.FailedAt})
	j.Payload = payload
	return j, err
}

// InsertFailedJob keeps a job or listener run that used up its tries.
// domain.ErrConflict when the id is taken.
func (s *Store) InsertFailedJob(ctx context.Context, j domain.FailedJob) error {
	id, err := newRowID("id", j.ID)
	if err != nil {
		return fmt.Errorf("insert failed job: %w", err)
	}
	if j.Queue == "" || j.Job == "" {
		return fmt.Errorf("insert failed job: %w", domain.Invalid("job", "queue and job are required"))
	}
	payload, err := encJSON("payload", j.Payload, "null")
	if err != nil {
		return fmt.Errorf("insert failed job: %w", err)
	}
	_, err = s.exec(ctx, `INSERT INTO failed_jobs (`+failedJobCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		id, j.Queue, j.Job, j.TenantID, payload, j.Attempts, j.Error, encTimeOrNow(j.FailedAt))
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert failed job %s: %w", id, domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert failed job", err)
	}
	return nil
}

// ListFailedJobs lists failed jobs newest first; limit defaults to 100, at
// most 1000.
func (s *Store) ListFailedJobs(ctx context.Context, limit int) ([]domain.FailedJob, error) {
	rows, err := s.query(ctx, `SELECT `+failedJobCols+` FROM failed_jobs ORDER BY failed_at DESC, id DESC LIMIT ?`,
		clamp(limit, 100, 1000))
	if err != nil {
		return nil, s.wrap("list failed jobs", err)
	}
	defer rows.Close()
	out := []domain.FailedJob{}
	for rows.Next() {
		j, err := scanFailedJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list failed jobs: scan: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list failed jobs", err)
	}
	return out, nil
}

// GetFailedJob returns one failed job; domain.ErrNotFound when absent.
func (s *Store) GetFailedJob(ctx context.Context, id string) (domain.FailedJob, error) {
	key, ok := lookupID(id)
	if !ok {
		return domain.FailedJob{}, fmt.Errorf("get failed job %q: %w", id, domain.ErrNotFound)
	}
	j, err := scanFailedJob(s.queryRow(ctx, `SELECT `+failedJobCols+` FROM failed_jobs WHERE id = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return domain.FailedJob{}, fmt.Errorf("get failed job %s: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return domain.FailedJob{}, s.wrap("get failed job", err)
	}
	return j, nil
}

// DeleteFailedJob removes one failed job; domain.ErrNotFound when absent.
func (s *Store) DeleteFailedJob(ctx context.Context, id string) error {
	key, ok := lookupID(id)
	if !ok {
		return fmt.Errorf("delete failed job %q: %w", id, domain.ErrNotFound)
	}
	res, err := s.exec(ctx, `DELETE FROM failed_jobs WHERE id = ?`, key)
	if err != nil {
		return s.wrap("delete failed job", err)
	}
	n, err := affected("delete failed job", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("delete failed job %s: %w", key, domain.ErrNotFound)
	}
	return nil
}

// DeleteAllFailedJobs removes every failed job and returns how many.
func (s *Store) DeleteAllFailedJobs(ctx context.Context) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM failed_jobs`)
	if err != nil {
		return 0, s.wrap("delete all failed jobs", err)
	}
	return affected("delete all failed jobs", res)
}

// pruneBatch bounds the rows one prune statement deletes, keeping each
// statement (and the locks it holds) short on large tables.
const pruneBatch = 5000

// FailedJobs lists the scope's failed jobs newest first (failed_at, then
// id, descending), those before the cursor when it is set. Limit defaults
// to 50, at most 1000.
func (s *Store) FailedJobs(ctx context.Context, scope domain.FailedJobScope, before domain.FailedJobCursor, limit int) ([]domain.FailedJob, error) {
	if !scope.Valid() {
		return nil, fmt.Errorf("failed jobs: %w", domain.Invalid("tenant_id", "a tenant or all tenants is required"))
	}
	q := `SELECT ` + failedJobCols + ` FROM failed_jobs WHERE 1 = 1`
	var args []any
	if !scope.AllTenants {
		q += ` AND tenant_id = ?`
		args = append(args, scope.Tenant)
	}
	if before.ID != "" {
		id, ok := lookupID(before.ID)
		if !ok {
			return nil, fmt.Errorf("failed jobs: %w", domain.Invalid("before", "must be a failed job id"))
		}
		at := encTime(before.FailedAt)
		q += ` AND (failed_at < ? OR (failed_at = ? AND id < ?))`
		args = append(args, at, at, id)
	}
	q += ` ORDER BY failed_at DESC, id DESC LIMIT ?`
	args = append(args, clamp(limit, 50, 1000))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("failed jobs", err)
	}
	defer rows.Close()
	out := []domain.FailedJob{}
	for rows.Next() {
		j, err := scanFailedJob(rows)
		if err != nil {
			return nil, fmt.Errorf("failed jobs: scan: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("failed jobs", err)
	}
	return out, nil
}

// DeleteFailedJobs removes every failed job of the scope and returns how
// many.
func (s *Store) DeleteFailedJobs(ctx context.Context, scope domain.FailedJobScope) (int64, error) {
	switch {
	case !scope.Valid():
		return 0, fmt.Errorf("delete failed jobs: %w", domain.Invalid("tenant_id", "a tenant or all tenants is required"))
	case scope.AllTenants:
		return s.DeleteAllFailedJobs(ctx)
	}
	res, err := s.exec(ctx, `DELETE FROM failed_jobs WHERE tenant_id = ?`, scope.Tenant)
	if err != nil {
		return 0, s.wrap("delete failed jobs", err)
	}
	return affected("delete failed jobs", res)
}

// CountFailedJobs counts the failed jobs per queue.
func (s *Store) CountFailedJobs(ctx context.Context) (map[string]int64, error) {
	rows, err := s.query(ctx, `SELECT queue, COUNT(*) FROM failed_jobs GROUP BY queue`)
	if err != nil {
		return nil, s.wrap("count failed jobs", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var q string
		var n int64
		if err := rows.Scan(&q, &n); err != nil {
			return nil, fmt.Errorf("count failed jobs: scan: %w", err)
		}
		out[q] = n
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("count failed jobs", err)
	}
	return out, nil
}

// PruneFailedJobs deletes failed jobs that failed before the given time
// and returns how many.
func (s *Store) PruneFailedJobs(ctx context.Context, before time.Time) (int64, error) {
	return s.pruneLoop(ctx, "prune failed jobs", `DELETE FROM failed_jobs WHERE id IN (
		SELECT id FROM failed_jobs WHERE failed_at < ? ORDER BY failed_at LIMIT ?)`, encTime(before))
}

// PruneProcessedEvents deletes listener idempotency markers recorded
// before the given time. Only safe for events that can no longer be
// redelivered (see workers/jobs.MinEventRetention).
func (s *Store) PruneProcessedEvents(ctx context.Context, before time.Time) (int64, error) {
	return s.pruneLoop(ctx, "prune processed events", `DELETE FROM processed_events WHERE (listener, event_id) IN (
		SELECT listener, event_id FROM processed_events WHERE processed_at < ? LIMIT ?)`, encTime(before))
}

// PrunePublishedEvents deletes outbox events published before the given
// time (they leave the tenant's event log too). Unpublished events stay.
func (s *Store) PrunePublishedEvents(ctx context.Context, before time.Time) (int64, error) {
	return s.pruneLoop(ctx, "prune published events", `DELETE FROM events WHERE pos IN (
		SELECT pos FROM events WHERE published_at IS NOT NULL AND published_at < ? ORDER BY pos LIMIT ?)`, encTime(before))
}

// pruneLoop runs a batched delete (its last marker is the batch size)
// until a batch comes back short, and returns the total.
func (s *Store) pruneLoop(ctx context.Context, op, q string, args ...any) (int64, error) {
	var total int64
	for {
		res, err := s.exec(ctx, q, append(args, pruneBatch)...)
		if err != nil {
			return total, s.wrap(op, err)
		}
		n, err := affected(op, res)
		if err != nil {
			return total, err
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}
