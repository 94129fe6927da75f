package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
)

// LockCustomer is GetCustomer that also locks the row until the
// transaction ends.
func (s *Store) LockCustomer(ctx context.Context, tenant domain.TenantID, id string) (crm.Customer, error) {
	if !s.inTx(ctx) {
		return crm.Customer{}, errors.New("lock customer: must run inside InTx")
	}
	key, ok := lookupID(id)
	if !ok {
		return crm.Customer{}, fmt.Errorf("lock customer %q: %w", id, domain.ErrNotFound)
	}
	c, err := scanCustomer(s.queryRow(ctx, `SELECT `+customerCols+` FROM customers WHERE tenant_id = ? AND id = ?`+s.d.LockRows(false), tenant, key))
	if errors.Is(err, sql.ErrNoRows) {
		return crm.Customer{}, fmt.Errorf("lock customer %s: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return crm.Customer{}, s.wrap("lock customer", err)
	}
	return c, nil
}

// UpdateCustomer writes a customer's name and updated_at; domain.ErrNotFound
// for a missing or foreign one.
func (s *Store) UpdateCustomer(ctx context.Context, c crm.Customer) error {
	key, ok := lookupID(c.ID)
	if !ok {
		return fmt.Errorf("update customer %q: %w", c.ID, domain.ErrNotFound)
	}
	res, err := s.exec(ctx, `UPDATE customers SET name = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		c.Name, encTimeOrNow(c.UpdatedAt), c.TenantID, key)
	if err != nil {
		return s.wrap("update customer", err)
	}
	n, err := affected("update customer", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("update customer %s: %w", key, domain.ErrNotFound)
	}
	return nil
}
