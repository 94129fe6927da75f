package listeners

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/sales"
)

// DirectNotifier sends a notification to named users
// (notification.Service). SendToUsers fails on a user the tenant does not
// know: look users up first.
type DirectNotifier interface {
	SendToUsers(ctx context.Context, tenant domain.TenantID, users []domain.UserID, d notification.Draft) ([]domain.Notification, error)
}

// UserDirectory finds a tenant's known users.
type UserDirectory interface {
	// GetUser returns domain.ErrNotFound for a user the tenant does not know.
	GetUser(ctx context.Context, tenant domain.TenantID, id domain.UserID) (domain.User, error)
}

// NotifyOrderStatus tells an order's creator that it was approved (info)
// or fulfilled (success). A creator the tenant does not know (the order was
// made by the system, or by a token whose user never reached us) is
// skipped: there is no inbox to put it in.
type NotifyOrderStatus struct {
	Store    Store
	Users    UserDirectory
	Notifier DirectNotifier
}

func (NotifyOrderStatus) Name() string { return "NotifyOrderStatus" }
func (NotifyOrderStatus) Events() []string {
	return []string{sales.OrderApproved{}.EventType(), sales.OrderFulfilled{}.EventType()}
}

// OrderStatusData is the structured data of an OrderStatusNotification.
type OrderStatusData struct {
	OrderID    string          `json:"order_id"`
	Number     string          `json:"number"`
	Status     sales.Status    `json:"status"`
	CustomerID string          `json:"customer_id"`
	Total      decimal.Decimal `json:"total"`
}

func (l NotifyOrderStatus) Handle(ctx context.Context, ev domain.Event) error {
	var (
		data     OrderStatusData
		creator  string
		by       string
		severity domain.Severity
	)
	switch ev.Type {
	case sales.OrderApproved{}.EventType():
		var e sales.OrderApproved
		if err := ev.Decode(&e); err != nil {
			return err
		}
		data = OrderStatusData{OrderID: e.OrderID, Number: e.Number, Status: sales.StatusApproved, CustomerID: e.CustomerID, Total: e.Total}
		creator, by, severity = e.CreatedBy, e.ApprovedBy, domain.SeverityInfo
	case sales.OrderFulfilled{}.EventType():
		var e sales.OrderFulfilled
		if err := ev.Decode(&e); err != nil {
			return err
		}
		data = OrderStatusData{OrderID: e.OrderID, Number: e.Number, Status: sales.StatusFulfilled, CustomerID: e.CustomerID, Total: e.Total}
		creator, by, severity = e.CreatedBy, e.FulfilledBy, domain.SeveritySuccess
	default:
		return fmt.Errorf("event %s: unexpected type %s: %w", ev.ID, ev.Type, domain.ErrPermanent)
	}
	if _, err := domain.ParseID("order_id", data.OrderID); err != nil {
		return fmt.Errorf("event %s: %w: %w", ev.ID, domain.ErrPermanent, err)
	}
	body := fmt.Sprintf("Order %s (total %s) was %s", data.Number, data.Total.String(), data.Status)
	if by != "" {
		body += " by " + by
	}
	draft := notification.Draft{
		Type:      notification.TypeOrderStatus,
		Severity:  severity,
		Title:     notification.Clip(fmt.Sprintf("Order %s %s", data.Number, data.Status), notification.MaxTitleLen),
		Body:      notification.Clip(body+".", 4000),
		ActionURL: "/orders/" + data.OrderID,
		Data:      data,
	}
	return once(ctx, l.Store, l.Name(), ev, func(ctx context.Context) error {
		if creator == "" {
			return nil
		}
		user := domain.UserID(creator)
		if _, err := l.Users.GetUser(ctx, ev.TenantID, user); err != nil {
			if errors.Is(err, domain.ErrNotFound) {
				return nil
			}
			return err
		}
		_, err := l.Notifier.SendToUsers(ctx, ev.TenantID, []domain.UserID{user}, draft)
		return err
	})
}
