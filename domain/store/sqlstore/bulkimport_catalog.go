package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
)

// importLookup runs query (whose last condition is "<column> IN (") for the
// values in chunks, scanning each row with scan.
func importLookup[T any](ctx context.Context, s *Store, op, query string, tenant domain.TenantID, values []string,
	scan func(sc scanner) (T, error), add func(T)) error {
	return s.importChunks(values, func(chunk []any) error {
		rows, err := s.query(ctx, query+inList(len(chunk))+`)`, append([]any{tenant}, chunk...)...)
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
	err := importLookup(ctx, s, "products by sku",
		`SELECT `+productCols+` FROM products WHERE tenant_id = ? AND deleted_at IS NULL AND sku IN (`,
		tenant, skus, scanProduct, func(p product.Product) { out[p.SKU] = p })
	return out, err
}

// ImportCustomersByEmail returns the tenant's customers with those
// (lower-cased) emails, by email.
func (s *Store) ImportCustomersByEmail(ctx context.Context, tenant domain.TenantID, emails []string) (map[string]crm.Customer, error) {
	out := make(map[string]crm.Customer, len(emails))
	err := importLookup(ctx, s, "customers by email",
		`SELECT `+customerCols+` FROM customers WHERE tenant_id = ? AND email IN (`,
		tenant, emails, scanCustomer, func(c crm.Customer) { out[c.Email] = c })
	return out, err
}

// ImportVendorsByName returns the tenant's vendors with those names, by
// name.
func (s *Store) ImportVendorsByName(ctx context.Context, tenant domain.TenantID, names []string) (map[string]procurement.Vendor, error) {
	out := make(map[string]procurement.Vendor, len(names))
	err := importLookup(ctx, s, "vendors by name",
		`SELECT `+vendorCols+` FROM vendors WHERE tenant_id = ? AND name IN (`,
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
