package listeners_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/hub/broker/memory"
	"github.com/notifyhub/notifyhub/workers/listeners"
	"github.com/notifyhub/notifyhub/workers/mail"
	"github.com/notifyhub/notifyhub/workers/mail/mailtest"
)

// invoicing is a store with the real invoice and notification services.
type invoicing struct {
	store    *sqlstore.Store
	invoices *invoice.Service
	notes    *notification.Service
}

func newInvoicing(t *testing.T, s *sqlstore.Store, users ...domain.User) invoicing {
	t.Helper()
	for _, u := range users {
		require.NoError(t, s.UpsertUser(context.Background(), u))
	}
	fan, err := memory.New(memory.Config{})
	require.NoError(t, err)
	return invoicing{store: s, invoices: invoice.NewService(s, nil), notes: notification.NewService(s, fan, nil, nil)}
}

// approved is the OrderApproved event of a seeded order.
func approved(t *testing.T, tenant domain.TenantID, o storetest.SeededOrder) domain.Event {
	t.Helper()
	ev, err := domain.NewEvent(tenant, "boss", time.Now(), sales.OrderApproved{
		OrderID: o.OrderID, Number: o.Number, CustomerID: o.CustomerID, Total: o.Total, ApprovedBy: "boss"})
	require.NoError(t, err)
	return ev
}

// eventsOf lists the tenant's events of one type.
func eventsOf(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, typ string) []domain.Event {
	t.Helper()
	evs, err := s.ListEvents(context.Background(), tenant, typ, "", 200)
	require.NoError(t, err)
	return evs
}

// generated seeds an order, invoices it and returns the InvoiceGenerated event.
func (f invoicing) generated(t *testing.T, tenant domain.TenantID, seed storetest.OrderSeed) (invoice.Invoice, domain.Event) {
	t.Helper()
	o := storetest.SeedOrder(t, f.store, tenant, seed)
	inv, err := f.invoices.GenerateForOrder(context.Background(), tenant, o.OrderID)
	require.NoError(t, err)
	for _, ev := range eventsOf(t, f.store, tenant, "InvoiceGenerated") {
		if ev.AggregateID == inv.ID {
			return inv, ev
		}
	}
	t.Fatalf("no InvoiceGenerated for %s", inv.ID)
	return inv, domain.Event{}
}

func TestGenerateInvoiceFromOrder(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newInvoicing(t, open(t))
			ctx := context.Background()
			l := listeners.GenerateInvoiceFromOrder{Invoices: f.invoices}
			o := storetest.SeedOrder(t, f.store, "acme", storetest.OrderSeed{CreatedBy: "sam"})
			ev := approved(t, "acme", o)

			require.NoError(t, l.Handle(ctx, ev))
			require.NoError(t, l.Handle(ctx, ev), "redelivery")
			redelivered := ev
			redelivered.ID = domain.NewID() // republished as a new entry
			require.NoError(t, l.Handle(ctx, redelivered))

			list, err := f.invoices.List(ctx, "acme", invoice.Filter{OrderID: o.OrderID})
			require.NoError(t, err)
			require.Len(t, list, 1, "one invoice per order")
			require.Len(t, eventsOf(t, f.store, "acme", "InvoiceGenerated"), 1, "and one event")

			// An event of another tenant naming acme's order finds nothing.
			foreign := approved(t, "globex", o)
			require.ErrorIs(t, l.Handle(ctx, foreign), domain.ErrNotFound)
			list, err = f.invoices.List(ctx, "globex", invoice.Filter{})
			require.NoError(t, err)
			require.Empty(t, list)
			require.Empty(t, eventsOf(t, f.store, "globex", ""))

			bad := ev
			bad.Payload = json.RawMessage(`{"order_id": 42}`)
			err = l.Handle(ctx, bad)
			require.Error(t, err)
			require.True(t, domain.Permanent(err))
		})
	}
}

