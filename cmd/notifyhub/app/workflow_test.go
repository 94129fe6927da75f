package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/workers/mail/mailtest"
)

// The ERP workflows of issue 3, end to end over the public API, in both
// modes: order to cash (invoice generated once, mailed, creator told live;
// stock out on fulfilment raising low stock for the right users only;
// customer statistics exact), then every event replayed, which changes
// nothing.

type customerJSON struct {
	ID         string `json:"id"`
	Statistics struct {
		TotalOrders        int64           `json:"total_orders"`
		TotalSpent         decimal.Decimal `json:"total_spent"`
		OutstandingBalance decimal.Decimal `json:"outstanding_balance"`
		LastOrderAt        *string         `json:"last_order_at"`
		LastPaymentAt      *string         `json:"last_payment_at"`
	} `json:"statistics"`
}

type orderJSON struct {
	ID     string          `json:"id"`
	Number string          `json:"number"`
	Status string          `json:"status"`
	Total  decimal.Decimal `json:"total"`
}

type invoiceJSON struct {
	ID          string          `json:"id"`
	Number      string          `json:"number"`
	OrderID     string          `json:"order_id"`
	Status      string          `json:"status"`
	Total       decimal.Decimal `json:"total"`
	AmountPaid  decimal.Decimal `json:"amount_paid"`
	Outstanding decimal.Decimal `json:"outstanding"`
	DueDate     string          `json:"due_date"`
}

// eventually polls check until it holds, failing the test after 30 s.
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// invoicesOf lists the invoices of an order.
func invoicesOf(t *testing.T, a *app.App, tok, orderID string) []invoiceJSON {
	t.Helper()
	var page struct {
		Data []invoiceJSON `json:"data"`
	}
	call(t, a, tok, "GET", "/api/v1/invoices?order_id="+orderID, nil, http.StatusOK, &page)
	return page.Data
}

// inboxOf returns a user's notifications, newest first.
func inboxOf(t *testing.T, a *app.App, tok string) []notificationJSON {
	t.Helper()
	var page struct {
		Data []notificationJSON `json:"data"`
	}
	call(t, a, tok, "GET", "/api/v1/notifications?limit=200", nil, http.StatusOK, &page)
	return page.Data
}

// waitMail waits until n mails have arrived and returns them.
func waitMail(t *testing.T, srv *mailtest.Server, n int) []mailtest.Received {
	t.Helper()
	var got []mailtest.Received
	eventually(t, "mail", func() bool { got = srv.Received(); return len(got) >= n })
	return got
}

func countType(ns []notificationJSON, typ string) int {
	n := 0
	for _, x := range ns {
		if x.Type == typ {
			n++
		}
	}
	return n
}

// collect reads the socket until it has seen exactly the wanted number of
// notifications of each type (in any order) and returns them by type; a
// type not wanted, or one more than wanted, fails the test.
func (c *client) collect(want map[string]int) map[string][]notificationJSON {
	c.t.Helper()
	total := 0
	for _, n := range want {
		total += n
	}
	got := map[string][]notificationJSON{}
	for seen := 0; seen < total; seen++ {
		n := c.nextNotification()
		require.Less(c.t, len(got[n.Type]), want[n.Type], "unexpected notification %s %q", n.Type, n.Title)
		got[n.Type] = append(got[n.Type], n)
	}
	return got
}

