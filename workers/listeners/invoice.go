package listeners

import (
	"context"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// InvoiceService is what the invoice listeners need of *invoice.Service.
type InvoiceService interface {
	// GenerateForOrder returns the order's invoice, creating it (and its
	// InvoiceGenerated event) only the first time.
	GenerateForOrder(ctx context.Context, tenant domain.TenantID, orderID string) (invoice.Invoice, error)
	Get(ctx context.Context, tenant domain.TenantID, id string) (invoice.Invoice, error)
	MarkPaidIfSettled(ctx context.Context, tenant domain.TenantID, invoiceID string) (invoice.Invoice, error)
	// Delivery returns domain.ErrNotFound when nothing was recorded yet.
	Delivery(ctx context.Context, tenant domain.TenantID, invoiceID, channel string) (invoice.Delivery, error)
	RecordDelivery(ctx context.Context, d invoice.Delivery) error
}

// InvoiceStore is what the invoice listeners need of the store: the
// processed-events marker and the tenant's users, to skip unknown ones.
type InvoiceStore interface {
	Store
	// GetUser returns domain.ErrNotFound for a user the tenant does not know.
	GetUser(ctx context.Context, tenant domain.TenantID, id domain.UserID) (domain.User, error)
	UsersWithPermission(ctx context.Context, tenant domain.TenantID, perm string) ([]domain.User, error)
}

// InvoiceNotifier sends notifications to given users (notification.Service).
type InvoiceNotifier interface {
	SendToUsers(ctx context.Context, tenant domain.TenantID, users []domain.UserID, d notification.Draft) ([]domain.Notification, error)
}

// invoiceMoney shows an amount with two decimals, or all four when it has them.
func invoiceMoney(d decimal.Decimal) string {
	if d.Equal(d.Round(2)) {
		return d.StringFixed(2)
	}
	return d.String()
}

// invoiceText makes user-entered text safe to put on one line of a message:
// control characters (line breaks included) become spaces.
func invoiceText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s))
}
