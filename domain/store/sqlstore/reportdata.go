package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/report"
)

// What reports read. Money is summed by the report package in exact
// decimals (SQLite would sum decimal text as floating point); only integer
// quantities are summed here.

// ReadSnapshot runs fn in a read-only transaction: REPEATABLE READ on
// PostgreSQL, a deferred (non-locking) transaction on SQLite, whose WAL
// gives it one snapshot from its first read. Writers are not blocked.
// Inside a transaction of this store it joins it.
func (s *Store) ReadSnapshot(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.txFrom(ctx) != nil {
		return fn(ctx)
	}
	opts := &sql.TxOptions{ReadOnly: true}
	if s.d.Name() == "postgres" {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin read snapshot: %w", err)
	}
	st := &txState{tx: tx}
	defer func() {
		st.done.Store(true)
		// Nothing was written: ending it either way is the same.
		if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) && !errors.Is(err, context.Canceled) {
			s.log.WarnContext(ctx, "ending read snapshot failed", slog.Any("err", err))
		}
	}()
	return fn(context.WithValue(ctx, txKey{s}, st))
}

// eachRow runs q and calls fn with each scanned row. fn must not use the
// store: the rows hold the connection.
func eachRow[T any](ctx context.Context, s *Store, op, q string, args []any, scan func(scanner) (T, error), fn func(T) error) error {
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
		if err := fn(v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.wrap(op, err)
	}
	return nil
}

// window appends the bounds of w on col to a query: col >= Start (unless
// Start is zero) AND col < End.
func window(q string, args []any, col string, w report.Window) (string, []any) {
	if !w.Start.IsZero() {
		q += ` AND ` + col + ` >= ?`
		args = append(args, encTime(w.Start))
	}
	q += ` AND ` + col + ` < ?`
	return q, append(args, encTime(w.End))
}

// EachOrder calls fn with the tenant's orders created in w, oldest first.
func (s *Store) EachOrder(ctx context.Context, tenant domain.TenantID, w report.Window, fn func(report.OrderRow) error) error {
	q, args := window(`SELECT id, number, customer_id, total, created_at, approved_at, fulfilled_at
		FROM orders WHERE tenant_id = ?`, []any{tenant}, "created_at", w)
	return eachRow(ctx, s, "report orders", q+` ORDER BY created_at, id`, args, func(sc scanner) (report.OrderRow, error) {
		var o report.OrderRow
		err := sc.Scan(&o.ID, &o.Number, &o.CustomerID, &o.Total, timeCol{&o.CreatedAt},
			nullTimeCol{&o.ApprovedAt}, nullTimeCol{&o.FulfilledAt})
		return o, err
	}, fn)
}

// EachOrderLine calls fn with the lines of the orders created in w, with
// their product's SKU and name, by order (oldest first) then line.
func (s *Store) EachOrderLine(ctx context.Context, tenant domain.TenantID, w report.Window, fn func(report.OrderLineRow) error) error {
	q, args := window(`SELECT l.order_id, l.product_id, p.sku, p.name, l.quantity, l.amount
		FROM order_lines l
		JOIN orders o ON o.tenant_id = l.tenant_id AND o.id = l.order_id
		JOIN products p ON p.tenant_id = l.tenant_id AND p.id = l.product_id
		WHERE l.tenant_id = ?`, []any{tenant}, "o.created_at", w)
	q += ` ORDER BY o.created_at, o.id, l.line_no`
	return eachRow(ctx, s, "report order lines", q, args, func(sc scanner) (report.OrderLineRow, error) {
		var l report.OrderLineRow
		err := sc.Scan(&l.OrderID, &l.ProductID, &l.SKU, &l.ProductName, &l.Quantity, &l.Amount)
		return l, err
	}, fn)
}

