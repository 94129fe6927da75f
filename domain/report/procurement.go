package report

import (
	"cmp"
	"context"
	"slices"

	"github.com/shopspring/decimal"
)

// ProcurementReport covers the purchase orders created in the range: what
// was ordered from whom, and how much of it was received by the end of
// the range.
type ProcurementReport struct {
	Header
	Summary ProcurementSummary `json:"summary"`
	// ByStatus lists pending, approved, partially_received and received
	// (always all four), by each order's status at the end of the range.
	ByStatus []StatusTotal   `json:"by_status"`
	ByVendor []VendorTotal   `json:"by_vendor"` // by vendor name
	Products []ProductSupply `json:"products"`  // by SKU
}

// ProcurementSummary totals the purchase orders of the range.
type ProcurementSummary struct {
	PurchaseOrders      int64 `json:"purchase_orders"`
	Total               Money `json:"total"`
	OrderedQuantity     int64 `json:"ordered_quantity"`
	ReceivedQuantity    int64 `json:"received_quantity"`
	OutstandingQuantity int64 `json:"outstanding_quantity"`
}

// VendorTotal is what was ordered from one vendor.
type VendorTotal struct {
	VendorID            string `json:"vendor_id"`
	Name                string `json:"name"`
	PurchaseOrders      int64  `json:"purchase_orders"`
	Total               Money  `json:"total"`
	OrderedQuantity     int64  `json:"ordered_quantity"`
	ReceivedQuantity    int64  `json:"received_quantity"`
	OutstandingQuantity int64  `json:"outstanding_quantity"`
	total               decimal.Decimal
}

// ProductSupply is what was ordered of one product, and its cost.
type ProductSupply struct {
	ProductID           string `json:"product_id"`
	SKU                 string `json:"sku"`
	Name                string `json:"name"`
	OrderedQuantity     int64  `json:"ordered_quantity"`
	ReceivedQuantity    int64  `json:"received_quantity"`
	OutstandingQuantity int64  `json:"outstanding_quantity"`
	Cost                Money  `json:"cost"` // Σ quantity × unit cost ordered
	cost                decimal.Decimal
}

var purchaseOrderStatuses = []string{"pending", "approved", "partially_received", "received"}

func buildProcurement(ctx context.Context, src Source, h Header, w Window) (*ProcurementReport, error) {
	type poQty struct{ ordered, received int64 }
	qty := map[string]*poQty{}
	products := map[string]*ProductSupply{}
	err := src.EachPurchaseOrderLine(ctx, h.Tenant, w, func(l PurchaseOrderLineRow) error {
		q := qty[l.PurchaseOrderID]
		if q == nil {
			q = &poQty{}
			qty[l.PurchaseOrderID] = q
		}
		q.ordered += l.Quantity
		q.received += l.ReceivedQuantity
		p := products[l.ProductID]
		if p == nil {
			p = &ProductSupply{ProductID: l.ProductID, SKU: l.SKU, Name: l.ProductName}
			products[l.ProductID] = p
		}
		p.OrderedQuantity += l.Quantity
		p.ReceivedQuantity += l.ReceivedQuantity
		p.cost = p.cost.Add(l.UnitCost.Mul(decimal.NewFromInt(l.Quantity)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	var all tally
	var sum ProcurementSummary
	byStatus := map[string]*tally{}
	vendors := map[string]*VendorTotal{}
	err = src.EachPurchaseOrder(ctx, h.Tenant, w, func(po PurchaseOrderRow) error {
		q := qty[po.ID]
		if q == nil {
			q = &poQty{}
		}
		st := "pending"
		switch {
		case !before(po.ApprovedAt, w.End):
		case q.received == 0:
			st = "approved"
		case q.received < q.ordered:
			st = "partially_received"
		default:
			st = "received"
		}
		if byStatus[st] == nil {
			byStatus[st] = &tally{}
		}
		byStatus[st].add(po.Total)
		all.add(po.Total)
		sum.OrderedQuantity += q.ordered
		sum.ReceivedQuantity += q.received
		v := vendors[po.VendorID]
		if v == nil {
			v = &VendorTotal{VendorID: po.VendorID, Name: po.VendorName}
			vendors[po.VendorID] = v
		}
		v.PurchaseOrders++
		v.total = v.total.Add(po.Total)
		v.OrderedQuantity += q.ordered
		v.ReceivedQuantity += q.received
		return nil
	})
	if err != nil {
		return nil, err
	}
	sum.PurchaseOrders, sum.Total = all.count, money(all.total)
	sum.OutstandingQuantity = sum.OrderedQuantity - sum.ReceivedQuantity
	r := &ProcurementReport{Header: h, Summary: sum, ByVendor: []VendorTotal{}, Products: []ProductSupply{}}
	for _, st := range purchaseOrderStatuses {
		t := byStatus[st]
		if t == nil {
			t = &tally{}
		}
		r.ByStatus = append(r.ByStatus, StatusTotal{Status: st, Count: t.count, Total: money(t.total)})
	}
	for _, v := range vendors {
		v.Total = money(v.total)
		v.OutstandingQuantity = v.OrderedQuantity - v.ReceivedQuantity
		r.ByVendor = append(r.ByVendor, *v)
	}
	slices.SortFunc(r.ByVendor, func(a, b VendorTotal) int { return byNameThenID(a.Name, a.VendorID, b.Name, b.VendorID) })
	for _, p := range products {
		p.Cost = money(p.cost)
		p.OutstandingQuantity = p.OrderedQuantity - p.ReceivedQuantity
		r.Products = append(r.Products, *p)
	}
	slices.SortFunc(r.Products, func(a, b ProductSupply) int {
		return cmp.Or(cmp.Compare(a.SKU, b.SKU), cmp.Compare(a.ProductID, b.ProductID))
	})
	return r, nil
}
