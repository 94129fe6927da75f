package storetest

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// SeedInvoiceRow inserts an invoice row directly, for tests of code that only
// reads invoices (customer statistics): status open, paid or overdue;
// amountPaid must not exceed total. It returns the invoice id.
func SeedInvoiceRow(t testing.TB, s *sqlstore.Store, tenant domain.TenantID, orderID, customerID string,
	total, amountPaid string, status string) string {
	t.Helper()
	id := domain.NewID()
	now := time.Now().UTC().Format(seedTimeLayout)
	Exec(t, s, `INSERT INTO invoices (tenant_id, id, number, order_id, customer_id, status, total, amount_paid,
		due_date, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		string(tenant), id, "INV-"+id, orderID, customerID, status,
		decimal.RequireFromString(total).String(), decimal.RequireFromString(amountPaid).String(),
		"2030-01-31", now, now)
	return id
}

// SeedPayment inserts a payment row directly and returns its id. It does
// not touch the invoice's amount_paid: seed the invoice with the sum.
func SeedPayment(t testing.TB, s *sqlstore.Store, tenant domain.TenantID, invoiceID, amount string, at time.Time) string {
	t.Helper()
	id := domain.NewID()
	Exec(t, s, `INSERT INTO payments (tenant_id, id, invoice_id, amount, method, reference, actor_id, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		string(tenant), id, invoiceID, decimal.RequireFromString(amount).String(), "bank", "ref", "seed",
		at.UTC().Format(seedTimeLayout))
	return id
}

// seedTimeLayout is how the store writes timestamps.
const seedTimeLayout = "2006-01-02T15:04:05.000000Z"
