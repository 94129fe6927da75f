package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
	"github.com/notifyhub/notifyhub/domain/product"
)

// importProductsPerInsert bounds one multi-row INSERT of products (10
// binds a row: far below PostgreSQL's 65,535 and SQLite's 32,766).
const importProductsPerInsert = 500

// LockImportProductsBySKU is ImportProductsBySKU that also locks the rows
// found until the transaction ends, so the changes an import computes
// from them are not lost to a concurrent update (FOR UPDATE on
// PostgreSQL; SQLite write transactions are serialised already).
func (s *Store) LockImportProductsBySKU(ctx context.Context, tenant domain.TenantID, skus []string) (map[string]product.Product, error) {
	if !s.inTx(ctx) {
		return nil, fmt.Errorf("lock import products: must run inside InTx")
	}
	out := make(map[string]product.Product, len(skus))
	if s.pgArrays() {
		// One statement for the whole batch: the SKUs as one array, each
		// still probed (and locked) through the index by the LATERAL.
		rows, err := s.query(ctx, pgLockImportProductsQuery, skus, tenant)
		if err != nil {
			return nil, s.wrap("lock import products", err)
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanProduct(rows)
			if err != nil {
				return nil, fmt.Errorf("lock import products: scan: %w", err)
			}
			out[p.SKU] = p
		}
		if err := rows.Err(); err != nil {
			return nil, s.wrap("lock import products", err)
		}
		return out, nil
	}
	err := s.importChunks(skus, func(chunk []any) error {
		q, args := s.importMatch(productCols, "products", " AND deleted_at IS NULL", nil, "sku", "", tenant, chunk)
		if lock := s.d.LockRows(false); lock != "" {
			// Inside the LATERAL subquery, which locks each row it probes.
			q = strings.Replace(q, " OFFSET 0)", " OFFSET 0"+lock+")", 1)
		}
		rows, err := s.query(ctx, q, args...)
		if err != nil {
			return s.wrap("lock import products", err)
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanProduct(rows)
			if err != nil {
				return fmt.Errorf("lock import products: scan: %w", err)
			}
			out[p.SKU] = p
		}
		if err := rows.Err(); err != nil {
			return s.wrap("lock import products", err)
		}
		return nil
	})
	return out, err
}

// pgLockImportProductsQuery is LockImportProductsBySKU on PostgreSQL: the
// SKUs in one text[] parameter, each probed through products_live_sku by
// a fenced LATERAL subquery (see importMatch) that locks what it finds.
const pgLockImportProductsQuery = `SELECT x.* FROM unnest(CAST(? AS text[])) AS v(k) CROSS JOIN LATERAL (
	SELECT ` + productCols + ` FROM products WHERE tenant_id = ? AND sku = v.k AND deleted_at IS NULL
	OFFSET 0 FOR UPDATE) AS x`

// pgInsertImportedProductsQuery inserts products held column by column in
// arrays (money and times as text, like encMoney and encTime), in their
// order: one statement per batch, whatever its size.
const pgInsertImportedProductsQuery = `INSERT INTO products (tenant_id, id, sku, name, price, reorder_level, on_hand,
	low_stock, created_at, updated_at)
	SELECT tenant_id, id, sku, name, CAST(price AS numeric), reorder_level, on_hand, low_stock,
		CAST(created_at AS timestamptz), CAST(updated_at AS timestamptz)
	FROM unnest(CAST(? AS text[]), CAST(? AS uuid[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),
		CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS boolean[]), CAST(? AS text[]), CAST(? AS text[]))
		WITH ORDINALITY AS r(tenant_id, id, sku, name, price, reorder_level, on_hand, low_stock, created_at, updated_at, n)
	ORDER BY n`

