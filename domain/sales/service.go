package sales

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/product"
)

// Limits on orders.
const (
	maxLines    = 100
	maxQuantity = 1_000_000_000
	defaultPage = 50
	maxPage     = 200
	// counter names the per-tenant sequence behind order numbers.
	counter = "order"
)

// maxMoney bounds every amount: NUMERIC(20,4) holds 16 integer digits.
var maxMoney = decimal.New(1, 16)

// Service runs the sales order commands.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service; now defaults to time.Now.
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// CreateInput is the body of POST /api/v1/orders.
type CreateInput struct {
	CustomerID string      `json:"customer_id"`
	Lines      []LineInput `json:"lines"`
}

// LineInput is one requested line.
type LineInput struct {
	ProductID string `json:"product_id"`
	Quantity  int64  `json:"quantity"`
	// UnitPrice is optional: the product's current price when left out.
	UnitPrice *decimal.Decimal `json:"unit_price"`
}

// Create validates the order, stores it pending with the next number of
// the tenant (SO-000001, ...) and writes OrderCreated. The customer must be
// the tenant's (domain.ErrNotFound otherwise); every product must be one of
// the tenant's live products (a field error on lines[i].product_id).
func (s *Service) Create(ctx context.Context, actor domain.Actor, in CreateInput) (Order, error) {
	if err := actor.Require(domain.PermSalesManage); err != nil {
		return Order{}, err
	}
	o, err := s.validate(actor, in)
	if err != nil {
		return Order{}, err
	}
	if _, err := s.store.GetCustomer(ctx, actor.TenantID, o.CustomerID); err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return Order{}, fmt.Errorf("customer %s: %w", o.CustomerID, domain.ErrNotFound)
		}
		return Order{}, err
	}
	if err := s.priceLines(ctx, actor.TenantID, &o, in.Lines); err != nil {
		return Order{}, err
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		n, err := s.store.NextNumber(ctx, actor.TenantID, counter)
		if err != nil {
			return err
		}
		o.Number = fmt.Sprintf("SO-%06d", n)
		if err := s.store.InsertOrder(ctx, o); err != nil {
			return err
		}
		return s.appendEvent(ctx, actor, o.CreatedAt, OrderCreated{
			OrderID: o.ID, Number: o.Number, CustomerID: o.CustomerID, Lines: EventLines(o.Lines),
			Total: o.Total, CreatedBy: string(o.CreatedBy),
		})
	})
	if err != nil {
		return Order{}, fmt.Errorf("create order: %w", err)
	}
	return o, nil
}

// validate checks the input's shape; products are checked by priceLines.
func (s *Service) validate(actor domain.Actor, in CreateInput) (Order, error) {
	v := &domain.ValidationError{}
	now := s.clock()
	o := Order{
		ID: domain.NewID(), TenantID: actor.TenantID, Status: StatusPending,
		CreatedBy: actor.UserID, CreatedAt: now, UpdatedAt: now,
	}
	if id, err := domain.ParseID("customer_id", in.CustomerID); err != nil {
		v.Add("customer_id", "must be a customer id (UUID)")
	} else {
		o.CustomerID = id
	}
	if len(in.Lines) == 0 || len(in.Lines) > maxLines {
		v.Add("lines", fmt.Sprintf("must have between 1 and %d lines", maxLines))
		return o, v.Err()
	}
	o.Lines = make([]Line, len(in.Lines))
	for i, l := range in.Lines {
		field := func(name string) string { return fmt.Sprintf("lines[%d].%s", i, name) }
		o.Lines[i] = Line{LineNo: i + 1, Quantity: l.Quantity}
		if id, err := domain.ParseID(field("product_id"), l.ProductID); err != nil {
			v.Add(field("product_id"), "must be a product id (UUID)")
		} else {
			o.Lines[i].ProductID = id
		}
		if l.Quantity <= 0 || l.Quantity > maxQuantity {
			v.Add(field("quantity"), fmt.Sprintf("must be between 1 and %d", maxQuantity))
		}
		if l.UnitPrice != nil {
			checkPrice(v, field("unit_price"), *l.UnitPrice)
		}
	}
	return o, v.Err()
}

