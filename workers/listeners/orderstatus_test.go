package listeners_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/hub/broker/memory"
	"github.com/notifyhub/notifyhub/workers/listeners"
)

func TestNotifyOrderStatus(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			w := newSaleWorld(t, s)
			ctx := context.Background()
			for _, u := range []domain.User{
				{TenantID: "acme", ID: "sam", Perms: []string{domain.PermSalesManage}},
				{TenantID: "acme", ID: "boss", Perms: []string{domain.PermAdmin}},
				{TenantID: "globex", ID: "sam", Perms: []string{domain.PermAdmin}},
			} {
				require.NoError(t, s.UpsertUser(ctx, u))
			}
			fan, err := memory.New(memory.Config{})
			require.NoError(t, err)
			l := listeners.NotifyOrderStatus{Store: s, Users: s, Notifier: notification.NewService(s, fan, nil, nil)}

			c := w.customer("acme", "Buyer")
			chair := w.product("acme", "CH-1", 0)
			w.stock("acme", chair, "", 5)
			o := w.order("acme", "sam", c.ID, sales.LineInput{ProductID: chair.ID, Quantity: 2, UnitPrice: decimalPtr("12.50")})
			w.approve("acme", o.ID)
			approved := w.lastEvent("acme", "OrderApproved")
			require.NoError(t, l.Handle(ctx, approved))
			require.NoError(t, l.Handle(ctx, approved), "a redelivered event is not an error")

			got := inbox(t, s, "acme", "sam")
			require.Len(t, got, 1, "the creator is told once")
			n := got[0]
			require.Equal(t, notification.TypeOrderStatus, n.Type)
			require.Equal(t, domain.SeverityInfo, n.Severity)
			require.Equal(t, "Order "+o.Number+" approved", n.Title)
			require.Contains(t, n.Body, "by boss")
			require.Equal(t, "/orders/"+o.ID, n.ActionURL)
			var data map[string]any
			require.NoError(t, json.Unmarshal(n.Data, &data))
			require.Equal(t, map[string]any{"order_id": o.ID, "number": o.Number, "status": "approved",
				"customer_id": c.ID, "total": "25"}, data)

			w.fulfill("acme", o.ID)
			fulfilled := w.lastEvent("acme", "OrderFulfilled")
			require.NoError(t, l.Handle(ctx, fulfilled))
			require.NoError(t, l.Handle(ctx, fulfilled))
			got = inbox(t, s, "acme", "sam")
			require.Len(t, got, 2)
			require.Equal(t, domain.SeveritySuccess, got[0].Severity, "newest first")
			require.Equal(t, "Order "+o.Number+" fulfilled", got[0].Title)
			require.NoError(t, json.Unmarshal(got[0].Data, &data))
			require.Equal(t, "fulfilled", data["status"])

			// Nobody else hears of it: not the approver, not the user with
			// the same id in another tenant.
			require.Empty(t, inbox(t, s, "acme", "boss"))
			require.Empty(t, inbox(t, s, "globex", "sam"))

			// An order made by a user the tenant does not know: skipped.
			o2 := w.order("acme", "ghost", c.ID, sales.LineInput{ProductID: chair.ID, Quantity: 1})
			w.approve("acme", o2.ID)
			require.NoError(t, l.Handle(ctx, w.lastEvent("acme", "OrderApproved")))
			require.Empty(t, inbox(t, s, "acme", "ghost"))
			require.Len(t, inbox(t, s, "acme", "sam"), 2)

			// Malformed payloads are permanent failures.
			bad := approved
			bad.ID = domain.NewID()
			bad.Payload = json.RawMessage(`{"order_id": 1}`)
			require.True(t, domain.Permanent(l.Handle(ctx, bad)))
			bad.Payload = json.RawMessage(`{"order_id": "../../admin", "created_by": "sam"}`)
			require.True(t, domain.Permanent(l.Handle(ctx, bad)))
			require.Len(t, inbox(t, s, "acme", "sam"), 2)
		})
	}
}
