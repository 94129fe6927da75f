package invoice

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

const (
	dateLayout     = time.DateOnly
	numberCounter  = "invoice"
	maxDescription = 500
	maxErrorLen    = 1000
	defaultPage    = 50
	maxPage        = 200
)

// Service runs the invoice commands and queries.
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

// errInvoiced rolls back a generation that found, at insert time, that the
// order had been invoiced meanwhile.
var errInvoiced = errors.New("order already invoiced")

// GenerateForOrder creates the invoice of an approved (or fulfilled) order
// and writes InvoiceGenerated in the same transaction. There is exactly one
// invoice per order: when it exists already (a redelivered OrderApproved, a
// concurrent worker) GenerateForOrder returns it and writes nothing.
func (s *Service) GenerateForOrder(ctx context.Context, tenant domain.TenantID, orderID string) (Invoice, error) {
	orderID, err := domain.ParseID("order_id", orderID)
	if err != nil {
		return Invoice{}, err
	}
	var out Invoice
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		// The order lock makes a concurrent generator wait here, then see
		// the invoice this one committed.
		src, err := s.store.LockOrderToInvoice(ctx, tenant, orderID)
		if err != nil {
			return err
		}
		existing, err := s.store.InvoiceForOrder(ctx, tenant, orderID)
		if err == nil {
			out = existing
			return nil
		}
		if !errors.Is(err, domain.ErrNotFound) {
			return err
		}
		if src.Status != "approved" && src.Status != "fulfilled" {
			return domain.Rule("order_not_approved", "order %s is %s; only approved or fulfilled orders are invoiced", src.OrderNumber, src.Status)
		}
		inv, err := s.build(ctx, tenant, src)
		if err != nil {
			return err
		}
		if err := s.store.InsertInvoice(ctx, inv); err != nil {
			if errors.Is(err, domain.ErrConflict) {
				return errInvoiced
			}
			return err
		}
		ev, err := domain.NewEvent(tenant, domain.SystemUserID, inv.CreatedAt, InvoiceGenerated{
			InvoiceID: inv.ID, Number: inv.Number, OrderID: inv.OrderID, OrderNumber: inv.OrderNumber,
			CustomerID: inv.CustomerID, CustomerName: src.CustomerName, CustomerEmail: src.CustomerEmail,
			Total: inv.Total, DueDate: inv.DueDate, OrderCreatedBy: string(src.CreatedBy),
		})
		if err != nil {
			return err
		}
		out = inv
		return s.store.AppendEvents(ctx, ev)
	})
	if errors.Is(err, errInvoiced) {
		out, err = s.store.InvoiceForOrder(ctx, tenant, orderID)
	}
	if err != nil {
		return Invoice{}, fmt.Errorf("generate invoice for order %s: %w", orderID, err)
	}
	return out, nil
}