// priceLines looks up every line's product (it must be a live product of
// the tenant), takes its SKU, fills in a missing unit price with the
// product's price and computes the exact amounts and total.
func (s *Service) priceLines(ctx context.Context, tenant domain.TenantID, o *Order, in []LineInput) error {
	v := &domain.ValidationError{}
	total := decimal.Zero
	for i := range o.Lines {
		l := &o.Lines[i]
		p, err := s.store.GetProduct(ctx, tenant, l.ProductID)
		if errors.Is(err, domain.ErrNotFound) {
			v.Add(fmt.Sprintf("lines[%d].product_id", i), "is not one of your products")
			continue
		}
		if err != nil {
			return err
		}
		l.SKU = p.SKU
		l.UnitPrice = p.Price
		if in[i].UnitPrice != nil {
			l.UnitPrice = *in[i].UnitPrice
		}
		l.Amount = l.UnitPrice.Mul(decimal.NewFromInt(l.Quantity))
		if l.Amount.GreaterThanOrEqual(maxMoney) {
			v.Add(fmt.Sprintf("lines[%d].amount", i), "quantity × unit price is too large")
			continue
		}
		total = total.Add(l.Amount)
	}
	if v.Err() == nil && total.GreaterThanOrEqual(maxMoney) {
		v.Add("lines", "the order total is too large")
	}
	o.Total = total
	return v.Err()
}

// Approve moves a pending order to approved and writes OrderApproved; any
// other status is the RuleError order_not_pending.
func (s *Service) Approve(ctx context.Context, actor domain.Actor, id string) (Order, error) {
	if err := actor.Require(domain.PermSalesApprove); err != nil {
		return Order{}, err
	}
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Order{}, err
	}
	var o Order
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		o, err = s.store.LockOrder(ctx, actor.TenantID, id)
		if err != nil {
			return err
		}
		if o.Status != StatusPending {
			return domain.Rule("order_not_pending", "order %s is %s; only a pending order can be approved", o.Number, o.Status)
		}
		now := s.clock()
		o.Status, o.ApprovedBy, o.ApprovedAt, o.UpdatedAt = StatusApproved, actor.UserID, &now, now
		if err := s.store.UpdateOrderStatus(ctx, o); err != nil {
			return err
		}
		return s.appendEvent(ctx, actor, now, OrderApproved{
			OrderID: o.ID, Number: o.Number, CustomerID: o.CustomerID, Total: o.Total,
			CreatedBy: string(o.CreatedBy), ApprovedBy: string(actor.UserID),
		})
	})
	if err != nil {
		return Order{}, fmt.Errorf("approve order: %w", err)
	}
	return o, nil
}

// Fulfill moves an approved order to fulfilled and writes OrderFulfilled,
// whose lines UpdateInventoryOnSale then takes out of stock. Any other
// status is the RuleError order_not_approved; a product whose total on hand
// is below what the order needs of it is insufficient_stock, one deleted
// since the order was made is product_unavailable.
func (s *Service) Fulfill(ctx context.Context, actor domain.Actor, id string) (Order, error) {
	if err := actor.Require(domain.PermSalesManage); err != nil {
		return Order{}, err
	}
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Order{}, err
	}
	var o Order
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		o, err = s.store.LockOrder(ctx, actor.TenantID, id)
		if err != nil {
			return err
		}
		if o.Status != StatusApproved {
			return domain.Rule("order_not_approved", "order %s is %s; only an approved order can be fulfilled", o.Number, o.Status)
		}
		if err := s.checkStock(ctx, o); err != nil {
			return err
		}
		now := s.clock()
		o.Status, o.FulfilledBy, o.FulfilledAt, o.UpdatedAt = StatusFulfilled, actor.UserID, &now, now
		if err := s.store.UpdateOrderStatus(ctx, o); err != nil {
			return err
		}
		return s.appendEvent(ctx, actor, now, OrderFulfilled{
			OrderID: o.ID, Number: o.Number, CustomerID: o.CustomerID, Lines: EventLines(o.Lines),
			Total: o.Total, CreatedBy: string(o.CreatedBy), FulfilledBy: string(actor.UserID),
		})
	})
	if err != nil {
		return Order{}, fmt.Errorf("fulfill order: %w", err)
	}
	return o, nil
}

