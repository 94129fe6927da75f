package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// newInvoice builds the invoice of a seeded order, as the service would.
func newInvoice(o SeededOrder, tenant domain.TenantID, number string) invoice.Invoice {
	inv := invoice.Invoice{
		ID: domain.NewID(), TenantID: tenant, Number: number, OrderID: o.OrderID, CustomerID: o.CustomerID,
		Status: invoice.StatusOpen, Total: o.Total, AmountPaid: decimal.Zero, DueDate: "2026-04-13",
		CreatedAt: at(0), UpdatedAt: at(0),
	}
	for i, pid := range o.ProductIDs {
		inv.Lines = append(inv.Lines, invoice.Line{
			LineNo: i + 1, ProductID: pid, Description: "line", Quantity: 2,
			UnitPrice: decimal.RequireFromString("12.50"), Amount: decimal.RequireFromString("25"),
		})
	}
	return inv
}

func seedInvoice(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, number string) invoice.Invoice {
	t.Helper()
	o := SeedOrder(t, s, tenant, OrderSeed{CustomerName: "Ann", CreatedBy: userA})
	inv := newInvoice(o, tenant, number)
	require.NoError(t, s.InsertInvoice(ctxFor(t), inv))
	return inv
}

func payment(tenant domain.TenantID, invoiceID, amount string, offset time.Duration) invoice.Payment {
	return invoice.Payment{ID: domain.NewID(), TenantID: tenant, InvoiceID: invoiceID,
		Amount: decimal.RequireFromString(amount), Method: "card", ActorID: userA, ReceivedAt: at(offset)}
}

var invoiceTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"OrderToInvoiceReadsOrderCustomerAndLines": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		o := SeedOrder(t, s, tenantA, OrderSeed{CustomerName: "Ann", CustomerEmail: "Ann@Example.test", PaymentTermsDays: 14,
			CreatedBy: userA, Lines: []SeedLine{{Name: "Oak chair", Quantity: 3, UnitPrice: "19.99"}, {Quantity: 1, UnitPrice: "0.0001"}}})
		var src invoice.Source
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) (err error) {
			src, err = s.LockOrderToInvoice(ctx, tenantA, o.OrderID)
			return err
		}))
		require.Equal(t, o.Number, src.OrderNumber)
		require.Equal(t, "approved", src.Status)
		require.Equal(t, "Ann", src.CustomerName)
		require.Equal(t, "ann@example.test", src.CustomerEmail)
		require.Equal(t, 14, src.PaymentTermsDays)
		require.Equal(t, userA, src.CreatedBy)
		require.Len(t, src.Lines, 2)
		require.Equal(t, "Oak chair", src.Lines[0].ProductName)
		require.Equal(t, int64(3), src.Lines[0].Quantity)
		require.True(t, decimal.RequireFromString("19.99").Equal(src.Lines[0].UnitPrice))
		require.True(t, decimal.RequireFromString("0.0001").Equal(src.Lines[1].UnitPrice))

		_, err := s.LockOrderToInvoice(ctx, tenantB, o.OrderID)
		requireNotFound(t, err, "another tenant's order")
		_, err = s.LockOrderToInvoice(ctx, tenantA, "not-a-uuid")
		requireNotFound(t, err)
		_, err = s.LockOrderToInvoice(ctx, tenantA, domain.NewID())
		requireNotFound(t, err)
	},
	"InsertGetAndOneInvoicePerOrder": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		o := SeedOrder(t, s, tenantA, OrderSeed{CustomerName: "Ann", CreatedBy: userA})
		inv := newInvoice(o, tenantA, "INV-000001")
		require.NoError(t, s.InsertInvoice(ctx, inv))

		got, err := s.GetInvoice(ctx, tenantA, inv.ID)
		require.NoError(t, err)
		require.Equal(t, "INV-000001", got.Number)
		require.Equal(t, o.Number, got.OrderNumber)
		require.Equal(t, "Ann", got.CustomerName)
		require.Equal(t, userA, got.OrderCreatedBy)
		require.Equal(t, invoice.StatusOpen, got.Status)
		require.Equal(t, "2026-04-13", got.DueDate)
		require.True(t, got.Total.Equal(decimal.RequireFromString("25")), got.Total.String())
		require.True(t, got.Outstanding.Equal(got.Total))
		require.True(t, got.AmountPaid.IsZero())
		require.Nil(t, got.PaidAt)
		require.Equal(t, stored(at(0)), got.CreatedAt)
		require.Len(t, got.Lines, 1)
		require.Equal(t, o.ProductIDs[0], got.Lines[0].ProductID)
		require.NotNil(t, got.Deliveries)
		require.Empty(t, got.Deliveries)

		byOrder, err := s.InvoiceForOrder(ctx, tenantA, o.OrderID)
		require.NoError(t, err)
		require.Equal(t, inv.ID, byOrder.ID)

		again := newInvoice(o, tenantA, "INV-000002")
		require.ErrorIs(t, s.InsertInvoice(ctx, again), domain.ErrConflict, "one invoice per order")
		other := seedInvoice(t, s, tenantA, "INV-000003")
		dupNumber := newInvoice(SeedOrder(t, s, tenantA, OrderSeed{CustomerID: o.CustomerID}), tenantA, other.Number)
		require.ErrorIs(t, s.InsertInvoice(ctx, dupNumber), domain.ErrConflict, "numbers are unique per tenant")
		_, err = s.GetInvoice(ctx, tenantA, again.ID)
		requireNotFound(t, err, "the refused invoice left nothing")
	},
	"TenantIsolation": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		inv := seedInvoice(t, s, tenantA, "INV-000001")
		require.NoError(t, s.InsertInvoicePayment(ctx, payment(tenantA, inv.ID, "5", 0)))
		_, err := s.GetInvoice(ctx, tenantB, inv.ID)
		requireNotFound(t, err)
		_, err = s.InvoiceForOrder(ctx, tenantB, inv.OrderID)
		requireNotFound(t, err)
		_, err = s.LockInvoice(ctx, tenantB, inv.ID)
		requireNotFound(t, err)
		list, err := s.ListInvoices(ctx, tenantB, invoice.Filter{})
		require.NoError(t, err)
		require.Empty(t, list)
		_, err = s.ListInvoicePayments(ctx, tenantB, inv.ID, invoice.PaymentFilter{})
		requireNotFound(t, err)
		requireNotFound(t, s.InsertInvoicePayment(ctx, payment(tenantB, inv.ID, "1", 0)), "paying another tenant's invoice")
		requireNotFound(t, s.PutInvoiceDelivery(ctx, invoice.Delivery{TenantID: tenantB, InvoiceID: inv.ID,
			Channel: invoice.ChannelEmail, Status: invoice.DeliverySent}))
		b := inv
		b.TenantID = tenantB
		requireNotFound(t, s.SetInvoiceBalance(ctx, b))
		// An invoice in B pointing at A's order and customer is refused.
		stolen := inv
		stolen.ID, stolen.TenantID, stolen.Number = domain.NewID(), tenantB, "INV-000001"
		requireNotFound(t, s.InsertInvoice(ctx, stolen))
	},
	"BalanceIsExact": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		inv := seedInvoice(t, s, tenantA, "INV-000001")
		paidAt := at(time.Hour)
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			locked, err := s.LockInvoice(ctx, tenantA, inv.ID)
			if err != nil {
				return err
			}
			require.Empty(t, locked.Lines, "a locked invoice comes without lines")
			locked.AmountPaid = decimal.RequireFromString("24.9999")
			locked.Status = invoice.StatusOverdue
			locked.UpdatedAt = paidAt
			return s.SetInvoiceBalance(ctx, locked)
		}))
		got, err := s.GetInvoice(ctx, tenantA, inv.ID)
		require.NoError(t, err)
		require.Equal(t, "24.9999", got.AmountPaid.String())
		require.Equal(t, "0.0001", got.Outstanding.String())
		require.Equal(t, invoice.StatusOverdue, got.Status)
		got.AmountPaid, got.Status, got.PaidAt = got.Total, invoice.StatusPaid, &paidAt
		require.NoError(t, s.SetInvoiceBalance(ctx, got))
		got, err = s.GetInvoice(ctx, tenantA, inv.ID)
		require.NoError(t, err)
		require.True(t, got.Outstanding.IsZero())
		require.NotNil(t, got.PaidAt)
		require.Equal(t, stored(paidAt), *got.PaidAt)

		got.AmountPaid = decimal.RequireFromString("1.00001")
		requireInvalid(t, s.SetInvoiceBalance(ctx, got), "more than 4 decimals")
		got.AmountPaid, got.Status = got.Total, "lost"
		requireInvalid(t, s.SetInvoiceBalance(ctx, got))
		requireNotFound(t, s.SetInvoiceBalance(ctx, invoice.Invoice{ID: "x", TenantID: tenantA}))
	},
	"ListFiltersAndPages": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		first := seedInvoice(t, s, tenantA, "INV-000001")
		second := seedInvoice(t, s, tenantA, "INV-000002")
		third := seedInvoice(t, s, tenantA, "INV-000003")
		seedInvoice(t, s, tenantB, "INV-000001")
		paid := third
		paid.AmountPaid, paid.Status = paid.Total, invoice.StatusPaid
		require.NoError(t, s.SetInvoiceBalance(ctx, paid))

		ids := func(f invoice.Filter) []string {
			list, err := s.ListInvoices(ctx, tenantA, f)
			require.NoError(t, err)
			out := []string{}
			for _, inv := range list {
				require.Len(t, inv.Lines, 1, "list entries carry their lines")
				out = append(out, inv.ID)
			}
			return out
		}
		require.Equal(t, []string{first.ID, second.ID, third.ID}, ids(invoice.Filter{}))
		require.Equal(t, []string{first.ID, second.ID}, ids(invoice.Filter{Limit: 2}))
		require.Equal(t, []string{third.ID}, ids(invoice.Filter{After: second.ID}))
		require.Equal(t, []string{second.ID}, ids(invoice.Filter{OrderID: second.OrderID}))
		require.Equal(t, []string{first.ID}, ids(invoice.Filter{CustomerID: first.CustomerID}))
		require.Equal(t, []string{third.ID}, ids(invoice.Filter{Status: invoice.StatusPaid}))
		require.Equal(t, []string{first.ID, second.ID}, ids(invoice.Filter{Status: invoice.StatusOpen}))
		require.Empty(t, ids(invoice.Filter{Status: "' OR '1'='1"}))
		_, err := s.ListInvoices(ctx, tenantA, invoice.Filter{OrderID: "nope"})
		requireInvalid(t, err)
	},
	"PaymentsListOldestFirstAndPage": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		inv := seedInvoice(t, s, tenantA, "INV-000001")
		var want []string
		for i, h := range hostile {
			p := payment(tenantA, inv.ID, "1.0001", time.Duration(i)*time.Second)
			p.Reference = h
			require.NoError(t, s.InsertInvoicePayment(ctx, p))
			want = append(want, p.ID)
		}
		all, err := s.ListInvoicePayments(ctx, tenantA, inv.ID, invoice.PaymentFilter{})
		require.NoError(t, err)
		require.Len(t, all, len(hostile))
		for i, p := range all {
			require.Equal(t, want[i], p.ID)
			require.Equal(t, hostile[i], p.Reference, "references come back byte for byte")
			require.Equal(t, "1.0001", p.Amount.String())
			require.Equal(t, userA, p.ActorID)
		}
		page, err := s.ListInvoicePayments(ctx, tenantA, inv.ID, invoice.PaymentFilter{After: want[1], Limit: 2})
		require.NoError(t, err)
		require.Len(t, page, 2)
		require.Equal(t, want[2], page[0].ID)
		_, err = s.ListInvoicePayments(ctx, tenantA, inv.ID, invoice.PaymentFilter{After: domain.NewID()})
		requireNotFound(t, err)
		_, err = s.ListInvoicePayments(ctx, tenantA, domain.NewID(), invoice.PaymentFilter{})
		requireNotFound(t, err)

		p := payment(tenantA, inv.ID, "0", 0)
		requireInvalid(t, s.InsertInvoicePayment(ctx, p), "zero amount")
		p = payment(tenantA, inv.ID, "1", 0)
		require.NoError(t, s.InsertInvoicePayment(ctx, p))
		require.ErrorIs(t, s.InsertInvoicePayment(ctx, p), domain.ErrConflict)
	},
	"DeliveriesUpsertPerChannel": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		inv := seedInvoice(t, s, tenantA, "INV-000001")
		_, err := s.InvoiceDelivery(ctx, tenantA, inv.ID, invoice.ChannelEmail)
		requireNotFound(t, err)
		d := invoice.Delivery{TenantID: tenantA, InvoiceID: inv.ID, Channel: invoice.ChannelEmail, Recipient: "ann@example.test",
			Status: invoice.DeliveryFailed, Attempts: 1, Error: hostile[0], UpdatedAt: at(0)}
		require.NoError(t, s.PutInvoiceDelivery(ctx, d))
		sent := at(time.Minute)
		d.Status, d.Attempts, d.Error, d.MessageID, d.SentAt, d.UpdatedAt = invoice.DeliverySent, 2, "", "<invoice.x@example.test>", &sent, sent
		require.NoError(t, s.PutInvoiceDelivery(ctx, d))
		got, err := s.InvoiceDelivery(ctx, tenantA, inv.ID, invoice.ChannelEmail)
		require.NoError(t, err)
		require.Equal(t, invoice.DeliverySent, got.Status)
		require.Equal(t, 2, got.Attempts)
		require.Empty(t, got.Error)
		require.Equal(t, "<invoice.x@example.test>", got.MessageID)
		require.Equal(t, stored(sent), *got.SentAt)
		full, err := s.GetInvoice(ctx, tenantA, inv.ID)
		require.NoError(t, err)
		require.Len(t, full.Deliveries, 1)
		require.Equal(t, "ann@example.test", full.Deliveries[0].Recipient)
		_, err = s.InvoiceDelivery(ctx, tenantB, inv.ID, invoice.ChannelEmail)
		requireNotFound(t, err)

		d.Status = "lost"
		requireInvalid(t, s.PutInvoiceDelivery(ctx, d), "status outside the CHECK")
	},
}
