package invoice

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

const maxReferenceLen = 100

// PaymentInput is the body of POST /api/v1/invoices/{id}/payments.
type PaymentInput struct {
	Amount    *decimal.Decimal `json:"amount"`
	Method    string           `json:"method"`
	Reference string           `json:"reference"`
}

// RecordPayment records money received against an invoice and writes
// InvoicePaymentReceived in the same transaction. The invoice row is locked
// while the balance is checked and updated, so concurrent payments never
// take it past the total. A payment above the outstanding balance, or on a
// paid invoice, breaks a business rule (422). The payment that settles the
// balance makes the invoice paid at once (the event says Settled).
func (s *Service) RecordPayment(ctx context.Context, actor domain.Actor, invoiceID string, in PaymentInput) (Payment, error) {
	if err := actor.Require(domain.PermInvoicesManage); err != nil {
		return Payment{}, err
	}
	invoiceID, err := domain.ParseID("id", invoiceID)
	if err != nil {
		return Payment{}, err
	}
	p, err := s.validatePayment(actor, invoiceID, in)
	if err != nil {
		return Payment{}, err
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		inv, err := s.store.LockInvoice(ctx, actor.TenantID, invoiceID)
		if err != nil {
			return err
		}
		if inv.Status == StatusPaid || !inv.Outstanding.IsPositive() {
			return domain.Rule("invoice_paid", "invoice %s is paid in full", inv.Number)
		}
		if p.Amount.GreaterThan(inv.Outstanding) {
			return domain.Rule("payment_exceeds_outstanding",
				"the payment of %s exceeds the outstanding balance of %s on invoice %s", p.Amount, inv.Outstanding, inv.Number)
		}
		inv.AmountPaid = inv.AmountPaid.Add(p.Amount)
		inv.settle()
		inv.UpdatedAt = p.ReceivedAt
		settled := inv.Outstanding.IsZero()
		if settled {
			inv.Status, inv.PaidAt = StatusPaid, &p.ReceivedAt
		}
		if err := s.store.InsertInvoicePayment(ctx, p); err != nil {
			return err
		}
		if err := s.store.SetInvoiceBalance(ctx, inv); err != nil {
			return err
		}
		ev, err := domain.NewEvent(actor.TenantID, actor.UserID, p.ReceivedAt, InvoicePaymentReceived{
			PaymentID: p.ID, InvoiceID: inv.ID, Number: inv.Number, CustomerID: inv.CustomerID,
			OrderID: inv.OrderID, OrderCreatedBy: string(inv.OrderCreatedBy),
			Amount: p.Amount, Method: p.Method, Reference: p.Reference,
			AmountPaid: inv.AmountPaid, Outstanding: inv.Outstanding, Settled: settled,
		})
		if err != nil {
			return err
		}
		return s.store.AppendEvents(ctx, ev)
	})
	if err != nil {
		return Payment{}, fmt.Errorf("record payment on invoice %s: %w", invoiceID, err)
	}
	return p, nil
}

func (s *Service) validatePayment(actor domain.Actor, invoiceID string, in PaymentInput) (Payment, error) {
	v := &domain.ValidationError{}
	p := Payment{
		ID: domain.NewID(), TenantID: actor.TenantID, InvoiceID: invoiceID,
		Method: strings.TrimSpace(in.Method), Reference: strings.TrimSpace(in.Reference),
		ActorID: actor.UserID, ReceivedAt: s.now().UTC().Truncate(time.Microsecond),
	}
	switch {
	case in.Amount == nil:
		v.Add("amount", "is required")
	case !in.Amount.IsPositive():
		v.Add("amount", "must be greater than zero")
	case !in.Amount.Equal(in.Amount.Truncate(4)):
		v.Add("amount", "must have at most 4 decimal places")
	case in.Amount.GreaterThanOrEqual(maxMoney):
		v.Add("amount", "is too large")
	default:
		p.Amount = *in.Amount
	}
	switch {
	case p.Method == "":
		v.Add("method", "is required: one of "+strings.Join(Methods, ", "))
	case !slices.Contains(Methods, p.Method):
		v.Add("method", "must be one of "+strings.Join(Methods, ", "))
	}
	switch {
	case utf8.RuneCountInString(p.Reference) > maxReferenceLen:
		v.Add("reference", fmt.Sprintf("must be at most %d characters", maxReferenceLen))
	case !utf8.ValidString(p.Reference) || strings.ContainsFunc(p.Reference, isControl):
		v.Add("reference", "must not contain control characters")
	}
	return p, v.Err()
}

// ListPayments pages through the payments of one of the tenant's invoices,
// oldest first. domain.ErrNotFound when the invoice is not the tenant's.
func (s *Service) ListPayments(ctx context.Context, tenant domain.TenantID, invoiceID string, f PaymentFilter) ([]Payment, error) {
	invoiceID, err := domain.ParseID("id", invoiceID)
	if err != nil {
		return nil, err
	}
	if f.After != "" {
		if f.After, err = domain.ParseID("after", f.After); err != nil {
			return nil, err
		}
	}
	f.Limit = ClampLimit(f.Limit)
	return s.store.ListInvoicePayments(ctx, tenant, invoiceID, f)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
