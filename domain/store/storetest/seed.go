package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// Exec runs a statement written with "?" markers on s, outside any
// transaction, for tests that seed rows no service on their branch writes.
func Exec(t testing.TB, s *sqlstore.Store, query string, args ...any) {
	t.Helper()
	if s.Dialect() == "postgres" {
		var b strings.Builder
		n := 0
		for _, r := range query {
			if r == '?' {
				n++
				fmt.Fprintf(&b, "$%d", n)
				continue
			}
			b.WriteRune(r)
		}
		query = b.String()
	}
	_, err := s.DB().ExecContext(context.Background(), query, args...)
	require.NoError(t, err, query)
}

// InvoiceSeed is an invoice to insert directly, with the customer and
// order it needs.
type InvoiceSeed struct {
	Tenant       domain.TenantID
	CustomerName string // default "Customer"
	Number       string // default INV- and a random suffix
	Status       string // default "open"
	Total        string // default "100.00"
	AmountPaid   string // default "0"
	DueDate      time.Time
}

// SeedInvoice inserts a customer, an order and its invoice, and returns
// the invoice id.
func SeedInvoice(t testing.TB, s *sqlstore.Store, in InvoiceSeed) string {
	t.Helper()
	if in.CustomerName == "" {
		in.CustomerName = "Customer"
	}
	if in.Number == "" {
		in.Number = "INV-" + domain.NewID()[24:]
	}
	if in.Status == "" {
		in.Status = "open"
	}
	if in.Total == "" {
		in.Total = "100.00"
	}
	if in.AmountPaid == "" {
		in.AmountPaid = "0"
	}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	customer, order, invoice := domain.NewID(), domain.NewID(), domain.NewID()
	Exec(t, s, `INSERT INTO customers (tenant_id, id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		string(in.Tenant), customer, in.CustomerName, created, created)
	Exec(t, s, `INSERT INTO orders (tenant_id, id, number, customer_id, status, total, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'approved', ?, ?, ?)`,
		string(in.Tenant), order, "SO-"+invoice[24:], customer, in.Total, created, created)
	Exec(t, s, `INSERT INTO invoices (tenant_id, id, number, order_id, customer_id, status, total, amount_paid, due_date, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		string(in.Tenant), invoice, in.Number, order, customer, in.Status, in.Total, in.AmountPaid,
		in.DueDate.Format(time.DateOnly), created, created)
	return invoice
}

// InvoiceStatus reads an invoice's status.
func InvoiceStatus(t testing.TB, s *sqlstore.Store, tenant domain.TenantID, id string) string {
	t.Helper()
	q := `SELECT status FROM invoices WHERE tenant_id = ? AND id = ?`
	if s.Dialect() == "postgres" {
		q = `SELECT status FROM invoices WHERE tenant_id = $1 AND id = $2`
	}
	var status string
	require.NoError(t, s.DB().QueryRowContext(context.Background(), q, string(tenant), id).Scan(&status))
	return status
}

// overdueCursor builds the detector's cursor in tests.
type overdueCursor struct {
	tenant domain.TenantID
	id     string
}

func (c overdueCursor) cursor() invoice.OverdueCursor {
	return invoice.OverdueCursor{TenantID: c.tenant, ID: c.id}
}
