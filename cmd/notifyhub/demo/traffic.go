package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/sales"
)

// Traffic runs one business step every interval until ctx is done. The
// steps follow the tenant's real state through the real services: carol
// sells, erin approves and collects, the warehouse ships and restocks
// through purchase orders (with batches that expire), so every listener
// and notification type of the ERP shows up in the center.
func (d *Demo) Traffic(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := d.step(ctx); err != nil && ctx.Err() == nil {
			d.Logger.WarnContext(ctx, "demo traffic step failed", slog.Any("error", err))
		}
	}
}

// step picks the next piece of work: whatever is waiting first (an order
// to approve or ship, an invoice to collect, a purchase order to approve or
// receive), else a new sale or a restock.
func (d *Demo) step(ctx context.Context) error {
	steps := []func(context.Context) (bool, error){
		d.receivePurchaseOrder, d.approvePurchaseOrder, d.approveOrder, d.fulfilOrder, d.collectPayment, d.restock,
	}
	// Shuffle the waiting work so the feed mixes kinds; a new sale is the
	// fallback, and also happens now and then regardless.
	rand.Shuffle(len(steps), func(i, j int) { steps[i], steps[j] = steps[j], steps[i] })
	if rand.IntN(3) > 0 {
		for _, s := range steps {
			done, err := s(ctx)
			if err != nil || done {
				return ignoreRace(err)
			}
		}
	}
	return ignoreRace(d.sell(ctx))
}

// ignoreRace drops a business-rule refusal: the state changed between the
// read and the command (another step, a listener), and the next step reads
// it again.
func ignoreRace(err error) error {
	var rule *domain.RuleError
	if errors.As(err, &rule) {
		return nil
	}
	return err
}

// sell creates an order of one or two products in stock for a random
// customer.
func (d *Demo) sell(ctx context.Context) error {
	customers, err := d.CRM.ListCustomers(ctx, Tenant, crmList)
	if err != nil || len(customers) == 0 {
		return err
	}
	products, err := d.Products.List(ctx, Tenant, product.ListParams{Limit: 200})
	if err != nil {
		return err
	}
	want := 1 + rand.IntN(2)
	var lines []sales.LineInput
	for _, i := range rand.Perm(len(products)) {
		p := products[i]
		if p.OnHand < 2 {
			continue
		}
		lines = append(lines, sales.LineInput{ProductID: p.ID, Quantity: 1 + rand.Int64N(min(p.OnHand/2, 4))})
		if len(lines) == want {
			break
		}
	}
	if len(lines) == 0 {
		return nil
	}
	c := customers[rand.IntN(len(customers))]
	_, err = d.Sales.Create(ctx, actor("carol"), sales.CreateInput{CustomerID: c.ID, Lines: lines})
	return err
}

func (d *Demo) approveOrder(ctx context.Context) (bool, error) {
	o, ok, err := d.oldestOrder(ctx, sales.StatusPending)
	if !ok || err != nil {
		return false, err
	}
	_, err = d.Sales.Approve(ctx, actor("erin"), o.ID)
	return true, err
}

func (d *Demo) fulfilOrder(ctx context.Context) (bool, error) {
	o, ok, err := d.oldestOrder(ctx, sales.StatusApproved)
	if !ok || err != nil {
		return false, err
	}
	_, err = d.Sales.Fulfill(ctx, actor("carol"), o.ID)
	return true, err
}

func (d *Demo) oldestOrder(ctx context.Context, status sales.Status) (sales.Order, bool, error) {
	orders, err := d.Sales.List(ctx, Tenant, sales.Filter{Status: status, Limit: 1})
	if err != nil || len(orders) == 0 {
		return sales.Order{}, false, err
	}
	return orders[0], true, nil
}