// checkStock compares, per product, the quantity the order needs (over all
// its lines) with what is free: the product's total on hand less what
// fulfilled orders have yet to take out. The products are locked in id
// order first, so concurrent fulfilments and movements of them serialise
// and two orders can never both be promised the same units.
func (s *Service) checkStock(ctx context.Context, o Order) error {
	need := map[string]int64{}
	sku := map[string]string{}
	for _, l := range o.Lines {
		need[l.ProductID] += l.Quantity
		sku[l.ProductID] = l.SKU
	}
	ids := slices.Sorted(maps.Keys(need))
	products := make(map[string]product.Product, len(ids))
	for _, pid := range ids {
		p, err := s.store.LockProduct(ctx, o.TenantID, pid)
		if errors.Is(err, domain.ErrNotFound) {
			return domain.Rule("product_unavailable", "product %s was deleted after order %s was made; it cannot be shipped", sku[pid], o.Number)
		}
		if err != nil {
			return err
		}
		products[pid] = p
	}
	promised, err := s.store.StockAwaitingShipment(ctx, o.TenantID, ids)
	if err != nil {
		return err
	}
	for _, pid := range ids {
		p := products[pid]
		if free := p.OnHand - promised[pid]; free < need[pid] {
			return domain.Rule("insufficient_stock", "%s has %d on hand, %d of it promised to orders not yet shipped; order %s needs %d",
				p.SKU, p.OnHand, promised[pid], o.Number, need[pid])
		}
	}
	return nil
}

// Get returns one order of the tenant with its lines.
func (s *Service) Get(ctx context.Context, tenant domain.TenantID, id string) (Order, error) {
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Order{}, err
	}
	return s.store.GetOrder(ctx, tenant, id)
}

// List pages through the tenant's orders in creation order, optionally of
// one customer and/or one status.
func (s *Service) List(ctx context.Context, tenant domain.TenantID, f Filter) ([]Order, error) {
	v := &domain.ValidationError{}
	if f.CustomerID != "" {
		if id, err := domain.ParseID("customer_id", f.CustomerID); err != nil {
			v.Add("customer_id", "must be a customer id (UUID)")
		} else {
			f.CustomerID = id
		}
	}
	if f.Status != "" && !f.Status.Valid() {
		v.Add("status", "must be pending, approved or fulfilled")
	}
	if f.After != "" {
		if id, err := domain.ParseID("after", f.After); err != nil {
			v.Add("after", "must be an order id (UUID)")
		} else {
			f.After = id
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch {
	case f.Limit <= 0:
		f.Limit = defaultPage
	case f.Limit > maxPage:
		f.Limit = maxPage
	}
	return s.store.ListOrders(ctx, tenant, f)
}

func (s *Service) appendEvent(ctx context.Context, actor domain.Actor, at time.Time, p domain.EventPayload) error {
	ev, err := domain.NewEvent(actor.TenantID, actor.UserID, at, p)
	if err != nil {
		return err
	}
	return s.store.AppendEvents(ctx, ev)
}

func checkPrice(v *domain.ValidationError, field string, d decimal.Decimal) {
	switch {
	case d.IsNegative():
		v.Add(field, "must not be negative")
	case !d.Equal(d.Truncate(4)):
		v.Add(field, "must have at most 4 decimal places")
	case d.GreaterThanOrEqual(maxMoney):
		v.Add(field, "is too large")
	}
}

// clock is now in UTC at the precision the store keeps (microseconds), so
// what a command answers equals what a later read returns.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
