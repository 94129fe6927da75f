package procurement

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// Service runs the procurement commands.
type Service struct {
	store Store
	stock StockRecorder
	now   func() time.Time
}

// NewService returns a Service; now defaults to time.Now. stock must run on
// the same store (its InTx must join store's), so that a receipt and its
// stock movements are one transaction.
func NewService(store Store, stock StockRecorder, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, stock: stock, now: now}
}

// clock is now in UTC, truncated to what the database keeps, so what a
// command returns equals what a later read gives.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// VendorInput is the body of POST /api/v1/vendors.
type VendorInput struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// CreateVendor adds a vendor; names are unique per tenant (domain.ErrConflict).
func (s *Service) CreateVendor(ctx context.Context, actor domain.Actor, in VendorInput) (Vendor, error) {
	if err := actor.Require(domain.PermProcurementManage); err != nil {
		return Vendor{}, err
	}
	v := &domain.ValidationError{}
	vendor := Vendor{
		ID: domain.NewID(), TenantID: actor.TenantID, CreatedAt: s.clock(),
		Name: strings.TrimSpace(in.Name), Email: strings.TrimSpace(in.Email),
	}
	checkText(v, "name", vendor.Name, maxNameLen, true)
	checkEmail(v, "email", vendor.Email)
	if err := v.Err(); err != nil {
		return Vendor{}, err
	}
	if err := s.store.InsertVendor(ctx, vendor); err != nil {
		return Vendor{}, fmt.Errorf("create vendor: %w", err)
	}
	return vendor, nil
}

// GetVendor returns one vendor of the tenant.
func (s *Service) GetVendor(ctx context.Context, tenant domain.TenantID, id string) (Vendor, error) {
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Vendor{}, err
	}
	return s.store.GetVendor(ctx, tenant, id)
}

// ListVendors pages through the tenant's vendors in creation order.
func (s *Service) ListVendors(ctx context.Context, tenant domain.TenantID, f VendorFilter) ([]Vendor, error) {
	after, err := optionalCursor("after", f.After)
	if err != nil {
		return nil, err
	}
	f.After, f.Limit = after, clampLimit(f.Limit)
	return s.store.ListVendors(ctx, tenant, f)
}

// CreateInput is the body of POST /api/v1/purchase-orders.
type CreateInput struct {
	VendorID string      `json:"vendor_id"`
	Lines    []LineInput `json:"lines"`
}

// LineInput is one line of CreateInput.
type LineInput struct {
	ProductID string           `json:"product_id"`
	Quantity  int64            `json:"quantity"`
	UnitCost  *decimal.Decimal `json:"unit_cost"`
}

