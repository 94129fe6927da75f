package procurement

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
)

// ReceiveInput is the body of POST /api/v1/purchase-orders/{id}/receipts.
type ReceiveInput struct {
	LocationID string             `json:"location_id"` // "" = the tenant's default location
	Lines      []ReceiveLineInput `json:"lines"`
}

// ReceiveLineInput is one quantity received. It names the purchase order
// line by LineNo, or by ProductID when that product is on one line only.
type ReceiveLineInput struct {
	LineNo      *int             `json:"line_no"`
	ProductID   string           `json:"product_id"`
	Quantity    int64            `json:"quantity"`
	UnitCost    *decimal.Decimal `json:"unit_cost"` // nil = the line's unit cost
	BatchNumber string           `json:"batch_number"`
	ExpiryDate  string           `json:"expiry_date"` // YYYY-MM-DD or ""
}

// Receive records goods received against an approved (or partially
// received) purchase order, all in one transaction: a stock movement in per
// line through inventory (with its StockMovementRecorded), the receipt, the
// received quantities and status of the order, and GoodsReceived. No line
// may receive more than is still outstanding on it.
func (s *Service) Receive(ctx context.Context, actor domain.Actor, orderID string, in ReceiveInput) (Receipt, error) {
	if err := actor.Require(domain.PermInventoryManage); err != nil {
		return Receipt{}, err
	}
	orderID, err := domain.ParseID("id", orderID)
	if err != nil {
		return Receipt{}, err
	}
	in, err = validateReceipt(in)
	if err != nil {
		return Receipt{}, err
	}
	var out Receipt
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		r, err := s.receive(ctx, actor, orderID, in)
		out = r
		return err
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("receive goods: %w", err)
	}
	return out, nil
}

// receive is Receive's transaction. It may run more than once (InTx
// retries lost races), so it builds everything afresh.
func (s *Service) receive(ctx context.Context, actor domain.Actor, orderID string, in ReceiveInput) (Receipt, error) {
	po, err := s.store.LockPurchaseOrder(ctx, actor.TenantID, orderID)
	if err != nil {
		return Receipt{}, err
	}
	if !po.Status.receivable() {
		return Receipt{}, domain.Rule("purchase_order_not_approved",
			"purchase order %s is %s; goods can be received only against an approved order that is not fully received",
			po.Number, po.Status)
	}
	idx, err := matchLines(po, in.Lines)
	if err != nil {
		return Receipt{}, err
	}
	if err := checkOutstanding(po, in.Lines, idx); err != nil {
		return Receipt{}, err
	}
	loc, err := s.location(ctx, actor.TenantID, in.LocationID)
	if err != nil {
		return Receipt{}, err
	}
	for _, i := range distinct(idx) {
		l := po.Lines[i]
		if _, err := s.store.GetProduct(ctx, actor.TenantID, l.ProductID); errors.Is(err, domain.ErrNotFound) {
			return Receipt{}, domain.Rule("product_deleted",
				"the product of line %d of %s has been deleted; its goods cannot be received", l.LineNo, po.Number)
		} else if err != nil {
			return Receipt{}, err
		}
	}

	now := s.clock()
	r := Receipt{
		ID: domain.NewID(), TenantID: actor.TenantID, PurchaseOrderID: po.ID,
		LocationID: loc.ID, ReceivedBy: actor.UserID, ReceivedAt: now,
		Lines: make([]ReceiptLine, len(in.Lines)),
	}
	for k, l := range in.Lines {
		line := po.Lines[idx[k]]
		cost := line.UnitCost
		if l.UnitCost != nil {
			cost = *l.UnitCost
		}
		r.Lines[k] = ReceiptLine{
			LineNo: line.LineNo, ProductID: line.ProductID, Quantity: l.Quantity,
			UnitCost: cost, BatchNumber: strings.TrimSpace(l.BatchNumber),
		}
		if l.ExpiryDate != "" {
			d, _ := time.Parse(dateLayout, l.ExpiryDate) // validated already
			r.Lines[k].ExpiryDate = &d
		}
	}
	// Movements lock their products: taking them in one order (by product)
	// keeps two receipts sharing products from deadlocking each other.
	order := make([]int, len(r.Lines))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(r.Lines[a].ProductID, r.Lines[b].ProductID) })
	for _, k := range order {
		l := &r.Lines[k]
		cost := l.UnitCost
		m, err := s.stock.Record(ctx, actor, inventory.RecordInput{
			ProductID: l.ProductID, LocationID: loc.ID, Quantity: l.Quantity, UnitCost: &cost,
			BatchNumber: l.BatchNumber, ExpiryDate: in.Lines[k].ExpiryDate, Reason: "receipt " + po.Number,
		})
		if err != nil {
			return Receipt{}, err
		}
		l.MovementID = m.ID
	}
	if err := s.store.InsertReceipt(ctx, r); err != nil {
		return Receipt{}, err
	}

	for k, l := range r.Lines {
		po.Lines[idx[k]].ReceivedQuantity += l.Quantity
	}
	full := !slices.ContainsFunc(po.Lines, func(l Line) bool { return l.outstanding() > 0 })
	po.Status, po.UpdatedAt = StatusPartiallyReceived, now
	if full {
		po.Status, po.ReceivedAt = StatusReceived, &now
	}
	if err := s.store.UpdatePurchaseOrder(ctx, po); err != nil {
		return Receipt{}, err
	}
	return r, s.goodsReceived(ctx, actor, po, r, full)
}