func TestSendInvoiceToCustomer(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newInvoicing(t, open(t),
				domain.User{TenantID: "acme", ID: "sam", Perms: []string{domain.PermSalesManage}},
				domain.User{TenantID: "globex", ID: "sam", Perms: []string{domain.PermAdmin}})
			ctx := context.Background()
			srv := mailtest.Start(t, mailtest.Options{})
			mailer, err := mail.New(mail.Config{URL: "smtp://" + srv.Addr, From: "Billing <billing@acme.example>"})
			require.NoError(t, err)
			l := listeners.SendInvoiceToCustomer{Store: f.store, Notifier: f.notes, Invoices: f.invoices, Mailer: mailer}

			inv, ev := f.generated(t, "acme", storetest.OrderSeed{
				CustomerName: "Ann <Shop>\r\nBcc: victim@evil.test", CustomerEmail: "ann@example.test",
				PaymentTermsDays: 14, CreatedBy: "sam",
				Lines: []storetest.SeedLine{{Name: "Oak chair", Quantity: 3, UnitPrice: "19.99"}, {Name: "Nail\nfake line", Quantity: 7, UnitPrice: "0.0125"}},
			})
			require.NoError(t, l.Handle(ctx, ev))
			require.NoError(t, l.Handle(ctx, ev), "redelivery sends nothing more")

			// The creator is told once.
			got := inbox(t, f.store, "acme", "sam")
			require.Len(t, got, 1)
			n := got[0]
			require.Equal(t, notification.TypeInvoiceGenerated, n.Type)
			require.Equal(t, domain.SeverityInfo, n.Severity)
			require.Equal(t, "/invoices/"+inv.ID, n.ActionURL)
			require.Contains(t, n.Title, inv.Number)
			var data listeners.InvoiceGeneratedData
			require.NoError(t, json.Unmarshal(n.Data, &data))
			require.Equal(t, listeners.InvoiceGeneratedData{
				InvoiceID: inv.ID, Number: inv.Number, OrderID: inv.OrderID, CustomerID: inv.CustomerID,
				CustomerName: "Ann <Shop>\r\nBcc: victim@evil.test", Total: data.Total, DueDate: inv.DueDate,
			}, data)
			require.True(t, data.Total.Equal(decimal.RequireFromString("60.0575")))
			require.Empty(t, inbox(t, f.store, "globex", "sam"), "another tenant's namesake hears nothing")

			// One mail, to the customer alone, with the invoice in it.
			msgs := srv.Wait(t, 1)
			require.Len(t, srv.Received(), 1)
			m := msgs[0]
			require.Equal(t, []string{"ann@example.test"}, m.To, "no injected Bcc")
			h := m.Header(t)
			require.Equal(t, "<invoice."+inv.ID+"@acme.example>", h.Get("Message-Id"))
			require.Empty(t, h.Get("Bcc"))
			require.Contains(t, m.Subject(t), inv.Number)
			text := m.Text(t)
			for _, want := range []string{"Dear Ann <Shop>  Bcc: victim@evil.test,", inv.Number, "Oak chair", "3 × 19.99 = 59.97",
				"Nail fake line", "7 × 0.0125 = 0.0875", "Total:       60.0575", "Amount due:  60.0575", "Due date:    " + inv.DueDate} {
				require.Contains(t, text, want)
			}

			// The delivery is recorded and shown with the invoice.
			full, err := f.invoices.Get(ctx, "acme", inv.ID)
			require.NoError(t, err)
			require.Len(t, full.Deliveries, 1)
			d := full.Deliveries[0]
			require.Equal(t, invoice.DeliverySent, d.Status)
			require.Equal(t, 1, d.Attempts)
			require.Equal(t, "ann@example.test", d.Recipient)
			require.Equal(t, "<invoice."+inv.ID+"@acme.example>", d.MessageID)
			require.NotNil(t, d.SentAt)
			require.Empty(t, d.Error)
		})
	}
}

