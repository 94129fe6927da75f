package inventory

import "github.com/shopspring/decimal"

// StockMovementRecorded is written for every ledger entry.
type StockMovementRecorded struct {
	MovementID  string           `json:"movement_id"`
	ProductID   string           `json:"product_id"`
	SKU         string           `json:"sku"`
	LocationID  string           `json:"location_id"`
	Quantity    int64            `json:"quantity"`
	UnitCost    *decimal.Decimal `json:"unit_cost,omitempty"`
	BatchNumber string           `json:"batch_number,omitempty"`
	ExpiryDate  string           `json:"expiry_date,omitempty"` // YYYY-MM-DD
	Reason      string           `json:"reason"`
	OnHand      int64            `json:"on_hand"`          // product total after the movement
	LocationOn  int64            `json:"location_on_hand"` // at the location after the movement
}

func (StockMovementRecorded) EventType() string             { return "StockMovementRecorded" }
func (e StockMovementRecorded) Aggregate() (string, string) { return "product", e.ProductID }

// LowStockDetected is written when a product's total on hand crosses below
// its reorder level: once per crossing, again only after it has risen to or
// above the level.
type LowStockDetected struct {
	ProductID    string `json:"product_id"`
	SKU          string `json:"sku"`
	Name         string `json:"name"`
	OnHand       int64  `json:"on_hand"`
	ReorderLevel int64  `json:"reorder_level"`
	LocationID   string `json:"location_id"` // where the movement that crossed happened
	LocationCode string `json:"location_code"`
	LocationName string `json:"location_name"`
	MovementID   string `json:"movement_id"`
}

func (LowStockDetected) EventType() string             { return "LowStockDetected" }
func (e LowStockDetected) Aggregate() (string, string) { return "product", e.ProductID }

// StockExpiring is raised by the expiry detector, once per batch (product,
// location, batch, expiry date) and threshold (days remaining).
type StockExpiring struct {
	ProductID     string `json:"product_id"`
	SKU           string `json:"sku"`
	Name          string `json:"name"`
	LocationID    string `json:"location_id"`
	LocationCode  string `json:"location_code"`
	BatchNumber   string `json:"batch_number"`
	ExpiryDate    string `json:"expiry_date"` // YYYY-MM-DD
	Quantity      int64  `json:"quantity"`    // of the batch still on hand
	DaysRemaining int    `json:"days_remaining"`
	Threshold     int    `json:"threshold"` // the threshold crossed, in days
}

func (StockExpiring) EventType() string             { return "StockExpiring" }
func (e StockExpiring) Aggregate() (string, string) { return "product", e.ProductID }
