package listeners

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// SendOverdueInvoiceReminder reminds the holders of invoices.manage of an
// invoice past its due date. The detector raises each invoice once per
// threshold of days overdue, so each threshold makes one reminder.
type SendOverdueInvoiceReminder struct {
	Store    Store
	Notifier Notifier
}

func (SendOverdueInvoiceReminder) Name() string { return "SendOverdueInvoiceReminder" }
func (SendOverdueInvoiceReminder) Events() []string {
	return []string{invoice.InvoiceOverdue{}.EventType()}
}

// OverdueInvoiceData is the structured data of the ReminderNotification
// for an overdue invoice. Money is a decimal string.
type OverdueInvoiceData struct {
	InvoiceID    string          `json:"invoice_id"`
	Number       string          `json:"number"`
	CustomerID   string          `json:"customer_id"`
	CustomerName string          `json:"customer_name"`
	Outstanding  decimal.Decimal `json:"outstanding"`
	DueDate      string          `json:"due_date"`
	DaysOverdue  int             `json:"days_overdue"`
	Threshold    int             `json:"threshold"`
	EventID      string          `json:"event_id"`
}

func (l SendOverdueInvoiceReminder) Handle(ctx context.Context, ev domain.Event) error {
	draft, err := overdueDraft(ev)
	if err != nil {
		return err
	}
	return once(ctx, l.Store, l.Name(), ev, func(ctx context.Context) error {
		_, err := l.Notifier.SendToPermission(ctx, ev.TenantID, domain.PermInvoicesManage, draft)
		return err
	})
}

// HandleBatch handles several events in one transaction (a group commit).
func (l SendOverdueInvoiceReminder) HandleBatch(ctx context.Context, evs []domain.Event) error {
	return sendToPermissionEachOnce(ctx, l.Store, l.Notifier, l.Name(), domain.PermInvoicesManage, evs, overdueDraft)
}

func overdueDraft(ev domain.Event) (notification.Draft, error) {
	var e invoice.InvoiceOverdue
	if err := ev.Decode(&e); err != nil {
		return notification.Draft{}, err
	}
	draft := notification.Draft{
		Type:     notification.TypeReminder,
		Severity: domain.SeverityWarning,
		Title: notification.Clip(fmt.Sprintf("Invoice %s is %s overdue", e.Number, countOf(e.DaysOverdue, "day")),
			notification.MaxTitleLen),
		Body: fmt.Sprintf("%s still owes %s on invoice %s, due on %s.",
			e.CustomerName, overdueAmount(e.Outstanding), e.Number, e.DueDate),
		ActionURL: "/invoices/" + e.InvoiceID,
		Data: OverdueInvoiceData{
			InvoiceID: e.InvoiceID, Number: e.Number, CustomerID: e.CustomerID, CustomerName: e.CustomerName,
			Outstanding: e.Outstanding, DueDate: e.DueDate, DaysOverdue: e.DaysOverdue,
			Threshold: e.Threshold, EventID: ev.ID,
		},
	}
	return draft, nil
}

// overdueAmount shows an amount with two decimals, or all of them when it has more
// (amounts keep four).
func overdueAmount(d decimal.Decimal) string {
	if d.Equal(d.Round(2)) {
		return d.StringFixed(2)
	}
	return d.String()
}
