package listeners

import (
	"context"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// SendStockExpiryAlert tells the holders of inventory.alerts that a batch
// nears (or passed) its expiry date. The detector raises each batch once
// per threshold, so each threshold makes one notification.
type SendStockExpiryAlert struct {
	Store    Store
	Notifier Notifier
}

func (SendStockExpiryAlert) Name() string { return "SendStockExpiryAlert" }
func (SendStockExpiryAlert) Events() []string {
	return []string{inventory.StockExpiring{}.EventType()}
}

// StockExpiryData is the structured data of a StockExpiryNotification.
type StockExpiryData struct {
	ProductID     string `json:"product_id"`
	SKU           string `json:"sku"`
	Name          string `json:"name"`
	LocationID    string `json:"location_id"`
	LocationCode  string `json:"location_code"`
	BatchNumber   string `json:"batch_number"`
	ExpiryDate    string `json:"expiry_date"`
	Quantity      int64  `json:"quantity"`
	DaysRemaining int    `json:"days_remaining"`
	Threshold     int    `json:"threshold"`
	EventID       string `json:"event_id"`
}

// ExpirySeverity is the severity of a StockExpiryNotification (DESIGN.md
// §4.4): critical within 7 days (or expired), warning within 30, info
// beyond.
func ExpirySeverity(daysRemaining int) domain.Severity {
	switch {
	case daysRemaining <= 7:
		return domain.SeverityCritical
	case daysRemaining <= 30:
		return domain.SeverityWarning
	}
	return domain.SeverityInfo
}

// expiryTitle reads "Batch L-42 of Oak chair expires in 5 days".
func expiryTitle(e inventory.StockExpiring) string {
	what := "Stock of " + e.Name
	if e.BatchNumber != "" {
		what = "Batch " + e.BatchNumber + " of " + e.Name
	}
	switch {
	case e.DaysRemaining < 0:
		return what + " expired"
	case e.DaysRemaining == 0:
		return what + " expires today"
	case e.DaysRemaining == 1:
		return what + " expires tomorrow"
	}
	return fmt.Sprintf("%s expires in %d days", what, e.DaysRemaining)
}

func expiryBody(e inventory.StockExpiring) string {
	batch := ""
	if e.BatchNumber != "" {
		batch = ", batch " + e.BatchNumber
	}
	when := "expire on " + e.ExpiryDate
	switch {
	case e.DaysRemaining < 0:
		when = fmt.Sprintf("expired on %s, %s ago", e.ExpiryDate, countOf(-e.DaysRemaining, "day"))
	case e.DaysRemaining == 0:
		when = "expire today (" + e.ExpiryDate + ")"
	}
	return fmt.Sprintf("%s of %s (%s%s) at %s %s.",
		countOf(int(e.Quantity), "unit"), e.Name, e.SKU, batch, e.LocationCode, when)
}

func countOf(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func (l SendStockExpiryAlert) Handle(ctx context.Context, ev domain.Event) error {
	draft, err := stockExpiryDraft(ev)
	if err != nil {
		return err
	}
	return once(ctx, l.Store, l.Name(), ev, func(ctx context.Context) error {
		_, err := l.Notifier.SendToPermission(ctx, ev.TenantID, domain.PermInventoryAlerts, draft)
		return err
	})
}

// HandleBatch handles several events in one transaction (a group commit).
func (l SendStockExpiryAlert) HandleBatch(ctx context.Context, evs []domain.Event) error {
	return sendToPermissionEachOnce(ctx, l.Store, l.Notifier, l.Name(), domain.PermInventoryAlerts, evs, stockExpiryDraft)
}

func stockExpiryDraft(ev domain.Event) (notification.Draft, error) {
	var e inventory.StockExpiring
	if err := ev.Decode(&e); err != nil {
		return notification.Draft{}, err
	}
	draft := notification.Draft{
		Type:      notification.TypeStockExpiry,
		Severity:  ExpirySeverity(e.DaysRemaining),
		Title:     notification.Clip(expiryTitle(e), notification.MaxTitleLen),
		Body:      expiryBody(e),
		ActionURL: "/products/" + e.ProductID,
		Data: StockExpiryData{
			ProductID: e.ProductID, SKU: e.SKU, Name: e.Name, LocationID: e.LocationID,
			LocationCode: e.LocationCode, BatchNumber: e.BatchNumber, ExpiryDate: e.ExpiryDate,
			Quantity: e.Quantity, DaysRemaining: e.DaysRemaining, Threshold: e.Threshold, EventID: ev.ID,
		},
	}
	return draft, nil
}
