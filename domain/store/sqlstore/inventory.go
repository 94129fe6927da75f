package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
)

const (
	locationCols = `id, tenant_id, code, name`
	movementCols = `id, tenant_id, product_id, location_id, quantity, unit_cost, batch_number, expiry_date, reason, actor_id, on_hand_after, created_at`

	defaultLocationCode = "main"
	defaultLocationName = "Main"
)

func scanLocation(sc scanner) (inventory.Location, error) {
	var l inventory.Location
	err := sc.Scan(&l.ID, &l.TenantID, &l.Code, &l.Name)
	return l, err
}

func scanMovement(sc scanner) (inventory.Movement, error) {
	var (
		m    inventory.Movement
		cost decimal.NullDecimal
	)
	err := sc.Scan(&m.ID, &m.TenantID, &m.ProductID, &m.LocationID, &m.Quantity, &cost,
		&m.BatchNumber, nullTimeCol{&m.ExpiryDate}, &m.Reason, &m.ActorID, &m.OnHandAfter, timeCol{&m.CreatedAt})
	if cost.Valid {
		m.UnitCost = &cost.Decimal
	}
	return m, err
}

// DefaultLocation returns the tenant's "main" location, creating it on first
// use. Concurrent callers get the same one: the unique (tenant_id, code)
// decides, the loser reads the winner's row.
func (s *Store) DefaultLocation(ctx context.Context, tenant domain.TenantID) (inventory.Location, error) {
	if err := requireTenant(tenant); err != nil {
		return inventory.Location{}, fmt.Errorf("default location: %w", err)
	}
	l, err := s.locationByCode(ctx, tenant, defaultLocationCode)
	if !errors.Is(err, sql.ErrNoRows) {
		return l, err
	}
	_, err = s.exec(ctx, `INSERT INTO locations (tenant_id, id, code, name, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, code) DO NOTHING`,
		tenant, domain.NewID(), defaultLocationCode, defaultLocationName, encTime(now()))
	if err != nil {
		return inventory.Location{}, s.wrap("create default location", err)
	}
	l, err = s.locationByCode(ctx, tenant, defaultLocationCode)
	if errors.Is(err, sql.ErrNoRows) {
		return inventory.Location{}, fmt.Errorf("default location: vanished after insert: %w", domain.ErrNotFound)
	}
	return l, err
}

// locationByCode returns sql.ErrNoRows unwrapped when there is none.
func (s *Store) locationByCode(ctx context.Context, tenant domain.TenantID, code string) (inventory.Location, error) {
	l, err := scanLocation(s.queryRow(ctx, `SELECT `+locationCols+` FROM locations WHERE tenant_id = ? AND code = ?`, tenant, code))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return l, s.wrap("get location by code", err)
	}
	return l, err
}

// GetLocation returns one of the tenant's locations; domain.ErrNotFound for
// a missing or foreign one.
func (s *Store) GetLocation(ctx context.Context, tenant domain.TenantID, id string) (inventory.Location, error) {
	key, ok := lookupID(id)
	if !ok {
		return inventory.Location{}, fmt.Errorf("get location %q: %w", id, domain.ErrNotFound)
	}
	l, err := scanLocation(s.queryRow(ctx, `SELECT `+locationCols+` FROM locations WHERE tenant_id = ? AND id = ?`, tenant, key))
	if errors.Is(err, sql.ErrNoRows) {
		return inventory.Location{}, fmt.Errorf("get location %s: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return inventory.Location{}, s.wrap("get location", err)
	}
	return l, nil
}

// ListLocations lists the tenant's locations ordered by code.
func (s *Store) ListLocations(ctx context.Context, tenant domain.TenantID) ([]inventory.Location, error) {
	rows, err := s.query(ctx, `SELECT `+locationCols+` FROM locations WHERE tenant_id = ? ORDER BY code`, tenant)
	if err != nil {
		return nil, s.wrap("list locations", err)
	}
	defer rows.Close()
	out := []inventory.Location{}
	for rows.Next() {
		l, err := scanLocation(rows)
		if err != nil {
			return nil, fmt.Errorf("list locations: scan: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list locations", err)
	}
	return out, nil
}

// InsertLocation stores a new location; domain.ErrConflict on a duplicate
// code within the tenant.
func (s *Store) InsertLocation(ctx context.Context, l inventory.Location) error {
	if err := requireTenant(l.TenantID); err != nil {
		return fmt.Errorf("insert location: %w", err)
	}
	id, err := newRowID("id", l.ID)
	if err != nil {
		return fmt.Errorf("insert location: %w", err)
	}
	if l.Code == "" {
		return fmt.Errorf("insert location: %w", domain.Invalid("code", "required"))
	}
	_, err = s.exec(ctx, `INSERT INTO locations (tenant_id, id, code, name, created_at) VALUES (?, ?, ?, ?, ?)`,
		l.TenantID, id, l.Code, l.Name, encTime(now()))
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert location: code %q already in use: %w", l.Code, domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert location", err)
	}
	return nil
}

