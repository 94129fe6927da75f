package product

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// Limits on product fields; longer input is a validation error, not a
// truncation.
const (
	maxSKULen      = 64
	maxNameLen     = 200
	maxReorder     = 1_000_000_000
	defaultPage    = 50
	maxPage        = 200
	priceMaxDigits = 16 // integer digits that NUMERIC(20,4) holds
)

// Service runs the product commands.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service; now defaults to time.Now.
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// CreateInput is the body of POST /api/v1/products.
type CreateInput struct {
	SKU          string           `json:"sku"`
	Name         string           `json:"name"`
	Price        *decimal.Decimal `json:"price"`
	ReorderLevel *int64           `json:"reorder_level"`
}

// UpdateInput is the body of PATCH /api/v1/products/{id}; nil fields stay.
type UpdateInput struct {
	SKU          *string          `json:"sku"`
	Name         *string          `json:"name"`
	Price        *decimal.Decimal `json:"price"`
	ReorderLevel *int64           `json:"reorder_level"`
}

// Create validates the input, stores the product and writes ProductCreated.
func (s *Service) Create(ctx context.Context, actor domain.Actor, in CreateInput) (Product, error) {
	if err := actor.Require(domain.PermProductsManage); err != nil {
		return Product{}, err
	}
	v := &domain.ValidationError{}
	sku := strings.TrimSpace(in.SKU)
	name := strings.TrimSpace(in.Name)
	checkSKU(v, sku)
	checkName(v, name)
	if in.Price == nil {
		v.Add("price", "is required")
	} else {
		checkPrice(v, *in.Price)
	}
	var reorder int64
	if in.ReorderLevel != nil {
		reorder = *in.ReorderLevel
		checkReorder(v, reorder)
	}
	if err := v.Err(); err != nil {
		return Product{}, err
	}
	now := s.now().UTC()
	p := Product{
		ID: domain.NewID(), TenantID: actor.TenantID, SKU: sku, Name: name,
		Price: *in.Price, ReorderLevel: reorder, CreatedAt: now, UpdatedAt: now,
	}
	ev, err := domain.NewEvent(actor.TenantID, actor.UserID, now, ProductCreated{
		ProductID: p.ID, SKU: p.SKU, Name: p.Name, Price: p.Price, ReorderLevel: p.ReorderLevel,
	})
	if err != nil {
		return Product{}, err
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.InsertProduct(ctx, p); err != nil {
			return err
		}
		return s.store.AppendEvents(ctx, ev)
	})
	if err != nil {
		return Product{}, fmt.Errorf("create product: %w", err)
	}
	return p, nil
}

// Update changes the given fields and writes ProductUpdated with the old and
// new value of each field that really changed. An update that changes
// nothing writes no event.
func (s *Service) Update(ctx context.Context, actor domain.Actor, id string, in UpdateInput) (Product, error) {
	if err := actor.Require(domain.PermProductsManage); err != nil {
		return Product{}, err
	}
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Product{}, err
	}
	v := &domain.ValidationError{}
	if in.SKU != nil {
		trimmed := strings.TrimSpace(*in.SKU)
		in.SKU = &trimmed
		checkSKU(v, trimmed)
	}
	if in.Name != nil {
		trimmed := strings.TrimSpace(*in.Name)
		in.Name = &trimmed
		checkName(v, trimmed)
	}
	if in.Price != nil {
		checkPrice(v, *in.Price)
	}
	if in.ReorderLevel != nil {
		checkReorder(v, *in.ReorderLevel)
	}
	if err := v.Err(); err != nil {
		return Product{}, err
	}
	var out Product
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		p, err := s.store.LockProduct(ctx, actor.TenantID, id)
		if err != nil {
			return err
		}
		changes := map[string]Change{}
		if in.SKU != nil && *in.SKU != p.SKU {
			changes["sku"] = Change{Old: p.SKU, New: *in.SKU}
			p.SKU = *in.SKU
		}
		if in.Name != nil && *in.Name != p.Name {
			changes["name"] = Change{Old: p.Name, New: *in.Name}
			p.Name = *in.Name
		}
		if in.Price != nil && !in.Price.Equal(p.Price) {
			changes["price"] = Change{Old: p.Price, New: *in.Price}
			p.Price = *in.Price
		}
		if in.ReorderLevel != nil && *in.ReorderLevel != p.ReorderLevel {
			changes["reorder_level"] = Change{Old: p.ReorderLevel, New: *in.ReorderLevel}
			p.ReorderLevel = *in.ReorderLevel
		}
		out = p
		if len(changes) == 0 {
			return nil
		}
		now := s.now().UTC()
		p.UpdatedAt = now
		out = p
		if err := s.store.UpdateProduct(ctx, p); err != nil {
			return err
		}
		if low := p.OnHand < p.ReorderLevel; low != p.LowStock {
			// The flag follows the new reorder level. Detection itself
			// compares on hand before and after each movement with the
			// level, so a changed level only affects later crossings.
			p.LowStock = low
			out.LowStock = low
			if err := s.store.SetProductStock(ctx, p.TenantID, p.ID, p.OnHand, low); err != nil {
				return err
			}
		}
		ev, err := domain.NewEvent(actor.TenantID, actor.UserID, now, ProductUpdated{
			ProductID: p.ID, SKU: p.SKU, Changes: changes,
		})
		if err != nil {
			return err
		}
		return s.store.AppendEvents(ctx, ev)
	})
	if err != nil {
		return Product{}, fmt.Errorf("update product: %w", err)
	}
	return out, nil
}