func TestSendInvoiceRetriesAFailedSend(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newInvoicing(t, open(t))
			ctx := context.Background()
			srv := mailtest.Start(t, mailtest.Options{})
			mailer, err := mail.New(mail.Config{URL: "smtp://" + srv.Addr, From: "billing@acme.example"})
			require.NoError(t, err)
			l := listeners.SendInvoiceToCustomer{Store: f.store, Notifier: f.notes, Invoices: f.invoices, Mailer: mailer}
			inv, ev := f.generated(t, "acme", storetest.OrderSeed{CustomerEmail: "ann@example.test", CreatedBy: "nobody-known"})

			srv.Fail(451)
			err = l.Handle(ctx, ev)
			require.Error(t, err, "the runner must retry")
			require.False(t, domain.Permanent(err))
			d, err := f.invoices.Delivery(ctx, "acme", inv.ID, invoice.ChannelEmail)
			require.NoError(t, err)
			require.Equal(t, invoice.DeliveryFailed, d.Status)
			require.Equal(t, 1, d.Attempts)
			require.Contains(t, d.Error, "451")
			require.Nil(t, d.SentAt)

			srv.Fail(0)
			require.NoError(t, l.Handle(ctx, ev))
			require.NoError(t, l.Handle(ctx, ev))
			require.Len(t, srv.Wait(t, 1), 1)
			d, err = f.invoices.Delivery(ctx, "acme", inv.ID, invoice.ChannelEmail)
			require.NoError(t, err)
			require.Equal(t, invoice.DeliverySent, d.Status)
			require.Equal(t, 2, d.Attempts)
			require.Empty(t, d.Error)
			require.Len(t, srv.Received(), 1, "sent once")

			// A 5xx is permanent: recorded, and not retried by the runner.
			_, ev2 := f.generated(t, "acme", storetest.OrderSeed{CustomerEmail: "bob@example.test"})
			srv.Fail(550)
			err = l.Handle(ctx, ev2)
			require.True(t, domain.Permanent(err), "%v", err)
		})
	}
}

func TestSendInvoiceSkips(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newInvoicing(t, open(t), domain.User{TenantID: "acme", ID: "sam"})
			ctx := context.Background()
			srv := mailtest.Start(t, mailtest.Options{})
			mailer, err := mail.New(mail.Config{URL: "smtp://" + srv.Addr, From: "billing@acme.example"})
			require.NoError(t, err)

			status := func(invoiceID string) invoice.Delivery {
				d, err := f.invoices.Delivery(ctx, "acme", invoiceID, invoice.ChannelEmail)
				require.NoError(t, err)
				return d
			}
			unconfigured := listeners.SendInvoiceToCustomer{Store: f.store, Notifier: f.notes, Invoices: f.invoices}
			inv, ev := f.generated(t, "acme", storetest.OrderSeed{CustomerEmail: "ann@example.test", CreatedBy: "sam"})
			require.NoError(t, unconfigured.Handle(ctx, ev))
			d := status(inv.ID)
			require.Equal(t, invoice.DeliverySkipped, d.Status)
			require.Contains(t, d.Error, "not configured")
			require.Len(t, inbox(t, f.store, "acme", "sam"), 1, "the creator is told all the same")

			configured := unconfigured
			configured.Mailer = mailer
			for _, email := range []string{"", "not-an-address"} {
				inv, ev := f.generated(t, "acme", storetest.OrderSeed{CustomerEmail: email})
				require.NoError(t, configured.Handle(ctx, ev))
				d := status(inv.ID)
				require.Equal(t, invoice.DeliverySkipped, d.Status, email)
				require.NotEmpty(t, d.Error)
				require.Zero(t, d.Attempts)
			}
			require.Zero(t, srv.Sessions())
		})
	}
}

