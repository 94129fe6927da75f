package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
)

var (
	_ bulkimport.Store   = (*Store)(nil)
	_ bulkimport.Catalog = (*Store)(nil)
)

const importCols = `tenant_id, id, type, status, requested_by, file_name, file_path, file_size, file_sha256,
	mapping, counted, total_rows, imported_rows, failed_rows, skipped_rows, errors, resume_row, resume_offset,
	last_error, created_at, started_at, completed_at, failed_at`

func scanImport(sc scanner) (bulkimport.Import, error) {
	var (
		im              bulkimport.Import
		mapping, errors []byte
	)
	err := sc.Scan(&im.TenantID, &im.ID, &im.Type, &im.Status, &im.RequestedBy, &im.FileName, &im.FilePath,
		&im.FileSize, &im.FileSHA256, &mapping, &im.Counted, &im.TotalRows, &im.Imported, &im.Failed, &im.Skipped,
		&errors, &im.ResumeRow, &im.ResumeOffset, &im.LastError, timeCol{&im.CreatedAt},
		nullTimeCol{&im.StartedAt}, nullTimeCol{&im.CompletedAt}, nullTimeCol{&im.FailedAt})
	if err != nil {
		return im, err
	}
	if err := json.Unmarshal(mapping, &im.Mapping); err != nil {
		return im, fmt.Errorf("decode mapping of import %s: %w", im.ID, err)
	}
	if err := json.Unmarshal(errors, &im.Errors); err != nil {
		return im, fmt.Errorf("decode errors of import %s: %w", im.ID, err)
	}
	return im, nil
}

// InsertImport stores a new import. domain.ErrConflict when the id is
// taken.
func (s *Store) InsertImport(ctx context.Context, im bulkimport.Import) error {
	id, err := newRowID("id", im.ID)
	if err != nil {
		return fmt.Errorf("insert import: %w", err)
	}
	if err := requireTenant(im.TenantID); err != nil {
		return fmt.Errorf("insert import: %w", err)
	}
	if im.Mapping == nil {
		im.Mapping = map[string]string{}
	}
	mapping, err := json.Marshal(im.Mapping)
	if err != nil {
		return fmt.Errorf("insert import: encode mapping: %w", err)
	}
	errList, err := encJSONList(im.Errors)
	if err != nil {
		return fmt.Errorf("insert import: %w", err)
	}
	_, err = s.exec(ctx, `INSERT INTO import_logs (`+importCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		im.TenantID, id, im.Type, im.Status, im.RequestedBy, im.FileName, im.FilePath, im.FileSize, im.FileSHA256,
		string(mapping), im.Counted, im.TotalRows, im.Imported, im.Failed, im.Skipped, errList, im.ResumeRow,
		im.ResumeOffset, im.LastError, encTimeOrNow(im.CreatedAt), encTimePtr(im.StartedAt),
		encTimePtr(im.CompletedAt), encTimePtr(im.FailedAt))
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert import %s: %w", id, domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert import", err)
	}
	return nil
}

// GetImport returns one of the tenant's imports; domain.ErrNotFound for a
// missing, malformed or another tenant's id.
func (s *Store) GetImport(ctx context.Context, tenant domain.TenantID, id string) (bulkimport.Import, error) {
	return s.getImport(ctx, "get import", tenant, id, "")
}

// LockImport is GetImport that locks the row until the transaction ends.
func (s *Store) LockImport(ctx context.Context, tenant domain.TenantID, id string) (bulkimport.Import, error) {
	if !s.inTx(ctx) {
		return bulkimport.Import{}, errors.New("lock import: must run inside InTx")
	}
	return s.getImport(ctx, "lock import", tenant, id, s.d.LockRows(false))
}

func (s *Store) getImport(ctx context.Context, op string, tenant domain.TenantID, id, lock string) (bulkimport.Import, error) {
	return getTenantRow(ctx, s, op, `SELECT `+importCols+` FROM import_logs WHERE tenant_id = ? AND id = ?`, tenant, id, lock, scanImport)
}