// Delete soft-deletes the product and writes ProductDeleted.
func (s *Service) Delete(ctx context.Context, actor domain.Actor, id string) error {
	if err := actor.Require(domain.PermProductsManage); err != nil {
		return err
	}
	id, err := domain.ParseID("id", id)
	if err != nil {
		return err
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		p, err := s.store.LockProduct(ctx, actor.TenantID, id)
		if err != nil {
			return err
		}
		if err := s.store.DeleteProduct(ctx, actor.TenantID, id); err != nil {
			return err
		}
		ev, err := domain.NewEvent(actor.TenantID, actor.UserID, s.now(), ProductDeleted{
			ProductID: p.ID, SKU: p.SKU, Name: p.Name,
		})
		if err != nil {
			return err
		}
		return s.store.AppendEvents(ctx, ev)
	})
	if err != nil {
		return fmt.Errorf("delete product: %w", err)
	}
	return nil
}

// Get returns one product of the tenant.
func (s *Service) Get(ctx context.Context, tenant domain.TenantID, id string) (Product, error) {
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Product{}, err
	}
	return s.store.GetProduct(ctx, tenant, id)
}

// List pages through the tenant's products by id.
func (s *Service) List(ctx context.Context, tenant domain.TenantID, p ListParams) ([]Product, error) {
	if p.After != "" {
		after, err := domain.ParseID("after", p.After)
		if err != nil {
			return nil, err
		}
		p.After = after
	}
	p.Limit = ClampLimit(p.Limit)
	return s.store.ListProducts(ctx, tenant, p)
}

// ClampLimit applies the default page size and the maximum.
func ClampLimit(n int) int {
	switch {
	case n <= 0:
		return defaultPage
	case n > maxPage:
		return maxPage
	}
	return n
}

func checkSKU(v *domain.ValidationError, sku string) {
	switch {
	case sku == "":
		v.Add("sku", "is required")
	case utf8.RuneCountInString(sku) > maxSKULen:
		v.Add("sku", fmt.Sprintf("must be at most %d characters", maxSKULen))
	case !utf8.ValidString(sku) || strings.ContainsFunc(sku, isControl):
		v.Add("sku", "must not contain control characters")
	}
}

func checkName(v *domain.ValidationError, name string) {
	switch {
	case name == "":
		v.Add("name", "is required")
	case utf8.RuneCountInString(name) > maxNameLen:
		v.Add("name", fmt.Sprintf("must be at most %d characters", maxNameLen))
	case !utf8.ValidString(name) || strings.ContainsFunc(name, isControl):
		v.Add("name", "must not contain control characters")
	}
}

func checkPrice(v *domain.ValidationError, price decimal.Decimal) {
	switch {
	case price.IsNegative():
		v.Add("price", "must not be negative")
	case price.Exponent() < -4 && !price.Equal(price.Round(4)):
		v.Add("price", "must have at most 4 decimal places")
	case len(price.Truncate(0).Abs().String()) > priceMaxDigits:
		v.Add("price", "is too large")
	}
}

func checkReorder(v *domain.ValidationError, n int64) {
	if n < 0 || n > maxReorder {
		v.Add("reorder_level", fmt.Sprintf("must be between 0 and %d", maxReorder))
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
