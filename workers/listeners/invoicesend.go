package listeners

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/workers/mail"
)

// SendInvoiceToCustomer reacts to InvoiceGenerated twice over: it tells the
// order's creator (InvoiceGeneratedNotification, exactly once), and it
// e-mails the invoice to the customer, recording the delivery in
// invoice_deliveries. A failed send is recorded and returned, so the
// runner retries; a sent (or skipped) delivery is never sent again. The
// Message-ID is derived from the invoice id, so a mail sent twice anyway
// (a crash between the server's acceptance and the record) is recognisable.
type SendInvoiceToCustomer struct {
	Store    InvoiceStore
	Notifier InvoiceNotifier
	Invoices InvoiceService
	// Mailer sends the e-mail; nil means mail is not configured and the
	// delivery is recorded as skipped. When it has a Domain() string
	// method (mail.SMTP), Message-IDs use the sender's domain.
	Mailer mail.Mailer
	Logger *slog.Logger // default slog.Default()
}

func (SendInvoiceToCustomer) Name() string { return "SendInvoiceToCustomer" }
func (SendInvoiceToCustomer) Events() []string {
	return []string{invoice.InvoiceGenerated{}.EventType()}
}

// InvoiceGeneratedData is the structured data of an
// InvoiceGeneratedNotification.
type InvoiceGeneratedData struct {
	InvoiceID    string          `json:"invoice_id"`
	Number       string          `json:"number"`
	OrderID      string          `json:"order_id"`
	CustomerID   string          `json:"customer_id"`
	CustomerName string          `json:"customer_name"`
	Total        decimal.Decimal `json:"total"`
	DueDate      string          `json:"due_date"`
}

// recordTimeout bounds writing a delivery's outcome, which must happen even
// when the attempt used up its context.
const recordTimeout = 10 * time.Second

func (l SendInvoiceToCustomer) Handle(ctx context.Context, ev domain.Event) error {
	var e invoice.InvoiceGenerated
	if err := ev.Decode(&e); err != nil {
		return err
	}
	err := once(ctx, l.Store, l.Name(), ev, func(ctx context.Context) error {
		return l.notify(ctx, ev.TenantID, e)
	})
	if err != nil {
		return err
	}
	return l.deliver(ctx, ev.TenantID, e)
}

func (l SendInvoiceToCustomer) notify(ctx context.Context, tenant domain.TenantID, e invoice.InvoiceGenerated) error {
	creator := domain.UserID(e.OrderCreatedBy)
	if creator == "" {
		return nil
	}
	if _, err := l.Store.GetUser(ctx, tenant, creator); errors.Is(err, domain.ErrNotFound) {
		return nil // nobody to tell
	} else if err != nil {
		return err
	}
	order := e.OrderNumber
	if order == "" {
		order = "your order"
	}
	_, err := l.Notifier.SendToUsers(ctx, tenant, []domain.UserID{creator}, notification.Draft{
		Type:     notification.TypeInvoiceGenerated,
		Severity: domain.SeverityInfo,
		Title:    notification.Clip(fmt.Sprintf("Invoice %s generated for %s", e.Number, invoiceText(e.CustomerName)), notification.MaxTitleLen),
		Body: notification.Clip(fmt.Sprintf("Invoice %s for %s totals %s and is due on %s.",
			e.Number, order, invoiceMoney(e.Total), e.DueDate), 4000),
		ActionURL: "/invoices/" + e.InvoiceID,
		Data: InvoiceGeneratedData{
			InvoiceID: e.InvoiceID, Number: e.Number, OrderID: e.OrderID, CustomerID: e.CustomerID,
			CustomerName: e.CustomerName, Total: e.Total, DueDate: e.DueDate,
		},
	})
	return err
}