// EachProductStock calls fn with every product that existed at w.End, its
// on hand then (the sum of its movements before it) and its movements in
// w, by SKU (byte order) then id.
func (s *Store) EachProductStock(ctx context.Context, tenant domain.TenantID, w report.Window, fn func(report.ProductStockRow) error) error {
	start, end := encTime(w.Start), encTime(w.End)
	q := `SELECT p.id, p.sku, p.name, p.reorder_level,
		CAST(COALESCE(SUM(m.quantity), 0) AS bigint),
		CAST(COALESCE(SUM(CASE WHEN m.created_at >= ? AND m.quantity > 0 THEN 1 ELSE 0 END), 0) AS bigint),
		CAST(COALESCE(SUM(CASE WHEN m.created_at >= ? AND m.quantity < 0 THEN 1 ELSE 0 END), 0) AS bigint),
		CAST(COALESCE(SUM(CASE WHEN m.created_at >= ? AND m.quantity > 0 THEN m.quantity ELSE 0 END), 0) AS bigint),
		CAST(COALESCE(SUM(CASE WHEN m.created_at >= ? AND m.quantity < 0 THEN -m.quantity ELSE 0 END), 0) AS bigint)
		FROM products p
		LEFT JOIN stock_movements m ON m.tenant_id = p.tenant_id AND m.product_id = p.id AND m.created_at < ?
		WHERE p.tenant_id = ? AND p.created_at < ? AND (p.deleted_at IS NULL OR p.deleted_at >= ?)
		GROUP BY p.id, p.sku, p.name, p.reorder_level
		ORDER BY p.sku` + s.byteOrder() + `, p.id`
	args := []any{start, start, start, start, end, tenant, end, end}
	return eachRow(ctx, s, "report product stock", q, args, func(sc scanner) (report.ProductStockRow, error) {
		var p report.ProductStockRow
		err := sc.Scan(&p.ProductID, &p.SKU, &p.Name, &p.ReorderLevel, &p.OnHand,
			&p.MovementsIn, &p.MovementsOut, &p.UnitsIn, &p.UnitsOut)
		return p, err
	}, fn)
}

// EachBatch calls fn with the tenant's batches of live products that hold
// stock and expire on or before expiringBy, first expiry first, then by
// SKU, location code and batch number (byte order).
func (s *Store) EachBatch(ctx context.Context, tenant domain.TenantID, expiringBy time.Time, fn func(report.BatchRow) error) error {
	bo := s.byteOrder()
	q := `SELECT b.product_id, p.sku, p.name, b.location_id, l.code, b.batch_number, b.expiry_date, b.quantity
		FROM stock_batches b
		JOIN products p ON p.tenant_id = b.tenant_id AND p.id = b.product_id
		JOIN locations l ON l.tenant_id = b.tenant_id AND l.id = b.location_id
		WHERE b.tenant_id = ? AND b.quantity > 0 AND b.expiry_date <= ? AND p.deleted_at IS NULL
		ORDER BY b.expiry_date, p.sku` + bo + `, l.code` + bo + `, b.batch_number` + bo + `, b.product_id, b.location_id`
	return eachRow(ctx, s, "report batches", q, []any{tenant, encDate(&expiringBy)}, func(sc scanner) (report.BatchRow, error) {
		var b report.BatchRow
		err := sc.Scan(&b.ProductID, &b.SKU, &b.ProductName, &b.LocationID, &b.LocationCode, &b.BatchNumber,
			timeCol{&b.ExpiryDate}, &b.Quantity)
		return b, err
	}, fn)
}

// EachInvoice calls fn with the invoices created in w and their customer,
// oldest first.
func (s *Store) EachInvoice(ctx context.Context, tenant domain.TenantID, w report.Window, fn func(report.InvoiceRow) error) error {
	q, args := window(`SELECT i.id, i.number, i.customer_id, c.name, i.total, i.due_date, i.created_at
		FROM invoices i JOIN customers c ON c.tenant_id = i.tenant_id AND c.id = i.customer_id
		WHERE i.tenant_id = ?`, []any{tenant}, "i.created_at", w)
	return eachRow(ctx, s, "report invoices", q+` ORDER BY i.created_at, i.id`, args, func(sc scanner) (report.InvoiceRow, error) {
		var i report.InvoiceRow
		err := sc.Scan(&i.ID, &i.Number, &i.CustomerID, &i.CustomerName, &i.Total, timeCol{&i.DueDate}, timeCol{&i.CreatedAt})
		return i, err
	}, fn)
}

