package invoice_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

var (
	clerk  = domain.Actor{TenantID: "acme", UserID: "clerk", Perms: []string{domain.PermInvoicesManage}}
	viewer = domain.Actor{TenantID: "acme", UserID: "viewer"}
	globex = domain.Actor{TenantID: "globex", UserID: "gina", Perms: []string{domain.PermAdmin}}
	today  = time.Date(2026, 3, 14, 23, 30, 0, 0, time.UTC)
)

type fixture struct {
	store *sqlstore.Store
	svc   *invoice.Service
}

func each(t *testing.T, fn func(t *testing.T, f fixture)) {
	t.Helper()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			fn(t, fixture{store: s, svc: invoice.NewService(s, func() time.Time { return today })})
		})
	}
}

func (f fixture) events(t *testing.T, tenant domain.TenantID, typ string) []domain.Event {
	t.Helper()
	evs, err := f.store.ListEvents(context.Background(), tenant, typ, "", 200)
	require.NoError(t, err)
	return evs
}

func (f fixture) generate(t *testing.T, tenant domain.TenantID, seed storetest.OrderSeed) invoice.Invoice {
	t.Helper()
	o := storetest.SeedOrder(t, f.store, tenant, seed)
	inv, err := f.svc.GenerateForOrder(context.Background(), tenant, o.OrderID)
	require.NoError(t, err)
	return inv
}

func pay(amount, method string) invoice.PaymentInput {
	var a *decimal.Decimal
	if amount != "" {
		d := decimal.RequireFromString(amount)
		a = &d
	}
	return invoice.PaymentInput{Amount: a, Method: method}
}

func requireRule(t *testing.T, err error, code string) {
	t.Helper()
	var r *domain.RuleError
	require.ErrorAs(t, err, &r)
	require.Equal(t, code, r.Code)
}

func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var v *domain.ValidationError
	require.ErrorAs(t, err, &v)
	require.Contains(t, v.Fields, field)
}

func TestGenerateForOrder(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		o := storetest.SeedOrder(t, f.store, "acme", storetest.OrderSeed{
			CustomerName: "Ann's <Shop>", CustomerEmail: "ann@example.test", PaymentTermsDays: 30, CreatedBy: "sam",
			Lines: []storetest.SeedLine{{Name: "Oak chair", Quantity: 3, UnitPrice: "19.99"}, {Name: "Nail", Quantity: 1000, UnitPrice: "0.0001"}},
		})
		inv, err := f.svc.GenerateForOrder(ctx, "acme", o.OrderID)
		require.NoError(t, err)
		require.Equal(t, "INV-000001", inv.Number)
		require.Equal(t, invoice.StatusOpen, inv.Status)
		require.Equal(t, "60.07", inv.Total.String(), "3 × 19.99 + 1000 × 0.0001")
		require.True(t, inv.AmountPaid.IsZero())
		require.Equal(t, "60.07", inv.Outstanding.String())
		require.Equal(t, "2026-04-13", inv.DueDate, "today + 30 days of terms")
		require.Len(t, inv.Lines, 2)
		require.Equal(t, "Oak chair ("+o.Number+"-L1)", inv.Lines[0].Description)
		require.Equal(t, "59.97", inv.Lines[0].Amount.String())
		require.Equal(t, "0.1", inv.Lines[1].Amount.String())

		got, err := f.svc.Get(ctx, "acme", inv.ID)
		require.NoError(t, err)
		require.Equal(t, inv.Number, got.Number)
		require.Equal(t, o.Number, got.OrderNumber)
		require.Equal(t, "Ann's <Shop>", got.CustomerName)
		require.Len(t, got.Lines, 2)

		evs := f.events(t, "acme", "InvoiceGenerated")
		require.Len(t, evs, 1)
		var e invoice.InvoiceGenerated
		require.NoError(t, evs[0].Decode(&e))
		require.Equal(t, invoice.InvoiceGenerated{
			InvoiceID: inv.ID, Number: "INV-000001", OrderID: o.OrderID, OrderNumber: o.Number,
			CustomerID: o.CustomerID, CustomerName: "Ann's <Shop>", CustomerEmail: "ann@example.test",
			Total: e.Total, DueDate: "2026-04-13", OrderCreatedBy: "sam",
		}, e)
		require.Equal(t, "60.07", e.Total.String())
		require.Equal(t, domain.SystemUserID, evs[0].ActorID)

		// Again (a redelivered OrderApproved): the same invoice, no event.
		again, err := f.svc.GenerateForOrder(ctx, "acme", o.OrderID)
		require.NoError(t, err)
		require.Equal(t, inv.ID, again.ID)
		require.Len(t, again.Lines, 2)
		require.Len(t, f.events(t, "acme", "InvoiceGenerated"), 1)

		// The next invoice takes the next number; fulfilled orders qualify.
		second := f.generate(t, "acme", storetest.OrderSeed{CustomerID: o.CustomerID, Status: "fulfilled"})
		require.Equal(t, "INV-000002", second.Number)
		require.Equal(t, "2026-04-13", second.DueDate, "the customer's terms")
		third := f.generate(t, "acme", storetest.OrderSeed{PaymentTermsDays: 0})
		require.Equal(t, "2026-03-14", third.DueDate, "no terms: due on the day")
	})
}

