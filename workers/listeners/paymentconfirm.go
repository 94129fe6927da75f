package listeners

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// SendPaymentConfirmation tells the holders of invoices.manage and the
// order's creator (each once) that a payment came in, and makes a settled
// invoice paid (MarkPaidIfSettled; RecordPayment already does when it
// settles, so this is a no-op then). All of it exactly once per event.
type SendPaymentConfirmation struct {
	Store    InvoiceStore
	Notifier InvoiceNotifier
	Invoices InvoiceService
}

func (SendPaymentConfirmation) Name() string { return "SendPaymentConfirmation" }
func (SendPaymentConfirmation) Events() []string {
	return []string{invoice.InvoicePaymentReceived{}.EventType()}
}

// PaymentReceivedData is the structured data of a PaymentReceivedNotification.
type PaymentReceivedData struct {
	InvoiceID   string          `json:"invoice_id"`
	Number      string          `json:"number"`
	PaymentID   string          `json:"payment_id"`
	Amount      decimal.Decimal `json:"amount"`
	AmountPaid  decimal.Decimal `json:"amount_paid"`
	Outstanding decimal.Decimal `json:"outstanding"`
	Settled     bool            `json:"settled"`
}

func (l SendPaymentConfirmation) Handle(ctx context.Context, ev domain.Event) error {
	var e invoice.InvoicePaymentReceived
	if err := ev.Decode(&e); err != nil {
		return err
	}
	body := fmt.Sprintf("%s received on invoice %s; %s is still outstanding.",
		invoiceMoney(e.Amount), e.Number, invoiceMoney(e.Outstanding))
	if e.Settled {
		body = fmt.Sprintf("%s received on invoice %s: it is now paid in full (%s).",
			invoiceMoney(e.Amount), e.Number, invoiceMoney(e.AmountPaid))
	}
	draft := notification.Draft{
		Type:      notification.TypePaymentReceived,
		Severity:  domain.SeveritySuccess,
		Title:     notification.Clip(fmt.Sprintf("Payment of %s received for %s", invoiceMoney(e.Amount), e.Number), notification.MaxTitleLen),
		Body:      body,
		ActionURL: "/invoices/" + e.InvoiceID,
		Data: PaymentReceivedData{
			InvoiceID: e.InvoiceID, Number: e.Number, PaymentID: e.PaymentID, Amount: e.Amount,
			AmountPaid: e.AmountPaid, Outstanding: e.Outstanding, Settled: e.Settled,
		},
	}
	return once(ctx, l.Store, l.Name(), ev, func(ctx context.Context) error {
		users, err := l.recipients(ctx, ev.TenantID, domain.UserID(e.OrderCreatedBy))
		if err != nil {
			return err
		}
		if len(users) > 0 {
			if _, err := l.Notifier.SendToUsers(ctx, ev.TenantID, users, draft); err != nil {
				return err
			}
		}
		if e.Settled {
			if _, err := l.Invoices.MarkPaidIfSettled(ctx, ev.TenantID, e.InvoiceID); err != nil {
				return err
			}
		}
		return nil
	})
}

// recipients are the known holders of invoices.manage plus the order's
// creator when the tenant knows them, each once.
func (l SendPaymentConfirmation) recipients(ctx context.Context, tenant domain.TenantID, creator domain.UserID) ([]domain.UserID, error) {
	holders, err := l.Store.UsersWithPermission(ctx, tenant, domain.PermInvoicesManage)
	if err != nil {
		return nil, err
	}
	ids := make([]domain.UserID, 0, len(holders)+1)
	for _, u := range holders {
		if !slices.Contains(ids, u.ID) {
			ids = append(ids, u.ID)
		}
	}
	if creator == "" || slices.Contains(ids, creator) {
		return ids, nil
	}
	if _, err := l.Store.GetUser(ctx, tenant, creator); errors.Is(err, domain.ErrNotFound) {
		return ids, nil
	} else if err != nil {
		return nil, err
	}
	return append(ids, creator), nil
}