func (l SendInvoiceToCustomer) deliver(ctx context.Context, tenant domain.TenantID, e invoice.InvoiceGenerated) error {
	d, err := l.Invoices.Delivery(ctx, tenant, e.InvoiceID, invoice.ChannelEmail)
	switch {
	case err == nil:
		if d.Status == invoice.DeliverySent || d.Status == invoice.DeliverySkipped {
			return nil
		}
	case errors.Is(err, domain.ErrNotFound):
		d = invoice.Delivery{TenantID: tenant, InvoiceID: e.InvoiceID, Channel: invoice.ChannelEmail}
	default:
		return err
	}
	d.Recipient = strings.TrimSpace(e.CustomerEmail)
	skip := func(reason string) error {
		d.Status, d.Error = invoice.DeliverySkipped, reason
		return l.Invoices.RecordDelivery(ctx, d)
	}
	if l.Mailer == nil {
		return skip("e-mail is not configured (NOTIFYHUB_SMTP_URL)")
	}
	if d.Recipient == "" {
		return skip("the customer has no e-mail address")
	}
	if a, err := netmail.ParseAddress(d.Recipient); err != nil || a.Address != d.Recipient {
		return skip("the customer's e-mail address is not valid")
	}
	inv, err := l.Invoices.Get(ctx, tenant, e.InvoiceID)
	if err != nil {
		return err
	}
	msg := invoiceMessage(inv, e, l.messageID(inv.ID))
	d.MessageID = msg.MessageID
	d.Attempts++
	sendErr := l.Mailer.Send(ctx, msg)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if sendErr != nil {
		d.Status, d.Error = invoice.DeliveryFailed, mail.Describe(sendErr)
		l.logger().WarnContext(ctx, "invoice e-mail failed", slog.String("tenant", string(tenant)),
			slog.String("invoice", inv.Number), slog.Int("attempts", d.Attempts), slog.Any("error", sendErr))
		return errors.Join(fmt.Errorf("e-mail invoice %s: %w", inv.Number, sendErr), l.Invoices.RecordDelivery(rctx, d))
	}
	sent := time.Now().UTC()
	d.Status, d.Error, d.SentAt = invoice.DeliverySent, "", &sent
	return l.Invoices.RecordDelivery(rctx, d)
}

func (l SendInvoiceToCustomer) messageID(invoiceID string) string {
	var domainName string
	if m, ok := l.Mailer.(interface{ Domain() string }); ok {
		domainName = m.Domain()
	}
	return mail.MessageID("invoice."+invoiceID, domainName)
}

func (l SendInvoiceToCustomer) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}

// invoiceMessage renders the invoice as a plain-text e-mail.
func invoiceMessage(inv invoice.Invoice, e invoice.InvoiceGenerated, messageID string) mail.Message {
	name := invoiceText(e.CustomerName)
	var b strings.Builder
	greeting := "Hello"
	if name != "" {
		greeting = "Dear " + name
	}
	fmt.Fprintf(&b, "%s,\n\nplease find below invoice %s", greeting, inv.Number)
	if inv.OrderNumber != "" {
		fmt.Fprintf(&b, " for your order %s", inv.OrderNumber)
	}
	b.WriteString(".\n\n")
	for _, l := range inv.Lines {
		fmt.Fprintf(&b, "%3d. %s\n     %d × %s = %s\n", l.LineNo, invoiceText(l.Description),
			l.Quantity, invoiceMoney(l.UnitPrice), invoiceMoney(l.Amount))
	}
	fmt.Fprintf(&b, "\nTotal:       %s\n", invoiceMoney(inv.Total))
	if inv.AmountPaid.IsPositive() {
		fmt.Fprintf(&b, "Paid:        %s\n", invoiceMoney(inv.AmountPaid))
	}
	fmt.Fprintf(&b, "Amount due:  %s\nDue date:    %s\n\n", invoiceMoney(inv.Outstanding), inv.DueDate)
	fmt.Fprintf(&b, "Please quote %s with your payment.\n\nThank you for your business.\n", inv.Number)
	subject := "Invoice " + inv.Number
	if inv.OrderNumber != "" {
		subject += " for order " + inv.OrderNumber
	}
	return mail.Message{
		To:        strings.TrimSpace(e.CustomerEmail),
		ToName:    notification.Clip(name, 100),
		Subject:   notification.Clip(invoiceText(subject), 200),
		Text:      b.String(),
		MessageID: messageID,
	}
}
