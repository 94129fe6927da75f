package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
)

var _ crm.Store = (*Store)(nil)

const (
	customerCols = `id, tenant_id, name, email, lead_id, payment_terms_days, total_orders, total_spent,
		outstanding_balance, last_order_at, last_payment_at, created_at, updated_at`
	leadCols = `id, tenant_id, name, email, status, customer_id, converted_at, created_at, updated_at`
)

func scanCustomer(sc scanner) (crm.Customer, error) {
	var (
		c    crm.Customer
		lead sql.NullString
	)
	err := sc.Scan(&c.ID, &c.TenantID, &c.Name, &c.Email, &lead, &c.PaymentTermsDays,
		&c.Statistics.TotalOrders, &c.Statistics.TotalSpent, &c.Statistics.OutstandingBalance,
		nullTimeCol{&c.Statistics.LastOrderAt}, nullTimeCol{&c.Statistics.LastPaymentAt},
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
	if lead.Valid {
		c.LeadID = &lead.String
	}
	return c, err
}

func scanLead(sc scanner) (crm.Lead, error) {
	var (
		l        crm.Lead
		customer sql.NullString
	)
	err := sc.Scan(&l.ID, &l.TenantID, &l.Name, &l.Email, &l.Status, &customer,
		nullTimeCol{&l.ConvertedAt}, timeCol{&l.CreatedAt}, timeCol{&l.UpdatedAt})
	if customer.Valid {
		l.CustomerID = &customer.String
	}
	return l, err
}

// InsertCustomer stores a new customer with its statistics as given (zero
// for a new one). domain.ErrConflict when the tenant already has a customer
// with that non-empty email, or the id is taken.
func (s *Store) InsertCustomer(ctx context.Context, c crm.Customer) error {
	if err := requireTenant(c.TenantID); err != nil {
		return fmt.Errorf("insert customer: %w", err)
	}
	id, err := newRowID("id", c.ID)
	if err != nil {
		return fmt.Errorf("insert customer: %w", err)
	}
	var lead any
	if c.LeadID != nil {
		l, err := newRowID("lead_id", *c.LeadID)
		if err != nil {
			return fmt.Errorf("insert customer: %w", err)
		}
		lead = l
	}
	spent, err := encMoney("total_spent", c.Statistics.TotalSpent)
	if err != nil {
		return fmt.Errorf("insert customer: %w", err)
	}
	outstanding, err := encMoney("outstanding_balance", c.Statistics.OutstandingBalance)
	if err != nil {
		return fmt.Errorf("insert customer: %w", err)
	}
	created := encTimeOrNow(c.CreatedAt)
	updated := created
	if !c.UpdatedAt.IsZero() {
		updated = encTime(c.UpdatedAt)
	}
	_, err = s.exec(ctx, `INSERT INTO customers (tenant_id, id, name, email, lead_id, payment_terms_days, total_orders,
		total_spent, outstanding_balance, last_order_at, last_payment_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.TenantID, id, c.Name, c.Email, lead, c.PaymentTermsDays, c.Statistics.TotalOrders, spent, outstanding,
		encTimePtr(c.Statistics.LastOrderAt), encTimePtr(c.Statistics.LastPaymentAt), created, updated)
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert customer: email %q already in use: %w", c.Email, domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert customer", err)
	}
	return nil
}

// GetCustomer returns one customer of the tenant; domain.ErrNotFound for a
// missing or foreign one.
func (s *Store) GetCustomer(ctx context.Context, tenant domain.TenantID, id string) (crm.Customer, error) {
	key, ok := lookupID(id)
	if !ok {
		return crm.Customer{}, fmt.Errorf("get customer %q: %w", id, domain.ErrNotFound)
	}
	c, err := scanCustomer(s.queryRow(ctx, `SELECT `+customerCols+` FROM customers WHERE tenant_id = ? AND id = ?`, tenant, key))
	if errors.Is(err, sql.ErrNoRows) {
		return crm.Customer{}, fmt.Errorf("get customer %s: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return crm.Customer{}, s.wrap("get customer", err)
	}
	return c, nil
}

// ListCustomers pages through the tenant's customers ordered by id. Limit
// defaults to 50, at most 500; a malformed After is a ValidationError.
func (s *Store) ListCustomers(ctx context.Context, tenant domain.TenantID, p crm.ListParams) ([]crm.Customer, error) {
	q := `SELECT ` + customerCols + ` FROM customers WHERE tenant_id = ?`
	args := []any{tenant}
	if p.After != "" {
		after, ok := lookupID(p.After)
		if !ok {
			return nil, fmt.Errorf("list customers: %w", domain.Invalid("after", "must be a customer id"))
		}
		q += ` AND id > ?`
		args = append(args, after)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, clamp(p.Limit, 50, 500))
	return queryList(ctx, s, "list customers", scanCustomer, q, args...)
}

// InsertLead stores a new lead.
func (s *Store) InsertLead(ctx context.Context, l crm.Lead) error {
	if err := requireTenant(l.TenantID); err != nil {
		return fmt.Errorf("insert lead: %w", err)
	}
	id, err := newRowID("id", l.ID)
	if err != nil {
		return fmt.Errorf("insert lead: %w", err)
	}
	status := l.Status
	if status == "" {
		status = crm.LeadStatusOpen
	}
	created := encTimeOrNow(l.CreatedAt)
	updated := created
	if !l.UpdatedAt.IsZero() {
		updated = encTime(l.UpdatedAt)
	}
	_, err = s.exec(ctx, `INSERT INTO leads (tenant_id, id, name, email, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, l.TenantID, id, l.Name, l.Email, string(status), created, updated)
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert lead %s: %w", id, domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert lead", err)
	}
	return nil
}

