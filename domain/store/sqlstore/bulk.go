package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

var _ notification.BulkStore = (*Store)(nil)

const bulkCols = `tenant_id, id, requested_by, audience, type, severity, title, body, action_url, data,
	status, total, sent, failed, errors, resume_after, last_error, created_at, started_at, completed_at`

func scanBulk(sc scanner) (notification.Bulk, error) {
	var (
		b                       notification.Bulk
		audience, data, errList []byte
	)
	err := sc.Scan(&b.TenantID, &b.ID, &b.RequestedBy, &audience, &b.Type, &b.Severity, &b.Title, &b.Body,
		&b.ActionURL, &data, &b.Status, &b.Total, &b.Sent, &b.Failed, &errList, &b.ResumeAfter, &b.LastError,
		timeCol{&b.CreatedAt}, nullTimeCol{&b.StartedAt}, nullTimeCol{&b.CompletedAt})
	if err != nil {
		return b, err
	}
	if err := json.Unmarshal(audience, &b.Audience); err != nil {
		return b, fmt.Errorf("decode audience of bulk %s: %w", b.ID, err)
	}
	if err := json.Unmarshal(errList, &b.Errors); err != nil {
		return b, fmt.Errorf("decode errors of bulk %s: %w", b.ID, err)
	}
	b.Data = data
	return b, nil
}

// InsertBulk stores a new bulk send. domain.ErrConflict when the id is
// taken.
func (s *Store) InsertBulk(ctx context.Context, b notification.Bulk) error {
	return s.InsertBulks(ctx, []notification.Bulk{b})
}

const (
	bulkColCount   = 20
	bulksPerInsert = 100 // 2,000 bind parameters
)

// InsertBulks stores new bulk sends in a few multi-row INSERTs (a group
// commit of direct sends). domain.ErrConflict when an id is taken.
func (s *Store) InsertBulks(ctx context.Context, bs []notification.Bulk) error {
	rows := make([]any, 0, len(bs)*bulkColCount)
	for _, b := range bs {
		row, err := bulkRow(b)
		if err != nil {
			return fmt.Errorf("insert bulk: %w", err)
		}
		rows = append(rows, row...)
	}
	return s.insertRows(ctx, "insert bulk", `INSERT INTO bulk_notifications (`+bulkCols+`) VALUES `,
		bulkColCount, bulksPerInsert, rows)
}

// insertRows runs insert (ending in "VALUES ") for rows, colCount values
// each, perInsert rows a statement; a taken key is domain.ErrConflict.
func (s *Store) insertRows(ctx context.Context, op, insert string, colCount, perInsert int, rows []any) error {
	n := len(rows) / colCount
	for start := 0; start < n; start += perInsert {
		k := min(perInsert, n-start)
		_, err := s.exec(ctx, insert+valuesList(k, colCount), rows[start*colCount:(start+k)*colCount]...)
		if s.kind(err) == KindUniqueViolation {
			return fmt.Errorf("%s: id taken: %w", op, domain.ErrConflict)
		}
		if err != nil {
			return s.wrap(op, err)
		}
	}
	return nil
}

// bulkRow validates b and returns its column values in bulkCols order.
func bulkRow(b notification.Bulk) ([]any, error) {
	id, err := newRowID("id", b.ID)
	if err != nil {
		return nil, err
	}
	if err := requireTenant(b.TenantID); err != nil {
		return nil, err
	}
	audience, err := json.Marshal(b.Audience)
	if err != nil {
		return nil, fmt.Errorf("encode audience: %w", err)
	}
	data, err := encJSON("data", b.Data, "{}")
	if err != nil {
		return nil, err
	}
	errList, err := encJSONList(b.Errors)
	if err != nil {
		return nil, err
	}
	return []any{b.TenantID, id, b.RequestedBy, string(audience), b.Type, b.Severity, b.Title, b.Body, b.ActionURL, data,
		b.Status, b.Total, b.Sent, b.Failed, errList, b.ResumeAfter, b.LastError,
		encTimeOrNow(b.CreatedAt), encTimePtr(b.StartedAt), encTimePtr(b.CompletedAt)}, nil
}

// GetBulk returns one of the tenant's bulk sends; domain.ErrNotFound for a
// missing, malformed or another tenant's id.
func (s *Store) GetBulk(ctx context.Context, tenant domain.TenantID, id string) (notification.Bulk, error) {
	return s.getBulk(ctx, "get bulk", tenant, id, "")
}