// EachPayment calls fn with the payments received in w and their
// invoice's customer, oldest first.
func (s *Store) EachPayment(ctx context.Context, tenant domain.TenantID, w report.Window, fn func(report.PaymentRow) error) error {
	q, args := window(`SELECT pm.id, pm.invoice_id, i.customer_id, pm.amount, pm.received_at
		FROM payments pm JOIN invoices i ON i.tenant_id = pm.tenant_id AND i.id = pm.invoice_id
		WHERE pm.tenant_id = ?`, []any{tenant}, "pm.received_at", w)
	return eachRow(ctx, s, "report payments", q+` ORDER BY pm.received_at, pm.id`, args, func(sc scanner) (report.PaymentRow, error) {
		var p report.PaymentRow
		err := sc.Scan(&p.ID, &p.InvoiceID, &p.CustomerID, &p.Amount, timeCol{&p.ReceivedAt})
		return p, err
	}, fn)
}

// EachCustomer calls fn with the customers created before end, by id.
func (s *Store) EachCustomer(ctx context.Context, tenant domain.TenantID, end time.Time, fn func(report.CustomerRow) error) error {
	q := `SELECT id, name, email, created_at FROM customers WHERE tenant_id = ? AND created_at < ? ORDER BY id`
	return eachRow(ctx, s, "report customers", q, []any{tenant, encTime(end)}, func(sc scanner) (report.CustomerRow, error) {
		var c report.CustomerRow
		err := sc.Scan(&c.ID, &c.Name, &c.Email, timeCol{&c.CreatedAt})
		return c, err
	}, fn)
}

// EachPurchaseOrder calls fn with the purchase orders created in w and
// their vendor, oldest first.
func (s *Store) EachPurchaseOrder(ctx context.Context, tenant domain.TenantID, w report.Window, fn func(report.PurchaseOrderRow) error) error {
	q, args := window(`SELECT po.id, po.number, po.vendor_id, v.name, po.total, po.created_at, po.approved_at
		FROM purchase_orders po JOIN vendors v ON v.tenant_id = po.tenant_id AND v.id = po.vendor_id
		WHERE po.tenant_id = ?`, []any{tenant}, "po.created_at", w)
	return eachRow(ctx, s, "report purchase orders", q+` ORDER BY po.created_at, po.id`, args, func(sc scanner) (report.PurchaseOrderRow, error) {
		var po report.PurchaseOrderRow
		err := sc.Scan(&po.ID, &po.Number, &po.VendorID, &po.VendorName, &po.Total, timeCol{&po.CreatedAt}, nullTimeCol{&po.ApprovedAt})
		return po, err
	}, fn)
}

// EachPurchaseOrderLine calls fn with the lines of the purchase orders
// created in w, with their product and the quantity received against each
// by w.End, by purchase order (oldest first) then line.
func (s *Store) EachPurchaseOrderLine(ctx context.Context, tenant domain.TenantID, w report.Window, fn func(report.PurchaseOrderLineRow) error) error {
	q, args := window(`SELECT l.purchase_order_id, l.line_no, l.product_id, p.sku, p.name, l.quantity, l.unit_cost,
		CAST(COALESCE((SELECT SUM(g.quantity) FROM goods_receipt_lines g
			JOIN goods_receipts r ON r.tenant_id = g.tenant_id AND r.id = g.receipt_id
			WHERE g.tenant_id = l.tenant_id AND r.purchase_order_id = l.purchase_order_id
			AND g.order_line_no = l.line_no AND r.received_at < ?), 0) AS bigint)
		FROM purchase_order_lines l
		JOIN purchase_orders po ON po.tenant_id = l.tenant_id AND po.id = l.purchase_order_id
		JOIN products p ON p.tenant_id = l.tenant_id AND p.id = l.product_id
		WHERE l.tenant_id = ?`, []any{encTime(w.End), tenant}, "po.created_at", w)
	q += ` ORDER BY po.created_at, po.id, l.line_no`
	return eachRow(ctx, s, "report purchase order lines", q, args, func(sc scanner) (report.PurchaseOrderLineRow, error) {
		var l report.PurchaseOrderLineRow
		err := sc.Scan(&l.PurchaseOrderID, &l.LineNo, &l.ProductID, &l.SKU, &l.ProductName, &l.Quantity, &l.UnitCost, &l.ReceivedQuantity)
		return l, err
	}, fn)
}