// build makes the invoice of src: lines copied, total summed exactly, due
// after the customer's payment terms, numbered from the tenant's counter.
func (s *Service) build(ctx context.Context, tenant domain.TenantID, src Source) (Invoice, error) {
	if len(src.Lines) == 0 {
		return Invoice{}, domain.Rule("order_without_lines", "order %s has no lines to invoice", src.OrderNumber)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	inv := Invoice{
		ID: domain.NewID(), TenantID: tenant, OrderID: src.OrderID, OrderNumber: src.OrderNumber,
		CustomerID: src.CustomerID, CustomerName: src.CustomerName, Status: StatusOpen,
		AmountPaid: decimal.Zero, CreatedAt: now, UpdatedAt: now, OrderCreatedBy: src.CreatedBy,
		DueDate:    now.AddDate(0, 0, src.PaymentTermsDays).Format(dateLayout),
		Deliveries: []Delivery{},
	}
	total := decimal.Zero
	for _, l := range src.Lines {
		amount := l.UnitPrice.Mul(decimal.NewFromInt(l.Quantity))
		total = total.Add(amount)
		inv.Lines = append(inv.Lines, Line{
			LineNo: l.LineNo, ProductID: l.ProductID, Description: describe(l),
			Quantity: l.Quantity, UnitPrice: l.UnitPrice, Amount: amount,
		})
	}
	if total.Abs().GreaterThanOrEqual(maxMoney) {
		return Invoice{}, domain.Rule("invoice_total_too_large", "the total of order %s does not fit an invoice", src.OrderNumber)
	}
	inv.Total = total
	inv.settle()
	if total.IsZero() {
		// Nothing is owed: the invoice is settled from the start, so it
		// never turns overdue.
		inv.Status = StatusPaid
		inv.PaidAt = &now
	}
	n, err := s.store.NextNumber(ctx, tenant, numberCounter)
	if err != nil {
		return Invoice{}, err
	}
	inv.Number = fmt.Sprintf("INV-%06d", n)
	return inv, nil
}

// describe names what an order line sold: the product's name and SKU.
func describe(l SourceLine) string {
	d := l.SKU
	if name := strings.TrimSpace(l.ProductName); name != "" && name != l.SKU {
		d = name + " (" + l.SKU + ")"
	}
	return clip(d, maxDescription)
}

// MarkPaidIfSettled makes the invoice paid when its payments cover the
// total. It is idempotent: a paid or unsettled invoice is returned as is.
func (s *Service) MarkPaidIfSettled(ctx context.Context, tenant domain.TenantID, invoiceID string) (Invoice, error) {
	invoiceID, err := domain.ParseID("invoice_id", invoiceID)
	if err != nil {
		return Invoice{}, err
	}
	var out Invoice
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		inv, err := s.store.LockInvoice(ctx, tenant, invoiceID)
		if err != nil {
			return err
		}
		out = inv
		if inv.Status == StatusPaid || !inv.AmountPaid.Equal(inv.Total) {
			return nil
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		inv.Status, inv.PaidAt, inv.UpdatedAt = StatusPaid, &now, now
		out = inv
		return s.store.SetInvoiceBalance(ctx, inv)
	})
	if err != nil {
		return Invoice{}, fmt.Errorf("mark invoice %s paid: %w", invoiceID, err)
	}
	return out, nil
}

// Get returns one invoice of the tenant with its lines and deliveries.
func (s *Service) Get(ctx context.Context, tenant domain.TenantID, id string) (Invoice, error) {
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Invoice{}, err
	}
	return s.store.GetInvoice(ctx, tenant, id)
}

// List pages through the tenant's invoices by id, filtered.
func (s *Service) List(ctx context.Context, tenant domain.TenantID, f Filter) ([]Invoice, error) {
	v := &domain.ValidationError{}
	for field, p := range map[string]*string{"order_id": &f.OrderID, "customer_id": &f.CustomerID, "after": &f.After} {
		if *p == "" {
			continue
		}
		id, err := domain.ParseID(field, *p)
		if err != nil {
			v.Add(field, "must be a UUID")
		}
		*p = id
	}
	switch f.Status {
	case "", StatusOpen, StatusPaid, StatusOverdue:
	default:
		v.Add("status", "must be open, paid or overdue")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	f.Limit = ClampLimit(f.Limit)
	return s.store.ListInvoices(ctx, tenant, f)
}

// Delivery returns the delivery of an invoice over channel;
// domain.ErrNotFound when none was recorded yet.
func (s *Service) Delivery(ctx context.Context, tenant domain.TenantID, invoiceID, channel string) (Delivery, error) {
	invoiceID, err := domain.ParseID("invoice_id", invoiceID)
	if err != nil {
		return Delivery{}, err
	}
	return s.store.InvoiceDelivery(ctx, tenant, invoiceID, channel)
}

// RecordDelivery stores the state of a delivery (after an attempt, or the
// reason it was skipped). Error texts are clipped to a sane length.
func (s *Service) RecordDelivery(ctx context.Context, d Delivery) error {
	id, err := domain.ParseID("invoice_id", d.InvoiceID)
	if err != nil {
		return err
	}
	d.InvoiceID = id
	switch d.Status {
	case DeliveryPending, DeliverySent, DeliveryFailed, DeliverySkipped:
	default:
		return domain.Invalid("status", "must be pending, sent, failed or skipped")
	}
	if d.Channel == "" {
		return domain.Invalid("channel", "is required")
	}
	d.Error = clip(strings.ToValidUTF8(d.Error, "?"), maxErrorLen)
	d.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
	if err := s.store.PutInvoiceDelivery(ctx, d); err != nil {
		return fmt.Errorf("record %s delivery of invoice %s: %w", d.Channel, id, err)
	}
	return nil
}

// ClampLimit applies the default page size and the maximum.
func ClampLimit(n int) int {
	switch {
	case n <= 0:
		return defaultPage
	case n > maxPage:
		return maxPage
	}
	return n
}

// clip shortens s to at most max characters.
func clip(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max-1]) + "…"
}
