package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/mail/mailtest"
)

// TestApprovedOrderIsInvoicedMailedAndPaid: in each mode, an OrderApproved
// in the outbox becomes an invoice, a notification to the order's creator
// and an e-mail to the customer; a payment through the API settles it and
// tells the invoice managers.
func TestApprovedOrderIsInvoicedMailedAndPaid(t *testing.T) {
	t.Parallel()
	for _, m := range []mode{embedded(), distributed()} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			srv := mailtest.Start(t, mailtest.Options{})
			cfg := m.cfg(t)
			cfg.SMTPURL, cfg.MailFrom = "smtp://"+srv.Addr, "Acme Billing <billing@acme.example>"
			a := start(t, cfg)
			ctx := context.Background()

			sam := dial(t, a, token(t, a, "acme", "sam", domain.PermSalesManage), "")
			clerkTok := token(t, a, "acme", "clerk", domain.PermInvoicesManage)
			clerk := dial(t, a, clerkTok, "")
			for _, c := range []*client{sam, clerk} {
				require.Equal(t, "unread_count", c.next().Type) // the user is known from here on
			}

			o := storetest.SeedOrder(t, a.Store(), "acme", storetest.OrderSeed{
				CustomerName: "Ann", CustomerEmail: "ann@example.test", PaymentTermsDays: 30, CreatedBy: "sam",
				Lines: []storetest.SeedLine{{Name: "Oak chair", Quantity: 2, UnitPrice: "49.995"}},
			})
			ev, err := domain.NewEvent("acme", "boss", time.Now(), sales.OrderApproved{
				OrderID: o.OrderID, Number: o.Number, CustomerID: o.CustomerID, Total: o.Total, CreatedBy: "sam", ApprovedBy: "boss"})
			require.NoError(t, err)
			require.NoError(t, a.Store().InTx(ctx, func(ctx context.Context) error { return a.Store().AppendEvents(ctx, ev) }))

			// NotifyOrderStatus tells sam of the approval too, in any order.
			n := sam.collect(map[string]int{"InvoiceGeneratedNotification": 1, "OrderStatusNotification": 1})["InvoiceGeneratedNotification"][0]
			var data struct {
				InvoiceID string `json:"invoice_id"`
				Number    string `json:"number"`
				Total     string `json:"total"`
			}
			require.NoError(t, json.Unmarshal(n.Data, &data))
			require.Equal(t, "INV-000001", data.Number)
			require.Equal(t, "99.99", data.Total)
			require.Equal(t, "/invoices/"+data.InvoiceID, n.ActionURL)

			mails := srv.Wait(t, 1)
			require.Equal(t, []string{"ann@example.test"}, mails[0].To)
			require.Contains(t, mails[0].Subject(t), "INV-000001")
			require.Contains(t, mails[0].Text(t), "2 × 49.995 = 99.99")

			// The delivery is recorded right after the server accepted it.
			var inv struct {
				ID         string `json:"id"`
				Status     string `json:"status"`
				Total      string `json:"total"`
				Deliveries []struct {
					Status string `json:"status"`
				} `json:"deliveries"`
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				call(t, a, clerkTok, "GET", "/api/v1/invoices/"+data.InvoiceID, nil, http.StatusOK, &inv)
				if len(inv.Deliveries) == 1 && inv.Deliveries[0].Status == "sent" {
					break
				}
				require.True(t, time.Now().Before(deadline), "delivery not recorded as sent: %+v", inv.Deliveries)
				time.Sleep(20 * time.Millisecond)
			}

			call(t, a, clerkTok, "POST", "/api/v1/invoices/"+inv.ID+"/payments",
				map[string]any{"amount": "99.99", "method": "card", "reference": "POS 1"}, http.StatusCreated, nil)
			for _, c := range []*client{clerk, sam} {
				n := c.nextNotification()
				require.Equal(t, "PaymentReceivedNotification", n.Type)
				require.Equal(t, "success", n.Severity)
			}
			call(t, a, clerkTok, "GET", "/api/v1/invoices/"+inv.ID, nil, http.StatusOK, &inv)
			require.Equal(t, "paid", inv.Status)
			require.Len(t, srv.Received(), 1, "one e-mail")
		})
	}
}

func TestMailConfigIsChecked(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "nh.db")
	_, err := app.New(context.Background(), app.Config{Addr: "127.0.0.1:0", DatabaseURL: db, SMTPURL: "smtp://mail.example.test"})
	require.ErrorContains(t, err, "NOTIFYHUB_MAIL_FROM")
	_, err = app.New(context.Background(), app.Config{Addr: "127.0.0.1:0", DatabaseURL: db,
		SMTPURL: "smtp://u:hunter2 x@mail.example.test", MailFrom: "billing@example.test"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
	_, err = app.New(context.Background(), app.Config{Addr: "127.0.0.1:0", DatabaseURL: db,
		SMTPURL: "ftp://u:hunter2@mail.example.test", MailFrom: "billing@example.test"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
}
