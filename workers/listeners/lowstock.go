package listeners

import (
	"context"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// SendLowStockNotification tells the holders of inventory.alerts that a
// product fell below its reorder level.
type SendLowStockNotification struct {
	Store    Store
	Notifier Notifier
}

func (SendLowStockNotification) Name() string { return "SendLowStockNotification" }
func (SendLowStockNotification) Events() []string {
	return []string{inventory.LowStockDetected{}.EventType()}
}

// LowStockData is the structured data of a LowStockNotification.
type LowStockData struct {
	ProductID       string `json:"product_id"`
	SKU             string `json:"sku"`
	Name            string `json:"name"`
	CurrentQuantity int64  `json:"current_quantity"`
	MinimumQuantity int64  `json:"minimum_quantity"`
	LocationID      string `json:"location_id"`
	Location        string `json:"location"`
	EventID         string `json:"event_id"`
}

func (l SendLowStockNotification) Handle(ctx context.Context, ev domain.Event) error {
	draft, err := lowStockDraft(ev)
	if err != nil {
		return err
	}
	return once(ctx, l.Store, l.Name(), ev, func(ctx context.Context) error {
		_, err := l.Notifier.SendToPermission(ctx, ev.TenantID, domain.PermInventoryAlerts, draft)
		return err
	})
}

// HandleBatch handles several events in one transaction (a group commit):
// every low-stock alert goes to the same few holders of inventory.alerts,
// whose rows each transaction locks to number their notifications, so one
// transaction per event would run them one after another.
func (l SendLowStockNotification) HandleBatch(ctx context.Context, evs []domain.Event) error {
	return sendToPermissionEachOnce(ctx, l.Store, l.Notifier, l.Name(), domain.PermInventoryAlerts, evs, lowStockDraft)
}

func lowStockDraft(ev domain.Event) (notification.Draft, error) {
	var e inventory.LowStockDetected
	if err := ev.Decode(&e); err != nil {
		return notification.Draft{}, err
	}
	location := e.LocationName
	if location == "" {
		location = e.LocationCode
	}
	draft := notification.Draft{
		Type:     notification.TypeLowStock,
		Severity: domain.SeverityWarning,
		Title:    notification.Clip("Low stock: "+e.Name, notification.MaxTitleLen),
		Body: fmt.Sprintf("%s (%s) is down to %d on hand, below its reorder level of %d (last movement at %s).",
			e.Name, e.SKU, e.OnHand, e.ReorderLevel, location),
		ActionURL: "/products/" + e.ProductID,
		Data: LowStockData{
			ProductID: e.ProductID, SKU: e.SKU, Name: e.Name,
			CurrentQuantity: e.OnHand, MinimumQuantity: e.ReorderLevel,
			LocationID: e.LocationID, Location: location, EventID: ev.ID,
		},
	}
	return draft, nil
}
