package listeners

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/procurement"
)

// PurchaseOrderStore is what NotifyPurchaseOrderApproval reads: the users
// it addresses.
type PurchaseOrderStore interface {
	Store
	// GetUser returns domain.ErrNotFound for a user the tenant does not know.
	GetUser(ctx context.Context, tenant domain.TenantID, id domain.UserID) (domain.User, error)
	// UsersWithPermission lists the tenant's users holding perm (or admin).
	UsersWithPermission(ctx context.Context, tenant domain.TenantID, perm string) ([]domain.User, error)
}

// PurchaseOrderNotifier sends to chosen users (notification.Service has it).
type PurchaseOrderNotifier interface {
	SendToUsers(ctx context.Context, tenant domain.TenantID, users []domain.UserID, d notification.Draft) ([]domain.Notification, error)
}

// NotifyPurchaseOrderApproval tells the requester of a purchase order and
// the holders of procurement.approve that it was approved: one
// notification per user, also when the requester holds the permission.
type NotifyPurchaseOrderApproval struct {
	Store    PurchaseOrderStore
	Notifier PurchaseOrderNotifier
}

func (NotifyPurchaseOrderApproval) Name() string { return "NotifyPurchaseOrderApproval" }
func (NotifyPurchaseOrderApproval) Events() []string {
	return []string{procurement.PurchaseOrderApproved{}.EventType()}
}

// PurchaseOrderApprovedData is the structured data of a
// PurchaseOrderApprovedNotification.
type PurchaseOrderApprovedData struct {
	PurchaseOrderID string          `json:"purchase_order_id"`
	Number          string          `json:"number"`
	VendorID        string          `json:"vendor_id"`
	VendorName      string          `json:"vendor_name"`
	Total           decimal.Decimal `json:"total"`
	ApprovedBy      string          `json:"approved_by"`
}

func (l NotifyPurchaseOrderApproval) Handle(ctx context.Context, ev domain.Event) error {
	var e procurement.PurchaseOrderApproved
	if err := ev.Decode(&e); err != nil {
		return err
	}
	return once(ctx, l.Store, l.Name(), ev, func(ctx context.Context) error {
		users, err := l.recipients(ctx, ev.TenantID, domain.UserID(e.RequestedBy))
		if err != nil || len(users) == 0 {
			return err
		}
		draft, err := l.draft(ctx, ev.TenantID, e)
		if err != nil {
			return err
		}
		_, err = l.Notifier.SendToUsers(ctx, ev.TenantID, users, draft)
		return err
	})
}

// recipients is the requester, when the tenant knows them, then every
// holder of procurement.approve, each once.
func (l NotifyPurchaseOrderApproval) recipients(ctx context.Context, tenant domain.TenantID, requester domain.UserID) ([]domain.UserID, error) {
	var out []domain.UserID
	seen := map[domain.UserID]bool{}
	if requester != "" {
		_, err := l.Store.GetUser(ctx, tenant, requester)
		switch {
		case err == nil:
			out, seen[requester] = append(out, requester), true
		case !errors.Is(err, domain.ErrNotFound):
			return nil, err
		}
	}
	approvers, err := l.Store.UsersWithPermission(ctx, tenant, domain.PermProcurementApprove)
	if err != nil {
		return nil, err
	}
	for _, u := range approvers {
		if !seen[u.ID] {
			out, seen[u.ID] = append(out, u.ID), true
		}
	}
	return out, nil
}

func (l NotifyPurchaseOrderApproval) draft(ctx context.Context, tenant domain.TenantID, e procurement.PurchaseOrderApproved) (notification.Draft, error) {
	// Name the approver as people know them; their id when the tenant
	// does not know them (yet).
	approver := e.ApprovedBy
	if u, err := l.Store.GetUser(ctx, tenant, domain.UserID(e.ApprovedBy)); err == nil && u.Name != "" {
		approver = u.Name
	} else if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return notification.Draft{}, err
	}
	return notification.Draft{
		Type:     notification.TypePurchaseOrderApproved,
		Severity: domain.SeveritySuccess,
		Title:    notification.Clip(fmt.Sprintf("Purchase order %s approved", e.Number), notification.MaxTitleLen),
		Body: notification.Clip(fmt.Sprintf("%s to %s, total %s, was approved by %s.",
			e.Number, e.VendorName, purchaseOrderAmount(e.Total), approver), 1000),
		ActionURL: "/purchase-orders/" + e.PurchaseOrderID,
		Data: PurchaseOrderApprovedData{
			PurchaseOrderID: e.PurchaseOrderID, Number: e.Number, VendorID: e.VendorID,
			VendorName: e.VendorName, Total: e.Total, ApprovedBy: e.ApprovedBy,
		},
	}, nil
}

// purchaseOrderAmount shows an amount with two decimals, or all of them
// when it has more (0.0125 is not 0.01).
func purchaseOrderAmount(d decimal.Decimal) string {
	if d.Equal(d.Round(2)) {
		return d.StringFixed(2)
	}
	return d.String()
}
