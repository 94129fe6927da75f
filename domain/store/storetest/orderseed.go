package storetest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// OrderSeed describes a sales order to write straight into the tables, for
// tests of modules that read orders (invoicing) without the sales service.
type OrderSeed struct {
	// CustomerID reuses a customer from an earlier seed; "" creates one
	// with CustomerName (default "Customer"), CustomerEmail and
	// PaymentTermsDays (0 = due the day it is invoiced).
	CustomerID       string
	CustomerName     string
	CustomerEmail    string
	PaymentTermsDays int
	Status           string        // pending, approved (default) or fulfilled
	CreatedBy        domain.UserID // orders.created_by
	Lines            []SeedLine    // default: one line, 2 × 12.50
}

// SeedLine is one order line; each gets a product of its own.
type SeedLine struct {
	Name      string // product name; default "Product <n>"
	Quantity  int64
	UnitPrice string // decimal text
}

// SeededOrder names what SeedOrder wrote.
type SeededOrder struct {
	OrderID    string
	Number     string
	CustomerID string
	ProductIDs []string // per line
	Total      decimal.Decimal
}

// SeedOrder writes a customer (unless reused), products, an order and its
// lines for tenant.
func SeedOrder(t testing.TB, s *sqlstore.Store, tenant domain.TenantID, o OrderSeed) SeededOrder {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	out := SeededOrder{CustomerID: o.CustomerID, OrderID: domain.NewID(), Total: decimal.Zero}
	if o.Status == "" {
		o.Status = "approved"
	}
	if len(o.Lines) == 0 {
		o.Lines = []SeedLine{{Quantity: 2, UnitPrice: "12.50"}}
	}
	if out.CustomerID == "" {
		out.CustomerID = domain.NewID()
		name := o.CustomerName
		if name == "" {
			name = "Customer"
		}
		seedExec(t, s, `INSERT INTO customers (tenant_id, id, name, email, payment_terms_days, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, tenant, out.CustomerID, name, strings.ToLower(o.CustomerEmail), o.PaymentTermsDays, now, now)
	}
	n, err := s.NextNumber(ctx, tenant, "order")
	require.NoError(t, err)
	out.Number = fmt.Sprintf("SO-%06d", n)
	type line struct {
		no        int
		productID string
		sku       string
		qty       int64
		price     decimal.Decimal
	}
	var lines []line
	for i, l := range o.Lines {
		name := l.Name
		if name == "" {
			name = "Product " + strconv.Itoa(i+1)
		}
		price := decimal.RequireFromString(l.UnitPrice)
		p := product.Product{ID: domain.NewID(), TenantID: tenant, SKU: fmt.Sprintf("%s-L%d", out.Number, i+1), Name: name, Price: price}
		require.NoError(t, s.InsertProduct(ctx, p))
		out.ProductIDs = append(out.ProductIDs, p.ID)
		out.Total = out.Total.Add(price.Mul(decimal.NewFromInt(l.Quantity)))
		lines = append(lines, line{i + 1, p.ID, p.SKU, l.Quantity, price})
	}
	seedExec(t, s, `INSERT INTO orders (tenant_id, id, number, customer_id, status, total, created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenant, out.OrderID, out.Number, out.CustomerID, o.Status, out.Total.String(), o.CreatedBy, now, now)
	for _, l := range lines {
		seedExec(t, s, `INSERT INTO order_lines (tenant_id, order_id, line_no, product_id, sku, quantity, unit_price, amount)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tenant, out.OrderID, l.no, l.productID, l.sku, l.qty, l.price.String(),
			l.price.Mul(decimal.NewFromInt(l.qty)).String())
	}
	return out
}

// SetOrderStatus changes an order's status directly.
func SetOrderStatus(t testing.TB, s *sqlstore.Store, tenant domain.TenantID, orderID, status string) {
	t.Helper()
	seedExec(t, s, `UPDATE orders SET status = ? WHERE tenant_id = ? AND id = ?`, status, tenant, orderID)
}

// DollarMarkers turns the "?" markers of a test's statement into
// PostgreSQL's $1, $2, … (tests' statements hold no quoted "?").
func DollarMarkers(q string) string {
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// seedExec runs a statement written with "?" markers on either backend.
func seedExec(t testing.TB, s *sqlstore.Store, q string, args ...any) {
	t.Helper()
	if s.Dialect() == "postgres" {
		q = DollarMarkers(q)
	}
	for i, a := range args {
		if id, ok := a.(domain.TenantID); ok {
			args[i] = string(id)
		}
		if id, ok := a.(domain.UserID); ok {
			args[i] = string(id)
		}
	}
	_, err := s.DB().ExecContext(context.Background(), q, args...)
	require.NoError(t, err, q)
}
