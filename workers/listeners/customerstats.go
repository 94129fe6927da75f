package listeners

import (
	"context"
	"errors"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/sales"
)

// StatisticsRecomputer recomputes a customer's statistics from its source
// rows (crm.Service).
type StatisticsRecomputer interface {
	RecomputeStatistics(ctx context.Context, tenant domain.TenantID, customerID string) (crm.Statistics, error)
}

// UpdateCustomerStatistics keeps customer statistics current: every event
// that can change them makes the customer's figures be recomputed from the
// source rows. Recomputing is idempotent by construction, so it needs no
// processed_events marker: a redelivered or reordered event recomputes the
// same figures.
type UpdateCustomerStatistics struct {
	Customers StatisticsRecomputer
}

func (UpdateCustomerStatistics) Name() string { return "UpdateCustomerStatistics" }
func (UpdateCustomerStatistics) Events() []string {
	return []string{
		crm.CustomerCreated{}.EventType(),
		crm.LeadConverted{}.EventType(),
		sales.OrderCreated{}.EventType(),
		sales.OrderFulfilled{}.EventType(),
		invoice.InvoiceGenerated{}.EventType(),
		invoice.InvoicePaymentReceived{}.EventType(),
	}
}

func (l UpdateCustomerStatistics) Handle(ctx context.Context, ev domain.Event) error {
	customerID, err := eventCustomer(ev)
	if err != nil {
		return err
	}
	_, err = l.Customers.RecomputeStatistics(ctx, ev.TenantID, customerID)
	if errors.Is(err, domain.ErrNotFound) {
		// Customers are never deleted: an event naming one its tenant
		// does not have will never find it.
		return fmt.Errorf("event %s (%s): %w: %w", ev.ID, ev.Type, domain.ErrPermanent, err)
	}
	return err
}

// eventCustomer decodes the customer id an event is about.
func eventCustomer(ev domain.Event) (string, error) {
	var id string
	switch ev.Type {
	case crm.CustomerCreated{}.EventType():
		var e crm.CustomerCreated
		if err := ev.Decode(&e); err != nil {
			return "", err
		}
		id = e.CustomerID
	case crm.LeadConverted{}.EventType():
		var e crm.LeadConverted
		if err := ev.Decode(&e); err != nil {
			return "", err
		}
		id = e.CustomerID
	case sales.OrderCreated{}.EventType():
		var e sales.OrderCreated
		if err := ev.Decode(&e); err != nil {
			return "", err
		}
		id = e.CustomerID
	case sales.OrderFulfilled{}.EventType():
		var e sales.OrderFulfilled
		if err := ev.Decode(&e); err != nil {
			return "", err
		}
		id = e.CustomerID
	case invoice.InvoiceGenerated{}.EventType():
		var e invoice.InvoiceGenerated
		if err := ev.Decode(&e); err != nil {
			return "", err
		}
		id = e.CustomerID
	case invoice.InvoicePaymentReceived{}.EventType():
		var e invoice.InvoicePaymentReceived
		if err := ev.Decode(&e); err != nil {
			return "", err
		}
		id = e.CustomerID
	default:
		return "", fmt.Errorf("event %s: unexpected type %s: %w", ev.ID, ev.Type, domain.ErrPermanent)
	}
	if id == "" {
		return "", fmt.Errorf("event %s (%s) names no customer: %w", ev.ID, ev.Type, domain.ErrPermanent)
	}
	return id, nil
}