// CreatePurchaseOrder stores a pending purchase order numbered PO-000001,
// PO-000002, ... per tenant. No event is written: an order becomes a fact
// others react to when it is approved.
func (s *Service) CreatePurchaseOrder(ctx context.Context, actor domain.Actor, in CreateInput) (PurchaseOrder, error) {
	if err := actor.Require(domain.PermProcurementManage); err != nil {
		return PurchaseOrder{}, err
	}
	po, err := s.validateOrder(actor, in)
	if err != nil {
		return PurchaseOrder{}, err
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.store.GetVendor(ctx, actor.TenantID, po.VendorID); err != nil {
			if errors.Is(err, domain.ErrNotFound) {
				return fmt.Errorf("vendor %s: %w", po.VendorID, domain.ErrNotFound)
			}
			return err
		}
		v := &domain.ValidationError{}
		for i, l := range po.Lines {
			_, err := s.store.GetProduct(ctx, actor.TenantID, l.ProductID)
			switch {
			case errors.Is(err, domain.ErrNotFound):
				// Another tenant's product is answered like a missing one.
				v.Add(lineField(i, "product_id"), "no such product")
			case err != nil:
				return err
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		n, err := s.store.NextNumber(ctx, actor.TenantID, "purchase_order")
		if err != nil {
			return err
		}
		po.Number = fmt.Sprintf("PO-%06d", n)
		return s.store.InsertPurchaseOrder(ctx, po)
	})
	if err != nil {
		return PurchaseOrder{}, fmt.Errorf("create purchase order: %w", err)
	}
	return po, nil
}

func (s *Service) validateOrder(actor domain.Actor, in CreateInput) (PurchaseOrder, error) {
	v := &domain.ValidationError{}
	now := s.clock()
	po := PurchaseOrder{
		ID: domain.NewID(), TenantID: actor.TenantID, Status: StatusPending,
		RequestedBy: actor.UserID, CreatedAt: now, UpdatedAt: now,
		VendorID: parseID(v, "vendor_id", in.VendorID),
	}
	switch {
	case len(in.Lines) == 0:
		v.Add("lines", "must have at least one line")
	case len(in.Lines) > maxLines:
		v.Add("lines", fmt.Sprintf("must have at most %d lines", maxLines))
	}
	if len(in.Lines) > maxLines {
		return po, v.Err()
	}
	total := decimal.Zero
	for i, l := range in.Lines {
		line := Line{LineNo: i + 1, Quantity: l.Quantity,
			ProductID: parseID(v, lineField(i, "product_id"), l.ProductID)}
		checkQuantity(v, lineField(i, "quantity"), l.Quantity)
		if l.UnitCost == nil {
			v.Add(lineField(i, "unit_cost"), "is required")
		} else {
			checkCost(v, lineField(i, "unit_cost"), *l.UnitCost)
			line.UnitCost = *l.UnitCost
		}
		total = total.Add(line.UnitCost.Mul(decimal.NewFromInt(line.Quantity)))
		po.Lines = append(po.Lines, line)
	}
	if total.GreaterThanOrEqual(maxMoney) {
		v.Add("lines", "the order total is too large")
	}
	po.Total = total
	return po, v.Err()
}

// GetPurchaseOrder returns one purchase order of the tenant with its lines.
func (s *Service) GetPurchaseOrder(ctx context.Context, tenant domain.TenantID, id string) (PurchaseOrder, error) {
	id, err := domain.ParseID("id", id)
	if err != nil {
		return PurchaseOrder{}, err
	}
	return s.store.GetPurchaseOrder(ctx, tenant, id)
}

// ListPurchaseOrders pages through the tenant's purchase orders in creation
// order, optionally only one vendor's or those in one status.
func (s *Service) ListPurchaseOrders(ctx context.Context, tenant domain.TenantID, f OrderFilter) ([]PurchaseOrder, error) {
	v := &domain.ValidationError{}
	if f.VendorID != "" {
		f.VendorID = parseID(v, "vendor_id", f.VendorID)
	}
	if f.Status != "" && !f.Status.Valid() {
		v.Add("status", "must be pending, approved, partially_received or received")
	}
	if f.After != "" {
		f.After = parseID(v, "after", f.After)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	f.Limit = clampLimit(f.Limit)
	return s.store.ListPurchaseOrders(ctx, tenant, f)
}

// Approve approves a pending purchase order and writes
// PurchaseOrderApproved. The order is locked first, so of concurrent
// approvals exactly one succeeds; the others find it no longer pending.
func (s *Service) Approve(ctx context.Context, actor domain.Actor, id string) (PurchaseOrder, error) {
	if err := actor.Require(domain.PermProcurementApprove); err != nil {
		return PurchaseOrder{}, err
	}
	id, err := domain.ParseID("id", id)
	if err != nil {
		return PurchaseOrder{}, err
	}
	var out PurchaseOrder
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		po, err := s.store.LockPurchaseOrder(ctx, actor.TenantID, id)
		if err != nil {
			return err
		}
		if po.Status != StatusPending {
			return domain.Rule("purchase_order_not_pending",
				"purchase order %s is %s; only a pending order can be approved", po.Number, po.Status)
		}
		vendor, err := s.store.GetVendor(ctx, actor.TenantID, po.VendorID)
		if err != nil {
			return err
		}
		now := s.clock()
		po.Status, po.ApprovedBy, po.ApprovedAt, po.UpdatedAt = StatusApproved, actor.UserID, &now, now
		if err := s.store.UpdatePurchaseOrder(ctx, po); err != nil {
			return err
		}
		ev, err := domain.NewEvent(actor.TenantID, actor.UserID, now, PurchaseOrderApproved{
			PurchaseOrderID: po.ID, Number: po.Number, VendorID: po.VendorID, VendorName: vendor.Name,
			Total: po.Total, RequestedBy: string(po.RequestedBy), ApprovedBy: string(actor.UserID),
		})
		if err != nil {
			return err
		}
		out = po
		return s.store.AppendEvents(ctx, ev)
	})
	if err != nil {
		return PurchaseOrder{}, fmt.Errorf("approve purchase order: %w", err)
	}
	return out, nil
}