// InsertImportedProducts stores new products: several per statement, on
// PostgreSQL all in one (bound as arrays). domain.ErrConflict when one's
// SKU is taken by a live product (the whole call then fails: the caller's
// transaction rolls back).
func (s *Store) InsertImportedProducts(ctx context.Context, ps []product.Product) error {
	if len(ps) == 0 {
		return nil
	}
	if s.pgArrays() {
		return s.insertImportedProductsAtOnce(ctx, ps)
	}
	const cols = 10
	args := make([]any, 0, min(len(ps), importProductsPerInsert)*cols)
	for start := 0; start < len(ps); start += importProductsPerInsert {
		part := ps[start:min(start+importProductsPerInsert, len(ps))]
		args = args[:0]
		for _, p := range part {
			id, price, err := importedProductKeys(p)
			if err != nil {
				return err
			}
			created := encTimeOrNow(p.CreatedAt)
			args = append(args, p.TenantID, id, p.SKU, p.Name, price, p.ReorderLevel, p.OnHand, p.LowStock,
				created, encTimeOrNow(p.UpdatedAt))
		}
		_, err := s.exec(ctx, `INSERT INTO products (tenant_id, id, sku, name, price, reorder_level, on_hand, low_stock,
			created_at, updated_at) VALUES `+valuesList(len(part), cols), args...)
		if s.kind(err) == KindUniqueViolation {
			return fmt.Errorf("insert imported products: a sku is already in use: %w", domain.ErrConflict)
		}
		if err != nil {
			return s.wrap("insert imported products", err)
		}
	}
	return nil
}

// importedProductKeys checks an imported product's tenant and id and
// encodes its id and price for either insert.
func importedProductKeys(p product.Product) (id, price string, err error) {
	if err := requireTenant(p.TenantID); err != nil {
		return "", "", fmt.Errorf("insert imported products: %w", err)
	}
	if id, err = newRowID("id", p.ID); err != nil {
		return "", "", fmt.Errorf("insert imported products: %w", err)
	}
	if price, err = encMoney("price", p.Price); err != nil {
		return "", "", fmt.Errorf("insert imported products: sku %q: %w", p.SKU, err)
	}
	return id, price, nil
}

// insertImportedProductsAtOnce is InsertImportedProducts on PostgreSQL.
func (s *Store) insertImportedProductsAtOnce(ctx context.Context, ps []product.Product) error {
	n := len(ps)
	var (
		tenants, ids, skus, names, prices = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		reorder, onHand                   = make([]int64, n), make([]int64, n)
		low                               = make([]bool, n)
		created, updated                  = make([]string, n), make([]string, n)
	)
	for i, p := range ps {
		id, price, err := importedProductKeys(p)
		if err != nil {
			return err
		}
		tenants[i], ids[i], skus[i], names[i], prices[i] = string(p.TenantID), id, p.SKU, p.Name, price
		reorder[i], onHand[i], low[i] = p.ReorderLevel, p.OnHand, p.LowStock
		created[i], updated[i] = encTimeOrNow(p.CreatedAt), encTimeOrNow(p.UpdatedAt)
	}
	_, err := s.exec(ctx, pgInsertImportedProductsQuery, tenants, ids, skus, names, prices, reorder, onHand, low, created, updated)
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert imported products: a sku is already in use: %w", domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert imported products", err)
	}
	return nil
}

