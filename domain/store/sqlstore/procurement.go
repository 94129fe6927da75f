package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/procurement"
)

var _ procurement.Store = (*Store)(nil)

const (
	vendorCols = `id, tenant_id, name, email, created_at`
	poCols     = `id, tenant_id, number, vendor_id, status, total, requested_by, approved_by,
		approved_at, received_at, created_at, updated_at`
	poLineCols = `purchase_order_id, line_no, product_id, quantity, unit_cost, received_quantity`
)

func scanVendor(sc scanner) (procurement.Vendor, error) {
	var v procurement.Vendor
	err := sc.Scan(&v.ID, &v.TenantID, &v.Name, &v.Email, timeCol{&v.CreatedAt})
	return v, err
}

// InsertVendor stores a new vendor. domain.ErrConflict when the tenant
// already has a vendor of that name (or the id is taken).
func (s *Store) InsertVendor(ctx context.Context, v procurement.Vendor) error {
	if err := requireTenant(v.TenantID); err != nil {
		return fmt.Errorf("insert vendor: %w", err)
	}
	id, err := newRowID("id", v.ID)
	if err != nil {
		return fmt.Errorf("insert vendor: %w", err)
	}
	if v.Name == "" {
		return fmt.Errorf("insert vendor: %w", domain.Invalid("name", "required"))
	}
	created := encTimeOrNow(v.CreatedAt)
	_, err = s.exec(ctx, `INSERT INTO vendors (tenant_id, id, name, email, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`, v.TenantID, id, v.Name, v.Email, created, created)
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert vendor: name %q already in use: %w", v.Name, domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert vendor", err)
	}
	return nil
}

