package report

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
)

// ExpiryWindowDays is how far after the range the inventory report looks
// for expiring batches.
const ExpiryWindowDays = 30

// InventoryReport is every product's stock position at the end of the
// range, its movements during the range, and the batches that expire
// within ExpiryWindowDays of the last day.
type InventoryReport struct {
	Header
	Summary  InventorySummary `json:"summary"`
	Products []ProductStock   `json:"products"` // by SKU
	// ExpiringBatches are the batches holding stock (now) whose expiry
	// date is at most ExpiryWindowDays after To, expired ones included;
	// first expiry first.
	ExpiringBatches []ExpiringBatch `json:"expiring_batches"`
}

// InventorySummary totals the products.
type InventorySummary struct {
	Products        int64 `json:"products"`
	LowStock        int64 `json:"low_stock"`
	UnitsOnHand     int64 `json:"units_on_hand"`
	UnitsIn         int64 `json:"units_in"`
	UnitsOut        int64 `json:"units_out"`
	ExpiringBatches int64 `json:"expiring_batches"`
	ExpiringUnits   int64 `json:"expiring_units"`
}

// ProductStock is one product's position. LowStock is on hand below the
// reorder level, as the stock ledger flags it.
type ProductStock struct {
	ProductID    string `json:"product_id"`
	SKU          string `json:"sku"`
	Name         string `json:"name"`
	OnHand       int64  `json:"on_hand"`
	ReorderLevel int64  `json:"reorder_level"`
	LowStock     bool   `json:"low_stock"`
	MovementsIn  int64  `json:"movements_in"`
	MovementsOut int64  `json:"movements_out"`
	UnitsIn      int64  `json:"units_in"`
	UnitsOut     int64  `json:"units_out"`
}

// ExpiringBatch is a batch near or past its expiry date. DaysRemaining
// counts from To: 0 when it expires on the last day, negative once
// expired.
type ExpiringBatch struct {
	ProductID     string `json:"product_id"`
	SKU           string `json:"sku"`
	Name          string `json:"name"`
	LocationID    string `json:"location_id"`
	LocationCode  string `json:"location_code"`
	BatchNumber   string `json:"batch_number"`
	ExpiryDate    string `json:"expiry_date"`
	Quantity      int64  `json:"quantity"`
	DaysRemaining int    `json:"days_remaining"`
	Expired       bool   `json:"expired"`
}

func buildInventory(ctx context.Context, src Source, h Header, w Window) (*InventoryReport, error) {
	r := &InventoryReport{Header: h, Products: []ProductStock{}, ExpiringBatches: []ExpiringBatch{}}
	err := src.EachProductStock(ctx, h.Tenant, w, func(p ProductStockRow) error {
		low := p.OnHand < p.ReorderLevel
		r.Products = append(r.Products, ProductStock{
			ProductID: p.ProductID, SKU: p.SKU, Name: p.Name, OnHand: p.OnHand, ReorderLevel: p.ReorderLevel,
			LowStock: low, MovementsIn: p.MovementsIn, MovementsOut: p.MovementsOut, UnitsIn: p.UnitsIn, UnitsOut: p.UnitsOut,
		})
		r.Summary.Products++
		if low {
			r.Summary.LowStock++
		}
		r.Summary.UnitsOnHand += p.OnHand
		r.Summary.UnitsIn += p.UnitsIn
		r.Summary.UnitsOut += p.UnitsOut
		return nil
	})
	if err != nil {
		return nil, err
	}
	last := w.End.AddDate(0, 0, -1)
	err = src.EachBatch(ctx, h.Tenant, last.AddDate(0, 0, ExpiryWindowDays), func(b BatchRow) error {
		days := domain.DaysBetween(last, b.ExpiryDate)
		r.ExpiringBatches = append(r.ExpiringBatches, ExpiringBatch{
			ProductID: b.ProductID, SKU: b.SKU, Name: b.ProductName, LocationID: b.LocationID,
			LocationCode: b.LocationCode, BatchNumber: b.BatchNumber, ExpiryDate: date(b.ExpiryDate),
			Quantity: b.Quantity, DaysRemaining: days, Expired: days < 0,
		})
		r.Summary.ExpiringBatches++
		r.Summary.ExpiringUnits += b.Quantity
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}
