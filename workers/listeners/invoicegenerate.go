package listeners

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/sales"
)

// GenerateInvoiceFromOrder invoices an order once it is approved. The
// invoice is unique per order, so a redelivered event finds it and writes
// neither a second invoice nor a second InvoiceGenerated.
type GenerateInvoiceFromOrder struct {
	Invoices InvoiceService
}

func (GenerateInvoiceFromOrder) Name() string { return "GenerateInvoiceFromOrder" }
func (GenerateInvoiceFromOrder) Events() []string {
	return []string{sales.OrderApproved{}.EventType()}
}

func (l GenerateInvoiceFromOrder) Handle(ctx context.Context, ev domain.Event) error {
	var e sales.OrderApproved
	if err := ev.Decode(&e); err != nil {
		return err
	}
	_, err := l.Invoices.GenerateForOrder(ctx, ev.TenantID, e.OrderID)
	return err
}