func TestSendPaymentConfirmation(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newInvoicing(t, open(t),
				domain.User{TenantID: "acme", ID: "clerk", Perms: []string{domain.PermInvoicesManage}},
				domain.User{TenantID: "acme", ID: "root", Perms: []string{domain.PermAdmin}},
				domain.User{TenantID: "acme", ID: "sam", Perms: []string{domain.PermSalesManage}},
				domain.User{TenantID: "acme", ID: "carol", Perms: []string{domain.PermInventoryManage}},
				domain.User{TenantID: "globex", ID: "clerk", Perms: []string{domain.PermInvoicesManage}})
			ctx := context.Background()
			l := listeners.SendPaymentConfirmation{Store: f.store, Notifier: f.notes, Invoices: f.invoices}
			inv, _ := f.generated(t, "acme", storetest.OrderSeed{CreatedBy: "sam", Lines: []storetest.SeedLine{{Quantity: 1, UnitPrice: "99.9999"}}})
			clerk := domain.Actor{TenantID: "acme", UserID: "clerk", Perms: []string{domain.PermInvoicesManage}}

			amount := decimal.RequireFromString("33.3333")
			p, err := f.invoices.RecordPayment(ctx, clerk, inv.ID, invoice.PaymentInput{Amount: &amount, Method: "card"})
			require.NoError(t, err)
			evs := eventsOf(t, f.store, "acme", "InvoicePaymentReceived")
			require.Len(t, evs, 1)
			require.NoError(t, l.Handle(ctx, evs[0]))
			require.NoError(t, l.Handle(ctx, evs[0]), "redelivery")

			for _, user := range []domain.UserID{"clerk", "root", "sam"} {
				got := inbox(t, f.store, "acme", user)
				require.Len(t, got, 1, "%s is told exactly once", user)
				n := got[0]
				require.Equal(t, notification.TypePaymentReceived, n.Type)
				require.Equal(t, domain.SeveritySuccess, n.Severity)
				require.Equal(t, "/invoices/"+inv.ID, n.ActionURL)
				var data listeners.PaymentReceivedData
				require.NoError(t, json.Unmarshal(n.Data, &data))
				require.Equal(t, p.ID, data.PaymentID)
				require.Equal(t, inv.Number, data.Number)
				require.Equal(t, "33.3333", data.Amount.String())
				require.Equal(t, "66.6666", data.Outstanding.String())
				require.False(t, data.Settled)
			}
			require.Empty(t, inbox(t, f.store, "acme", "carol"))
			require.Empty(t, inbox(t, f.store, "globex", "clerk"), "nothing crosses tenants")

			// The settling payment; the listener marks it paid if it is not.
			rest := decimal.RequireFromString("66.6666")
			_, err = f.invoices.RecordPayment(ctx, clerk, inv.ID, invoice.PaymentInput{Amount: &rest, Method: "cash"})
			require.NoError(t, err)
			open, err := f.store.GetInvoice(ctx, "acme", inv.ID)
			require.NoError(t, err)
			open.Status, open.PaidAt = invoice.StatusOpen, nil
			require.NoError(t, f.store.SetInvoiceBalance(ctx, open))
			evs = eventsOf(t, f.store, "acme", "InvoicePaymentReceived")
			require.Len(t, evs, 2)
			require.NoError(t, l.Handle(ctx, evs[1]))
			paid, err := f.invoices.Get(ctx, "acme", inv.ID)
			require.NoError(t, err)
			require.Equal(t, invoice.StatusPaid, paid.Status)
			got := inbox(t, f.store, "acme", "sam")
			require.Len(t, got, 2)
			var data listeners.PaymentReceivedData
			require.NoError(t, json.Unmarshal(got[0].Data, &data))
			require.True(t, data.Settled)
			require.True(t, strings.Contains(got[0].Body, "paid in full"), got[0].Body)

			// The creator holding invoices.manage is told once, not twice.
			inv2, _ := f.generated(t, "acme", storetest.OrderSeed{CreatedBy: "clerk"})
			one := decimal.NewFromInt(1)
			_, err = f.invoices.RecordPayment(ctx, clerk, inv2.ID, invoice.PaymentInput{Amount: &one, Method: "other"})
			require.NoError(t, err)
			evs = eventsOf(t, f.store, "acme", "InvoicePaymentReceived")
			require.NoError(t, l.Handle(ctx, evs[2]))
			require.Len(t, inbox(t, f.store, "acme", "clerk"), 3)
		})
	}
}
