package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
)

// What the overdue detector reads and writes of invoices. The invoice
// service's own queries live elsewhere; these are the detector's only.
var _ invoice.OverdueStore = (*Store)(nil)

const overdueCols = `i.tenant_id, i.id, i.number, i.customer_id, c.name, i.status, i.total, i.amount_paid, i.due_date`

const overdueFrom = ` FROM invoices i JOIN customers c ON c.tenant_id = i.tenant_id AND c.id = i.customer_id`

func scanOverdue(sc scanner) (invoice.OverdueInvoice, error) {
	var i invoice.OverdueInvoice
	err := sc.Scan(&i.TenantID, &i.ID, &i.Number, &i.CustomerID, &i.CustomerName, &i.Status,
		&i.Total, &i.AmountPaid, timeCol{&i.DueDate})
	return i, err
}

// OverdueInvoices pages through the invoices of every tenant that are not
// paid and were due before the date before, by (tenant, id), after the
// cursor after (zero: from the start). Limit defaults to 500, at most
// 5000.
func (s *Store) OverdueInvoices(ctx context.Context, before time.Time, after invoice.OverdueCursor, limit int) ([]invoice.OverdueInvoice, error) {
	q := `SELECT ` + overdueCols + overdueFrom + ` WHERE i.status <> 'paid' AND i.due_date < ?`
	args := []any{encDate(&before)}
	if after.TenantID != "" {
		id, ok := lookupID(after.ID)
		if !ok {
			return nil, fmt.Errorf("overdue invoices: %w", domain.Invalid("after", "not an invoice id"))
		}
		q += ` AND (i.tenant_id, i.id) > (?, ?)`
		args = append(args, after.TenantID, id)
	}
	q += ` ORDER BY i.tenant_id, i.id LIMIT ?`
	args = append(args, clamp(limit, 500, 5000))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("overdue invoices", err)
	}
	defer rows.Close()
	out := []invoice.OverdueInvoice{}
	for rows.Next() {
		i, err := scanOverdue(rows)
		if err != nil {
			return nil, fmt.Errorf("overdue invoices: scan: %w", err)
		}
		out = append(out, i)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("overdue invoices", err)
	}
	return out, nil
}

// LockOverdueInvoice reads one of the tenant's invoices and locks its row
// until the transaction ends (FOR UPDATE on PostgreSQL; SQLite write
// transactions are serialised already). Only the invoice row is locked,
// not its customer's. domain.ErrNotFound when it is missing or foreign.
func (s *Store) LockOverdueInvoice(ctx context.Context, tenant domain.TenantID, id string) (invoice.OverdueInvoice, error) {
	key, ok := lookupID(id)
	if !ok {
		return invoice.OverdueInvoice{}, fmt.Errorf("lock invoice %q: %w", id, domain.ErrNotFound)
	}
	var customer string
	err := s.queryRow(ctx, `SELECT customer_id FROM invoices WHERE tenant_id = ? AND id = ?`+s.d.LockRows(false),
		tenant, key).Scan(&customer)
	if errors.Is(err, sql.ErrNoRows) {
		return invoice.OverdueInvoice{}, fmt.Errorf("lock invoice %s: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return invoice.OverdueInvoice{}, s.wrap("lock invoice", err)
	}
	inv, err := scanOverdue(s.queryRow(ctx, `SELECT `+overdueCols+overdueFrom+` WHERE i.tenant_id = ? AND i.id = ?`, tenant, key))
	if errors.Is(err, sql.ErrNoRows) {
		return invoice.OverdueInvoice{}, fmt.Errorf("lock invoice %s: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return invoice.OverdueInvoice{}, s.wrap("lock invoice", err)
	}
	return inv, nil
}

// MarkInvoiceOverdue sets one of the tenant's invoices overdue if it is
// open; otherwise (paid, already overdue, missing) it changes nothing.
func (s *Store) MarkInvoiceOverdue(ctx context.Context, tenant domain.TenantID, id string, at time.Time) error {
	key, ok := lookupID(id)
	if !ok {
		return nil
	}
	_, err := s.exec(ctx, `UPDATE invoices SET status = 'overdue', updated_at = ? WHERE tenant_id = ? AND id = ? AND status = 'open'`,
		encTimeOrNow(at), tenant, key)
	if err != nil {
		return s.wrap("mark invoice overdue", err)
	}
	return nil
}