// GetVendor returns one of the tenant's vendors; domain.ErrNotFound for a
// missing or foreign one.
func (s *Store) GetVendor(ctx context.Context, tenant domain.TenantID, id string) (procurement.Vendor, error) {
	key, ok := lookupID(id)
	if !ok {
		return procurement.Vendor{}, fmt.Errorf("get vendor %q: %w", id, domain.ErrNotFound)
	}
	v, err := scanVendor(s.queryRow(ctx, `SELECT `+vendorCols+` FROM vendors WHERE tenant_id = ? AND id = ?`, tenant, key))
	if errors.Is(err, sql.ErrNoRows) {
		return procurement.Vendor{}, fmt.Errorf("get vendor %s: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return procurement.Vendor{}, s.wrap("get vendor", err)
	}
	return v, nil
}

// ListVendors pages through the tenant's vendors ordered by id. Limit
// defaults to 50 and is at most 500; a malformed After is a ValidationError.
func (s *Store) ListVendors(ctx context.Context, tenant domain.TenantID, f procurement.VendorFilter) ([]procurement.Vendor, error) {
	q := `SELECT ` + vendorCols + ` FROM vendors WHERE tenant_id = ?`
	args := []any{tenant}
	if f.After != "" {
		after, ok := lookupID(f.After)
		if !ok {
			return nil, fmt.Errorf("list vendors: %w", domain.Invalid("after", "must be a vendor id"))
		}
		q += ` AND id > ?`
		args = append(args, after)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, clamp(f.Limit, 50, 500))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list vendors", err)
	}
	defer rows.Close()
	out := []procurement.Vendor{}
	for rows.Next() {
		v, err := scanVendor(rows)
		if err != nil {
			return nil, fmt.Errorf("list vendors: scan: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list vendors", err)
	}
	return out, nil
}

func scanPurchaseOrder(sc scanner) (procurement.PurchaseOrder, error) {
	var po procurement.PurchaseOrder
	err := sc.Scan(&po.ID, &po.TenantID, &po.Number, &po.VendorID, &po.Status, &po.Total,
		&po.RequestedBy, &po.ApprovedBy, nullTimeCol{&po.ApprovedAt}, nullTimeCol{&po.ReceivedAt},
		timeCol{&po.CreatedAt}, timeCol{&po.UpdatedAt})
	return po, err
}

// InsertPurchaseOrder stores the order and its lines in one transaction
// (joining the caller's). domain.ErrNotFound when the vendor or a product
// is not the tenant's; domain.ErrConflict on a duplicate number or id.
func (s *Store) InsertPurchaseOrder(ctx context.Context, po procurement.PurchaseOrder) error {
	if err := requireTenant(po.TenantID); err != nil {
		return fmt.Errorf("insert purchase order: %w", err)
	}
	id, err := newRowID("id", po.ID)
	if err != nil {
		return fmt.Errorf("insert purchase order: %w", err)
	}
	vendor, ok := lookupID(po.VendorID)
	if !ok {
		return fmt.Errorf("insert purchase order: vendor %q: %w", po.VendorID, domain.ErrNotFound)
	}
	if len(po.Lines) == 0 {
		return fmt.Errorf("insert purchase order: %w", domain.Invalid("lines", "at least one line"))
	}
	if po.Number == "" {
		return fmt.Errorf("insert purchase order: %w", domain.Invalid("number", "required"))
	}
	total, err := encMoney("total", po.Total)
	if err != nil {
		return fmt.Errorf("insert purchase order: %w", err)
	}
	status := po.Status
	if status == "" {
		status = procurement.StatusPending
	}
	lineArgs := make([]any, 0, len(po.Lines)*7)
	for i, l := range po.Lines {
		pid, ok := lookupID(l.ProductID)
		if !ok {
			return fmt.Errorf("insert purchase order: line %d: product %q: %w", l.LineNo, l.ProductID, domain.ErrNotFound)
		}
		cost, err := encMoney(fmt.Sprintf("lines[%d].unit_cost", i), l.UnitCost)
		if err != nil {
			return fmt.Errorf("insert purchase order: %w", err)
		}
		lineArgs = append(lineArgs, po.TenantID, id, l.LineNo, pid, l.Quantity, cost, l.ReceivedQuantity)
	}
	created := encTimeOrNow(po.CreatedAt)
	updated := created
	if !po.UpdatedAt.IsZero() {
		updated = encTime(po.UpdatedAt)
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		_, err := s.exec(ctx, `INSERT INTO purchase_orders (tenant_id, id, number, vendor_id, status, total,
			requested_by, approved_by, approved_at, received_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			po.TenantID, id, po.Number, vendor, string(status), total, string(po.RequestedBy), string(po.ApprovedBy),
			encTimePtr(po.ApprovedAt), encTimePtr(po.ReceivedAt), created, updated)
		if s.kind(err) == KindUniqueViolation {
			return fmt.Errorf("insert purchase order: number %q or id already in use: %w", po.Number, domain.ErrConflict)
		}
		if err != nil {
			return s.wrap("insert purchase order", err)
		}
		_, err = s.exec(ctx, `INSERT INTO purchase_order_lines (tenant_id, purchase_order_id, line_no, product_id,
			quantity, unit_cost, received_quantity) VALUES `+valuesList(len(po.Lines), 7), lineArgs...)
		if s.kind(err) == KindUniqueViolation {
			return fmt.Errorf("insert purchase order lines: duplicate line number: %w", domain.ErrConflict)
		}
		if err != nil {
			return s.wrap("insert purchase order lines", err)
		}
		return nil
	})
}

// GetPurchaseOrder returns one of the tenant's purchase orders with its
// lines; domain.ErrNotFound for a missing or foreign one.
func (s *Store) GetPurchaseOrder(ctx context.Context, tenant domain.TenantID, id string) (procurement.PurchaseOrder, error) {
	return s.getPurchaseOrder(ctx, "get purchase order", tenant, id, false)
}

// LockPurchaseOrder is GetPurchaseOrder that also locks the order row until
// the transaction ends (FOR UPDATE on PostgreSQL; SQLite write transactions
// are serialised already).
func (s *Store) LockPurchaseOrder(ctx context.Context, tenant domain.TenantID, id string) (procurement.PurchaseOrder, error) {
	return s.getPurchaseOrder(ctx, "lock purchase order", tenant, id, true)
}

func (s *Store) getPurchaseOrder(ctx context.Context, op string, tenant domain.TenantID, id string, lock bool) (procurement.PurchaseOrder, error) {
	key, ok := lookupID(id)
	if !ok {
		return procurement.PurchaseOrder{}, fmt.Errorf("%s %q: %w", op, id, domain.ErrNotFound)
	}
	q := `SELECT ` + poCols + ` FROM purchase_orders WHERE tenant_id = ? AND id = ?`
	if lock {
		q += s.d.LockRows(false)
	}
	po, err := scanPurchaseOrder(s.queryRow(ctx, q, tenant, key))
	if errors.Is(err, sql.ErrNoRows) {
		return procurement.PurchaseOrder{}, fmt.Errorf("%s %s: %w", op, key, domain.ErrNotFound)
	}
	if err != nil {
		return procurement.PurchaseOrder{}, s.wrap(op, err)
	}
	orders := []procurement.PurchaseOrder{po}
	if err := s.loadPurchaseOrderLines(ctx, tenant, orders); err != nil {
		return procurement.PurchaseOrder{}, err
	}
	return orders[0], nil
}

// loadPurchaseOrderLines fills in the lines of orders with one query.
func (s *Store) loadPurchaseOrderLines(ctx context.Context, tenant domain.TenantID, orders []procurement.PurchaseOrder) error {
	if len(orders) == 0 {
		return nil
	}
	at := make(map[string]int, len(orders))
	args := []any{tenant}
	for i, po := range orders {
		at[po.ID] = i
		orders[i].Lines = []procurement.Line{}
		args = append(args, po.ID)
	}
	rows, err := s.query(ctx, `SELECT `+poLineCols+` FROM purchase_order_lines
		WHERE tenant_id = ? AND purchase_order_id IN (`+inList(len(orders))+`) ORDER BY purchase_order_id, line_no`, args...)
	if err != nil {
		return s.wrap("load purchase order lines", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			orderID string
			l       procurement.Line
		)
		if err := rows.Scan(&orderID, &l.LineNo, &l.ProductID, &l.Quantity, &l.UnitCost, &l.ReceivedQuantity); err != nil {
			return fmt.Errorf("load purchase order lines: scan: %w", err)
		}
		i, ok := at[orderID]
		if !ok {
			return fmt.Errorf("load purchase order lines: line of unasked order %s", orderID)
		}
		orders[i].Lines = append(orders[i].Lines, l)
	}
	if err := rows.Err(); err != nil {
		return s.wrap("load purchase order lines", err)
	}
	return nil
}

// ListPurchaseOrders pages through the tenant's purchase orders ordered by
// id, with their lines, filtered by vendor and status when given. Limit
// defaults to 50 and is at most 500.
func (s *Store) ListPurchaseOrders(ctx context.Context, tenant domain.TenantID, f procurement.OrderFilter) ([]procurement.PurchaseOrder, error) {
	q := `SELECT ` + poCols + ` FROM purchase_orders WHERE tenant_id = ?`
	args := []any{tenant}
	if f.VendorID != "" {
		vendor, ok := lookupID(f.VendorID)
		if !ok {
			return nil, fmt.Errorf("list purchase orders: %w", domain.Invalid("vendor_id", "must be a vendor id"))
		}
		q += ` AND vendor_id = ?`
		args = append(args, vendor)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	if f.After != "" {
		after, ok := lookupID(f.After)
		if !ok {
			return nil, fmt.Errorf("list purchase orders: %w", domain.Invalid("after", "must be a purchase order id"))
		}
		q += ` AND id > ?`
		args = append(args, after)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, clamp(f.Limit, 50, 500))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list purchase orders", err)
	}
	out := []procurement.PurchaseOrder{}
	for rows.Next() {
		po, err := scanPurchaseOrder(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list purchase orders: scan: %w", err)
		}
		out = append(out, po)
	}
	err = rows.Err()
	rows.Close() // before the next query: a transaction has one connection
	if err != nil {
		return nil, s.wrap("list purchase orders", err)
	}
	if err := s.loadPurchaseOrderLines(ctx, tenant, out); err != nil {
		return nil, err
	}
	return out, nil
}

// UpdatePurchaseOrder writes the order's status, approval, received_at and
// updated_at, and each line's received quantity, in one transaction.
// domain.ErrNotFound when the order (or a line) is not the tenant's; a
// received quantity above the ordered one is a ValidationError.
func (s *Store) UpdatePurchaseOrder(ctx context.Context, po procurement.PurchaseOrder) error {
	key, ok := lookupID(po.ID)
	if !ok {
		return fmt.Errorf("update purchase order %q: %w", po.ID, domain.ErrNotFound)
	}
	if !po.Status.Valid() {
		return fmt.Errorf("update purchase order: %w", domain.Invalid("status", "unknown status"))
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		res, err := s.exec(ctx, `UPDATE purchase_orders SET status = ?, approved_by = ?, approved_at = ?,
			received_at = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
			string(po.Status), string(po.ApprovedBy), encTimePtr(po.ApprovedAt), encTimePtr(po.ReceivedAt),
			encTimeOrNow(po.UpdatedAt), po.TenantID, key)
		if err != nil {
			return s.wrap("update purchase order", err)
		}
		if n, err := affected("update purchase order", res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("update purchase order %s: %w", key, domain.ErrNotFound)
		}
		for _, l := range po.Lines {
			res, err := s.exec(ctx, `UPDATE purchase_order_lines SET received_quantity = ?
				WHERE tenant_id = ? AND purchase_order_id = ? AND line_no = ?`,
				l.ReceivedQuantity, po.TenantID, key, l.LineNo)
			if err != nil {
				return s.wrap(fmt.Sprintf("update purchase order line %d", l.LineNo), err)
			}
			if n, err := affected("update purchase order line", res); err != nil {
				return err
			} else if n == 0 {
				return fmt.Errorf("update purchase order %s line %d: %w", key, l.LineNo, domain.ErrNotFound)
			}
		}
		return nil
	})
}