func (s *Service) goodsReceived(ctx context.Context, actor domain.Actor, po PurchaseOrder, r Receipt, full bool) error {
	e := GoodsReceived{
		ReceiptID: r.ID, PurchaseOrderID: po.ID, Number: po.Number, VendorID: po.VendorID,
		LocationID: r.LocationID, FullyReceived: full, Lines: make([]ReceivedLine, len(r.Lines)),
	}
	for k, l := range r.Lines {
		e.Lines[k] = ReceivedLine{
			LineNo: l.LineNo, ProductID: l.ProductID, Quantity: l.Quantity, UnitCost: l.UnitCost,
			BatchNumber: l.BatchNumber, MovementID: l.MovementID,
		}
		if l.ExpiryDate != nil {
			e.Lines[k].ExpiryDate = l.ExpiryDate.Format(dateLayout)
		}
	}
	ev, err := domain.NewEvent(actor.TenantID, actor.UserID, r.ReceivedAt, e)
	if err != nil {
		return err
	}
	return s.store.AppendEvents(ctx, ev)
}

func (s *Service) location(ctx context.Context, tenant domain.TenantID, id string) (inventory.Location, error) {
	if id == "" {
		return s.store.DefaultLocation(ctx, tenant)
	}
	loc, err := s.store.GetLocation(ctx, tenant, id)
	if errors.Is(err, domain.ErrNotFound) {
		return inventory.Location{}, fmt.Errorf("location %s: %w", id, domain.ErrNotFound)
	}
	return loc, err
}