// UpdateImport writes an import's progress: status, counts, errors, where
// to resume, last error and times.
func (s *Store) UpdateImport(ctx context.Context, im bulkimport.Import) error {
	key, ok := lookupID(im.ID)
	if !ok {
		return fmt.Errorf("update import %q: %w", im.ID, domain.ErrNotFound)
	}
	errList, err := encJSONList(im.Errors)
	if err != nil {
		return fmt.Errorf("update import: %w", err)
	}
	res, err := s.exec(ctx, `UPDATE import_logs SET status = ?, counted = ?, total_rows = ?, imported_rows = ?,
		failed_rows = ?, skipped_rows = ?, errors = ?, resume_row = ?, resume_offset = ?, last_error = ?,
		started_at = ?, completed_at = ?, failed_at = ? WHERE tenant_id = ? AND id = ?`,
		im.Status, im.Counted, im.TotalRows, im.Imported, im.Failed, im.Skipped, errList, im.ResumeRow,
		im.ResumeOffset, im.LastError, encTimePtr(im.StartedAt), encTimePtr(im.CompletedAt), encTimePtr(im.FailedAt),
		im.TenantID, key)
	if err != nil {
		return s.wrap("update import", err)
	}
	n, err := affected("update import", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("update import %s: %w", key, domain.ErrNotFound)
	}
	return nil
}

// ListImports lists the tenant's imports newest first (ids are
// time-ordered), before the cursor, of one type and status when given.
func (s *Store) ListImports(ctx context.Context, tenant domain.TenantID, p bulkimport.ListParams) ([]bulkimport.Import, error) {
	q := `SELECT ` + importCols + ` FROM import_logs WHERE tenant_id = ?`
	args := []any{tenant}
	if p.Before != "" {
		before, ok := lookupID(p.Before)
		if !ok {
			return nil, fmt.Errorf("list imports: %w", domain.Invalid("before", "must be an import id"))
		}
		q += ` AND id < ?`
		args = append(args, before)
	}
	if p.Type != "" {
		q += ` AND type = ?`
		args = append(args, p.Type)
	}
	if p.Status != "" {
		q += ` AND status = ?`
		args = append(args, p.Status)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, clamp(p.Limit, 50, 200))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list imports", err)
	}
	defer rows.Close()
	out := []bulkimport.Import{}
	for rows.Next() {
		im, err := scanImport(rows)
		if err != nil {
			return nil, fmt.Errorf("list imports: scan: %w", err)
		}
		out = append(out, im)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list imports", err)
	}
	return out, nil
}

// importKeysPerStatement bounds the keys of one IN list or multi-row insert.
const importKeysPerStatement = 200

