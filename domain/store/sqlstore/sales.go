package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/sales"
)

var _ sales.Store = (*Store)(nil)

const (
	orderCols = `id, tenant_id, number, customer_id, status, total, created_by, approved_by, approved_at,
		fulfilled_by, fulfilled_at, stock_out_at, created_at, updated_at`
	orderLineCols = `order_id, line_no, product_id, sku, quantity, unit_price, amount`
)

func scanOrder(sc scanner) (sales.Order, error) {
	var o sales.Order
	err := sc.Scan(&o.ID, &o.TenantID, &o.Number, &o.CustomerID, &o.Status, &o.Total, &o.CreatedBy,
		&o.ApprovedBy, nullTimeCol{&o.ApprovedAt}, &o.FulfilledBy, nullTimeCol{&o.FulfilledAt},
		nullTimeCol{&o.StockOutAt}, timeCol{&o.CreatedAt}, timeCol{&o.UpdatedAt})
	return o, err
}

// InsertOrder stores an order and its lines. domain.ErrNotFound when the
// customer or a product is not the tenant's; domain.ErrConflict when the
// id or number is taken.
func (s *Store) InsertOrder(ctx context.Context, o sales.Order) error {
	if err := requireTenant(o.TenantID); err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	id, err := newRowID("id", o.ID)
	if err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	customer, ok := lookupID(o.CustomerID)
	if !ok {
		return fmt.Errorf("insert order: customer %q: %w", o.CustomerID, domain.ErrNotFound)
	}
	if o.Number == "" {
		return fmt.Errorf("insert order: %w", domain.Invalid("number", "required"))
	}
	if !o.Status.Valid() {
		return fmt.Errorf("insert order: %w", domain.Invalid("status", "must be pending, approved or fulfilled"))
	}
	total, err := encMoney("total", o.Total)
	if err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	lineArgs := make([]any, 0, 8*len(o.Lines))
	for i, l := range o.Lines {
		pid, ok := lookupID(l.ProductID)
		if !ok {
			return fmt.Errorf("insert order: line %d: product %q: %w", i+1, l.ProductID, domain.ErrNotFound)
		}
		price, err := encMoney(fmt.Sprintf("lines[%d].unit_price", i), l.UnitPrice)
		if err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		amount, err := encMoney(fmt.Sprintf("lines[%d].amount", i), l.Amount)
		if err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		lineArgs = append(lineArgs, o.TenantID, id, l.LineNo, pid, l.SKU, l.Quantity, price, amount)
	}
	created := encTimeOrNow(o.CreatedAt)
	updated := created
	if !o.UpdatedAt.IsZero() {
		updated = encTime(o.UpdatedAt)
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		_, err := s.exec(ctx, `INSERT INTO orders (tenant_id, id, number, customer_id, status, total, created_by,
			approved_by, approved_at, fulfilled_by, fulfilled_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.TenantID, id, o.Number, customer, string(o.Status), total, o.CreatedBy,
			o.ApprovedBy, encTimePtr(o.ApprovedAt), o.FulfilledBy, encTimePtr(o.FulfilledAt), created, updated)
		if s.kind(err) == KindUniqueViolation {
			return fmt.Errorf("insert order %s (%s): %w", id, o.Number, domain.ErrConflict)
		}
		if err != nil {
			return s.wrap("insert order", err)
		}
		if len(o.Lines) == 0 {
			return nil
		}
		// One statement for all lines: at most 100 lines × 8 values.
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?), ", len(o.Lines)), ", ")
		_, err = s.exec(ctx, `INSERT INTO order_lines (tenant_id, order_id, line_no, product_id, sku, quantity,
			unit_price, amount) VALUES `+values, lineArgs...)
		if s.kind(err) == KindUniqueViolation {
			return fmt.Errorf("insert order %s: duplicate line number: %w", id, domain.ErrConflict)
		}
		if err != nil {
			return s.wrap("insert order lines", err)
		}
		return nil
	})
}

// GetOrder returns one order of the tenant with its lines; domain.ErrNotFound
// for a missing or foreign one.
func (s *Store) GetOrder(ctx context.Context, tenant domain.TenantID, id string) (sales.Order, error) {
	return s.getOrder(ctx, "get order", tenant, id, false)
}

// LockOrder is GetOrder that also locks the order row until the transaction
// ends (FOR UPDATE on PostgreSQL; SQLite serialises write transactions).
func (s *Store) LockOrder(ctx context.Context, tenant domain.TenantID, id string) (sales.Order, error) {
	return s.getOrder(ctx, "lock order", tenant, id, true)
}

func (s *Store) getOrder(ctx context.Context, op string, tenant domain.TenantID, id string, lock bool) (sales.Order, error) {
	key, ok := lookupID(id)
	if !ok {
		return sales.Order{}, fmt.Errorf("%s %q: %w", op, id, domain.ErrNotFound)
	}
	q := `SELECT ` + orderCols + ` FROM orders WHERE tenant_id = ? AND id = ?`
	if lock {
		q += s.d.LockRows(false)
	}
	o, err := scanOrder(s.queryRow(ctx, q, tenant, key))
	if errors.Is(err, sql.ErrNoRows) {
		return sales.Order{}, fmt.Errorf("%s %s: %w", op, key, domain.ErrNotFound)
	}
	if err != nil {
		return sales.Order{}, s.wrap(op, err)
	}
	orders := []sales.Order{o}
	if err := s.loadOrderLines(ctx, op, tenant, orders); err != nil {
		return sales.Order{}, err
	}
	return orders[0], nil
}

// loadOrderLines fills in the lines of the given orders with one query.
func (s *Store) loadOrderLines(ctx context.Context, op string, tenant domain.TenantID, orders []sales.Order) error {
	if len(orders) == 0 {
		return nil
	}
	index := make(map[string]int, len(orders))
	args := make([]any, 0, len(orders)+1)
	args = append(args, tenant)
	for i, o := range orders {
		index[o.ID] = i
		orders[i].Lines = []sales.Line{}
		args = append(args, o.ID)
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(orders)), ", ")
	rows, err := s.query(ctx, `SELECT `+orderLineCols+` FROM order_lines WHERE tenant_id = ? AND order_id IN (`+marks+`)
		ORDER BY order_id, line_no`, args...)
	if err != nil {
		return s.wrap(op+": lines", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			orderID string
			l       sales.Line
		)
		if err := rows.Scan(&orderID, &l.LineNo, &l.ProductID, &l.SKU, &l.Quantity, &l.UnitPrice, &l.Amount); err != nil {
			return fmt.Errorf("%s: scan line: %w", op, err)
		}
		i, ok := index[orderID]
		if !ok {
			return fmt.Errorf("%s: line of unexpected order %s", op, orderID)
		}
		orders[i].Lines = append(orders[i].Lines, l)
	}
	if err := rows.Err(); err != nil {
		return s.wrap(op+": lines", err)
	}
	return nil
}

// UpdateOrderStatus writes status, approved_by/at, fulfilled_by/at and
// updated_at. domain.ErrNotFound when the order is missing or foreign.
func (s *Store) UpdateOrderStatus(ctx context.Context, o sales.Order) error {
	key, ok := lookupID(o.ID)
	if !ok {
		return fmt.Errorf("update order %q: %w", o.ID, domain.ErrNotFound)
	}
	if !o.Status.Valid() {
		return fmt.Errorf("update order: %w", domain.Invalid("status", "must be pending, approved or fulfilled"))
	}
	res, err := s.exec(ctx, `UPDATE orders SET status = ?, approved_by = ?, approved_at = ?, fulfilled_by = ?,
		fulfilled_at = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		string(o.Status), o.ApprovedBy, encTimePtr(o.ApprovedAt), o.FulfilledBy, encTimePtr(o.FulfilledAt),
		encTimeOrNow(o.UpdatedAt), o.TenantID, key)
	if err != nil {
		return s.wrap("update order", err)
	}
	n, err := affected("update order", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("update order %s: %w", key, domain.ErrNotFound)
	}
	return nil
}

// StockAwaitingShipment returns, per product of productIDs, the quantity
// that fulfilled orders still have to take out of stock (their stock-out
// has not run yet): stock that is promised, whatever on hand says.
func (s *Store) StockAwaitingShipment(ctx context.Context, tenant domain.TenantID, productIDs []string) (map[string]int64, error) {
	out := make(map[string]int64, len(productIDs))
	if len(productIDs) == 0 {
		return out, nil
	}
	args := []any{string(tenant)}
	marks := make([]string, 0, len(productIDs))
	for _, id := range productIDs {
		key, ok := lookupID(id)
		if !ok {
			continue // not an id: nothing can be awaiting it
		}
		args = append(args, key)
		marks = append(marks, "?")
	}
	if len(marks) == 0 {
		return out, nil
	}
	rows, err := s.query(ctx, `SELECT l.product_id, SUM(l.quantity) FROM orders o
		JOIN order_lines l ON l.tenant_id = o.tenant_id AND l.order_id = o.id
		WHERE o.tenant_id = ? AND o.status = 'fulfilled' AND o.stock_out_at IS NULL
		AND l.product_id IN (`+strings.Join(marks, ", ")+`)
		GROUP BY l.product_id`, args...)
	if err != nil {
		return nil, s.wrap("stock awaiting shipment", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, s.wrap("stock awaiting shipment", err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("stock awaiting shipment", err)
	}
	return out, nil
}

// MarkStockOut records that a fulfilled order's stock went out, which ends
// its reservation. Marking an order twice keeps the first time.
func (s *Store) MarkStockOut(ctx context.Context, tenant domain.TenantID, orderID string, at time.Time) error {
	key, ok := lookupID(orderID)
	if !ok {
		return fmt.Errorf("mark stock out %q: %w", orderID, domain.ErrNotFound)
	}
	res, err := s.exec(ctx, `UPDATE orders SET stock_out_at = COALESCE(stock_out_at, ?)
		WHERE tenant_id = ? AND id = ? AND status = 'fulfilled'`, encTime(at), string(tenant), key)
	if err != nil {
		return s.wrap("mark stock out", err)
	}
	n, err := affected("mark stock out", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("mark stock out: fulfilled order %s: %w", key, domain.ErrNotFound)
	}
	return nil
}

// ListOrders pages through the tenant's orders ordered by id, with their
// lines, optionally of one customer and/or status. Limit defaults to 50, at
// most 500; malformed ids are ValidationErrors.
func (s *Store) ListOrders(ctx context.Context, tenant domain.TenantID, f sales.Filter) ([]sales.Order, error) {
	q := `SELECT ` + orderCols + ` FROM orders WHERE tenant_id = ?`
	args := []any{tenant}
	if f.CustomerID != "" {
		cid, ok := lookupID(f.CustomerID)
		if !ok {
			return nil, fmt.Errorf("list orders: %w", domain.Invalid("customer_id", "must be a UUID"))
		}
		q += ` AND customer_id = ?`
		args = append(args, cid)
	}
	if f.Status != "" {
		if !f.Status.Valid() {
			return nil, fmt.Errorf("list orders: %w", domain.Invalid("status", "must be pending, approved or fulfilled"))
		}
		q += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	if f.After != "" {
		after, ok := lookupID(f.After)
		if !ok {
			return nil, fmt.Errorf("list orders: %w", domain.Invalid("after", "must be an order id"))
		}
		q += ` AND id > ?`
		args = append(args, after)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, clamp(f.Limit, 50, 500))
	orders, err := queryList(ctx, s, "list orders", scanOrder, q, args...)
	if err != nil {
		return nil, err
	}
	if err := s.loadOrderLines(ctx, "list orders", tenant, orders); err != nil {
		return nil, err
	}
	return orders, nil
}