// UpdateImportedProducts writes name, price, reorder_level, low_stock and
// updated_at of live products of one tenant: on PostgreSQL in one
// statement per chunk, on SQLite (in process, no round trips) one by one.
// domain.ErrNotFound when one of them is missing or deleted.
func (s *Store) UpdateImportedProducts(ctx context.Context, tenant domain.TenantID, ps []product.Product) error {
	const cols = 6
	for start := 0; start < len(ps); start += importProductsPerInsert {
		part := ps[start:min(start+importProductsPerInsert, len(ps))]
		args := make([]any, 0, len(part)*cols+1)
		for _, p := range part {
			if p.TenantID != tenant {
				return fmt.Errorf("update imported products: product %s is not of tenant %s: %w", p.ID, tenant, domain.ErrNotFound)
			}
			id, ok := lookupID(p.ID)
			if !ok {
				return fmt.Errorf("update imported products %q: %w", p.ID, domain.ErrNotFound)
			}
			price, err := encMoney("price", p.Price)
			if err != nil {
				return fmt.Errorf("update imported products: sku %q: %w", p.SKU, err)
			}
			args = append(args, id, p.Name, price, p.ReorderLevel, p.LowStock, encTimeOrNow(p.UpdatedAt))
		}
		if s.d.Name() != "postgres" {
			for i := 0; i < len(args); i += cols {
				if err := s.importUpdateOne(ctx, "update imported product", `UPDATE products SET name = ?, price = ?,
					reorder_level = ?, low_stock = ?, updated_at = ? WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL`,
					tenant, args[i].(string), slices.Clip(args[i+1:i+cols])...); err != nil {
					return err
				}
			}
			continue
		}
		args = append(args, tenant)
		// Typed markers: the VALUES list has no column types of its own.
		row := "(?::uuid, ?::text, ?::numeric, ?::bigint, ?::boolean, ?::timestamptz)"
		res, err := s.exec(ctx, `UPDATE products AS p SET name = v.name, price = v.price, reorder_level = v.reorder_level,
			low_stock = v.low_stock, updated_at = v.updated_at
			FROM (VALUES `+strings.Repeat(row+", ", len(part)-1)+row+`) AS v(id, name, price, reorder_level, low_stock, updated_at)
			WHERE p.tenant_id = ? AND p.id = v.id AND p.deleted_at IS NULL`, args...)
		if err != nil {
			return s.wrap("update imported products", err)
		}
		n, err := affected("update imported products", res)
		if err != nil {
			return err
		}
		if n != int64(len(part)) {
			return fmt.Errorf("update imported products: %d of %d found: %w", n, len(part), domain.ErrNotFound)
		}
	}
	return nil
}

// claimImportKeysAtOnce is ClaimImportKeys on PostgreSQL in one
// statement for any number of keys (arrays, not a marker per key): it
// inserts the first row of each key and skips the keys already recorded;
// only those, usually none, are then read for the row that has them.
func (s *Store) claimImportKeysAtOnce(ctx context.Context, tenant domain.TenantID, importID string, keys []bulkimport.RowKey) (map[string]int64, error) {
	first := make(map[string]int64, len(keys)) // in this call
	names := make([]string, 0, len(keys))
	nos := make([]int64, 0, len(keys))
	for _, k := range keys {
		if _, ok := first[k.Key]; !ok {
			first[k.Key] = k.Row
			names = append(names, k.Key)
			nos = append(nos, k.Row)
		}
	}
	rows, err := s.query(ctx, `INSERT INTO import_keys (tenant_id, import_id, natural_key, row_no)
		SELECT ?, ?, k, r FROM unnest(?::text[], ?::bigint[]) AS u(k, r)
		ON CONFLICT (tenant_id, import_id, natural_key) DO NOTHING RETURNING natural_key`, tenant, importID, names, nos)
	if err != nil {
		return nil, s.wrap("claim import keys", err)
	}
	claimed := make(map[string]bool, len(names))
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim import keys: scan: %w", err)
		}
		claimed[k] = true
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, s.wrap("claim import keys", err)
	}
	var earlier []string
	for _, k := range names {
		if !claimed[k] {
			earlier = append(earlier, k)
		}
	}
	if len(earlier) > 0 {
		rows, err := s.query(ctx, `SELECT natural_key, row_no FROM import_keys
			WHERE tenant_id = ? AND import_id = ? AND natural_key = ANY(?::text[])`, tenant, importID, earlier)
		if err != nil {
			return nil, s.wrap("claim import keys", err)
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var no int64
			if err := rows.Scan(&k, &no); err != nil {
				return nil, fmt.Errorf("claim import keys: scan: %w", err)
			}
			first[k] = no
		}
		if err := rows.Err(); err != nil {
			return nil, s.wrap("claim import keys", err)
		}
	}
	// As ClaimImportKeys: a key is returned only to the rows it is not
	// the first row of.
	out := map[string]int64{}
	for _, k := range keys {
		if f := first[k.Key]; f != k.Row {
			out[k.Key] = f
		}
	}
	return out, nil
}