// StockLevel is the on hand of one product at one location, 0 when nothing
// was ever recorded there (or the ids name nothing of this tenant's).
func (s *Store) StockLevel(ctx context.Context, tenant domain.TenantID, productID, locationID string) (int64, error) {
	pid, ok1 := lookupID(productID)
	lid, ok2 := lookupID(locationID)
	if !ok1 || !ok2 {
		return 0, nil
	}
	var n int64
	err := s.queryRow(ctx, `SELECT on_hand FROM stock_levels WHERE tenant_id = ? AND product_id = ? AND location_id = ?`,
		tenant, pid, lid).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.wrap("stock level", err)
	}
	return n, nil
}

// InsertMovement appends a ledger entry. domain.ErrNotFound when its product
// or location is not the tenant's; domain.ErrConflict on a reused id.
func (s *Store) InsertMovement(ctx context.Context, m inventory.Movement) error {
	args, err := movementArgs(m)
	if err != nil {
		return fmt.Errorf("insert movement: %w", err)
	}
	_, err = s.exec(ctx, insertMovement, args...)
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert movement %s: %w", args[1], domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert movement", err)
	}
	return nil
}

const insertMovement = `INSERT INTO stock_movements (tenant_id, id, product_id, location_id, quantity, unit_cost,
		batch_number, expiry_date, reason, actor_id, on_hand_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// movementArgs are the arguments of insertMovement, checked.
func movementArgs(m inventory.Movement) ([]any, error) {
	if err := requireTenant(m.TenantID); err != nil {
		return nil, err
	}
	id, err := newRowID("id", m.ID)
	if err != nil {
		return nil, err
	}
	pid, ok1 := lookupID(m.ProductID)
	lid, ok2 := lookupID(m.LocationID)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("product %q at location %q: %w", m.ProductID, m.LocationID, domain.ErrNotFound)
	}
	cost, err := encMoneyPtr("unit_cost", m.UnitCost)
	if err != nil {
		return nil, err
	}
	return []any{m.TenantID, id, pid, lid, m.Quantity, cost, m.BatchNumber, encDate(m.ExpiryDate), m.Reason, m.ActorID,
		m.OnHandAfter, encTimeOrNow(m.CreatedAt)}, nil
}

// ListMovements pages through the tenant's movements newest first (by
// created_at, then id). Before must be one of the tenant's movement ids
// (domain.ErrNotFound otherwise). Limit defaults to 50, at most 500.
func (s *Store) ListMovements(ctx context.Context, tenant domain.TenantID, f inventory.MovementFilter) ([]inventory.Movement, error) {
	q := `SELECT ` + movementCols + ` FROM stock_movements WHERE tenant_id = ?`
	args := []any{tenant}
	if f.ProductID != "" {
		pid, ok := lookupID(f.ProductID)
		if !ok {
			return nil, fmt.Errorf("list movements: %w", domain.Invalid("product_id", "must be a UUID"))
		}
		q += ` AND product_id = ?`
		args = append(args, pid)
	}
	if f.Before != "" {
		key, ok := lookupID(f.Before)
		if !ok {
			return nil, fmt.Errorf("list movements: before %q: %w", f.Before, domain.ErrNotFound)
		}
		var at time.Time
		err := s.queryRow(ctx, `SELECT created_at FROM stock_movements WHERE tenant_id = ? AND id = ?`, tenant, key).Scan(timeCol{&at})
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("list movements: before %s: %w", key, domain.ErrNotFound)
		}
		if err != nil {
			return nil, s.wrap("list movements: resolve before", err)
		}
		q += ` AND (created_at < ? OR (created_at = ? AND id < ?))`
		args = append(args, encTime(at), encTime(at), key)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, clamp(f.Limit, 50, 500))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list movements", err)
	}
	defer rows.Close()
	out := []inventory.Movement{}
	for rows.Next() {
		m, err := scanMovement(rows)
		if err != nil {
			return nil, fmt.Errorf("list movements: scan: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list movements", err)
	}
	return out, nil
}
