package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
)

// The stock batches and the expiry detector's scan of them.
var _ inventory.ExpiryStore = (*Store)(nil)

const batchCols = `b.tenant_id, b.product_id, b.location_id, l.code, b.batch_number, b.expiry_date, b.quantity, b.updated_at`

// batchFrom joins the location for its code; the join carries tenant_id,
// like every reference.
const batchFrom = ` FROM stock_batches b JOIN locations l ON l.tenant_id = b.tenant_id AND l.id = b.location_id`

func scanBatch(sc scanner, extra ...any) (inventory.Batch, error) {
	var b inventory.Batch
	dest := append([]any{&b.TenantID, &b.ProductID, &b.LocationID, &b.LocationCode, &b.BatchNumber,
		timeCol{&b.ExpiryDate}, &b.Quantity, timeCol{&b.UpdatedAt}}, extra...)
	err := sc.Scan(dest...)
	return b, err
}

// collectBatches reads rows; err is the query's, already wrapped.
func (s *Store) collectBatches(op string, rows *sql.Rows, err error) ([]inventory.Batch, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []inventory.Batch{}
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: scan: %w", op, err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(op, err)
	}
	return out, nil
}

// batchKeyArgs canonicalises a batch key for a WHERE on the primary key;
// ok is false when its ids cannot name any row.
func batchKeyArgs(k inventory.BatchKey) ([]any, bool) {
	pid, ok1 := lookupID(k.ProductID)
	lid, ok2 := lookupID(k.LocationID)
	if !ok1 || !ok2 || k.TenantID == "" || k.ExpiryDate.IsZero() {
		return nil, false
	}
	return []any{k.TenantID, pid, lid, k.BatchNumber, encDate(&k.ExpiryDate)}, true
}

const batchKeyWhere = `tenant_id = ? AND product_id = ? AND location_id = ? AND batch_number = ? AND expiry_date = ?`

// AddToBatch adds b.Quantity to the batch with b's key, creating it when
// new. domain.ErrNotFound when the product or location is not the
// tenant's.
func (s *Store) AddToBatch(ctx context.Context, b inventory.Batch) error {
	args, ok := batchKeyArgs(b.Key())
	if !ok {
		return fmt.Errorf("add to batch: product %q at location %q: %w", b.ProductID, b.LocationID, domain.ErrNotFound)
	}
	if b.Quantity <= 0 {
		return fmt.Errorf("add to batch: %w", domain.Invalid("quantity", "must be positive"))
	}
	args = append(args, b.Quantity, encTimeOrNow(b.UpdatedAt))
	_, err := s.exec(ctx, `INSERT INTO stock_batches (tenant_id, product_id, location_id, batch_number, expiry_date, quantity, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, product_id, location_id, batch_number, expiry_date)
		DO UPDATE SET quantity = stock_batches.quantity + excluded.quantity, updated_at = excluded.updated_at`, args...)
	if err != nil {
		return s.wrap("add to batch", err)
	}
	return nil
}

// StockBatches returns the batches of one product at one location holding
// stock, first expiry first (then by batch number).
func (s *Store) StockBatches(ctx context.Context, tenant domain.TenantID, productID, locationID string) ([]inventory.Batch, error) {
	pid, ok1 := lookupID(productID)
	lid, ok2 := lookupID(locationID)
	if !ok1 || !ok2 {
		return []inventory.Batch{}, nil
	}
	rows, err := s.query(ctx, `SELECT `+batchCols+batchFrom+`
		WHERE b.tenant_id = ? AND b.product_id = ? AND b.location_id = ? AND b.quantity > 0
		ORDER BY b.expiry_date, b.batch_number`, tenant, pid, lid)
	return s.collectBatches("stock batches", rows, s.batchQueryErr("stock batches", err))
}