// ClaimImportKeys records the natural keys of an import's rows in the
// order given and returns those recorded before (by an earlier row of the
// import, in this call or a previous one) with that row.
func (s *Store) ClaimImportKeys(ctx context.Context, tenant domain.TenantID, importID string, keys []bulkimport.RowKey) (map[string]int64, error) {
	id, ok := lookupID(importID)
	if !ok {
		return nil, fmt.Errorf("claim import keys %q: %w", importID, domain.ErrNotFound)
	}
	// The tenant's import, or none: import_keys has no foreign key (each
	// row's check cost more than the insert), so one lookup stands for it.
	var one int
	err := s.queryRow(ctx, `SELECT 1 FROM import_logs WHERE tenant_id = ? AND id = ?`, tenant, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("claim import keys: import %s of %s: %w", id, tenant, domain.ErrNotFound)
	}
	if err != nil {
		return nil, s.wrap("claim import keys", err)
	}
	if s.d.Name() == "postgres" {
		return s.claimImportKeysAtOnce(ctx, tenant, id, keys)
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Key
	}
	earlier := map[string]int64{}
	err = s.importChunks(names, func(chunk []any) error {
		q, args := s.importMatch("natural_key, row_no", "import_keys", " AND import_id = ?", []any{id},
			"natural_key", "", tenant, chunk)
		rows, err := s.query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var row int64
			if err := rows.Scan(&k, &row); err != nil {
				return err
			}
			earlier[k] = row
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.wrap("claim import keys", err)
	}
	seen := map[string]int64{}
	var fresh []any
	for _, k := range keys {
		if first, ok := earlier[k.Key]; ok {
			seen[k.Key] = first
			continue
		}
		if first, ok := seen[k.Key]; ok {
			seen[k.Key] = first
			continue
		}
		seen[k.Key] = k.Row
		fresh = append(fresh, tenant, id, k.Key, k.Row)
	}
	for start := 0; start < len(fresh); start += 4 * importKeysPerStatement {
		chunk := fresh[start:min(start+4*importKeysPerStatement, len(fresh))]
		values := ""
		for i := 0; i < len(chunk); i += 4 {
			if i > 0 {
				values += ", "
			}
			values += "(?, ?, ?, ?)"
		}
		if _, err := s.exec(ctx, `INSERT INTO import_keys (tenant_id, import_id, natural_key, row_no) VALUES `+values, chunk...); err != nil {
			if s.kind(err) == KindUniqueViolation {
				return nil, fmt.Errorf("claim import keys: %w", domain.ErrConflict)
			}
			return nil, s.wrap("claim import keys", err)
		}
	}
	// Only keys claimed by an earlier row are duplicates: drop the ones
	// this call claimed and no later row repeated.
	out := map[string]int64{}
	for _, k := range keys {
		if first := seen[k.Key]; first != k.Row {
			out[k.Key] = first
		}
	}
	return out, nil
}

// importChunks calls fn with the values in chunks of importKeysPerStatement.
func (s *Store) importChunks(values []string, fn func(chunk []any) error) error {
	for start := 0; start < len(values); start += importKeysPerStatement {
		part := values[start:min(start+importKeysPerStatement, len(values))]
		chunk := make([]any, len(part))
		for i, v := range part {
			chunk[i] = v
		}
		if err := fn(chunk); err != nil {
			return err
		}
	}
	return nil
}

// DeleteImportKeys forgets the keys of an import.
func (s *Store) DeleteImportKeys(ctx context.Context, tenant domain.TenantID, importID string) error {
	id, ok := lookupID(importID)
	if !ok {
		return nil
	}
	if _, err := s.exec(ctx, `DELETE FROM import_keys WHERE tenant_id = ? AND import_id = ?`, tenant, id); err != nil {
		return s.wrap("delete import keys", err)
	}
	return nil
}

// ImportedStockRows reports which of the rows of the file with that
// SHA-256 already made a stock movement in the tenant.
func (s *Store) ImportedStockRows(ctx context.Context, tenant domain.TenantID, sha256 string, rowNos []int64) (map[int64]bool, error) {
	out := map[int64]bool{}
	for start := 0; start < len(rowNos); start += importKeysPerStatement {
		part := rowNos[start:min(start+importKeysPerStatement, len(rowNos))]
		values := make([]any, len(part))
		for i, n := range part {
			values[i] = n
		}
		q, args := s.importMatch("row_no", "import_stock_rows", " AND file_sha256 = ?", []any{sha256},
			"row_no", "bigint", tenant, values)
		rows, err := s.query(ctx, q, args...)
		if err != nil {
			return nil, s.wrap("imported stock rows", err)
		}
		for rows.Next() {
			var n int64
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("imported stock rows: scan: %w", err)
			}
			out[n] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.wrap("imported stock rows", err)
		}
	}
	return out, nil
}

// InsertImportedStockRow records the movement a row of a file made.
// domain.ErrConflict when the row already made one.
func (s *Store) InsertImportedStockRow(ctx context.Context, r bulkimport.StockRow) error {
	importID, ok := lookupID(r.ImportID)
	if !ok {
		return fmt.Errorf("insert imported stock row: %w", domain.Invalid("import_id", "must be a UUID"))
	}
	movementID, ok := lookupID(r.MovementID)
	if !ok {
		return fmt.Errorf("insert imported stock row: %w", domain.Invalid("movement_id", "must be a UUID"))
	}
	if err := requireTenant(r.TenantID); err != nil {
		return fmt.Errorf("insert imported stock row: %w", err)
	}
	_, err := s.exec(ctx, `INSERT INTO import_stock_rows (tenant_id, file_sha256, row_no, import_id, movement_id)
		VALUES (?, ?, ?, ?, ?)`, r.TenantID, r.FileSHA256, r.Row, importID, movementID)
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert imported stock row %d: %w", r.Row, domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert imported stock row", err)
	}
	return nil
}
