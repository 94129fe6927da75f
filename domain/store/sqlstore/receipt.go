package sqlstore

import (
	"context"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/procurement"
)

const (
	receiptCols     = `id, tenant_id, purchase_order_id, location_id, received_by, received_at`
	receiptLineCols = `receipt_id, order_line_no, product_id, quantity, unit_cost, batch_number, expiry_date, movement_id`
)

// InsertReceipt stores a goods receipt and its lines in one transaction
// (joining the caller's). Each line's position in the receipt is its
// line_no; the purchase order line it receives is order_line_no.
// domain.ErrNotFound when the order, location or a movement is not the
// tenant's.
func (s *Store) InsertReceipt(ctx context.Context, r procurement.Receipt) error {
	if err := requireTenant(r.TenantID); err != nil {
		return fmt.Errorf("insert receipt: %w", err)
	}
	id, err := newRowID("id", r.ID)
	if err != nil {
		return fmt.Errorf("insert receipt: %w", err)
	}
	order, ok1 := lookupID(r.PurchaseOrderID)
	loc, ok2 := lookupID(r.LocationID)
	if !ok1 || !ok2 {
		return fmt.Errorf("insert receipt: order %q at location %q: %w", r.PurchaseOrderID, r.LocationID, domain.ErrNotFound)
	}
	if len(r.Lines) == 0 {
		return fmt.Errorf("insert receipt: %w", domain.Invalid("lines", "at least one line"))
	}
	args := make([]any, 0, len(r.Lines)*10)
	for i, l := range r.Lines {
		pid, ok1 := lookupID(l.ProductID)
		mid, ok2 := lookupID(l.MovementID)
		if !ok1 || !ok2 {
			return fmt.Errorf("insert receipt: line %d: product %q, movement %q: %w", i+1, l.ProductID, l.MovementID, domain.ErrNotFound)
		}
		cost, err := encMoney(fmt.Sprintf("lines[%d].unit_cost", i), l.UnitCost)
		if err != nil {
			return fmt.Errorf("insert receipt: %w", err)
		}
		args = append(args, r.TenantID, id, i+1, l.LineNo, pid, l.Quantity, cost, l.BatchNumber, encDate(l.ExpiryDate), mid)
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		_, err := s.exec(ctx, `INSERT INTO goods_receipts (tenant_id, id, purchase_order_id, location_id, received_by, received_at)
			VALUES (?, ?, ?, ?, ?, ?)`, r.TenantID, id, order, loc, string(r.ReceivedBy), encTimeOrNow(r.ReceivedAt))
		if s.kind(err) == KindUniqueViolation {
			return fmt.Errorf("insert receipt %s: %w", id, domain.ErrConflict)
		}
		if err != nil {
			return s.wrap("insert receipt", err)
		}
		_, err = s.exec(ctx, `INSERT INTO goods_receipt_lines (tenant_id, receipt_id, line_no, order_line_no, product_id,
			quantity, unit_cost, batch_number, expiry_date, movement_id) VALUES `+valuesList(len(r.Lines), 10), args...)
		if err != nil {
			return s.wrap("insert receipt lines", err)
		}
		return nil
	})
}

// ListReceipts pages through the receipts of one of the tenant's purchase
// orders ordered by id, with their lines. An order that is not the
// tenant's has none. Limit defaults to 50 and is at most 500.
func (s *Store) ListReceipts(ctx context.Context, tenant domain.TenantID, orderID string, f procurement.ReceiptFilter) ([]procurement.Receipt, error) {
	out := []procurement.Receipt{}
	order, ok := lookupID(orderID)
	if !ok {
		return out, nil
	}
	q := `SELECT ` + receiptCols + ` FROM goods_receipts WHERE tenant_id = ? AND purchase_order_id = ?`
	args := []any{tenant, order}
	if f.After != "" {
		after, ok := lookupID(f.After)
		if !ok {
			return nil, fmt.Errorf("list receipts: %w", domain.Invalid("after", "must be a receipt id"))
		}
		q += ` AND id > ?`
		args = append(args, after)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, clamp(f.Limit, 50, 500))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list receipts", err)
	}
	for rows.Next() {
		var r procurement.Receipt
		if err := rows.Scan(&r.ID, &r.TenantID, &r.PurchaseOrderID, &r.LocationID, &r.ReceivedBy, timeCol{&r.ReceivedAt}); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list receipts: scan: %w", err)
		}
		r.Lines = []procurement.ReceiptLine{}
		out = append(out, r)
	}
	err = rows.Err()
	rows.Close() // before the next query: a transaction has one connection
	if err != nil {
		return nil, s.wrap("list receipts", err)
	}
	return out, s.loadReceiptLines(ctx, tenant, out)
}

func (s *Store) loadReceiptLines(ctx context.Context, tenant domain.TenantID, receipts []procurement.Receipt) error {
	if len(receipts) == 0 {
		return nil
	}
	at := make(map[string]int, len(receipts))
	args := []any{tenant}
	for i, r := range receipts {
		at[r.ID] = i
		args = append(args, r.ID)
	}
	rows, err := s.query(ctx, `SELECT `+receiptLineCols+` FROM goods_receipt_lines
		WHERE tenant_id = ? AND receipt_id IN (`+inList(len(receipts))+`) ORDER BY receipt_id, line_no`, args...)
	if err != nil {
		return s.wrap("load receipt lines", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			receiptID string
			l         procurement.ReceiptLine
		)
		if err := rows.Scan(&receiptID, &l.LineNo, &l.ProductID, &l.Quantity, &l.UnitCost,
			&l.BatchNumber, nullTimeCol{&l.ExpiryDate}, &l.MovementID); err != nil {
			return fmt.Errorf("load receipt lines: scan: %w", err)
		}
		i, ok := at[receiptID]
		if !ok {
			return fmt.Errorf("load receipt lines: line of unasked receipt %s", receiptID)
		}
		receipts[i].Lines = append(receipts[i].Lines, l)
	}
	if err := rows.Err(); err != nil {
		return s.wrap("load receipt lines", err)
	}
	return nil
}