func TestOrderToCashWorkflow(t *testing.T) {
	t.Parallel()
	for _, m := range []mode{embedded(), distributed()} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			mail := mailtest.Start(t, mailtest.Options{})
			cfg := m.cfg(t)
			cfg.SMTPURL = "smtp://" + mail.Addr
			cfg.MailFrom = "billing@acme.example"
			a := start(t, cfg)
			began := time.Now().Add(-time.Second)

			admin := token(t, a, "acme", "alice", domain.PermAdmin)
			carolTok := token(t, a, "acme", "carol", domain.PermSalesManage, domain.PermCRMManage)
			erinTok := token(t, a, "acme", "erin", domain.PermSalesApprove)
			frankTok := token(t, a, "acme", "frank", domain.PermInvoicesManage)
			bobTok := token(t, a, "acme", "bob", domain.PermInventoryAlerts)
			carol := dial(t, a, carolTok, "")
			bob := dial(t, a, bobTok, "")
			frank := dial(t, a, frankTok, "")
			dave := dial(t, a, token(t, a, "acme", "dave"), "")
			otherCarol := dial(t, a, token(t, a, "globex", "carol", domain.PermAdmin), "")
			for _, c := range []*client{carol, bob, frank, dave, otherCarol} {
				require.Equal(t, "unread_count", c.next().Type)
			}

			var chair, desk productJSON
			call(t, a, admin, "POST", "/api/v1/products", map[string]any{
				"sku": "CH-1", "name": "Oak chair", "price": "25.00", "reorder_level": 10}, http.StatusCreated, &chair)
			call(t, a, admin, "POST", "/api/v1/products", map[string]any{
				"sku": "DK-1", "name": "Desk", "price": "33.3333", "reorder_level": 5}, http.StatusCreated, &desk)
			movement(t, a, admin, chair.ID, 12)
			movement(t, a, admin, desk.ID, 9)

			var cust customerJSON
			call(t, a, carolTok, "POST", "/api/v1/customers", map[string]any{
				"name": "Initech <GmbH>", "email": "ap@initech.example"}, http.StatusCreated, &cust)
			var order orderJSON
			call(t, a, carolTok, "POST", "/api/v1/orders", map[string]any{
				"customer_id": cust.ID,
				"lines": []map[string]any{
					{"product_id": chair.ID, "quantity": 4, "unit_price": "25.00"},
					{"product_id": desk.ID, "quantity": 3, "unit_price": "33.3333"},
				},
			}, http.StatusCreated, &order)
			require.Equal(t, "pending", order.Status)
			require.Equal(t, "199.9999", order.Total.StringFixed(4))

			// Workflow 1: approval → one invoice → mailed → the creator sees it live.
			call(t, a, erinTok, "POST", "/api/v1/orders/"+order.ID+"/approve", nil, http.StatusOK, nil)
			seen := carol.collect(map[string]int{notification.TypeOrderStatus: 1, notification.TypeInvoiceGenerated: 1})
			require.Equal(t, "info", seen[notification.TypeOrderStatus][0].Severity)
			invNote := seen[notification.TypeInvoiceGenerated][0]
			var invs []invoiceJSON
			eventually(t, "the invoice", func() bool { invs = invoicesOf(t, a, admin, order.ID); return len(invs) == 1 })
			inv := invs[0]
			require.Equal(t, "/invoices/"+inv.ID, invNote.ActionURL)
			require.Equal(t, "199.9999", inv.Total.StringFixed(4))
			require.Equal(t, "open", inv.Status)
			msgs := waitMail(t, mail, 1)
			require.Equal(t, []string{"ap@initech.example"}, msgs[0].To)
			require.Contains(t, msgs[0].Text(t), inv.Number)
			require.Contains(t, msgs[0].Text(t), "199.9999")

			// Workflow 2: fulfilment takes the chairs out (12 → 8, below 10):
			// bob, holding inventory.alerts, sees low stock; the others do not.
			call(t, a, carolTok, "POST", "/api/v1/orders/"+order.ID+"/fulfill", nil, http.StatusOK, nil)
			require.Equal(t, "success", carol.collect(map[string]int{notification.TypeOrderStatus: 1})[notification.TypeOrderStatus][0].Severity)
			low := bob.collect(map[string]int{notification.TypeLowStock: 1})[notification.TypeLowStock][0]
			require.Equal(t, "/products/"+chair.ID, low.ActionURL)
			var p productJSON
			call(t, a, admin, "GET", "/api/v1/products/"+chair.ID, nil, http.StatusOK, &p)
			require.EqualValues(t, 8, p.OnHand)

			// Payments: 100 then 99.9999 settle the invoice exactly; an
			// over-payment is refused.
			call(t, a, frankTok, "POST", "/api/v1/invoices/"+inv.ID+"/payments",
				map[string]any{"amount": "100.00", "method": "bank_transfer", "reference": "TX-1"}, http.StatusCreated, nil)
			call(t, a, frankTok, "POST", "/api/v1/invoices/"+inv.ID+"/payments",
				map[string]any{"amount": "100.00", "method": "bank_transfer", "reference": "TX-2"}, http.StatusUnprocessableEntity, nil)
			call(t, a, frankTok, "POST", "/api/v1/invoices/"+inv.ID+"/payments",
				map[string]any{"amount": "99.9999", "method": "card", "reference": "TX-3"}, http.StatusCreated, nil)
			frank.collect(map[string]int{notification.TypePaymentReceived: 2})
			eventually(t, "the invoice paid", func() bool { return invoicesOf(t, a, admin, order.ID)[0].Status == "paid" })

			// Workflow 3: the customer's statistics are exact.
			stats := func() customerJSON {
				var c customerJSON
				call(t, a, carolTok, "GET", "/api/v1/customers/"+cust.ID, nil, http.StatusOK, &c)
				return c
			}
			eventually(t, "customer statistics", func() bool {
				c := stats()
				return c.Statistics.TotalOrders == 1 && c.Statistics.TotalSpent.String() == "199.9999" &&
					c.Statistics.OutstandingBalance.IsZero() && c.Statistics.LastPaymentAt != nil
			})
			before := stats()
			require.NotNil(t, before.Statistics.LastOrderAt)

			// Nobody else received anything: dave and the other tenant's
			// admin get a marker sent now as their first notification.
			for _, who := range []struct {
				c      *client
				tenant domain.TenantID
				user   domain.UserID
			}{{dave, "acme", "dave"}, {otherCarol, "globex", "carol"}} {
				_, err := a.Notifications.SendToUsers(context.Background(), who.tenant, []domain.UserID{who.user},
					notification.Draft{Type: notification.TypeAlert, Severity: domain.SeverityInfo, Title: "marker"})
				require.NoError(t, err)
				require.Equal(t, "marker", who.c.nextNotification().Title, "%s/%s received someone else's notification", who.tenant, who.user)
			}

			// Replay every event published so far. Then a second order runs
			// through every listener; each listener group handles its stream
			// in order, so once its effect of the second order shows, it has
			// handled all the replays.
			n, err := a.Store().RequeuePublished(context.Background(), began)
			require.NoError(t, err)
			require.Positive(t, n)
			var cust2 customerJSON
			call(t, a, carolTok, "POST", "/api/v1/customers", map[string]any{"name": "Hooli", "email": "ap@hooli.example"}, http.StatusCreated, &cust2)
			var order2 orderJSON
			call(t, a, carolTok, "POST", "/api/v1/orders", map[string]any{
				"customer_id": cust2.ID,
				"lines":       []map[string]any{{"product_id": desk.ID, "quantity": 5, "unit_price": "10"}},
			}, http.StatusCreated, &order2)
			call(t, a, erinTok, "POST", "/api/v1/orders/"+order2.ID+"/approve", nil, http.StatusOK, nil)
			var inv2 []invoiceJSON
			eventually(t, "the second invoice", func() bool { inv2 = invoicesOf(t, a, admin, order2.ID); return len(inv2) == 1 })
			call(t, a, carolTok, "POST", "/api/v1/orders/"+order2.ID+"/fulfill", nil, http.StatusOK, nil)
			call(t, a, frankTok, "POST", "/api/v1/invoices/"+inv2[0].ID+"/payments",
				map[string]any{"amount": "50", "method": "cash", "reference": ""}, http.StatusCreated, nil)
			// Sentinels: desk 6 → 1 crosses below 5 (bob), the second
			// order's notifications (carol, frank), its mail, its statistics.
			require.Equal(t, "/products/"+desk.ID, bob.collect(map[string]int{notification.TypeLowStock: 1})[notification.TypeLowStock][0].ActionURL)
			// carol made both orders: she is also told of every payment,
			// the first order's two still unread on her socket.
			carol.collect(map[string]int{notification.TypeOrderStatus: 2, notification.TypeInvoiceGenerated: 1, notification.TypePaymentReceived: 3})
			frank.collect(map[string]int{notification.TypePaymentReceived: 1})
			waitMail(t, mail, 2)
			eventually(t, "second customer's statistics", func() bool {
				var c customerJSON
				call(t, a, carolTok, "GET", "/api/v1/customers/"+cust2.ID, nil, http.StatusOK, &c)
				return c.Statistics.TotalSpent.String() == "50" && c.Statistics.LastPaymentAt != nil
			})

			// The replays changed nothing.
			require.Len(t, invoicesOf(t, a, admin, order.ID), 1)
			require.Len(t, mail.Received(), 2, "one mail per invoice")
			call(t, a, admin, "GET", "/api/v1/products/"+chair.ID, nil, http.StatusOK, &p)
			require.EqualValues(t, 8, p.OnHand, "the first order's stock went out once")
			call(t, a, admin, "GET", "/api/v1/products/"+desk.ID, nil, http.StatusOK, &p)
			require.EqualValues(t, 1, p.OnHand)
			after := stats()
			require.Equal(t, before.Statistics, after.Statistics)
			carolInbox := inboxOf(t, a, carolTok)
			require.Equal(t, 4, countType(carolInbox, notification.TypeOrderStatus))
			require.Equal(t, 2, countType(carolInbox, notification.TypeInvoiceGenerated))
			require.Equal(t, 3, countType(inboxOf(t, a, frankTok), notification.TypePaymentReceived))
			require.Equal(t, 2, countType(inboxOf(t, a, bobTok), notification.TypeLowStock))
			var body map[string]any
			require.NoError(t, json.Unmarshal(invNote.Data, &body))
			require.Equal(t, inv.Number, body["number"])
			require.False(t, strings.Contains(string(invNote.Data), "globex"))
		})
	}
}