func TestGenerateRefusals(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		pending := storetest.SeedOrder(t, f.store, "acme", storetest.OrderSeed{Status: "pending"})
		_, err := f.svc.GenerateForOrder(ctx, "acme", pending.OrderID)
		requireRule(t, err, "order_not_approved")
		require.True(t, domain.Permanent(err), "a rule error is not retried")

		_, err = f.svc.GenerateForOrder(ctx, "globex", pending.OrderID)
		require.ErrorIs(t, err, domain.ErrNotFound, "another tenant's order")
		_, err = f.svc.GenerateForOrder(ctx, "acme", domain.NewID())
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = f.svc.GenerateForOrder(ctx, "acme", "'; DROP TABLE invoices; --")
		requireInvalid(t, err, "order_id")
		require.Empty(t, f.events(t, "acme", "InvoiceGenerated"))

		// Once approved, it is invoiced; globex still sees nothing.
		storetest.SetOrderStatus(t, f.store, "acme", pending.OrderID, "approved")
		_, err = f.svc.GenerateForOrder(ctx, "acme", pending.OrderID)
		require.NoError(t, err)
		list, err := f.svc.List(ctx, "globex", invoice.Filter{})
		require.NoError(t, err)
		require.Empty(t, list)
		require.Empty(t, f.events(t, "globex", ""))
	})
}

func TestGenerateZeroTotalIsPaid(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		inv := f.generate(t, "acme", storetest.OrderSeed{Lines: []storetest.SeedLine{{Quantity: 5, UnitPrice: "0"}}})
		require.Equal(t, invoice.StatusPaid, inv.Status)
		require.NotNil(t, inv.PaidAt)
		_, err := f.svc.RecordPayment(context.Background(), clerk, inv.ID, pay("1", "cash"))
		requireRule(t, err, "invoice_paid")
	})
}

func TestGenerateConcurrentlyMakesOneInvoice(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		o := storetest.SeedOrder(t, f.store, "acme", storetest.OrderSeed{})
		const workers = 8
		ids := make(chan string, workers)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				inv, err := f.svc.GenerateForOrder(context.Background(), "acme", o.OrderID)
				if err != nil {
					t.Errorf("generate: %v", err)
					return
				}
				ids <- inv.ID
			})
		}
		wg.Wait()
		close(ids)
		seen := map[string]bool{}
		for id := range ids {
			seen[id] = true
		}
		require.Len(t, seen, 1, "every worker got the same invoice")
		require.Len(t, f.events(t, "acme", "InvoiceGenerated"), 1, "and one event")
		list, err := f.svc.List(context.Background(), "acme", invoice.Filter{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "INV-000001", list[0].Number, "no number was burnt")
	})
}

