package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
