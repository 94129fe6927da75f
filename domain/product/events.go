package product

import "github.com/shopspring/decimal"

// ProductCreated is written when a product is created.
type ProductCreated struct {
	ProductID    string          `json:"product_id"`
	SKU          string          `json:"sku"`
	Name         string          `json:"name"`
	Price        decimal.Decimal `json:"price"`
	ReorderLevel int64           `json:"reorder_level"`
}

func (ProductCreated) EventType() string             { return "ProductCreated" }
func (e ProductCreated) Aggregate() (string, string) { return "product", e.ProductID }

// Change is one field's value before and after an update.
type Change struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// ProductUpdated carries only the fields that changed, with old and new values.
type ProductUpdated struct {
	ProductID string            `json:"product_id"`
	SKU       string            `json:"sku"` // after the update
	Changes   map[string]Change `json:"changes"`
}

func (ProductUpdated) EventType() string             { return "ProductUpdated" }
func (e ProductUpdated) Aggregate() (string, string) { return "product", e.ProductID }

// ProductDeleted is written when a product is (soft-)deleted.
type ProductDeleted struct {
	ProductID string `json:"product_id"`
	SKU       string `json:"sku"`
	Name      string `json:"name"`
}

func (ProductDeleted) EventType() string             { return "ProductDeleted" }
func (e ProductDeleted) Aggregate() (string, string) { return "product", e.ProductID }