func TestRecordPayment(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		inv := f.generate(t, "acme", storetest.OrderSeed{CreatedBy: "sam", Lines: []storetest.SeedLine{{Quantity: 1, UnitPrice: "99.9999"}}})

		_, err := f.svc.RecordPayment(ctx, viewer, inv.ID, pay("1", "cash"))
		require.ErrorIs(t, err, domain.ErrForbidden)
		_, err = f.svc.RecordPayment(ctx, globex, inv.ID, pay("1", "cash"))
		require.ErrorIs(t, err, domain.ErrNotFound, "another tenant's invoice")

		for _, c := range []struct {
			in    invoice.PaymentInput
			field string
		}{
			{pay("", "cash"), "amount"},
			{pay("0", "cash"), "amount"},
			{pay("-5", "cash"), "amount"},
			{pay("1.00001", "cash"), "amount"},
			{pay("10000000000000000", "cash"), "amount"},
			{pay("1", ""), "method"},
			{pay("1", "bitcoin"), "method"},
			{pay("1", "CASH"), "method"},
			{invoice.PaymentInput{Amount: pay("1", "").Amount, Method: "cash", Reference: strings.Repeat("r", 101)}, "reference"},
			{invoice.PaymentInput{Amount: pay("1", "").Amount, Method: "cash", Reference: "a\r\nb"}, "reference"},
		} {
			_, err := f.svc.RecordPayment(ctx, clerk, inv.ID, c.in)
			requireInvalid(t, err, c.field)
		}
		_, err = f.svc.RecordPayment(ctx, clerk, "nope", pay("1", "cash"))
		requireInvalid(t, err, "id")

		_, err = f.svc.RecordPayment(ctx, clerk, inv.ID, pay("100", "card"))
		requireRule(t, err, "payment_exceeds_outstanding")

		// Three payments of 33.3333 settle 99.9999 exactly.
		var last invoice.Payment
		for i := range 3 {
			in := pay("33.3333", "bank_transfer")
			in.Reference = "  wire #" + string(rune('1'+i)) + "  "
			last, err = f.svc.RecordPayment(ctx, clerk, inv.ID, in)
			require.NoError(t, err)
			require.Equal(t, "wire #"+string(rune('1'+i)), last.Reference, "trimmed")
			if i == 1 {
				_, err = f.svc.RecordPayment(ctx, clerk, inv.ID, pay("33.3334", "cash"))
				requireRule(t, err, "payment_exceeds_outstanding")
			}
		}
		require.Equal(t, clerk.UserID, last.ActorID)
		got, err := f.svc.Get(ctx, "acme", inv.ID)
		require.NoError(t, err)
		require.Equal(t, "99.9999", got.AmountPaid.String())
		require.True(t, got.Outstanding.IsZero())
		require.Equal(t, invoice.StatusPaid, got.Status)
		require.NotNil(t, got.PaidAt)

		_, err = f.svc.RecordPayment(ctx, clerk, inv.ID, pay("0.0001", "cash"))
		requireRule(t, err, "invoice_paid")

		evs := f.events(t, "acme", "InvoicePaymentReceived")
		require.Len(t, evs, 3)
		var e invoice.InvoicePaymentReceived
		require.NoError(t, evs[2].Decode(&e))
		require.Equal(t, last.ID, e.PaymentID)
		require.Equal(t, inv.Number, e.Number)
		require.Equal(t, inv.OrderID, e.OrderID)
		require.Equal(t, "sam", e.OrderCreatedBy)
		require.Equal(t, "33.3333", e.Amount.String())
		require.Equal(t, "99.9999", e.AmountPaid.String())
		require.True(t, e.Outstanding.IsZero())
		require.True(t, e.Settled)
		require.Equal(t, clerk.UserID, evs[2].ActorID)
		require.NoError(t, evs[0].Decode(&e))
		require.False(t, e.Settled)
		require.Equal(t, "66.6666", e.Outstanding.String())

		payments, err := f.svc.ListPayments(ctx, "acme", inv.ID, invoice.PaymentFilter{})
		require.NoError(t, err)
		require.Len(t, payments, 3)
		_, err = f.svc.ListPayments(ctx, "globex", inv.ID, invoice.PaymentFilter{})
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.Empty(t, f.events(t, "globex", ""))
	})
}

