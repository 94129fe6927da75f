package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
)

var _ invoice.Store = (*Store)(nil)

// Invoices are read with their order's number and creator and their
// customer's name; lines and deliveries come from their own tables, in one
// query per page.
const (
	invoiceCols = `i.id, i.tenant_id, i.number, i.order_id, o.number, i.customer_id, c.name, i.status,
		i.total, i.amount_paid, i.due_date, i.paid_at, i.created_at, i.updated_at, o.created_by`
	invoiceFrom = ` FROM invoices i
		JOIN orders o ON o.tenant_id = i.tenant_id AND o.id = i.order_id
		JOIN customers c ON c.tenant_id = i.tenant_id AND c.id = i.customer_id`
	invoiceLineCols = `invoice_id, line_no, product_id, description, quantity, unit_price, amount`
	paymentCols     = `id, tenant_id, invoice_id, amount, method, reference, actor_id, received_at`
	deliveryCols    = `tenant_id, invoice_id, channel, recipient, status, attempts, error, message_id, sent_at, updated_at`
)

func scanInvoice(sc scanner) (invoice.Invoice, error) {
	var (
		inv invoice.Invoice
		due time.Time
	)
	err := sc.Scan(&inv.ID, &inv.TenantID, &inv.Number, &inv.OrderID, &inv.OrderNumber, &inv.CustomerID,
		&inv.CustomerName, &inv.Status, &inv.Total, &inv.AmountPaid, timeCol{&due}, nullTimeCol{&inv.PaidAt},
		timeCol{&inv.CreatedAt}, timeCol{&inv.UpdatedAt}, &inv.OrderCreatedBy)
	inv.DueDate = due.Format(dateLayout)
	inv.Outstanding = inv.Total.Sub(inv.AmountPaid)
	inv.Lines, inv.Deliveries = []invoice.Line{}, []invoice.Delivery{}
	return inv, err
}

func scanPayment(sc scanner) (invoice.Payment, error) {
	var p invoice.Payment
	err := sc.Scan(&p.ID, &p.TenantID, &p.InvoiceID, &p.Amount, &p.Method, &p.Reference, &p.ActorID, timeCol{&p.ReceivedAt})
	return p, err
}

func scanDelivery(sc scanner) (invoice.Delivery, error) {
	var d invoice.Delivery
	err := sc.Scan(&d.TenantID, &d.InvoiceID, &d.Channel, &d.Recipient, &d.Status, &d.Attempts, &d.Error,
		&d.MessageID, nullTimeCol{&d.SentAt}, timeCol{&d.UpdatedAt})
	return d, err
}

