package report

import (
	"cmp"
	"context"
	"slices"

	"github.com/shopspring/decimal"
)

// TopProducts is how many products the sales report ranks.
const TopProducts = 10

// SalesReport covers the orders created in the range.
type SalesReport struct {
	Header
	Summary SalesSummary `json:"summary"`
	// ByStatus lists pending, approved and fulfilled (always all three),
	// by each order's status as of the end of the range.
	ByStatus []StatusTotal `json:"by_status"`
	// ByDay lists every day of the range, days without orders included.
	ByDay []DayTotal `json:"by_day"`
	// The TopProducts products that sold the most units, and the most
	// revenue, over the orders of the range (any status). Ties go to the
	// other measure, then the SKU.
	TopProductsByQuantity []ProductSales `json:"top_products_by_quantity"`
	TopProductsByRevenue  []ProductSales `json:"top_products_by_revenue"`
}

// SalesSummary totals the orders of the range.
type SalesSummary struct {
	Orders int64 `json:"orders"`
	Total  Money `json:"total"`
	Units  int64 `json:"units"`
}

// StatusTotal is how many documents were in a status, and their amount.
type StatusTotal struct {
	Status string `json:"status"`
	Count  int64  `json:"count"`
	Total  Money  `json:"total"`
}

// DayTotal is the orders created on one day (UTC).
type DayTotal struct {
	Date  string `json:"date"`
	Count int64  `json:"count"`
	Total Money  `json:"total"`
}

// ProductSales is what one product sold.
type ProductSales struct {
	ProductID string `json:"product_id"`
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Quantity  int64  `json:"quantity"`
	Revenue   Money  `json:"revenue"`
	Orders    int64  `json:"orders"` // orders with a line of it
	revenue   decimal.Decimal
	lastOrder string
}

var orderStatuses = []string{"pending", "approved", "fulfilled"}

// orderStatusAt is an order's status at w.End, from when it was approved
// and fulfilled.
func orderStatusAt(o OrderRow, w Window) string {
	switch {
	case before(o.FulfilledAt, w.End):
		return "fulfilled"
	case before(o.ApprovedAt, w.End):
		return "approved"
	}
	return "pending"
}

func buildSales(ctx context.Context, src Source, h Header, w Window) (*SalesReport, error) {
	var all tally
	byStatus := map[string]*tally{}
	byDay := map[string]*tally{}
	err := src.EachOrder(ctx, h.Tenant, w, func(o OrderRow) error {
		all.add(o.Total)
		st := orderStatusAt(o, w)
		if byStatus[st] == nil {
			byStatus[st] = &tally{}
		}
		byStatus[st].add(o.Total)
		day := date(o.CreatedAt)
		if byDay[day] == nil {
			byDay[day] = &tally{}
		}
		byDay[day].add(o.Total)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var units int64
	products := map[string]*ProductSales{}
	err = src.EachOrderLine(ctx, h.Tenant, w, func(l OrderLineRow) error {
		units += l.Quantity
		p := products[l.ProductID]
		if p == nil {
			p = &ProductSales{ProductID: l.ProductID, SKU: l.SKU, Name: l.ProductName}
			products[l.ProductID] = p
		}
		p.Quantity += l.Quantity
		p.revenue = p.revenue.Add(l.Amount)
		if p.lastOrder != l.OrderID { // lines come grouped by order
			p.Orders++
			p.lastOrder = l.OrderID
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	r := &SalesReport{Header: h, Summary: SalesSummary{Orders: all.count, Total: money(all.total), Units: units}}
	for _, st := range orderStatuses {
		t := byStatus[st]
		if t == nil {
			t = &tally{}
		}
		r.ByStatus = append(r.ByStatus, StatusTotal{Status: st, Count: t.count, Total: money(t.total)})
	}
	for d := w.Start; d.Before(w.End); d = d.AddDate(0, 0, 1) {
		t := byDay[date(d)]
		if t == nil {
			t = &tally{}
		}
		r.ByDay = append(r.ByDay, DayTotal{Date: date(d), Count: t.count, Total: money(t.total)})
	}
	list := make([]ProductSales, 0, len(products))
	for _, p := range products {
		p.Revenue = money(p.revenue)
		list = append(list, *p)
	}
	r.TopProductsByQuantity = top(list, func(a, b ProductSales) int {
		return cmp.Or(cmp.Compare(b.Quantity, a.Quantity), b.revenue.Cmp(a.revenue), cmp.Compare(a.SKU, b.SKU), cmp.Compare(a.ProductID, b.ProductID))
	})
	r.TopProductsByRevenue = top(list, func(a, b ProductSales) int {
		return cmp.Or(b.revenue.Cmp(a.revenue), cmp.Compare(b.Quantity, a.Quantity), cmp.Compare(a.SKU, b.SKU), cmp.Compare(a.ProductID, b.ProductID))
	})
	return r, nil
}

// top returns the first TopProducts of list in the order of by.
func top(list []ProductSales, by func(a, b ProductSales) int) []ProductSales {
	sorted := append(make([]ProductSales, 0, len(list)), list...)
	slices.SortFunc(sorted, by)
	return sorted[:min(len(sorted), TopProducts)]
}
