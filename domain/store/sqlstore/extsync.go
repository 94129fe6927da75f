package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/extsync"
)

var _ extsync.Store = (*Store)(nil)

// PutSyncConfig inserts or replaces the tenant's sync configuration.
func (s *Store) PutSyncConfig(ctx context.Context, c extsync.Config) error {
	if err := requireTenant(c.TenantID); err != nil {
		return fmt.Errorf("put sync config: %w", err)
	}
	created := encTimeOrNow(c.CreatedAt)
	updated := encTimeOrNow(c.UpdatedAt)
	_, err := s.exec(ctx, `INSERT INTO sync_configs (tenant_id, base_url, auth_header, timeout_seconds, updated_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET base_url = excluded.base_url, auth_header = excluded.auth_header,
			timeout_seconds = excluded.timeout_seconds, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		c.TenantID, c.BaseURL, c.AuthHeader, c.TimeoutSeconds, c.UpdatedBy, created, updated)
	if err != nil {
		return s.wrap("put sync config", err)
	}
	return nil
}

// GetSyncConfig returns the tenant's sync configuration; domain.ErrNotFound
// when it has none.
func (s *Store) GetSyncConfig(ctx context.Context, tenant domain.TenantID) (extsync.Config, error) {
	var c extsync.Config
	err := s.queryRow(ctx, `SELECT tenant_id, base_url, auth_header, timeout_seconds, updated_by, created_at, updated_at
		FROM sync_configs WHERE tenant_id = ?`, tenant).
		Scan(&c.TenantID, &c.BaseURL, &c.AuthHeader, &c.TimeoutSeconds, &c.UpdatedBy, timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return extsync.Config{}, fmt.Errorf("sync config of %s: %w", tenant, domain.ErrNotFound)
	}
	if err != nil {
		return extsync.Config{}, s.wrap("get sync config", err)
	}
	return c, nil
}

const syncRunCols = `tenant_id, id, type, status, requested_by, endpoint, next_url, pages, fetched, upserted, failed,
	errors, attempts, last_error, created_at, started_at, completed_at, failed_at`

func scanSyncRun(sc scanner) (extsync.Run, error) {
	var (
		r       extsync.Run
		errList []byte
	)
	err := sc.Scan(&r.TenantID, &r.ID, &r.Type, &r.Status, &r.RequestedBy, &r.Endpoint, &r.NextURL, &r.Pages,
		&r.Fetched, &r.Upserted, &r.Failed, &errList, &r.Attempts, &r.LastError, timeCol{&r.CreatedAt},
		nullTimeCol{&r.StartedAt}, nullTimeCol{&r.CompletedAt}, nullTimeCol{&r.FailedAt})
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(errList, &r.Errors); err != nil {
		return r, fmt.Errorf("decode errors of sync %s: %w", r.ID, err)
	}
	return r, nil
}

// InsertSyncRun stores a new sync run. domain.ErrConflict when the id is
// taken.
func (s *Store) InsertSyncRun(ctx context.Context, r extsync.Run) error {
	id, err := newRowID("id", r.ID)
	if err != nil {
		return fmt.Errorf("insert sync: %w", err)
	}
	if err := requireTenant(r.TenantID); err != nil {
		return fmt.Errorf("insert sync: %w", err)
	}
	if !r.Type.Valid() {
		return fmt.Errorf("insert sync: %w", domain.Invalid("type", "must be products, customers, inventory or orders"))
	}
	errList, err := encJSONList(r.Errors)
	if err != nil {
		return fmt.Errorf("insert sync: %w", err)
	}
	_, err = s.exec(ctx, `INSERT INTO sync_logs (`+syncRunCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.TenantID, id, r.Type, r.Status, r.RequestedBy, r.Endpoint, r.NextURL, r.Pages, r.Fetched, r.Upserted, r.Failed,
		errList, r.Attempts, r.LastError, encTimeOrNow(r.CreatedAt), encTimePtr(r.StartedAt),
		encTimePtr(r.CompletedAt), encTimePtr(r.FailedAt))
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert sync %s: %w", id, domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert sync", err)
	}
	return nil
}

// GetSyncRun returns one of the tenant's sync runs; domain.ErrNotFound for
// a missing, malformed or another tenant's id.
func (s *Store) GetSyncRun(ctx context.Context, tenant domain.TenantID, id string) (extsync.Run, error) {
	return s.getSyncRun(ctx, "get sync", tenant, id, "")
}

// LockSyncRun is GetSyncRun that locks the row until the transaction ends.
func (s *Store) LockSyncRun(ctx context.Context, tenant domain.TenantID, id string) (extsync.Run, error) {
	if !s.inTx(ctx) {
		return extsync.Run{}, errors.New("lock sync: must run inside InTx")
	}
	return s.getSyncRun(ctx, "lock sync", tenant, id, s.d.LockRows(false))
}

func (s *Store) getSyncRun(ctx context.Context, op string, tenant domain.TenantID, id, lock string) (extsync.Run, error) {
	return getTenantRow(ctx, s, op, `SELECT `+syncRunCols+` FROM sync_logs WHERE tenant_id = ? AND id = ?`, tenant, id, lock, scanSyncRun)
}

// UpdateSyncRun writes a run's progress.
func (s *Store) UpdateSyncRun(ctx context.Context, r extsync.Run) error {
	key, ok := lookupID(r.ID)
	if !ok {
		return fmt.Errorf("update sync %q: %w", r.ID, domain.ErrNotFound)
	}
	errList, err := encJSONList(r.Errors)
	if err != nil {
		return fmt.Errorf("update sync: %w", err)
	}
	res, err := s.exec(ctx, `UPDATE sync_logs SET status = ?, endpoint = ?, next_url = ?, pages = ?, fetched = ?,
		upserted = ?, failed = ?, errors = ?, attempts = ?, last_error = ?, started_at = ?, completed_at = ?, failed_at = ?
		WHERE tenant_id = ? AND id = ?`,
		r.Status, r.Endpoint, r.NextURL, r.Pages, r.Fetched, r.Upserted, r.Failed, errList, r.Attempts, r.LastError,
		encTimePtr(r.StartedAt), encTimePtr(r.CompletedAt), encTimePtr(r.FailedAt), r.TenantID, key)
	if err != nil {
		return s.wrap("update sync", err)
	}
	n, err := affected("update sync", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("update sync %s: %w", key, domain.ErrNotFound)
	}
	return nil
}

// ListSyncRuns lists the tenant's runs newest first, optionally of one
// type and before a run id. Limit defaults to 50, at most 200.
func (s *Store) ListSyncRuns(ctx context.Context, tenant domain.TenantID, p extsync.ListParams) ([]extsync.Run, error) {
	q := `SELECT ` + syncRunCols + ` FROM sync_logs WHERE tenant_id = ?`
	args := []any{tenant}
	if p.Type != "" {
		q += ` AND type = ?`
		args = append(args, p.Type)
	}
	if p.Before != "" {
		before, ok := lookupID(p.Before)
		if !ok {
			return nil, fmt.Errorf("list syncs: %w", domain.Invalid("before", "must be a sync id"))
		}
		q += ` AND id < ?`
		args = append(args, before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, clamp(p.Limit, 50, 200))
	return queryList(ctx, s, "list syncs", scanSyncRun, q, args...)
}

const breakerCols = `tenant_id, endpoint, state, failures, open_until, trial_until, last_error, updated_at`

func scanBreaker(sc scanner) (extsync.Breaker, error) {
	var b extsync.Breaker
	err := sc.Scan(&b.TenantID, &b.Endpoint, &b.State, &b.Failures, nullTimeCol{&b.OpenUntil},
		nullTimeCol{&b.TrialUntil}, &b.LastError, timeCol{&b.UpdatedAt})
	return b, err
}

// LockBreaker returns the breaker of (tenant, endpoint), creating it closed
// when new, locked until the transaction ends: every worker changes it in
// turn.
func (s *Store) LockBreaker(ctx context.Context, tenant domain.TenantID, endpoint string) (extsync.Breaker, error) {
	if !s.inTx(ctx) {
		return extsync.Breaker{}, errors.New("lock breaker: must run inside InTx")
	}
	if err := requireTenant(tenant); err != nil {
		return extsync.Breaker{}, fmt.Errorf("lock breaker: %w", err)
	}
	_, err := s.exec(ctx, `INSERT INTO sync_breakers (tenant_id, endpoint, state, failures, last_error, updated_at)
		VALUES (?, ?, 'closed', 0, '', ?) ON CONFLICT (tenant_id, endpoint) DO NOTHING`, tenant, endpoint, encTime(now()))
	if err != nil {
		return extsync.Breaker{}, s.wrap("lock breaker", err)
	}
	b, err := scanBreaker(s.queryRow(ctx, `SELECT `+breakerCols+` FROM sync_breakers WHERE tenant_id = ? AND endpoint = ?`+
		s.d.LockRows(false), tenant, endpoint))
	if err != nil {
		return extsync.Breaker{}, s.wrap("lock breaker", err)
	}
	return b, nil
}

// GetBreaker returns the breaker of (tenant, endpoint); domain.ErrNotFound
// when no request has gone there yet.
func (s *Store) GetBreaker(ctx context.Context, tenant domain.TenantID, endpoint string) (extsync.Breaker, error) {
	b, err := scanBreaker(s.queryRow(ctx, `SELECT `+breakerCols+` FROM sync_breakers WHERE tenant_id = ? AND endpoint = ?`,
		tenant, endpoint))
	if errors.Is(err, sql.ErrNoRows) {
		return extsync.Breaker{}, fmt.Errorf("breaker of %s: %w", endpoint, domain.ErrNotFound)
	}
	if err != nil {
		return extsync.Breaker{}, s.wrap("get breaker", err)
	}
	return b, nil
}

// SaveBreaker writes a breaker's state.
func (s *Store) SaveBreaker(ctx context.Context, b extsync.Breaker) error {
	if err := requireTenant(b.TenantID); err != nil {
		return fmt.Errorf("save breaker: %w", err)
	}
	_, err := s.exec(ctx, `INSERT INTO sync_breakers (`+breakerCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, endpoint) DO UPDATE SET state = excluded.state, failures = excluded.failures,
			open_until = excluded.open_until, trial_until = excluded.trial_until, last_error = excluded.last_error,
			updated_at = excluded.updated_at`,
		b.TenantID, b.Endpoint, b.State, b.Failures, encTimePtr(b.OpenUntil), encTimePtr(b.TrialUntil), b.LastError,
		encTimeOrNow(b.UpdatedAt))
	if err != nil {
		return s.wrap("save breaker", err)
	}
	return nil
}

// ResetBreaker forgets the breaker of (tenant, endpoint): it is closed.
func (s *Store) ResetBreaker(ctx context.Context, tenant domain.TenantID, endpoint string) error {
	if _, err := s.exec(ctx, `DELETE FROM sync_breakers WHERE tenant_id = ? AND endpoint = ?`, tenant, endpoint); err != nil {
		return s.wrap("reset breaker", err)
	}
	return nil
}

// FindByKey returns the id of the tenant's row with the natural key:
// a live product by SKU, a customer by email, or the sales order an
// external order number became. domain.ErrNotFound when there is none.
func (s *Store) FindByKey(ctx context.Context, tenant domain.TenantID, key extsync.Key, value string) (string, error) {
	var q string
	switch key {
	case extsync.KeySKU:
		q = `SELECT id FROM products WHERE tenant_id = ? AND sku = ? AND deleted_at IS NULL`
	case extsync.KeyEmail:
		q = `SELECT id FROM customers WHERE tenant_id = ? AND email = ? AND email <> ''`
	case extsync.KeyOrderNumber:
		q = `SELECT order_id FROM sync_order_refs WHERE tenant_id = ? AND number = ?`
	default:
		return "", fmt.Errorf("find by key: unknown key %q", key)
	}
	var id string
	err := s.queryRow(ctx, q, tenant, value).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%s %q: %w", key, value, domain.ErrNotFound)
	}
	if err != nil {
		return "", s.wrap("find by "+string(key), err)
	}
	return id, nil
}

// InsertOrderRef records the sales order an external order number became;
// domain.ErrConflict when the number is known already.
func (s *Store) InsertOrderRef(ctx context.Context, tenant domain.TenantID, number, orderID string) error {
	id, err := newRowID("order_id", orderID)
	if err != nil {
		return fmt.Errorf("insert order ref: %w", err)
	}
	if err := requireTenant(tenant); err != nil {
		return fmt.Errorf("insert order ref: %w", err)
	}
	_, err = s.exec(ctx, `INSERT INTO sync_order_refs (tenant_id, number, order_id, created_at) VALUES (?, ?, ?, ?)`,
		tenant, number, id, encTime(now()))
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert order ref %q: %w", number, domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert order ref", err)
	}
	return nil
}
