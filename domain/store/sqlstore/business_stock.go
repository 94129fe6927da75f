package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
)

// productColsP is productCols qualified with the alias p.
var productColsP = "p." + strings.ReplaceAll(productCols, ", ", ", p.")

// LockProductAt is LockProduct that also reads, in the same statement, the
// tenant's location with id locationID ("" = the default location, by its
// code). The location is the zero Location when the tenant has no such
// location (yet): the caller resolves it the slow way. Only the product row
// is locked; locations are never updated, so reading them in the locking
// statement is not stale.
func (s *Store) LockProductAt(ctx context.Context, tenant domain.TenantID, productID, locationID string) (product.Product, inventory.Location, error) {
	key, ok := lookupID(productID)
	if !ok {
		return product.Product{}, inventory.Location{}, fmt.Errorf("lock product %q: %w", productID, domain.ErrNotFound)
	}
	locCond, args := `l.code = ?`, []any{defaultLocationCode}
	if locationID != "" {
		if lid, ok := lookupID(locationID); ok {
			locCond, args = `l.id = ?`, []any{lid}
		} else {
			// Joins no location: the caller's slow path reports it.
			locCond, args = `1 = 0`, nil
		}
	}
	args = append(args, tenant, key)
	// deleted_at is read, not filtered on: a condition on it lets the
	// planner pick the partial index on (tenant_id, sku) when statistics
	// are stale (a fresh schema that just took thousands of products),
	// which walks all of the tenant's products per movement (auto_explain:
	// 462 buffer reads per movement, 12 by the key). Locking a deleted
	// product is harmless: nothing writes it.
	q := `SELECT ` + productColsP + `, l.id, l.code, l.name, p.deleted_at IS NULL FROM products p
		LEFT JOIN locations l ON l.tenant_id = p.tenant_id AND ` + locCond + `
		WHERE p.tenant_id = ? AND p.id = ?`
	if lock := s.d.LockRows(false); lock != "" {
		// OF p: lock the product only (a locked location would serialise
		// every movement there), and an outer join's nullable side cannot
		// be locked anyway.
		q += lock + ` OF p`
	}
	var (
		p               product.Product
		lid, code, name sql.NullString
		live            bool
	)
	err := s.queryRow(ctx, q, args...).Scan(&p.ID, &p.TenantID, &p.SKU, &p.Name, &p.Price,
		&p.ReorderLevel, &p.OnHand, &p.LowStock, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt}, &lid, &code, &name, &live)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !live) {
		return product.Product{}, inventory.Location{}, fmt.Errorf("lock product %s: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return product.Product{}, inventory.Location{}, s.wrap("lock product at location", err)
	}
	var l inventory.Location
	if lid.Valid {
		l = inventory.Location{ID: lid.String, TenantID: p.TenantID, Code: code.String, Name: name.String}
	}
	return p, l, nil
}

// MoveStockLevel adds delta to the on hand of one product at one location
// in one statement and returns the new on hand. A delta that would take
// it below zero changes nothing and returns applied false. batched reports,
// for a delta < 0, whether the product has batches holding stock there
// (read in the same statement, after the caller's product lock, so it sees
// every committed batch); it is false for a delta > 0.
func (s *Store) MoveStockLevel(ctx context.Context, tenant domain.TenantID, productID, locationID string, delta int64) (after int64, batched, applied bool, err error) {
	pid, ok1 := lookupID(productID)
	lid, ok2 := lookupID(locationID)
	if !ok1 || !ok2 {
		return 0, false, false, fmt.Errorf("move stock level: product %q at location %q: %w", productID, locationID, domain.ErrNotFound)
	}
	at := encTime(now())
	if delta >= 0 {
		err = s.queryRow(ctx, `INSERT INTO stock_levels (tenant_id, product_id, location_id, on_hand, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, product_id, location_id) DO UPDATE SET on_hand = stock_levels.on_hand + excluded.on_hand, updated_at = excluded.updated_at
			RETURNING on_hand`, tenant, pid, lid, delta, at).Scan(&after)
		if err != nil {
			return 0, false, false, s.wrap("move stock level", err)
		}
		return after, false, true, nil
	}
	// No row yet means 0 on hand: nothing to take, not applied.
	err = s.queryRow(ctx, `UPDATE stock_levels SET on_hand = on_hand + ?, updated_at = ?
		WHERE tenant_id = ? AND product_id = ? AND location_id = ? AND on_hand + ? >= 0
		RETURNING on_hand, EXISTS (SELECT 1 FROM stock_batches b
			WHERE b.tenant_id = ? AND b.product_id = ? AND b.location_id = ? AND b.quantity > 0)`,
		delta, at, tenant, pid, lid, delta, tenant, pid, lid).Scan(&after, &batched)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, false, nil
	}
	if err != nil {
		return 0, false, false, s.wrap("move stock level", err)
	}
	return after, batched, true, nil
}

// WriteMovement writes what a recorded movement leaves behind once its
// level has moved: the ledger entry (InsertMovement), the product's total
// on hand and low-stock flag (SetProductStock) and its events
// (AppendEvents), with the same checks and errors as those three. On
// PostgreSQL it is one statement (data-modifying WITH), one round trip
// instead of three while the product row is locked; SQLite, in process,
// runs the three.
func (s *Store) WriteMovement(ctx context.Context, m inventory.Movement, onHand int64, lowStock bool, events ...domain.Event) error {
	if s.d.Name() != "postgres" || len(events) > eventsPerInsert {
		return s.InTx(ctx, func(ctx context.Context) error {
			if err := s.InsertMovement(ctx, m); err != nil {
				return err
			}
			if err := s.SetProductStock(ctx, m.TenantID, m.ProductID, onHand, lowStock); err != nil {
				return err
			}
			return s.AppendEvents(ctx, events...)
		})
	}
	margs, err := movementArgs(m)
	if err != nil {
		return fmt.Errorf("write movement: %w", err)
	}
	if onHand < 0 {
		return fmt.Errorf("write movement: %w", domain.Invalid("on_hand", "must not be negative"))
	}
	eargs, err := eventArgs(events)
	if err != nil {
		return fmt.Errorf("write movement: %w", err)
	}
	q := `WITH mv AS (` + insertMovement + `)`
	if len(events) > 0 {
		q += `, ev AS (INSERT INTO events (` + eventCols + `) VALUES ` + valuesList(len(events), 8) + `)`
	}
	q += `, pr AS (UPDATE products SET on_hand = ?, low_stock = ? WHERE tenant_id = ? AND id = ? RETURNING 1)
		SELECT count(*) FROM pr`
	args := append(append(margs, eargs...), onHand, lowStock, m.TenantID, margs[2])
	return s.InTx(ctx, func(ctx context.Context) error {
		var updated int
		err := s.queryRow(ctx, q, args...).Scan(&updated)
		if s.kind(err) == KindUniqueViolation {
			return fmt.Errorf("write movement %s: duplicate movement or event id: %w", margs[1], domain.ErrConflict)
		}
		if err != nil {
			return s.wrap("write movement", err)
		}
		if updated == 0 {
			// Nothing of the statement stays: the caller's transaction
			// fails with it.
			return fmt.Errorf("write movement: product %s: %w", margs[2], domain.ErrNotFound)
		}
		if len(events) > 0 {
			s.txFrom(ctx).events.Store(true)
		}
		return nil
	})
}
