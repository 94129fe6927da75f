package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/valuation"
)

var _ valuation.Store = (*Store)(nil)

const valuationCols = `tenant_id, id, requested_by, scope, product_id, location_id, status, products_total, products_done,
	line_count, total_quantity, fifo_value, average_value, warning_count, error, created_at, started_at, completed_at, failed_at`

func scanValuation(sc scanner) (valuation.Valuation, error) {
	var (
		v                 valuation.Valuation
		product, location sql.NullString
	)
	err := sc.Scan(&v.TenantID, &v.ID, &v.RequestedBy, &v.Scope.Kind, &product, &location, &v.Status,
		&v.Progress.ProductsTotal, &v.Progress.ProductsDone, &v.Totals.Lines, &v.Totals.Quantity,
		&v.Totals.FIFOValue, &v.Totals.AverageValue, &v.Totals.Warnings, &v.Error,
		timeCol{&v.CreatedAt}, nullTimeCol{&v.StartedAt}, nullTimeCol{&v.CompletedAt}, nullTimeCol{&v.FailedAt})
	v.Scope.ProductID, v.Scope.LocationID = product.String, location.String
	return v, err
}

// optionalRef binds an optional id: NULL when empty.
func optionalRef(field, id string) (any, error) {
	if id == "" {
		return nil, nil
	}
	return newRowID(field, id)
}

// InsertValuation stores a new valuation. domain.ErrNotFound when its
// product or location is not the tenant's; domain.ErrConflict on a taken
// id.
func (s *Store) InsertValuation(ctx context.Context, v valuation.Valuation) error {
	id, err := newRowID("id", v.ID)
	if err != nil {
		return fmt.Errorf("insert valuation: %w", err)
	}
	if err := requireTenant(v.TenantID); err != nil {
		return fmt.Errorf("insert valuation: %w", err)
	}
	product, err := optionalRef("product_id", v.Scope.ProductID)
	if err != nil {
		return fmt.Errorf("insert valuation: %w", err)
	}
	location, err := optionalRef("location_id", v.Scope.LocationID)
	if err != nil {
		return fmt.Errorf("insert valuation: %w", err)
	}
	fifo, avg, err := encTotals(v.Totals)
	if err != nil {
		return fmt.Errorf("insert valuation: %w", err)
	}
	_, err = s.exec(ctx, `INSERT INTO valuations (`+valuationCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.TenantID, id, v.RequestedBy, v.Scope.Kind, product, location, v.Status,
		v.Progress.ProductsTotal, v.Progress.ProductsDone, v.Totals.Lines, v.Totals.Quantity, fifo, avg,
		v.Totals.Warnings, v.Error, encTimeOrNow(v.CreatedAt), encTimePtr(v.StartedAt), encTimePtr(v.CompletedAt),
		encTimePtr(v.FailedAt))
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert valuation %s: %w", id, domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert valuation", err)
	}
	return nil
}

func encTotals(t valuation.Totals) (fifo, avg string, err error) {
	if fifo, err = encMoney("fifo_value", t.FIFOValue); err != nil {
		return "", "", err
	}
	if avg, err = encMoney("average_value", t.AverageValue); err != nil {
		return "", "", err
	}
	return fifo, avg, nil
}

// GetValuation returns one of the tenant's valuations; domain.ErrNotFound
// for a missing, malformed or another tenant's id.
func (s *Store) GetValuation(ctx context.Context, tenant domain.TenantID, id string) (valuation.Valuation, error) {
	return s.getValuation(ctx, "get valuation", tenant, id, "")
}

// LockValuation is GetValuation that locks the row until the transaction
// ends.
func (s *Store) LockValuation(ctx context.Context, tenant domain.TenantID, id string) (valuation.Valuation, error) {
	if !s.inTx(ctx) {
		return valuation.Valuation{}, errors.New("lock valuation: must run inside InTx")
	}
	return s.getValuation(ctx, "lock valuation", tenant, id, s.d.LockRows(false))
}