// LockOrderToInvoice locks the order row (FOR UPDATE; SQLite serialises
// writers already) and reads the order, its customer and its lines with
// their products' names. domain.ErrNotFound for a missing or foreign order.
func (s *Store) LockOrderToInvoice(ctx context.Context, tenant domain.TenantID, orderID string) (invoice.Source, error) {
	key, ok := lookupID(orderID)
	if !ok {
		return invoice.Source{}, fmt.Errorf("order to invoice %q: %w", orderID, domain.ErrNotFound)
	}
	// Lock the order alone (not the customer the join below reads).
	var locked string
	err := s.queryRow(ctx, `SELECT id FROM orders WHERE tenant_id = ? AND id = ?`+s.d.LockRows(false), tenant, key).Scan(&locked)
	if errors.Is(err, sql.ErrNoRows) {
		return invoice.Source{}, fmt.Errorf("order to invoice %s: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return invoice.Source{}, s.wrap("lock order to invoice", err)
	}
	src := invoice.Source{OrderID: key}
	err = s.queryRow(ctx, `SELECT o.number, o.status, o.customer_id, o.created_by, c.name, c.email, c.payment_terms_days
		FROM orders o JOIN customers c ON c.tenant_id = o.tenant_id AND c.id = o.customer_id
		WHERE o.tenant_id = ? AND o.id = ?`, tenant, key).Scan(
		&src.OrderNumber, &src.Status, &src.CustomerID, &src.CreatedBy, &src.CustomerName, &src.CustomerEmail, &src.PaymentTermsDays)
	if errors.Is(err, sql.ErrNoRows) {
		return invoice.Source{}, fmt.Errorf("order to invoice %s: customer: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return invoice.Source{}, s.wrap("read order to invoice", err)
	}
	rows, err := s.query(ctx, `SELECT l.line_no, l.product_id, l.sku, COALESCE(p.name, ''), l.quantity, l.unit_price
		FROM order_lines l LEFT JOIN products p ON p.tenant_id = l.tenant_id AND p.id = l.product_id
		WHERE l.tenant_id = ? AND l.order_id = ? ORDER BY l.line_no`, tenant, key)
	if err != nil {
		return invoice.Source{}, s.wrap("read order lines to invoice", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l invoice.SourceLine
		if err := rows.Scan(&l.LineNo, &l.ProductID, &l.SKU, &l.ProductName, &l.Quantity, &l.UnitPrice); err != nil {
			return invoice.Source{}, fmt.Errorf("read order lines to invoice: scan: %w", err)
		}
		src.Lines = append(src.Lines, l)
	}
	if err := rows.Err(); err != nil {
		return invoice.Source{}, s.wrap("read order lines to invoice", err)
	}
	return src, nil
}

// InsertInvoice stores an invoice and its lines. domain.ErrConflict when
// the order already has an invoice or the number is taken; domain.ErrNotFound
// when the order, customer or a product is not the tenant's.
func (s *Store) InsertInvoice(ctx context.Context, inv invoice.Invoice) error {
	if err := requireTenant(inv.TenantID); err != nil {
		return fmt.Errorf("insert invoice: %w", err)
	}
	id, err := newRowID("id", inv.ID)
	if err != nil {
		return fmt.Errorf("insert invoice: %w", err)
	}
	orderID, ok1 := lookupID(inv.OrderID)
	customerID, ok2 := lookupID(inv.CustomerID)
	if !ok1 || !ok2 {
		return fmt.Errorf("insert invoice: order %q of customer %q: %w", inv.OrderID, inv.CustomerID, domain.ErrNotFound)
	}
	due, err := time.Parse(dateLayout, inv.DueDate)
	if err != nil {
		return fmt.Errorf("insert invoice: %w", domain.Invalid("due_date", "must be a date like 2026-12-31"))
	}
	total, err := encMoney("total", inv.Total)
	if err != nil {
		return fmt.Errorf("insert invoice: %w", err)
	}
	paid, err := encMoney("amount_paid", inv.AmountPaid)
	if err != nil {
		return fmt.Errorf("insert invoice: %w", err)
	}
	created := encTimeOrNow(inv.CreatedAt)
	updated := created
	if !inv.UpdatedAt.IsZero() {
		updated = encTime(inv.UpdatedAt)
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		_, err := s.exec(ctx, `INSERT INTO invoices (tenant_id, id, number, order_id, customer_id, status, total,
			amount_paid, due_date, paid_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			inv.TenantID, id, inv.Number, orderID, customerID, inv.Status, total, paid, encDate(&due),
			encTimePtr(inv.PaidAt), created, updated)
		if s.kind(err) == KindUniqueViolation {
			return fmt.Errorf("insert invoice %s for order %s: %w", inv.Number, orderID, domain.ErrConflict)
		}
		if err != nil {
			return s.wrap("insert invoice", err)
		}
		for _, l := range inv.Lines {
			pid, ok := lookupID(l.ProductID)
			if !ok {
				return fmt.Errorf("insert invoice line %d: product %q: %w", l.LineNo, l.ProductID, domain.ErrNotFound)
			}
			price, err := encMoney("unit_price", l.UnitPrice)
			if err != nil {
				return fmt.Errorf("insert invoice line %d: %w", l.LineNo, err)
			}
			amount, err := encMoney("amount", l.Amount)
			if err != nil {
				return fmt.Errorf("insert invoice line %d: %w", l.LineNo, err)
			}
			_, err = s.exec(ctx, `INSERT INTO invoice_lines (tenant_id, invoice_id, line_no, product_id, description,
				quantity, unit_price, amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				inv.TenantID, id, l.LineNo, pid, l.Description, l.Quantity, price, amount)
			if s.kind(err) == KindUniqueViolation {
				return fmt.Errorf("insert invoice line %d: %w", l.LineNo, domain.ErrConflict)
			}
			if err != nil {
				return s.wrap("insert invoice line", err)
			}
		}
		return nil
	})
}

// GetInvoice returns one of the tenant's invoices with its lines and
// deliveries; domain.ErrNotFound for a missing or foreign one.
func (s *Store) GetInvoice(ctx context.Context, tenant domain.TenantID, id string) (invoice.Invoice, error) {
	key, ok := lookupID(id)
	if !ok {
		return invoice.Invoice{}, fmt.Errorf("get invoice %q: %w", id, domain.ErrNotFound)
	}
	return s.oneInvoice(ctx, "get invoice", tenant, `i.id = ?`, key)
}

// InvoiceForOrder returns the invoice of one of the tenant's orders, with
// lines and deliveries; domain.ErrNotFound when the order has none.
func (s *Store) InvoiceForOrder(ctx context.Context, tenant domain.TenantID, orderID string) (invoice.Invoice, error) {
	key, ok := lookupID(orderID)
	if !ok {
		return invoice.Invoice{}, fmt.Errorf("invoice for order %q: %w", orderID, domain.ErrNotFound)
	}
	return s.oneInvoice(ctx, "invoice for order", tenant, `i.order_id = ?`, key)
}

func (s *Store) oneInvoice(ctx context.Context, op string, tenant domain.TenantID, cond string, arg any) (invoice.Invoice, error) {
	inv, err := scanInvoice(s.queryRow(ctx, `SELECT `+invoiceCols+invoiceFrom+` WHERE i.tenant_id = ? AND `+cond, tenant, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return invoice.Invoice{}, fmt.Errorf("%s %v: %w", op, arg, domain.ErrNotFound)
	}
	if err != nil {
		return invoice.Invoice{}, s.wrap(op, err)
	}
	page := []invoice.Invoice{inv}
	if err := s.loadInvoiceDetails(ctx, tenant, page); err != nil {
		return invoice.Invoice{}, err
	}
	return page[0], nil
}

// LockInvoice locks one of the tenant's invoice rows until the transaction
// ends and returns it without lines or deliveries.
func (s *Store) LockInvoice(ctx context.Context, tenant domain.TenantID, id string) (invoice.Invoice, error) {
	key, ok := lookupID(id)
	if !ok {
		return invoice.Invoice{}, fmt.Errorf("lock invoice %q: %w", id, domain.ErrNotFound)
	}
	// Lock the invoice row alone; the joined order and customer stay free.
	var locked string
	err := s.queryRow(ctx, `SELECT id FROM invoices WHERE tenant_id = ? AND id = ?`+s.d.LockRows(false), tenant, key).Scan(&locked)
	if errors.Is(err, sql.ErrNoRows) {
		return invoice.Invoice{}, fmt.Errorf("lock invoice %s: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return invoice.Invoice{}, s.wrap("lock invoice", err)
	}
	inv, err := scanInvoice(s.queryRow(ctx, `SELECT `+invoiceCols+invoiceFrom+` WHERE i.tenant_id = ? AND i.id = ?`, tenant, key))
	if err != nil {
		return invoice.Invoice{}, s.wrap("lock invoice", err)
	}
	return inv, nil
}

// SetInvoiceBalance writes amount_paid, status, paid_at and updated_at of
// one of the tenant's invoices. domain.ErrNotFound when there is none.
func (s *Store) SetInvoiceBalance(ctx context.Context, inv invoice.Invoice) error {
	key, ok := lookupID(inv.ID)
	if !ok {
		return fmt.Errorf("set invoice balance %q: %w", inv.ID, domain.ErrNotFound)
	}
	paid, err := encMoney("amount_paid", inv.AmountPaid)
	if err != nil {
		return fmt.Errorf("set invoice balance: %w", err)
	}
	switch inv.Status {
	case invoice.StatusOpen, invoice.StatusPaid, invoice.StatusOverdue:
	default:
		return fmt.Errorf("set invoice balance: %w", domain.Invalid("status", "must be open, paid or overdue"))
	}
	res, err := s.exec(ctx, `UPDATE invoices SET amount_paid = ?, status = ?, paid_at = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ?`, paid, inv.Status, encTimePtr(inv.PaidAt), encTimeOrNow(inv.UpdatedAt), inv.TenantID, key)
	if err != nil {
		return s.wrap("set invoice balance", err)
	}
	n, err := affected("set invoice balance", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("set invoice balance %s: %w", key, domain.ErrNotFound)
	}
	return nil
}

// ListInvoices pages through the tenant's invoices ordered by id, with
// lines and deliveries. Limit defaults to 50, at most 500; After need not
// exist.
func (s *Store) ListInvoices(ctx context.Context, tenant domain.TenantID, f invoice.Filter) ([]invoice.Invoice, error) {
	q := `SELECT ` + invoiceCols + invoiceFrom + ` WHERE i.tenant_id = ?`
	args := []any{tenant}
	for _, c := range []struct{ col, field, v string }{
		{"i.order_id", "order_id", f.OrderID}, {"i.customer_id", "customer_id", f.CustomerID}, {"after", "after", f.After},
	} {
		if c.v == "" {
			continue
		}
		key, ok := lookupID(c.v)
		if !ok {
			return nil, fmt.Errorf("list invoices: %w", domain.Invalid(c.field, "must be a UUID"))
		}
		if c.col == "after" {
			q += ` AND i.id > ?`
		} else {
			q += ` AND ` + c.col + ` = ?`
		}
		args = append(args, key)
	}
	if f.Status != "" {
		q += ` AND i.status = ?`
		args = append(args, f.Status)
	}
	q += ` ORDER BY i.id LIMIT ?`
	args = append(args, clamp(f.Limit, 50, 500))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list invoices", err)
	}
	out := []invoice.Invoice{}
	for rows.Next() {
		inv, err := scanInvoice(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list invoices: scan: %w", err)
		}
		out = append(out, inv)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, s.wrap("list invoices", err)
	}
	if err := s.loadInvoiceDetails(ctx, tenant, out); err != nil {
		return nil, err
	}
	return out, nil
}

// loadInvoiceDetails fills the lines and deliveries of a page of invoices,
// with one query each.
func (s *Store) loadInvoiceDetails(ctx context.Context, tenant domain.TenantID, page []invoice.Invoice) error {
	if len(page) == 0 {
		return nil
	}
	at := make(map[string]int, len(page))
	args := []any{tenant}
	for i, inv := range page {
		at[inv.ID] = i
		args = append(args, inv.ID)
	}
	in := `(` + strings.TrimSuffix(strings.Repeat("?, ", len(page)), ", ") + `)`
	rows, err := s.query(ctx, `SELECT `+invoiceLineCols+` FROM invoice_lines WHERE tenant_id = ? AND invoice_id IN `+in+
		` ORDER BY invoice_id, line_no`, args...)
	if err != nil {
		return s.wrap("invoice lines", err)
	}
	for rows.Next() {
		var (
			invoiceID string
			l         invoice.Line
		)
		if err := rows.Scan(&invoiceID, &l.LineNo, &l.ProductID, &l.Description, &l.Quantity, &l.UnitPrice, &l.Amount); err != nil {
			rows.Close()
			return fmt.Errorf("invoice lines: scan: %w", err)
		}
		if i, ok := at[invoiceID]; ok {
			page[i].Lines = append(page[i].Lines, l)
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return s.wrap("invoice lines", err)
	}
	rows, err = s.query(ctx, `SELECT `+deliveryCols+` FROM invoice_deliveries WHERE tenant_id = ? AND invoice_id IN `+in+
		` ORDER BY invoice_id, channel`, args...)
	if err != nil {
		return s.wrap("invoice deliveries", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return fmt.Errorf("invoice deliveries: scan: %w", err)
		}
		if i, ok := at[d.InvoiceID]; ok {
			page[i].Deliveries = append(page[i].Deliveries, d)
		}
	}
	if err := rows.Err(); err != nil {
		return s.wrap("invoice deliveries", err)
	}
	return nil
}

// InsertInvoicePayment stores a payment. domain.ErrNotFound when the
// invoice is not the tenant's; domain.ErrConflict on a reused id.
func (s *Store) InsertInvoicePayment(ctx context.Context, p invoice.Payment) error {
	if err := requireTenant(p.TenantID); err != nil {
		return fmt.Errorf("insert payment: %w", err)
	}
	id, err := newRowID("id", p.ID)
	if err != nil {
		return fmt.Errorf("insert payment: %w", err)
	}
	invoiceID, ok := lookupID(p.InvoiceID)
	if !ok {
		return fmt.Errorf("insert payment: invoice %q: %w", p.InvoiceID, domain.ErrNotFound)
	}
	if !p.Amount.IsPositive() {
		return fmt.Errorf("insert payment: %w", domain.Invalid("amount", "must be greater than zero"))
	}
	amount, err := encMoney("amount", p.Amount)
	if err != nil {
		return fmt.Errorf("insert payment: %w", err)
	}
	_, err = s.exec(ctx, `INSERT INTO payments (tenant_id, id, invoice_id, amount, method, reference, actor_id, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, p.TenantID, id, invoiceID, amount, p.Method, p.Reference, p.ActorID, encTimeOrNow(p.ReceivedAt))
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert payment %s: %w", id, domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert payment", err)
	}
	return nil
}

// ListInvoicePayments pages through the payments of one of the tenant's
// invoices, oldest first (by received_at, then id). domain.ErrNotFound when
// the invoice, or the After payment, is not the tenant's.
func (s *Store) ListInvoicePayments(ctx context.Context, tenant domain.TenantID, invoiceID string, f invoice.PaymentFilter) ([]invoice.Payment, error) {
	key, ok := lookupID(invoiceID)
	if !ok {
		return nil, fmt.Errorf("list payments: invoice %q: %w", invoiceID, domain.ErrNotFound)
	}
	var one int
	err := s.queryRow(ctx, `SELECT 1 FROM invoices WHERE tenant_id = ? AND id = ?`, tenant, key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("list payments: invoice %s: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return nil, s.wrap("list payments", err)
	}
	q := `SELECT ` + paymentCols + ` FROM payments WHERE tenant_id = ? AND invoice_id = ?`
	args := []any{tenant, key}
	if f.After != "" {
		after, ok := lookupID(f.After)
		if !ok {
			return nil, fmt.Errorf("list payments: after %q: %w", f.After, domain.ErrNotFound)
		}
		var at time.Time
		err := s.queryRow(ctx, `SELECT received_at FROM payments WHERE tenant_id = ? AND invoice_id = ? AND id = ?`,
			tenant, key, after).Scan(timeCol{&at})
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("list payments: after %s: %w", after, domain.ErrNotFound)
		}
		if err != nil {
			return nil, s.wrap("list payments: resolve after", err)
		}
		q += ` AND (received_at > ? OR (received_at = ? AND id > ?))`
		args = append(args, encTime(at), encTime(at), after)
	}
	q += ` ORDER BY received_at, id LIMIT ?`
	args = append(args, clamp(f.Limit, 50, 500))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list payments", err)
	}
	defer rows.Close()
	out := []invoice.Payment{}
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, fmt.Errorf("list payments: scan: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list payments", err)
	}
	return out, nil
}

// InvoiceDelivery returns the delivery of one of the tenant's invoices over
// channel; domain.ErrNotFound when none was recorded.
func (s *Store) InvoiceDelivery(ctx context.Context, tenant domain.TenantID, invoiceID, channel string) (invoice.Delivery, error) {
	key, ok := lookupID(invoiceID)
	if !ok {
		return invoice.Delivery{}, fmt.Errorf("invoice delivery %q: %w", invoiceID, domain.ErrNotFound)
	}
	d, err := scanDelivery(s.queryRow(ctx, `SELECT `+deliveryCols+` FROM invoice_deliveries
		WHERE tenant_id = ? AND invoice_id = ? AND channel = ?`, tenant, key, channel))
	if errors.Is(err, sql.ErrNoRows) {
		return invoice.Delivery{}, fmt.Errorf("invoice delivery %s %s: %w", key, channel, domain.ErrNotFound)
	}
	if err != nil {
		return invoice.Delivery{}, s.wrap("invoice delivery", err)
	}
	return d, nil
}

// PutInvoiceDelivery inserts or replaces the delivery of (invoice,
// channel). domain.ErrNotFound when the invoice is not the tenant's.
func (s *Store) PutInvoiceDelivery(ctx context.Context, d invoice.Delivery) error {
	if err := requireTenant(d.TenantID); err != nil {
		return fmt.Errorf("put invoice delivery: %w", err)
	}
	key, ok := lookupID(d.InvoiceID)
	if !ok {
		return fmt.Errorf("put invoice delivery %q: %w", d.InvoiceID, domain.ErrNotFound)
	}
	if d.Channel == "" {
		return fmt.Errorf("put invoice delivery: %w", domain.Invalid("channel", "required"))
	}
	_, err := s.exec(ctx, `INSERT INTO invoice_deliveries (`+deliveryCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, invoice_id, channel) DO UPDATE SET recipient = excluded.recipient,
		status = excluded.status, attempts = excluded.attempts, error = excluded.error,
		message_id = excluded.message_id, sent_at = excluded.sent_at, updated_at = excluded.updated_at`,
		d.TenantID, key, d.Channel, d.Recipient, d.Status, d.Attempts, d.Error, d.MessageID,
		encTimePtr(d.SentAt), encTimeOrNow(d.UpdatedAt))
	if err != nil {
		return s.wrap("put invoice delivery", err)
	}
	return nil
}