// collectPayment pays an unpaid invoice: in full, or half of what is
// outstanding, so customers carry balances now and then.
func (d *Demo) collectPayment(ctx context.Context) (bool, error) {
	for _, status := range []string{"overdue", "open"} {
		invs, err := d.Invoices.List(ctx, Tenant, invoice.Filter{Status: status, Limit: 1})
		if err != nil {
			return false, err
		}
		if len(invs) == 0 {
			continue
		}
		inv := invs[0]
		amount := inv.Outstanding
		if rand.IntN(3) == 0 && amount.GreaterThan(decimal.NewFromInt(10)) {
			amount = amount.Div(decimal.NewFromInt(2)).Round(2)
		}
		methods := []string{"bank_transfer", "card", "cash"}
		_, err = d.Invoices.RecordPayment(ctx, actor("erin"), inv.ID, invoice.PaymentInput{
			Amount: &amount, Method: methods[rand.IntN(len(methods))], Reference: fmt.Sprintf("DEMO-%d", rand.IntN(1_000_000)),
		})
		return true, err
	}
	return false, nil
}

// restock raises a purchase order for a product below its reorder level,
// unless one is already open for it.
func (d *Demo) restock(ctx context.Context) (bool, error) {
	products, err := d.Products.List(ctx, Tenant, product.ListParams{Limit: 200})
	if err != nil {
		return false, err
	}
	open := map[string]bool{}
	for _, st := range []procurement.Status{procurement.StatusPending, procurement.StatusApproved, procurement.StatusPartiallyReceived} {
		pos, err := d.Procurement.ListPurchaseOrders(ctx, Tenant, procurement.OrderFilter{Status: st, Limit: 200})
		if err != nil {
			return false, err
		}
		for _, po := range pos {
			for _, l := range po.Lines {
				open[l.ProductID] = true
			}
		}
	}
	vendors, err := d.Procurement.ListVendors(ctx, Tenant, procurement.VendorFilter{Limit: 10})
	if err != nil || len(vendors) == 0 {
		return false, err
	}
	for _, p := range products {
		if p.OnHand >= p.ReorderLevel || open[p.ID] {
			continue
		}
		cost := p.Price.Mul(decimal.RequireFromString("0.6")).Round(2)
		_, err := d.Procurement.CreatePurchaseOrder(ctx, actor("dave"), procurement.CreateInput{
			VendorID: vendors[rand.IntN(len(vendors))].ID,
			Lines:    []procurement.LineInput{{ProductID: p.ID, Quantity: p.ReorderLevel*2 + rand.Int64N(10), UnitCost: &cost}},
		})
		return true, err
	}
	return false, nil
}

func (d *Demo) approvePurchaseOrder(ctx context.Context) (bool, error) {
	pos, err := d.Procurement.ListPurchaseOrders(ctx, Tenant, procurement.OrderFilter{Status: procurement.StatusPending, Limit: 1})
	if err != nil || len(pos) == 0 {
		return false, err
	}
	_, err = d.Procurement.Approve(ctx, actor("erin"), pos[0].ID)
	return true, err
}

// receivePurchaseOrder receives an approved purchase order in full, as a
// batch whose expiry date is between 3 days and 4 months away, so the
// expiry detector has work at every threshold.
func (d *Demo) receivePurchaseOrder(ctx context.Context) (bool, error) {
	pos, err := d.Procurement.ListPurchaseOrders(ctx, Tenant, procurement.OrderFilter{Status: procurement.StatusApproved, Limit: 1})
	if err != nil || len(pos) == 0 {
		return false, err
	}
	po := pos[0]
	in := procurement.ReceiveInput{}
	for _, l := range po.Lines {
		lineNo := l.LineNo
		expiry := time.Now().UTC().AddDate(0, 0, 3+rand.IntN(120)).Format(time.DateOnly)
		in.Lines = append(in.Lines, procurement.ReceiveLineInput{
			LineNo: &lineNo, Quantity: l.Quantity - l.ReceivedQuantity,
			BatchNumber: fmt.Sprintf("L-%s-%d", po.Number, lineNo), ExpiryDate: expiry,
		})
	}
	_, err = d.Procurement.Receive(ctx, actor("bob"), po.ID, in)
	return true, err
}
