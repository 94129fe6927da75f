package listeners_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/listeners"
)

// appendInvoiceEvent writes an invoice event to the log, as the invoice
// module would with its rows (seeded directly here).
func (w *saleWorld) appendInvoiceEvent(tenant domain.TenantID, p domain.EventPayload) {
	w.t.Helper()
	ev, err := domain.NewEvent(tenant, "clerk", time.Now(), p)
	require.NoError(w.t, err)
	require.NoError(w.t, w.s.AppendEvents(context.Background(), ev))
}

func (w *saleWorld) statistics(tenant domain.TenantID, id string) crm.Statistics {
	w.t.Helper()
	c, err := w.crm.GetCustomer(context.Background(), tenant, id)
	require.NoError(w.t, err)
	return c.Statistics
}

func TestUpdateCustomerStatistics(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			w := newSaleWorld(t, s)
			ctx := context.Background()
			l := listeners.UpdateCustomerStatistics{Customers: w.crm}

			// The whole life of a customer: from a lead, two orders (one
			// fulfilled), two invoices, payments (one invoice settled).
			lead, err := w.crm.CreateLead(ctx, saleAdmin("acme", "root"), crm.LeadInput{Name: "Prospect"})
			require.NoError(t, err)
			c, err := w.crm.ConvertLead(ctx, saleAdmin("acme", "root"), lead.ID)
			require.NoError(t, err)
			chair := w.product("acme", "CH-1", 0)
			w.stock("acme", chair, "", 10)
			o1 := w.order("acme", "sam", c.ID, sales.LineInput{ProductID: chair.ID, Quantity: 3, UnitPrice: decimalPtr("0.1")})
			o2 := w.order("acme", "sam", c.ID, sales.LineInput{ProductID: chair.ID, Quantity: 1, UnitPrice: decimalPtr("100.2")})
			w.approve("acme", o1.ID)
			w.fulfill("acme", o1.ID)
			inv1 := storetest.SeedInvoiceRow(t, s, "acme", o1.ID, c.ID, "0.3", "0.3", "paid")
			inv2 := storetest.SeedInvoiceRow(t, s, "acme", o2.ID, c.ID, "100.2", "50.05", "open")
			w.appendInvoiceEvent("acme", invoice.InvoiceGenerated{InvoiceID: inv1, OrderID: o1.ID, CustomerID: c.ID, Total: decimal.RequireFromString("0.3")})
			w.appendInvoiceEvent("acme", invoice.InvoiceGenerated{InvoiceID: inv2, OrderID: o2.ID, CustomerID: c.ID, Total: decimal.RequireFromString("100.2")})
			paidAt := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
			for i, p := range []struct {
				invoice, amount string
			}{{inv1, "0.1"}, {inv1, "0.2"}, {inv2, "50.05"}} {
				id := storetest.SeedPayment(t, s, "acme", p.invoice, p.amount, paidAt.Add(time.Duration(i)*time.Hour))
				w.appendInvoiceEvent("acme", invoice.InvoicePaymentReceived{PaymentID: id, InvoiceID: p.invoice, CustomerID: c.ID,
					Amount: decimal.RequireFromString(p.amount)})
			}
			// Another customer of the tenant, and one of another tenant.
			other := w.customer("acme", "Other")
			w.order("acme", "sam", other.ID, sales.LineInput{ProductID: chair.ID, Quantity: 1})
			theirs := w.customer("globex", "Theirs")

			all := w.events("acme", "")
			handled := 0
			for _, ev := range all {
				if !slices.Contains(l.Events(), ev.Type) {
					continue
				}
				require.NoError(t, l.Handle(ctx, ev), ev.Type)
				handled++
			}
			// CustomerCreated + LeadConverted, 2 × OrderCreated, OrderFulfilled, 2 ×
			// InvoiceGenerated, 3 × InvoicePaymentReceived; the other customer: 2.
			require.Equal(t, 2+2+1+2+3+2, handled)

			want := func(st crm.Statistics) {
				t.Helper()
				require.EqualValues(t, 2, st.TotalOrders)
				require.Equal(t, "50.35", st.TotalSpent.String())
				require.Equal(t, "50.15", st.OutstandingBalance.String())
				require.NotNil(t, st.LastOrderAt)
				require.NotNil(t, st.LastPaymentAt)
				require.Equal(t, paidAt.Add(2*time.Hour), *st.LastPaymentAt)
			}
			first := w.statistics("acme", c.ID)
			want(first)
			otherStats := w.statistics("acme", other.ID)
			require.EqualValues(t, 1, otherStats.TotalOrders)
			require.True(t, otherStats.TotalSpent.IsZero())

			// Replaying every event, forwards and backwards, gives exactly
			// the same figures.
			for _, ev := range all {
				if slices.Contains(l.Events(), ev.Type) {
					require.NoError(t, l.Handle(ctx, ev))
				}
			}
			for i := len(all) - 1; i >= 0; i-- {
				if slices.Contains(l.Events(), all[i].Type) {
					require.NoError(t, l.Handle(ctx, all[i]))
				}
			}
			again := w.statistics("acme", c.ID)
			want(again)
			require.Equal(t, first.TotalOrders, again.TotalOrders)
			require.Equal(t, first.TotalSpent.String(), again.TotalSpent.String())
			require.Equal(t, first.OutstandingBalance.String(), again.OutstandingBalance.String())
			require.Equal(t, *first.LastOrderAt, *again.LastOrderAt)
			require.Equal(t, *first.LastPaymentAt, *again.LastPaymentAt)

			// Nothing crossed to the other tenant's customer.
			require.Zero(t, w.statistics("globex", theirs.ID).TotalOrders)

			// An event of globex naming acme's customer finds no such
			// customer in globex: permanent, and acme's figures stay as they
			// are even though they are now stale.
			w.order("acme", "sam", c.ID, sales.LineInput{ProductID: chair.ID, Quantity: 1})
			forged := all[0]
			forged.ID = domain.NewID()
			forged.TenantID = "globex"
			err = l.Handle(ctx, forged)
			require.Error(t, err)
			require.True(t, domain.Permanent(err), "%v", err)
			require.EqualValues(t, 2, w.statistics("acme", c.ID).TotalOrders)

			// Malformed payloads and ids are permanent, not retried.
			bad := all[0]
			bad.ID = domain.NewID()
			bad.Payload = json.RawMessage(`{"customer_id": 7}`)
			require.True(t, domain.Permanent(l.Handle(ctx, bad)))
			bad.Payload = json.RawMessage(`{"customer_id": "1' OR '1'='1"}`)
			require.True(t, domain.Permanent(l.Handle(ctx, bad)))
			bad.Payload = json.RawMessage(`{}`)
			require.True(t, domain.Permanent(l.Handle(ctx, bad)))
		})
	}
}
