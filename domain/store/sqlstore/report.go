package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/report"
)

var _ report.Store = (*Store)(nil)

const reportCols = `tenant_id, id, type, parameters, status, file, error, requested_by, created_at, generated_at, failed_at`

func scanReport(sc scanner) (report.Report, error) {
	var (
		r      report.Report
		params []byte
	)
	err := sc.Scan(&r.TenantID, &r.ID, &r.Type, &params, &r.Status, &r.File, &r.Error, &r.RequestedBy,
		timeCol{&r.CreatedAt}, nullTimeCol{&r.GeneratedAt}, nullTimeCol{&r.FailedAt})
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(params, &r.Parameters); err != nil {
		return r, fmt.Errorf("decode parameters of report %s: %w", r.ID, err)
	}
	return r, nil
}

// InsertReport stores a new report. domain.ErrConflict when the id is
// taken.
func (s *Store) InsertReport(ctx context.Context, r report.Report) error {
	id, err := newRowID("id", r.ID)
	if err != nil {
		return fmt.Errorf("insert report: %w", err)
	}
	if err := requireTenant(r.TenantID); err != nil {
		return fmt.Errorf("insert report: %w", err)
	}
	params, err := json.Marshal(r.Parameters)
	if err != nil {
		return fmt.Errorf("insert report: encode parameters: %w", err)
	}
	_, err = s.exec(ctx, `INSERT INTO reports (`+reportCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.TenantID, id, r.Type, string(params), r.Status, r.File, r.Error, r.RequestedBy,
		encTimeOrNow(r.CreatedAt), encTimePtr(r.GeneratedAt), encTimePtr(r.FailedAt))
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert report %s: %w", id, domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert report", err)
	}
	return nil
}

// GetReport returns one of the tenant's reports; domain.ErrNotFound for a
// missing, malformed or another tenant's id.
func (s *Store) GetReport(ctx context.Context, tenant domain.TenantID, id string) (report.Report, error) {
	return s.getReport(ctx, "get report", tenant, id, "")
}

// LockReport is GetReport that locks the row until the transaction ends.
func (s *Store) LockReport(ctx context.Context, tenant domain.TenantID, id string) (report.Report, error) {
	if !s.inTx(ctx) {
		return report.Report{}, errors.New("lock report: must run inside InTx")
	}
	return s.getReport(ctx, "lock report", tenant, id, s.d.LockRows(false))
}

func (s *Store) getReport(ctx context.Context, op string, tenant domain.TenantID, id, lock string) (report.Report, error) {
	return getTenantRow(ctx, s, op, `SELECT `+reportCols+` FROM reports WHERE tenant_id = ? AND id = ?`, tenant, id, lock, scanReport)
}

// UpdateReport writes a report's status, file, error and times.
func (s *Store) UpdateReport(ctx context.Context, r report.Report) error {
	key, ok := lookupID(r.ID)
	if !ok {
		return fmt.Errorf("update report %q: %w", r.ID, domain.ErrNotFound)
	}
	res, err := s.exec(ctx, `UPDATE reports SET status = ?, file = ?, error = ?, generated_at = ?, failed_at = ?
		WHERE tenant_id = ? AND id = ?`,
		r.Status, r.File, r.Error, encTimePtr(r.GeneratedAt), encTimePtr(r.FailedAt), r.TenantID, key)
	if err != nil {
		return s.wrap("update report", err)
	}
	n, err := affected("update report", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("update report %s: %w", key, domain.ErrNotFound)
	}
	return nil
}

// ListReports lists the tenant's reports newest first (by id, which is
// time-ordered), before the cursor p.Before, of p.Type and p.Status when
// set. Limit defaults to 50, at most 200.
func (s *Store) ListReports(ctx context.Context, tenant domain.TenantID, p report.ListParams) ([]report.Report, error) {
	q := `SELECT ` + reportCols + ` FROM reports WHERE tenant_id = ?`
	args := []any{tenant}
	if p.Type != "" {
		q += ` AND type = ?`
		args = append(args, p.Type)
	}
	if p.Status != "" {
		q += ` AND status = ?`
		args = append(args, p.Status)
	}
	if p.Before != "" {
		key, ok := lookupID(p.Before)
		if !ok {
			return nil, fmt.Errorf("list reports: %w", domain.Invalid("before", "must be a report id"))
		}
		q += ` AND id < ?`
		args = append(args, key)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, clamp(p.Limit, 50, 200))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list reports", err)
	}
	defer rows.Close()
	out := []report.Report{}
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, fmt.Errorf("list reports: scan: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list reports", err)
	}
	return out, nil
}