// GetLead returns one lead of the tenant; domain.ErrNotFound for a missing
// or foreign one.
func (s *Store) GetLead(ctx context.Context, tenant domain.TenantID, id string) (crm.Lead, error) {
	return s.getLead(ctx, "get lead", tenant, id, false)
}

// LockLead is GetLead that also locks the row until the transaction ends
// (FOR UPDATE on PostgreSQL; SQLite serialises write transactions).
func (s *Store) LockLead(ctx context.Context, tenant domain.TenantID, id string) (crm.Lead, error) {
	return s.getLead(ctx, "lock lead", tenant, id, true)
}

func (s *Store) getLead(ctx context.Context, op string, tenant domain.TenantID, id string, lock bool) (crm.Lead, error) {
	key, ok := lookupID(id)
	if !ok {
		return crm.Lead{}, fmt.Errorf("%s %q: %w", op, id, domain.ErrNotFound)
	}
	q := `SELECT ` + leadCols + ` FROM leads WHERE tenant_id = ? AND id = ?`
	if lock {
		q += s.d.LockRows(false)
	}
	l, err := scanLead(s.queryRow(ctx, q, tenant, key))
	if errors.Is(err, sql.ErrNoRows) {
		return crm.Lead{}, fmt.Errorf("%s %s: %w", op, key, domain.ErrNotFound)
	}
	if err != nil {
		return crm.Lead{}, s.wrap(op, err)
	}
	return l, nil
}

// ListLeads pages through the tenant's leads ordered by id, optionally of
// one status.
func (s *Store) ListLeads(ctx context.Context, tenant domain.TenantID, p crm.ListParams) ([]crm.Lead, error) {
	q := `SELECT ` + leadCols + ` FROM leads WHERE tenant_id = ?`
	args := []any{tenant}
	if p.Status != "" {
		q += ` AND status = ?`
		args = append(args, string(p.Status))
	}
	if p.After != "" {
		after, ok := lookupID(p.After)
		if !ok {
			return nil, fmt.Errorf("list leads: %w", domain.Invalid("after", "must be a lead id"))
		}
		q += ` AND id > ?`
		args = append(args, after)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, clamp(p.Limit, 50, 500))
	return queryList(ctx, s, "list leads", scanLead, q, args...)
}

// MarkLeadConverted sets an open lead converted into customerID.
// domain.ErrNotFound when the lead is missing, foreign or not open, or the
// customer is not the tenant's.
func (s *Store) MarkLeadConverted(ctx context.Context, tenant domain.TenantID, leadID, customerID string, at time.Time) error {
	key, ok1 := lookupID(leadID)
	cid, ok2 := lookupID(customerID)
	if !ok1 || !ok2 {
		return fmt.Errorf("mark lead %q converted into %q: %w", leadID, customerID, domain.ErrNotFound)
	}
	when := encTimeOrNow(at)
	res, err := s.exec(ctx, `UPDATE leads SET status = 'converted', customer_id = ?, converted_at = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ? AND status = 'open'`, cid, when, when, tenant, key)
	if err != nil {
		return s.wrap("mark lead converted", err)
	}
	n, err := affected("mark lead converted", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("mark lead %s converted: no open lead: %w", key, domain.ErrNotFound)
	}
	return nil
}

