package report

import (
	"context"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// FinancialReport is what was invoiced and paid during the range, and
// what customers owed at its end.
type FinancialReport struct {
	Header
	Invoiced CountTotal `json:"invoiced"` // invoices created in the range, their totals
	Paid     CountTotal `json:"paid"`     // payments received in the range, their amounts
	// Outstanding: invoices with a balance at the end of the range (any
	// created before it, less the payments received before it), and that
	// balance.
	Outstanding CountTotal `json:"outstanding"`
	// Overdue: those of them due before To (the overdue detector's rule on
	// that day), and their balance.
	Overdue CountTotal `json:"overdue"`
	// Customers lists every customer with a balance, by name.
	Customers []CustomerBalance `json:"customers"`
}

// CustomerBalance is what one customer owed at the end of the range.
type CustomerBalance struct {
	CustomerID  string `json:"customer_id"`
	Name        string `json:"name"`
	Invoices    int64  `json:"invoices"` // invoices with a balance
	Outstanding Money  `json:"outstanding"`
	Overdue     Money  `json:"overdue"`
}

// ledger is every invoice created before the end of a window with what
// was paid on it before then, and the payments totalled per customer.
type ledger struct {
	invoices    []*invoiceBalance
	paidInRange tally
	byCustomer  map[string]*customerPayments
}

type invoiceBalance struct {
	InvoiceRow
	paid decimal.Decimal
}

func (b *invoiceBalance) balance() decimal.Decimal { return b.Total.Sub(b.paid) }

// customerPayments is what one customer paid up to the end of a window.
type customerPayments struct {
	spent   decimal.Decimal
	last    *time.Time
	inRange tally
}

// readLedger reads the invoices and payments up to w.End.
func readLedger(ctx context.Context, src Source, h Header, w Window) (*ledger, error) {
	l := &ledger{byCustomer: map[string]*customerPayments{}}
	byID := map[string]*invoiceBalance{}
	upToEnd := Window{End: w.End}
	err := src.EachInvoice(ctx, h.Tenant, upToEnd, func(i InvoiceRow) error {
		b := &invoiceBalance{InvoiceRow: i}
		l.invoices = append(l.invoices, b)
		byID[i.ID] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = src.EachPayment(ctx, h.Tenant, upToEnd, func(p PaymentRow) error {
		// A payment is never older than its invoice, so its invoice is
		// in byID.
		if b := byID[p.InvoiceID]; b != nil {
			b.paid = b.paid.Add(p.Amount)
		}
		c := l.byCustomer[p.CustomerID]
		if c == nil {
			c = &customerPayments{}
			l.byCustomer[p.CustomerID] = c
		}
		c.spent = c.spent.Add(p.Amount)
		at := p.ReceivedAt
		c.last = &at // payments come oldest first
		if inWindow(p.ReceivedAt, w) {
			l.paidInRange.add(p.Amount)
			c.inRange.add(p.Amount)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

func inWindow(t time.Time, w Window) bool { return !t.Before(w.Start) && t.Before(w.End) }

func buildFinancial(ctx context.Context, src Source, h Header, w Window) (*FinancialReport, error) {
	l, err := readLedger(ctx, src, h, w)
	if err != nil {
		return nil, err
	}
	last := w.End.AddDate(0, 0, -1)
	var invoiced, outstanding, overdue tally
	type owed struct {
		CustomerBalance
		outstanding, overdue decimal.Decimal
	}
	customers := map[string]*owed{}
	for _, inv := range l.invoices {
		if inWindow(inv.CreatedAt, w) {
			invoiced.add(inv.Total)
		}
		bal := inv.balance()
		if !bal.IsPositive() {
			continue
		}
		c := customers[inv.CustomerID]
		if c == nil {
			c = &owed{CustomerBalance: CustomerBalance{CustomerID: inv.CustomerID, Name: inv.CustomerName}}
			customers[inv.CustomerID] = c
		}
		outstanding.add(bal)
		c.Invoices++
		c.outstanding = c.outstanding.Add(bal)
		if inv.DueDate.Before(last) {
			overdue.add(bal)
			c.overdue = c.overdue.Add(bal)
		}
	}
	r := &FinancialReport{Header: h, Invoiced: invoiced.out(), Paid: l.paidInRange.out(),
		Outstanding: outstanding.out(), Overdue: overdue.out(), Customers: []CustomerBalance{}}
	for _, c := range customers {
		c.Outstanding, c.Overdue = money(c.outstanding), money(c.overdue)
		r.Customers = append(r.Customers, c.CustomerBalance)
	}
	slices.SortFunc(r.Customers, func(a, b CustomerBalance) int {
		return byNameThenID(a.Name, a.CustomerID, b.Name, b.CustomerID)
	})
	return r, nil
}