// validateReceipt checks the input on its own, before any order is read,
// and returns a copy with canonical ids.
func validateReceipt(in ReceiveInput) (ReceiveInput, error) {
	v := &domain.ValidationError{}
	if in.LocationID != "" {
		in.LocationID = parseID(v, "location_id", in.LocationID)
	}
	switch {
	case len(in.Lines) == 0:
		v.Add("lines", "must have at least one line")
	case len(in.Lines) > maxLines:
		v.Add("lines", fmt.Sprintf("must have at most %d lines", maxLines))
		return in, v.Err()
	}
	in.Lines = slices.Clone(in.Lines)
	for i, l := range in.Lines {
		if l.LineNo == nil && l.ProductID == "" {
			v.Add(lineField(i, "line_no"), "is required (or product_id, when the product is on one line only)")
		}
		if l.LineNo != nil && (*l.LineNo < 1 || *l.LineNo > maxLines) {
			v.Add(lineField(i, "line_no"), fmt.Sprintf("must be a line number between 1 and %d", maxLines))
		}
		if l.ProductID != "" {
			in.Lines[i].ProductID = parseID(v, lineField(i, "product_id"), l.ProductID)
		}
		checkQuantity(v, lineField(i, "quantity"), l.Quantity)
		if l.UnitCost != nil {
			checkCost(v, lineField(i, "unit_cost"), *l.UnitCost)
		}
		checkText(v, lineField(i, "batch_number"), strings.TrimSpace(l.BatchNumber), maxBatchLen, false)
		if l.ExpiryDate != "" {
			if _, err := time.Parse(dateLayout, l.ExpiryDate); err != nil {
				v.Add(lineField(i, "expiry_date"), "must be a date like 2026-12-31")
			}
		}
	}
	return in, v.Err()
}

// matchLines finds the purchase order line each input line receives: by
// line number, else by product when exactly one line orders it.
func matchLines(po PurchaseOrder, lines []ReceiveLineInput) ([]int, error) {
	v := &domain.ValidationError{}
	idx := make([]int, len(lines))
	for k, l := range lines {
		if l.LineNo != nil {
			n := *l.LineNo
			if n < 1 || n > len(po.Lines) {
				v.Add(lineField(k, "line_no"), fmt.Sprintf("%s has no line %d", po.Number, n))
				continue
			}
			idx[k] = n - 1
			if l.ProductID != "" && l.ProductID != po.Lines[n-1].ProductID {
				v.Add(lineField(k, "product_id"), fmt.Sprintf("is not the product of line %d", n))
			}
			continue
		}
		var found []int
		for i, pl := range po.Lines {
			if pl.ProductID == l.ProductID {
				found = append(found, i)
			}
		}
		switch len(found) {
		case 0:
			v.Add(lineField(k, "product_id"), "is not on "+po.Number)
		case 1:
			idx[k] = found[0]
		default:
			v.Add(lineField(k, "product_id"), fmt.Sprintf("is on %d lines of %s: give line_no", len(found), po.Number))
		}
	}
	return idx, v.Err()
}

// checkOutstanding refuses a receipt that would take any line past its
// ordered quantity, counting every input line that receives it.
func checkOutstanding(po PurchaseOrder, lines []ReceiveLineInput, idx []int) error {
	sum := map[int]int64{}
	for k, l := range lines {
		sum[idx[k]] += l.Quantity
	}
	for _, i := range distinct(idx) {
		l := po.Lines[i]
		if sum[i] > l.outstanding() {
			return domain.Rule("over_receipt",
				"line %d of %s: %d ordered, %d received so far, so at most %d more can be received, not %d",
				l.LineNo, po.Number, l.Quantity, l.ReceivedQuantity, l.outstanding(), sum[i])
		}
	}
	return nil
}

// distinct returns the values of idx once each, sorted.
func distinct(idx []int) []int {
	out := slices.Clone(idx)
	slices.Sort(out)
	return slices.Compact(out)
}

// ListReceipts pages through the receipts of one of the tenant's purchase
// orders in receipt order; domain.ErrNotFound for a missing or foreign
// order.
func (s *Service) ListReceipts(ctx context.Context, tenant domain.TenantID, orderID string, f ReceiptFilter) ([]Receipt, error) {
	orderID, err := domain.ParseID("id", orderID)
	if err != nil {
		return nil, err
	}
	if f.After, err = optionalCursor("after", f.After); err != nil {
		return nil, err
	}
	if _, err := s.store.GetPurchaseOrder(ctx, tenant, orderID); err != nil {
		return nil, err
	}
	f.Limit = clampLimit(f.Limit)
	return s.store.ListReceipts(ctx, tenant, orderID, f)
}
