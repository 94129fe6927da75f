package product

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// Product is an item a tenant sells and stocks.
type Product struct {
	ID           string          `json:"id"`
	TenantID     domain.TenantID `json:"-"`
	SKU          string          `json:"sku"`
	Name         string          `json:"name"`
	Price        decimal.Decimal `json:"price"`
	ReorderLevel int64           `json:"reorder_level"`
	OnHand       int64           `json:"on_hand"`   // over all locations, kept by inventory
	LowStock     bool            `json:"low_stock"` // on hand is below the reorder level
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

// ListParams pages through products ordered by id.
type ListParams struct {
	After string // exclusive cursor: a product id, "" for the start
	Limit int
}
