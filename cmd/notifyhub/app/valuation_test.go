package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

type valuationLineJSON struct {
	ProductID    string `json:"product_id"`
	SKU          string `json:"sku"`
	LocationCode string `json:"location_code"`
	Quantity     int64  `json:"quantity"`
	FIFOValue    string `json:"fifo_value"`
	AverageCost  string `json:"average_cost"`
	AverageValue string `json:"average_value"`
	Layers       []struct {
		Quantity    int64  `json:"quantity"`
		UnitCost    string `json:"unit_cost"`
		BatchNumber string `json:"batch_number"`
		ExpiryDate  string `json:"expiry_date"`
	} `json:"layers"`
}

type valuationStatus struct {
	ID      string              `json:"id"`
	Status  string              `json:"status"`
	Results []valuationLineJSON `json:"results"`
	Totals  *struct {
		Lines     int64  `json:"lines"`
		FIFOValue string `json:"fifo_value"`
	} `json:"totals"`
}

// TestInventoryValuationEndToEnd: in each mode, goods received against a
// purchase order (in batches, at the order's cost) and sold from a named
// batch are valued by POST /api/v1/valuations through the low queue; the
// results are the hand-computed FIFO and average figures, and another
// tenant can neither see them nor be seen in them.
func TestInventoryValuationEndToEnd(t *testing.T) {
	t.Parallel()
	for _, m := range []mode{embedded(), distributed()} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			cfg := m.cfg(t)
			cfg.Queues.Sleep = 20 * time.Millisecond
			a := start(t, cfg)
			boss := token(t, a, "acme", "boss", domain.PermAdmin)
			other := token(t, a, "globex", "gina", domain.PermAdmin)

			var p productJSON
			call(t, a, boss, "POST", "/api/v1/products", map[string]any{"sku": "YOG", "name": "Yoghurt", "price": "2.00"}, http.StatusCreated, &p)
			var vendor struct{ ID string }
			call(t, a, boss, "POST", "/api/v1/vendors", map[string]any{"name": "Dairy"}, http.StatusCreated, &vendor)
			var po struct{ ID string }
			call(t, a, boss, "POST", "/api/v1/purchase-orders", map[string]any{"vendor_id": vendor.ID,
				"lines": []map[string]any{{"product_id": p.ID, "quantity": 30, "unit_cost": "0.50"}}}, http.StatusCreated, &po)
			call(t, a, boss, "POST", "/api/v1/purchase-orders/"+po.ID+"/approve", nil, http.StatusOK, nil)
			// Two batches at the order's cost, the second at a negotiated one.
			call(t, a, boss, "POST", "/api/v1/purchase-orders/"+po.ID+"/receipts", map[string]any{"lines": []map[string]any{
				{"line_no": 1, "quantity": 10, "batch_number": "B-1", "expiry_date": "2027-01-31"},
				{"line_no": 1, "quantity": 20, "batch_number": "B-2", "expiry_date": "2027-02-28", "unit_cost": "0.65"},
			}}, http.StatusCreated, nil)
			// 12 out of the later batch by name: all 20 − 12 = 8 of B-2 and 10 of B-1 remain.
			call(t, a, boss, "POST", "/api/v1/stock-movements", map[string]any{
				"product_id": p.ID, "quantity": -12, "batch_number": "B-2", "reason": "sale"}, http.StatusCreated, nil)
			var theirs productJSON
			call(t, a, other, "POST", "/api/v1/products", map[string]any{"sku": "YOG", "name": "Yoghurt", "price": "2.00"}, http.StatusCreated, &theirs)
			call(t, a, other, "POST", "/api/v1/stock-movements", map[string]any{
				"product_id": theirs.ID, "quantity": 5, "unit_cost": "9.99", "reason": "found"}, http.StatusCreated, nil)

			var v valuationStatus
			call(t, a, boss, "POST", "/api/v1/valuations", map[string]any{}, http.StatusAccepted, &v)
			require.Equal(t, "pending", v.Status)
			require.Eventually(t, func() bool {
				call(t, a, boss, "GET", "/api/v1/valuations/"+v.ID, nil, http.StatusOK, &v)
				return v.Status == "completed"
			}, 30*time.Second, 20*time.Millisecond, "a worker runs the valuation")

			// FIFO: 10 @ 0.50 + 8 @ 0.65 = 5.00 + 5.20 = 10.20. Average:
			// (10 × 0.50 + 20 × 0.65) / 30 = 18.00 / 30 = 0.60; 18 × 0.60 = 10.80.
			require.Len(t, v.Results, 1)
			l := v.Results[0]
			require.Equal(t, p.ID, l.ProductID)
			require.Equal(t, "YOG", l.SKU)
			require.Equal(t, "main", l.LocationCode)
			require.EqualValues(t, 18, l.Quantity)
			require.Equal(t, "10.2", l.FIFOValue)
			require.Equal(t, "0.6", l.AverageCost)
			require.Equal(t, "10.8", l.AverageValue)
			require.Len(t, l.Layers, 2)
			require.Equal(t, []string{"B-1", "B-2"}, []string{l.Layers[0].BatchNumber, l.Layers[1].BatchNumber})
			require.Equal(t, []int64{10, 8}, []int64{l.Layers[0].Quantity, l.Layers[1].Quantity})
			require.Equal(t, "2027-02-28", l.Layers[1].ExpiryDate)
			require.NotNil(t, v.Totals)
			require.Equal(t, "10.2", v.Totals.FIFOValue)

			call(t, a, other, "GET", "/api/v1/valuations/"+v.ID, nil, http.StatusNotFound, nil)
			call(t, a, other, "POST", "/api/v1/valuations", map[string]any{"product_id": p.ID}, http.StatusNotFound, nil)
			var mine valuationStatus
			call(t, a, other, "POST", "/api/v1/valuations", map[string]any{"product_id": theirs.ID}, http.StatusAccepted, &mine)
			require.Eventually(t, func() bool {
				call(t, a, other, "GET", "/api/v1/valuations/"+mine.ID, nil, http.StatusOK, &mine)
				return mine.Status == "completed"
			}, 30*time.Second, 20*time.Millisecond)
			require.Len(t, mine.Results, 1)
			require.Equal(t, theirs.ID, mine.Results[0].ProductID)
			require.Equal(t, "49.95", mine.Results[0].FIFOValue)
		})
	}
}