func (s *Store) getValuation(ctx context.Context, op string, tenant domain.TenantID, id, lock string) (valuation.Valuation, error) {
	return getTenantRow(ctx, s, op, `SELECT `+valuationCols+` FROM valuations WHERE tenant_id = ? AND id = ?`, tenant, id, lock, scanValuation)
}

// UpdateValuation writes a valuation's status, progress, totals, error and
// times.
func (s *Store) UpdateValuation(ctx context.Context, v valuation.Valuation) error {
	key, ok := lookupID(v.ID)
	if !ok {
		return fmt.Errorf("update valuation %q: %w", v.ID, domain.ErrNotFound)
	}
	fifo, avg, err := encTotals(v.Totals)
	if err != nil {
		return fmt.Errorf("update valuation: %w", err)
	}
	res, err := s.exec(ctx, `UPDATE valuations SET status = ?, products_total = ?, products_done = ?, line_count = ?,
		total_quantity = ?, fifo_value = ?, average_value = ?, warning_count = ?, error = ?, started_at = ?,
		completed_at = ?, failed_at = ? WHERE tenant_id = ? AND id = ?`,
		v.Status, v.Progress.ProductsTotal, v.Progress.ProductsDone, v.Totals.Lines, v.Totals.Quantity, fifo, avg,
		v.Totals.Warnings, v.Error, encTimePtr(v.StartedAt), encTimePtr(v.CompletedAt), encTimePtr(v.FailedAt),
		v.TenantID, key)
	if err != nil {
		return s.wrap("update valuation", err)
	}
	n, err := affected("update valuation", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("update valuation %s: %w", key, domain.ErrNotFound)
	}
	return nil
}

// ListValuations lists the tenant's valuations newest first (ids are
// time-ordered), before the id before ("" for the newest; one that names
// nothing simply bounds the page). Limit defaults to 50, at most 200.
func (s *Store) ListValuations(ctx context.Context, tenant domain.TenantID, before string, limit int) ([]valuation.Valuation, error) {
	q := `SELECT ` + valuationCols + ` FROM valuations WHERE tenant_id = ?`
	args := []any{tenant}
	if before != "" {
		key, ok := lookupID(before)
		if !ok {
			return nil, fmt.Errorf("list valuations: %w", domain.Invalid("before", "must be a UUID"))
		}
		q += ` AND id < ?`
		args = append(args, key)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, clamp(limit, 50, 200))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list valuations", err)
	}
	defer rows.Close()
	out := []valuation.Valuation{}
	for rows.Next() {
		v, err := scanValuation(rows)
		if err != nil {
			return nil, fmt.Errorf("list valuations: scan: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list valuations", err)
	}
	return out, nil
}

// scopeWhere selects the live products a scope's run reads: every one,
// or the one it names. (A location's run reads every product's ledger:
// which products were ever there, and their last known costs, come out of
// those ledgers.) Plain conditions on the primary key, so that paging by id
// is an index range scan whatever the planner's statistics say. ok is false
// for a scope whose ids cannot name anything.
func scopeWhere(tenant domain.TenantID, sc valuation.Scope) (string, []any, bool) {
	q := ` FROM products p WHERE p.tenant_id = ? AND p.deleted_at IS NULL`
	args := []any{tenant}
	switch sc.Kind {
	case valuation.ScopeAll:
	case valuation.ScopeProduct:
		key, ok := lookupID(sc.ProductID)
		if !ok {
			return "", nil, false
		}
		q += ` AND p.id = ?`
		args = append(args, key)
	case valuation.ScopeLocation:
		if _, ok := lookupID(sc.LocationID); !ok {
			return "", nil, false
		}
	default:
		return "", nil, false
	}
	return q, args, true
}

// CountScopeProducts counts the products ScopeProducts lists.
func (s *Store) CountScopeProducts(ctx context.Context, tenant domain.TenantID, sc valuation.Scope) (int64, error) {
	where, args, ok := scopeWhere(tenant, sc)
	if !ok {
		return 0, nil
	}
	var n int64
	if err := s.queryRow(ctx, `SELECT COUNT(*)`+where, args...).Scan(&n); err != nil {
		return 0, s.wrap("count scope products", err)
	}
	return n, nil
}