// LockBulk is GetBulk that locks the row until the transaction ends.
func (s *Store) LockBulk(ctx context.Context, tenant domain.TenantID, id string) (notification.Bulk, error) {
	if !s.inTx(ctx) {
		return notification.Bulk{}, errors.New("lock bulk: must run inside InTx")
	}
	return s.getBulk(ctx, "lock bulk", tenant, id, s.d.LockRows(false))
}

func (s *Store) getBulk(ctx context.Context, op string, tenant domain.TenantID, id, lock string) (notification.Bulk, error) {
	return getTenantRow(ctx, s, op, `SELECT `+bulkCols+` FROM bulk_notifications WHERE tenant_id = ? AND id = ?`, tenant, id, lock, scanBulk)
}

// UpdateBulk writes a bulk's progress: status, counts, errors, where to
// resume, last error and times.
func (s *Store) UpdateBulk(ctx context.Context, b notification.Bulk) error {
	key, ok := lookupID(b.ID)
	if !ok {
		return fmt.Errorf("update bulk %q: %w", b.ID, domain.ErrNotFound)
	}
	errList, err := encJSONList(b.Errors)
	if err != nil {
		return fmt.Errorf("update bulk: %w", err)
	}
	res, err := s.exec(ctx, `UPDATE bulk_notifications SET status = ?, total = ?, sent = ?, failed = ?, errors = ?,
		resume_after = ?, last_error = ?, started_at = ?, completed_at = ? WHERE tenant_id = ? AND id = ?`,
		b.Status, b.Total, b.Sent, b.Failed, errList, b.ResumeAfter, b.LastError,
		encTimePtr(b.StartedAt), encTimePtr(b.CompletedAt), b.TenantID, key)
	if err != nil {
		return s.wrap("update bulk", err)
	}
	n, err := affected("update bulk", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("update bulk %s: %w", key, domain.ErrNotFound)
	}
	return nil
}

// byteOrder makes a comparison or ORDER BY on text follow byte order, as
// Go compares strings (SQLite's default BINARY collation already does).
func (s *Store) byteOrder() string {
	if s.d.Name() == "postgres" {
		return ` COLLATE "C"`
	}
	return ""
}

// UserIDsAfter lists up to limit (default 500, at most 5000) of the
// tenant's known user ids greater than after, in byte order: holders of
// perm (directly or through admin), or every user when perm is "".
func (s *Store) UserIDsAfter(ctx context.Context, tenant domain.TenantID, perm string, after domain.UserID, limit int) ([]domain.UserID, error) {
	q, args := s.audienceQuery(`SELECT u.id FROM users u`, tenant, perm)
	q += ` AND u.id` + s.byteOrder() + ` > ? ORDER BY u.id` + s.byteOrder() + ` LIMIT ?`
	args = append(args, after, clamp(limit, 500, 5000))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("user ids after", err)
	}
	defer rows.Close()
	out := []domain.UserID{}
	for rows.Next() {
		var id domain.UserID
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("user ids after: scan: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("user ids after", err)
	}
	return out, nil
}

// CountUsers counts the users UserIDsAfter lists from the start.
func (s *Store) CountUsers(ctx context.Context, tenant domain.TenantID, perm string) (int64, error) {
	q, args := s.audienceQuery(`SELECT COUNT(*) FROM users u`, tenant, perm)
	var n int64
	if err := s.queryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, s.wrap("count users", err)
	}
	return n, nil
}

func (s *Store) audienceQuery(sel string, tenant domain.TenantID, perm string) (string, []any) {
	q := sel + ` WHERE u.tenant_id = ?`
	args := []any{tenant}
	if perm != "" {
		q += ` AND EXISTS (SELECT 1 FROM ` + s.d.JSONArrayText("u.perms", "p") + ` WHERE p.value IN (?, ?))`
		args = append(args, perm, domain.PermAdmin)
	}
	return q, args
}

// KnownUsers reports which of ids are known users of the tenant.
func (s *Store) KnownUsers(ctx context.Context, tenant domain.TenantID, ids []domain.UserID) (map[domain.UserID]bool, error) {
	out := make(map[domain.UserID]bool, len(ids))
	for start := 0; start < len(ids); start += idsPerUpdate {
		chunk := ids[start:min(start+idsPerUpdate, len(ids))]
		args := make([]any, 0, 1+len(chunk))
		args = append(args, tenant)
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := s.query(ctx, `SELECT id FROM users WHERE tenant_id = ? AND id IN (`+inList(len(chunk))+`)`, args...)
		if err != nil {
			return nil, s.wrap("known users", err)
		}
		for rows.Next() {
			var id domain.UserID
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("known users: scan: %w", err)
			}
			out[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.wrap("known users", err)
		}
	}
	return out, nil
}