func TestPaymentOnOverdueInvoice(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		inv := f.generate(t, "acme", storetest.OrderSeed{})
		// The overdue detector marks it; payments are still taken.
		inv.Status = invoice.StatusOverdue
		require.NoError(t, f.store.SetInvoiceBalance(ctx, inv))
		_, err := f.svc.RecordPayment(ctx, clerk, inv.ID, pay("5", "check"))
		require.NoError(t, err)
		got, err := f.svc.Get(ctx, "acme", inv.ID)
		require.NoError(t, err)
		require.Equal(t, invoice.StatusOverdue, got.Status, "a partial payment leaves it overdue")
		_, err = f.svc.RecordPayment(ctx, clerk, inv.ID, pay("20", "check"))
		require.NoError(t, err)
		got, err = f.svc.Get(ctx, "acme", inv.ID)
		require.NoError(t, err)
		require.Equal(t, invoice.StatusPaid, got.Status)
	})
}

func TestConcurrentPaymentsNeverExceedTheTotal(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		inv := f.generate(t, "acme", storetest.OrderSeed{Lines: []storetest.SeedLine{{Quantity: 1, UnitPrice: "10"}}})
		const payers = 16
		var (
			wg sync.WaitGroup
			mu sync.Mutex
			ok int
		)
		for range payers {
			wg.Go(func() {
				_, err := f.svc.RecordPayment(context.Background(), clerk, inv.ID, pay("1", "cash"))
				var r *domain.RuleError
				switch {
				case err == nil:
					mu.Lock()
					ok++
					mu.Unlock()
				case errors.As(err, &r):
				default:
					t.Errorf("payment: %v", err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, 10, ok, "exactly the total is taken")
		got, err := f.svc.Get(context.Background(), "acme", inv.ID)
		require.NoError(t, err)
		require.Equal(t, "10", got.AmountPaid.String())
		require.Equal(t, invoice.StatusPaid, got.Status)
		require.Len(t, f.events(t, "acme", "InvoicePaymentReceived"), 10)
	})
}

func TestMarkPaidIfSettled(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		inv := f.generate(t, "acme", storetest.OrderSeed{})
		got, err := f.svc.MarkPaidIfSettled(ctx, "acme", inv.ID)
		require.NoError(t, err)
		require.Equal(t, invoice.StatusOpen, got.Status, "not settled: unchanged")

		// Settled but still open (as an older writer could leave it).
		inv.AmountPaid = inv.Total
		require.NoError(t, f.store.SetInvoiceBalance(ctx, inv))
		got, err = f.svc.MarkPaidIfSettled(ctx, "acme", inv.ID)
		require.NoError(t, err)
		require.Equal(t, invoice.StatusPaid, got.Status)
		require.NotNil(t, got.PaidAt)
		first := *got.PaidAt
		got, err = f.svc.MarkPaidIfSettled(ctx, "acme", inv.ID)
		require.NoError(t, err)
		require.Equal(t, first, *got.PaidAt, "idempotent")

		_, err = f.svc.MarkPaidIfSettled(ctx, "globex", inv.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
}

func TestListValidates(t *testing.T) {
	t.Parallel()
	s := storetest.OpenSQLite(t)
	svc := invoice.NewService(s, nil)
	ctx := context.Background()
	for _, f := range []invoice.Filter{{OrderID: "x"}, {CustomerID: "1 OR 1=1"}, {After: "zz"}, {Status: "void"}} {
		_, err := svc.List(ctx, "acme", f)
		var v *domain.ValidationError
		require.ErrorAs(t, err, &v, "%+v", f)
	}
	_, err := svc.Get(ctx, "acme", "nope")
	requireInvalid(t, err, "id")
	_, err = svc.Get(ctx, "acme", domain.NewID())
	require.ErrorIs(t, err, domain.ErrNotFound)
}