// SetBatchQuantity writes the quantity of an existing batch;
// domain.ErrNotFound when there is none with that key.
func (s *Store) SetBatchQuantity(ctx context.Context, key inventory.BatchKey, quantity int64) error {
	args, ok := batchKeyArgs(key)
	if !ok {
		return fmt.Errorf("set batch quantity: %w", domain.ErrNotFound)
	}
	if quantity < 0 {
		return fmt.Errorf("set batch quantity: %w", domain.Invalid("quantity", "must not be negative"))
	}
	res, err := s.exec(ctx, `UPDATE stock_batches SET quantity = ?, updated_at = ? WHERE `+batchKeyWhere,
		append([]any{quantity, encTime(now())}, args...)...)
	if err != nil {
		return s.wrap("set batch quantity", err)
	}
	n, err := affected("set batch quantity", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("set batch quantity: batch %q: %w", key.Subject(), domain.ErrNotFound)
	}
	return nil
}

// ListBatches returns the product's batches holding stock at every
// location, first expiry first, then by location code and batch number.
func (s *Store) ListBatches(ctx context.Context, tenant domain.TenantID, productID string) ([]inventory.Batch, error) {
	pid, ok := lookupID(productID)
	if !ok {
		return []inventory.Batch{}, nil
	}
	rows, err := s.query(ctx, `SELECT `+batchCols+batchFrom+`
		WHERE b.tenant_id = ? AND b.product_id = ? AND b.quantity > 0
		ORDER BY b.expiry_date, l.code, b.batch_number`, tenant, pid)
	return s.collectBatches("list batches", rows, s.batchQueryErr("list batches", err))
}

// ExpiringBatches pages through the batches of every tenant that hold
// stock and expire on or before until, in key order, starting after the
// key after (its zero value starts at the beginning). Batches of deleted
// products are left out: nobody can act on them. Limit defaults to 500, at
// most 5000.
func (s *Store) ExpiringBatches(ctx context.Context, until time.Time, after inventory.BatchKey, limit int) ([]inventory.ExpiringBatch, error) {
	q := `SELECT ` + batchCols + `, p.sku, p.name` + batchFrom + `
		JOIN products p ON p.tenant_id = b.tenant_id AND p.id = b.product_id AND p.deleted_at IS NULL
		WHERE b.quantity > 0 AND b.expiry_date <= ?`
	args := []any{encDate(&until)}
	if after.TenantID != "" {
		key, ok := batchKeyArgs(after)
		if !ok {
			return nil, fmt.Errorf("expiring batches: %w", domain.Invalid("after", "not a batch key"))
		}
		// Row values compare in the same order as the ORDER BY below (the
		// primary key's), so the page boundary is exact on both backends.
		q += ` AND (b.tenant_id, b.product_id, b.location_id, b.batch_number, b.expiry_date) > (?, ?, ?, ?, ?)`
		args = append(args, key...)
	}
	q += ` ORDER BY b.tenant_id, b.product_id, b.location_id, b.batch_number, b.expiry_date LIMIT ?`
	args = append(args, clamp(limit, 500, 5000))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("expiring batches", err)
	}
	defer rows.Close()
	out := []inventory.ExpiringBatch{}
	for rows.Next() {
		var e inventory.ExpiringBatch
		e.Batch, err = scanBatch(rows, &e.SKU, &e.Name)
		if err != nil {
			return nil, fmt.Errorf("expiring batches: scan: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("expiring batches", err)
	}
	return out, nil
}

// BatchQuantity returns the quantity of a batch, 0 when there is none. In a
// transaction on PostgreSQL it holds a share lock on the row, so a
// movement cannot change it before that transaction ends.
func (s *Store) BatchQuantity(ctx context.Context, key inventory.BatchKey) (int64, error) {
	args, ok := batchKeyArgs(key)
	if !ok {
		return 0, nil
	}
	q := `SELECT quantity FROM stock_batches WHERE ` + batchKeyWhere
	if s.inTx(ctx) {
		q += s.d.ShareRows()
	}
	var n int64
	err := s.queryRow(ctx, q, args...).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.wrap("batch quantity", err)
	}
	return n, nil
}

// batchQueryErr is wrap that keeps nil nil.
func (s *Store) batchQueryErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return s.wrap(op, err)
}
