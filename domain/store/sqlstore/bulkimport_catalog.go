package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
)

// importMatch is a query for the tenant's rows of table (columns sel)
// whose key column equals one of values, with cond (and its args) on top.
// On PostgreSQL it probes the index once per value: a LATERAL subquery
// fenced with OFFSET 0, so the planner cannot turn it into a scan of all
// the tenant's rows filtered by the list, which it does when statistics
// underestimate the tenant's rows (a big import filling a fresh table, a
// tenant much larger than most), making each batch slower than the last.
// SQLite probes its index for an IN list by itself. cast is the
// PostgreSQL type of the values ("" for text).
func (s *Store) importMatch(sel, table, cond string, condArgs []any, key, cast string,
	tenant domain.TenantID, values []any) (string, []any) {
	if s.d.Name() != "postgres" {
		args := append(append([]any{tenant}, condArgs...), values...)
		return `SELECT ` + sel + ` FROM ` + table + ` WHERE tenant_id = ?` + cond + ` AND ` + key +
			` IN (` + inList(len(values)) + `)`, args
	}
	marker := "(?)"
	if cast != "" {
		marker = "(?::" + cast + ")"
	}
	list := strings.Repeat(marker+", ", len(values)-1) + marker
	args := append(append(append([]any{}, values...), tenant), condArgs...)
	return `SELECT x.* FROM (VALUES ` + list + `) AS v(k) CROSS JOIN LATERAL (SELECT ` + sel + ` FROM ` + table +
		` WHERE tenant_id = ?` + cond + ` AND ` + key + ` = v.k OFFSET 0) AS x`, args
}

// importLookup runs importMatch for the values in chunks, scanning each
// row with scan.
func importLookup[T any](ctx context.Context, s *Store, op, sel, table, cond, key string, tenant domain.TenantID,
	values []string, scan func(sc scanner) (T, error), add func(T)) error {
	return s.importChunks(values, func(chunk []any) error {
		q, args := s.importMatch(sel, table, cond, nil, key, "", tenant, chunk)
		rows, err := s.query(ctx, q, args...)
		if err != nil {
			return s.wrap(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return fmt.Errorf("%s: scan: %w", op, err)
			}
			add(v)
		}
		if err := rows.Err(); err != nil {
			return s.wrap(op, err)
		}
		return nil
	})
}

// ImportProductsBySKU returns the tenant's live products with those SKUs,
// by SKU.
func (s *Store) ImportProductsBySKU(ctx context.Context, tenant domain.TenantID, skus []string) (map[string]product.Product, error) {
	out := make(map[string]product.Product, len(skus))
	err := importLookup(ctx, s, "products by sku", productCols, "products", " AND deleted_at IS NULL", "sku",
		tenant, skus, scanProduct, func(p product.Product) { out[p.SKU] = p })
	return out, err
}

// ImportCustomersByEmail returns the tenant's customers with those
// (lower-cased) emails, by email.
func (s *Store) ImportCustomersByEmail(ctx context.Context, tenant domain.TenantID, emails []string) (map[string]crm.Customer, error) {
	out := make(map[string]crm.Customer, len(emails))
	// email <> '' lets the partial unique index serve the lookup.
	err := importLookup(ctx, s, "customers by email", customerCols, "customers", " AND email <> ''", "email",
		tenant, emails, scanCustomer, func(c crm.Customer) { out[c.Email] = c })
	return out, err
}

// ImportVendorsByName returns the tenant's vendors with those names, by
// name.
func (s *Store) ImportVendorsByName(ctx context.Context, tenant domain.TenantID, names []string) (map[string]procurement.Vendor, error) {
	out := make(map[string]procurement.Vendor, len(names))
	err := importLookup(ctx, s, "vendors by name", vendorCols, "vendors", "", "name",
		tenant, names, scanVendor, func(v procurement.Vendor) { out[v.Name] = v })
	return out, err
}

// UpdateImportedCustomer writes a customer's name and payment terms.
func (s *Store) UpdateImportedCustomer(ctx context.Context, c crm.Customer) error {
	return s.importUpdateOne(ctx, "update customer", `UPDATE customers SET name = ?, payment_terms_days = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ?`, c.TenantID, c.ID, c.Name, c.PaymentTermsDays, encTime(now()))
}

// UpdateImportedVendor writes a vendor's email.
func (s *Store) UpdateImportedVendor(ctx context.Context, v procurement.Vendor) error {
	return s.importUpdateOne(ctx, "update vendor", `UPDATE vendors SET email = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		v.TenantID, v.ID, v.Email, encTime(now()))
}

// importUpdateOne runs an UPDATE of one row (tenant, id), whose SET values come
// first: domain.ErrNotFound when there is no such row.
func (s *Store) importUpdateOne(ctx context.Context, op, q string, tenant domain.TenantID, id string, set ...any) error {
	key, ok := lookupID(id)
	if !ok {
		return fmt.Errorf("%s %q: %w", op, id, domain.ErrNotFound)
	}
	var res sql.Result
	res, err := s.exec(ctx, q, append(set, tenant, key)...)
	if err != nil {
		return s.wrap(op, err)
	}
	n, err := affected(op, res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", op, key, domain.ErrNotFound)
	}
	return nil
}