// RecomputeCustomerStatistics recomputes the customer's statistics from its
// source rows and stores them (only when they changed). It locks the
// customer row first, so the reads that follow start after any concurrent
// recomputation has committed: the one that locks last reads the newest
// rows and writes last. Sums are taken in Go with exact decimals (SQLite
// has no decimal type: its SUM would go through floating point).
func (s *Store) RecomputeCustomerStatistics(ctx context.Context, tenant domain.TenantID, id string) (crm.Statistics, error) {
	key, ok := lookupID(id)
	if !ok {
		return crm.Statistics{}, fmt.Errorf("recompute statistics %q: %w", id, domain.ErrNotFound)
	}
	var out crm.Statistics
	err := s.InTx(ctx, func(ctx context.Context) error {
		var old crm.Statistics
		err := s.queryRow(ctx, `SELECT total_orders, total_spent, outstanding_balance, last_order_at, last_payment_at
			FROM customers WHERE tenant_id = ? AND id = ?`+s.d.LockRows(false), tenant, key).
			Scan(&old.TotalOrders, &old.TotalSpent, &old.OutstandingBalance,
				nullTimeCol{&old.LastOrderAt}, nullTimeCol{&old.LastPaymentAt})
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("recompute statistics %s: %w", key, domain.ErrNotFound)
		}
		if err != nil {
			return s.wrap("recompute statistics: lock customer", err)
		}
		st, err := s.customerStatistics(ctx, tenant, key)
		if err != nil {
			return err
		}
		out = st
		if sameStatistics(old, st) {
			return nil
		}
		spent, err := encMoney("total_spent", st.TotalSpent)
		if err != nil {
			return fmt.Errorf("recompute statistics: %w", err)
		}
		outstanding, err := encMoney("outstanding_balance", st.OutstandingBalance)
		if err != nil {
			return fmt.Errorf("recompute statistics: %w", err)
		}
		_, err = s.exec(ctx, `UPDATE customers SET total_orders = ?, total_spent = ?, outstanding_balance = ?,
			last_order_at = ?, last_payment_at = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
			st.TotalOrders, spent, outstanding, encTimePtr(st.LastOrderAt), encTimePtr(st.LastPaymentAt),
			encTime(now()), tenant, key)
		if err != nil {
			return s.wrap("recompute statistics: update", err)
		}
		return nil
	})
	if err != nil {
		return crm.Statistics{}, err
	}
	return out, nil
}

// customerStatistics reads the figures of Statistics from orders, invoices
// and payments.
func (s *Store) customerStatistics(ctx context.Context, tenant domain.TenantID, customer string) (crm.Statistics, error) {
	st := crm.Statistics{TotalSpent: decimal.Zero, OutstandingBalance: decimal.Zero}
	err := s.queryRow(ctx, `SELECT COUNT(*), MAX(created_at) FROM orders WHERE tenant_id = ? AND customer_id = ?`,
		tenant, customer).Scan(&st.TotalOrders, nullTimeCol{&st.LastOrderAt})
	if err != nil {
		return st, s.wrap("recompute statistics: orders", err)
	}
	rows, err := s.query(ctx, `SELECT p.amount, p.received_at FROM payments p
		JOIN invoices i ON i.tenant_id = p.tenant_id AND i.id = p.invoice_id
		WHERE i.tenant_id = ? AND i.customer_id = ?`, tenant, customer)
	if err != nil {
		return st, s.wrap("recompute statistics: payments", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			amount decimal.Decimal
			at     time.Time
		)
		if err := rows.Scan(&amount, timeCol{&at}); err != nil {
			return st, fmt.Errorf("recompute statistics: scan payment: %w", err)
		}
		st.TotalSpent = st.TotalSpent.Add(amount)
		if st.LastPaymentAt == nil || at.After(*st.LastPaymentAt) {
			st.LastPaymentAt = &at
		}
	}
	if err := rows.Err(); err != nil {
		return st, s.wrap("recompute statistics: payments", err)
	}
	rows.Close()
	rows, err = s.query(ctx, `SELECT total, amount_paid FROM invoices
		WHERE tenant_id = ? AND customer_id = ? AND status <> 'paid'`, tenant, customer)
	if err != nil {
		return st, s.wrap("recompute statistics: invoices", err)
	}
	defer rows.Close()
	for rows.Next() {
		var total, paid decimal.Decimal
		if err := rows.Scan(&total, &paid); err != nil {
			return st, fmt.Errorf("recompute statistics: scan invoice: %w", err)
		}
		st.OutstandingBalance = st.OutstandingBalance.Add(total.Sub(paid))
	}
	if err := rows.Err(); err != nil {
		return st, s.wrap("recompute statistics: invoices", err)
	}
	return st, nil
}

func sameStatistics(a, b crm.Statistics) bool {
	sameTime := func(x, y *time.Time) bool {
		if x == nil || y == nil {
			return x == nil && y == nil
		}
		return x.Equal(*y)
	}
	return a.TotalOrders == b.TotalOrders && a.TotalSpent.Equal(b.TotalSpent) &&
		a.OutstandingBalance.Equal(b.OutstandingBalance) &&
		sameTime(a.LastOrderAt, b.LastOrderAt) && sameTime(a.LastPaymentAt, b.LastPaymentAt)
}

// queryList runs a query and scans every row with scan.
func queryList[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: scan: %w", op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(op, err)
	}
	return out, nil
}
