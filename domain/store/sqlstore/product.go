package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/product"
)

const productCols = `id, tenant_id, sku, name, price, reorder_level, on_hand, low_stock, created_at, updated_at`

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

func scanProduct(sc scanner) (product.Product, error) {
	var p product.Product
	err := sc.Scan(&p.ID, &p.TenantID, &p.SKU, &p.Name, &p.Price, &p.ReorderLevel,
		&p.OnHand, &p.LowStock, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt})
	return p, err
}

// InsertProduct stores a new product. domain.ErrConflict when the tenant
// already has a live product with that SKU (or the id is taken).
func (s *Store) InsertProduct(ctx context.Context, p product.Product) error {
	if err := requireTenant(p.TenantID); err != nil {
		return fmt.Errorf("insert product: %w", err)
	}
	id, err := newRowID("id", p.ID)
	if err != nil {
		return fmt.Errorf("insert product: %w", err)
	}
	price, err := encMoney("price", p.Price)
	if err != nil {
		return fmt.Errorf("insert product: %w", err)
	}
	created := encTimeOrNow(p.CreatedAt)
	updated := created
	if !p.UpdatedAt.IsZero() {
		updated = encTime(p.UpdatedAt)
	}
	_, err = s.exec(ctx, `INSERT INTO products (tenant_id, id, sku, name, price, reorder_level, on_hand, low_stock, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.TenantID, id, p.SKU, p.Name, price, p.ReorderLevel, p.OnHand, p.LowStock, created, updated)
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert product: sku %q already in use: %w", p.SKU, domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert product", err)
	}
	return nil
}

// GetProduct returns a live product of the tenant; domain.ErrNotFound for a
// missing, deleted or foreign one.
func (s *Store) GetProduct(ctx context.Context, tenant domain.TenantID, id string) (product.Product, error) {
	return s.getProduct(ctx, "get product", tenant, id, false)
}

// LockProduct is GetProduct that also locks the row until the transaction
// ends (FOR UPDATE on PostgreSQL; SQLite write transactions are serialised
// already, BEGIN IMMEDIATE).
func (s *Store) LockProduct(ctx context.Context, tenant domain.TenantID, id string) (product.Product, error) {
	return s.getProduct(ctx, "lock product", tenant, id, true)
}

func (s *Store) getProduct(ctx context.Context, op string, tenant domain.TenantID, id string, lock bool) (product.Product, error) {
	key, ok := lookupID(id)
	if !ok {
		return product.Product{}, fmt.Errorf("%s %q: %w", op, id, domain.ErrNotFound)
	}
	q := `SELECT ` + productCols + ` FROM products WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL`
	if lock {
		q += s.d.LockRows(false)
	}
	p, err := scanProduct(s.queryRow(ctx, q, tenant, key))
	if errors.Is(err, sql.ErrNoRows) {
		return product.Product{}, fmt.Errorf("%s %s: %w", op, key, domain.ErrNotFound)
	}
	if err != nil {
		return product.Product{}, s.wrap(op, err)
	}
	return p, nil
}

// UpdateProduct writes sku, name, price, reorder_level and updated_at of a
// live product. domain.ErrNotFound when it is missing, deleted or foreign;
// domain.ErrConflict on a duplicate SKU.
func (s *Store) UpdateProduct(ctx context.Context, p product.Product) error {
	key, ok := lookupID(p.ID)
	if !ok {
		return fmt.Errorf("update product %q: %w", p.ID, domain.ErrNotFound)
	}
	price, err := encMoney("price", p.Price)
	if err != nil {
		return fmt.Errorf("update product: %w", err)
	}
	res, err := s.exec(ctx, `UPDATE products SET sku = ?, name = ?, price = ?, reorder_level = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL`,
		p.SKU, p.Name, price, p.ReorderLevel, encTimeOrNow(p.UpdatedAt), p.TenantID, key)
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("update product %s: sku %q already in use: %w", key, p.SKU, domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("update product", err)
	}
	n, err := affected("update product", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("update product %s: %w", key, domain.ErrNotFound)
	}
	return nil
}

// DeleteProduct soft-deletes a live product (the ledger keeps referring to
// it, and its SKU becomes free). domain.ErrNotFound when it is missing,
// already deleted or foreign.
func (s *Store) DeleteProduct(ctx context.Context, tenant domain.TenantID, id string) error {
	key, ok := lookupID(id)
	if !ok {
		return fmt.Errorf("delete product %q: %w", id, domain.ErrNotFound)
	}
	at := encTime(now())
	res, err := s.exec(ctx, `UPDATE products SET deleted_at = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL`, at, at, tenant, key)
	if err != nil {
		return s.wrap("delete product", err)
	}
	n, err := affected("delete product", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("delete product %s: %w", key, domain.ErrNotFound)
	}
	return nil
}

// ListProducts pages through the tenant's live products ordered by id.
// Limit defaults to 50 and is at most 500. A malformed After is a
// ValidationError; After need not exist (it may have been deleted).
func (s *Store) ListProducts(ctx context.Context, tenant domain.TenantID, p product.ListParams) ([]product.Product, error) {
	q := `SELECT ` + productCols + ` FROM products WHERE tenant_id = ? AND deleted_at IS NULL`
	args := []any{tenant}
	if p.After != "" {
		after, ok := lookupID(p.After)
		if !ok {
			return nil, fmt.Errorf("list products: %w", domain.Invalid("after", "must be a product id"))
		}
		q += ` AND id > ?`
		args = append(args, after)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, clamp(p.Limit, 50, 500))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list products", err)
	}
	defer rows.Close()
	out := []product.Product{}
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, fmt.Errorf("list products: scan: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list products", err)
	}
	return out, nil
}

// SetProductStock writes a product's total on hand and low-stock flag (also
// of a deleted product: the ledger may still move it). domain.ErrNotFound
// when the tenant has no such product.
func (s *Store) SetProductStock(ctx context.Context, tenant domain.TenantID, productID string, onHand int64, lowStock bool) error {
	key, ok := lookupID(productID)
	if !ok {
		return fmt.Errorf("set product stock %q: %w", productID, domain.ErrNotFound)
	}
	if onHand < 0 {
		return fmt.Errorf("set product stock: %w", domain.Invalid("on_hand", "must not be negative"))
	}
	res, err := s.exec(ctx, `UPDATE products SET on_hand = ?, low_stock = ? WHERE tenant_id = ? AND id = ?`,
		onHand, lowStock, tenant, key)
	if err != nil {
		return s.wrap("set product stock", err)
	}
	n, err := affected("set product stock", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("set product stock %s: %w", key, domain.ErrNotFound)
	}
	return nil
}
