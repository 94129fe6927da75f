package report

import (
	"context"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// CustomerReport is every customer's standing at the end of the range and
// their activity during it, and the customers gained in it.
type CustomerReport struct {
	Header
	Summary CustomerSummary `json:"summary"`
	// NewCustomers were created in the range, oldest first.
	NewCustomers []NewCustomer `json:"new_customers"`
	// Customers lists every customer that existed at the end of the
	// range, by name.
	Customers []CustomerActivity `json:"customers"`
}

// CustomerSummary totals the range.
type CustomerSummary struct {
	Customers    int64 `json:"customers"`     // at the end of the range
	NewCustomers int64 `json:"new_customers"` // created in it
	Orders       int64 `json:"orders"`        // created in it
	OrderTotal   Money `json:"order_total"`
	Payments     int64 `json:"payments"` // received in it
	PaymentTotal Money `json:"payment_total"`
}

// NewCustomer is a customer created in the range.
type NewCustomer struct {
	CustomerID string    `json:"customer_id"`
	Name       string    `json:"name"`
	Email      string    `json:"email"`
	CreatedAt  time.Time `json:"created_at"`
}

// CustomerActivity is one customer's statistics (the same measures as the
// customer resource's, as of the end of the range) and what they did in
// the range.
type CustomerActivity struct {
	CustomerID string             `json:"customer_id"`
	Name       string             `json:"name"`
	Email      string             `json:"email"`
	CreatedAt  time.Time          `json:"created_at"`
	Statistics CustomerStatistics `json:"statistics"`
	InRange    CustomerRange      `json:"in_range"`
}

// CustomerStatistics mirror crm.Statistics: orders of any status, Σ
// payments, Σ balances of unpaid invoices.
type CustomerStatistics struct {
	TotalOrders        int64      `json:"total_orders"`
	TotalSpent         Money      `json:"total_spent"`
	OutstandingBalance Money      `json:"outstanding_balance"`
	LastOrderAt        *time.Time `json:"last_order_at"`
	LastPaymentAt      *time.Time `json:"last_payment_at"`
}

// CustomerRange is a customer's orders and payments in the range.
type CustomerRange struct {
	Orders       int64 `json:"orders"`
	OrderTotal   Money `json:"order_total"`
	Payments     int64 `json:"payments"`
	PaymentTotal Money `json:"payment_total"`
}

// customerOrders is what one customer ordered up to the end of a window.
type customerOrders struct {
	count   int64
	last    *time.Time
	inRange tally
}

func buildCustomer(ctx context.Context, src Source, h Header, w Window) (*CustomerReport, error) {
	r := &CustomerReport{Header: h, NewCustomers: []NewCustomer{}, Customers: []CustomerActivity{}}
	orders := map[string]*customerOrders{}
	var ordersInRange tally
	err := src.EachOrder(ctx, h.Tenant, Window{End: w.End}, func(o OrderRow) error {
		c := orders[o.CustomerID]
		if c == nil {
			c = &customerOrders{}
			orders[o.CustomerID] = c
		}
		c.count++
		at := o.CreatedAt
		c.last = &at // orders come oldest first
		if inWindow(o.CreatedAt, w) {
			c.inRange.add(o.Total)
			ordersInRange.add(o.Total)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	l, err := readLedger(ctx, src, h, w)
	if err != nil {
		return nil, err
	}
	owed := map[string]decimal.Decimal{}
	for _, inv := range l.invoices {
		if bal := inv.balance(); bal.IsPositive() {
			owed[inv.CustomerID] = owed[inv.CustomerID].Add(bal)
		}
	}
	err = src.EachCustomer(ctx, h.Tenant, w.End, func(c CustomerRow) error {
		a := CustomerActivity{CustomerID: c.ID, Name: c.Name, Email: c.Email, CreatedAt: c.CreatedAt}
		o := orders[c.ID]
		if o == nil {
			o = &customerOrders{}
		}
		p := l.byCustomer[c.ID]
		if p == nil {
			p = &customerPayments{}
		}
		a.Statistics = CustomerStatistics{
			TotalOrders: o.count, TotalSpent: money(p.spent), OutstandingBalance: money(owed[c.ID]),
			LastOrderAt: o.last, LastPaymentAt: p.last,
		}
		a.InRange = CustomerRange{Orders: o.inRange.count, OrderTotal: money(o.inRange.total),
			Payments: p.inRange.count, PaymentTotal: money(p.inRange.total)}
		r.Customers = append(r.Customers, a)
		if inWindow(c.CreatedAt, w) {
			r.NewCustomers = append(r.NewCustomers, NewCustomer{CustomerID: c.ID, Name: c.Name, Email: c.Email, CreatedAt: c.CreatedAt})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(r.Customers, func(a, b CustomerActivity) int {
		return byNameThenID(a.Name, a.CustomerID, b.Name, b.CustomerID)
	})
	slices.SortFunc(r.NewCustomers, func(a, b NewCustomer) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return byNameThenID("", a.CustomerID, "", b.CustomerID)
	})
	r.Summary = CustomerSummary{
		Customers: int64(len(r.Customers)), NewCustomers: int64(len(r.NewCustomers)),
		Orders: ordersInRange.count, OrderTotal: money(ordersInRange.total),
		Payments: l.paidInRange.count, PaymentTotal: money(l.paidInRange.total),
	}
	return r, nil
}