// ScopeProducts lists up to limit (default 200, at most 5000) products of
// the scope by id, after the id after ("" for the first).
func (s *Store) ScopeProducts(ctx context.Context, tenant domain.TenantID, sc valuation.Scope, after string, limit int) ([]valuation.ProductRef, error) {
	where, args, ok := scopeWhere(tenant, sc)
	if !ok {
		return []valuation.ProductRef{}, nil
	}
	if after != "" {
		key, ok := lookupID(after)
		if !ok {
			return nil, fmt.Errorf("scope products: %w", domain.Invalid("after", "must be a UUID"))
		}
		where += ` AND p.id > ?`
		args = append(args, key)
	}
	args = append(args, clamp(limit, 200, 5000))
	rows, err := s.query(ctx, `SELECT p.id, p.sku, p.name`+where+` ORDER BY p.tenant_id, p.id LIMIT ?`, args...)
	if err != nil {
		return nil, s.wrap("scope products", err)
	}
	defer rows.Close()
	out := []valuation.ProductRef{}
	for rows.Next() {
		var p valuation.ProductRef
		if err := rows.Scan(&p.ID, &p.SKU, &p.Name); err != nil {
			return nil, fmt.Errorf("scope products: scan: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("scope products", err)
	}
	return out, nil
}

// ProductLedgers streams the movements of the products whose ids lie
// between from and to (inclusive) to fn, by product, then by time and
// movement id: one range scan of the ledger's (tenant, product, time, id)
// index, in its order. fn runs while the rows are open: it must not use
// the store.
func (s *Store) ProductLedgers(ctx context.Context, tenant domain.TenantID, from, to string, fn func(productID string, e valuation.Entry)) error {
	lo, ok1 := lookupID(from)
	hi, ok2 := lookupID(to)
	if !ok1 || !ok2 {
		return fmt.Errorf("product ledgers: %w", domain.Invalid("products", "from and to must be product ids"))
	}
	rows, err := s.query(ctx, `SELECT product_id, id, location_id, quantity, unit_cost, batch_number, expiry_date, created_at
		FROM stock_movements WHERE tenant_id = ? AND product_id >= ? AND product_id <= ?
		ORDER BY tenant_id, product_id, created_at, id`, tenant, lo, hi)
	if err != nil {
		return s.wrap("product ledgers", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			product string
			e       valuation.Entry
			cost    decimal.NullDecimal
		)
		if err := rows.Scan(&product, &e.MovementID, &e.LocationID, &e.Quantity, &cost, &e.BatchNumber,
			nullTimeCol{&e.ExpiryDate}, timeCol{&e.At}); err != nil {
			return fmt.Errorf("product ledgers: scan: %w", err)
		}
		if cost.Valid {
			e.UnitCost = &cost.Decimal
		}
		fn(product, e)
	}
	if err := rows.Err(); err != nil {
		return s.wrap("product ledgers", err)
	}
	return nil
}

const valuationLineCols = `tenant_id, valuation_id, line_no, product_id, location_id, sku, name, location_code,
	quantity, fifo_value, average_cost, average_value, layers, warnings`

// linesPerInsert keeps a multi-row insert well under both backends'
// bind-parameter limits (14 per line).
const linesPerInsert = 500

// ReplaceValuationLines deletes the valuation's lines and inserts lines
// instead, inside the caller's transaction. domain.ErrNotFound when the
// valuation, a product or a location is not the tenant's.
func (s *Store) ReplaceValuationLines(ctx context.Context, tenant domain.TenantID, valuationID string, lines []valuation.Line) error {
	if !s.inTx(ctx) {
		return errors.New("replace valuation lines: must run inside InTx")
	}
	key, ok := lookupID(valuationID)
	if !ok {
		return fmt.Errorf("replace valuation lines %q: %w", valuationID, domain.ErrNotFound)
	}
	if _, err := s.exec(ctx, `DELETE FROM valuation_lines WHERE tenant_id = ? AND valuation_id = ?`, tenant, key); err != nil {
		return s.wrap("replace valuation lines: delete", err)
	}
	for start := 0; start < len(lines); start += linesPerInsert {
		chunk := lines[start:min(start+linesPerInsert, len(lines))]
		args := make([]any, 0, 14*len(chunk))
		for _, l := range chunk {
			row, err := lineArgs(tenant, key, l)
			if err != nil {
				return fmt.Errorf("replace valuation lines: line %d: %w", l.LineNo, err)
			}
			args = append(args, row...)
		}
		values := strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", len(chunk))
		_, err := s.exec(ctx, `INSERT INTO valuation_lines (`+valuationLineCols+`) VALUES `+strings.TrimSuffix(values, ", "), args...)
		if s.kind(err) == KindUniqueViolation {
			return fmt.Errorf("replace valuation lines: a line number or product and location twice: %w", domain.ErrConflict)
		}
		if err != nil {
			return s.wrap("replace valuation lines", err)
		}
	}
	return nil
}

func lineArgs(tenant domain.TenantID, valuationID string, l valuation.Line) ([]any, error) {
	pid, err := newRowID("product_id", l.ProductID)
	if err != nil {
		return nil, err
	}
	lid, err := newRowID("location_id", l.LocationID)
	if err != nil {
		return nil, err
	}
	if l.LineNo <= 0 {
		return nil, domain.Invalid("line_no", "must be positive")
	}
	money := make([]string, 3)
	for i, m := range []struct {
		field string
		d     decimal.Decimal
	}{{"fifo_value", l.FIFOValue}, {"average_cost", l.AverageCost}, {"average_value", l.AverageValue}} {
		if money[i], err = encMoney(m.field, m.d); err != nil {
			return nil, err
		}
	}
	layers, warnings := l.Layers, l.Warnings
	if layers == nil {
		layers = []valuation.Layer{}
	}
	if warnings == nil {
		warnings = []valuation.Warning{}
	}
	rawLayers, err := json.Marshal(layers)
	if err != nil {
		return nil, fmt.Errorf("encode layers: %w", err)
	}
	rawWarnings, err := json.Marshal(warnings)
	if err != nil {
		return nil, fmt.Errorf("encode warnings: %w", err)
	}
	return []any{tenant, valuationID, l.LineNo, pid, lid, l.SKU, l.Name, l.LocationCode, l.Quantity,
		money[0], money[1], money[2], string(rawLayers), string(rawWarnings)}, nil
}

// ValuationLines lists up to limit (default 200, at most 1000) lines of
// the tenant's valuation with line_no > after, in line order.
func (s *Store) ValuationLines(ctx context.Context, tenant domain.TenantID, valuationID string, after, limit int) ([]valuation.Line, error) {
	key, ok := lookupID(valuationID)
	if !ok {
		return []valuation.Line{}, nil
	}
	rows, err := s.query(ctx, `SELECT line_no, product_id, location_id, sku, name, location_code, quantity,
		fifo_value, average_cost, average_value, layers, warnings
		FROM valuation_lines WHERE tenant_id = ? AND valuation_id = ? AND line_no > ? ORDER BY line_no LIMIT ?`,
		tenant, key, max(after, 0), clamp(limit, 200, 1000))
	if err != nil {
		return nil, s.wrap("valuation lines", err)
	}
	defer rows.Close()
	out := []valuation.Line{}
	for rows.Next() {
		var (
			l                valuation.Line
			layers, warnings []byte
		)
		if err := rows.Scan(&l.LineNo, &l.ProductID, &l.LocationID, &l.SKU, &l.Name, &l.LocationCode, &l.Quantity,
			&l.FIFOValue, &l.AverageCost, &l.AverageValue, &layers, &warnings); err != nil {
			return nil, fmt.Errorf("valuation lines: scan: %w", err)
		}
		if err := json.Unmarshal(layers, &l.Layers); err != nil {
			return nil, fmt.Errorf("valuation lines: decode layers of line %d: %w", l.LineNo, err)
		}
		if err := json.Unmarshal(warnings, &l.Warnings); err != nil {
			return nil, fmt.Errorf("valuation lines: decode warnings of line %d: %w", l.LineNo, err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("valuation lines", err)
	}
	return out, nil
}
