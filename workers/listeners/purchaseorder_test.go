package listeners_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/hub/broker/memory"
	"github.com/notifyhub/notifyhub/workers/listeners"
)

// approvedOrder runs the real commands: a buyer orders, an approver
// approves; it returns the PurchaseOrderApproved event they wrote.
func approvedOrder(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, requester, approver domain.UserID) (procurement.PurchaseOrder, domain.Event) {
	t.Helper()
	ctx := context.Background()
	buyer := domain.Actor{TenantID: tenant, UserID: requester, Perms: []string{domain.PermProcurementManage, domain.PermProductsManage}}
	svc := procurement.NewService(s, inventory.NewService(s, nil), nil)
	price, cost := decimal.RequireFromString("3"), decimal.RequireFromString("12.5")
	p, err := product.NewService(s, nil).Create(ctx, buyer, product.CreateInput{SKU: "BOLT", Name: "Bolt", Price: &price})
	require.NoError(t, err)
	v, err := svc.CreateVendor(ctx, buyer, procurement.VendorInput{Name: `Steel "&" <Co>`})
	require.NoError(t, err)
	po, err := svc.CreatePurchaseOrder(ctx, buyer, procurement.CreateInput{VendorID: v.ID,
		Lines: []procurement.LineInput{{ProductID: p.ID, Quantity: 4, UnitCost: &cost}}})
	require.NoError(t, err)
	_, err = svc.Approve(ctx, domain.Actor{TenantID: tenant, UserID: approver, Perms: []string{domain.PermProcurementApprove}}, po.ID)
	require.NoError(t, err)
	evs, err := s.ListEvents(ctx, tenant, "PurchaseOrderApproved", "", 10)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	return po, evs[0]
}

func TestNotifyPurchaseOrderApproval(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			for _, u := range []domain.User{
				{TenantID: "acme", ID: "bea", Name: "Bea", Perms: []string{domain.PermProcurementManage, domain.PermProcurementApprove}},
				{TenantID: "acme", ID: "abe", Name: "Abe Approver", Perms: []string{domain.PermProcurementApprove}},
				{TenantID: "acme", ID: "ada", Perms: []string{domain.PermAdmin}},
				{TenantID: "acme", ID: "carl", Perms: []string{domain.PermSalesManage, domain.PermProcurementManage}},
				{TenantID: "globex", ID: "bea", Perms: []string{domain.PermProcurementApprove}},
				{TenantID: "globex", ID: "abe", Perms: []string{domain.PermAdmin}},
			} {
				require.NoError(t, s.UpsertUser(ctx, u))
			}
			fan, err := memory.New(memory.Config{})
			require.NoError(t, err)
			l := listeners.NotifyPurchaseOrderApproval{Store: s, Notifier: notification.NewService(s, fan, nil, nil)}
			require.Equal(t, []string{"PurchaseOrderApproved"}, l.Events())
			po, ev := approvedOrder(t, s, "acme", "bea", "abe")

			require.NoError(t, l.Handle(ctx, ev))
			require.NoError(t, l.Handle(ctx, ev), "a redelivered event is not an error")

			for _, user := range []domain.UserID{"bea", "abe", "ada"} {
				got := inbox(t, s, "acme", user)
				require.Len(t, got, 1, "%s is told exactly once", user)
				n := got[0]
				require.Equal(t, notification.TypePurchaseOrderApproved, n.Type)
				require.Equal(t, domain.SeveritySuccess, n.Severity)
				require.Equal(t, "Purchase order PO-000001 approved", n.Title)
				require.Equal(t, `PO-000001 to Steel "&" <Co>, total 50.00, was approved by Abe Approver.`, n.Body)
				require.Equal(t, "/purchase-orders/"+po.ID, n.ActionURL)
				var data map[string]any
				require.NoError(t, json.Unmarshal(n.Data, &data))
				require.Equal(t, map[string]any{
					"purchase_order_id": po.ID, "number": "PO-000001", "vendor_id": po.VendorID,
					"vendor_name": `Steel "&" <Co>`, "total": "50", "approved_by": "abe",
				}, data)
			}
			require.Empty(t, inbox(t, s, "acme", "carl"), "neither requester nor approver")
			for _, user := range []domain.UserID{"bea", "abe"} {
				require.Empty(t, inbox(t, s, "globex", user), "another tenant's namesakes get nothing")
			}

			// A malformed payload is an error for the runner, never a panic.
			bad := ev
			bad.ID = domain.NewID()
			bad.Payload = json.RawMessage(`{"total": {"nope": 1}}`)
			err = l.Handle(ctx, bad)
			require.Error(t, err)
			require.True(t, domain.Permanent(err))
		})
	}
}

func TestPurchaseOrderApprovalSkipsUnknownUsers(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: "acme", ID: "abe", Perms: []string{domain.PermProcurementApprove}}))
			fan, err := memory.New(memory.Config{})
			require.NoError(t, err)
			l := listeners.NotifyPurchaseOrderApproval{Store: s, Notifier: notification.NewService(s, fan, nil, nil)}
			// The requester and the approver are unknown to the store (they
			// never signed in): the requester is skipped, the approver is
			// named by id.
			_, ev := approvedOrder(t, s, "acme", "ghost", "api-client")
			require.NoError(t, l.Handle(ctx, ev))
			got := inbox(t, s, "acme", "abe")
			require.Len(t, got, 1)
			require.Contains(t, got[0].Body, "approved by api-client.")
			require.Empty(t, inbox(t, s, "acme", "ghost"))

			// Nobody to tell at all is not an error either.
			empty := storetest.OpenSQLite(t)
			l.Store = empty
			l.Notifier = notification.NewService(empty, fan, nil, nil)
			ev.ID = domain.NewID()
			ev.OccurredAt = time.Now()
			require.NoError(t, l.Handle(ctx, ev))
		})
	}
}
