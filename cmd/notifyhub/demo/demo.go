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
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
)

// Tenant is the demo tenant's id.
const Tenant domain.TenantID = "acme"

// Users are the demo tenant's people. Bob and Dave hold inventory.alerts
// and so receive low-stock notifications; Alice gets them as admin; Carol
// (sales) does not.
var Users = []domain.User{
	{TenantID: Tenant, ID: "alice", Name: "Alice Admin", Email: "alice@acme.example", Perms: []string{domain.PermAdmin}},
	{TenantID: Tenant, ID: "bob", Name: "Bob Warehouse", Email: "bob@acme.example",
		Perms: []string{domain.PermInventoryManage, domain.PermInventoryAlerts, domain.PermProductsManage}},
	{TenantID: Tenant, ID: "carol", Name: "Carol Sales", Email: "carol@acme.example", Perms: []string{domain.PermSalesManage}},
	{TenantID: Tenant, ID: "dave", Name: "Dave Buyer", Email: "dave@acme.example",
		Perms: []string{domain.PermInventoryAlerts, domain.PermProcurementManage}},
}

// system is the actor of seeding and traffic: the demo admin.
var system = domain.Actor{TenantID: Tenant, UserID: "alice", Perms: []string{domain.PermAdmin}}

type seedProduct struct {
	sku, name, price string
	reorder, opening int64
	// firstSale, when set, is sold right after the opening stock; it takes
	// the product below its reorder level, so the center has real alerts
	// from the first minute.
	firstSale int64
}

var catalogue = []seedProduct{
	{"CHR-OAK-01", "Oak dining chair", "89.00", 12, 30, 0},
	{"DSK-STD-02", "Standing desk", "499.00", 5, 9, 6},
	{"LMP-LED-03", "LED desk lamp", "34.50", 20, 45, 0},
	{"MON-27-04", "27\" monitor", "279.99", 8, 14, 0},
	{"KBD-MEC-05", "Mechanical keyboard", "119.00", 15, 22, 0},
	{"CBL-USB-06", "USB-C cable 2m", "9.90", 50, 120, 0},
	{"SHF-WAL-07", "Wall shelf", "45.00", 6, 8, 3},
	{"PAP-A4-08", "A4 paper, 500 sheets", "5.25", 40, 65, 0},
}

// UserStore is what seeding needs besides the services.
type UserStore interface {
	UpsertTenant(ctx context.Context, id domain.TenantID, name string) error
	UpsertUser(ctx context.Context, u domain.User) error
}

// Demo seeds and drives the demo tenant.
type Demo struct {
	Users     UserStore
	Products  *product.Service
	Inventory *inventory.Service
	Logger    *slog.Logger
}

// Seed creates the demo tenant, its users, locations and products with
// opening stock. It is safe to run again: existing data is kept.
func (d *Demo) Seed(ctx context.Context) error {
	if err := d.Users.UpsertTenant(ctx, Tenant, "Acme Furniture"); err != nil {
		return fmt.Errorf("seed tenant: %w", err)
	}
	for _, u := range Users {
		if err := d.Users.UpsertUser(ctx, u); err != nil {
			return fmt.Errorf("seed user %s: %w", u.ID, err)
		}
	}
	existing, err := d.Products.List(ctx, Tenant, product.ListParams{Limit: 1})
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return nil // seeded on an earlier start
	}
	for _, loc := range []inventory.LocationInput{{Code: "north", Name: "North warehouse"}, {Code: "store", Name: "City store"}} {
		if _, err := d.Inventory.CreateLocation(ctx, system, loc); err != nil && !errors.Is(err, domain.ErrConflict) {
			return fmt.Errorf("seed location %s: %w", loc.Code, err)
		}
	}
	for _, sp := range catalogue {
		price := decimal.RequireFromString(sp.price)
		reorder := sp.reorder
		p, err := d.Products.Create(ctx, system, product.CreateInput{SKU: sp.sku, Name: sp.name, Price: &price, ReorderLevel: &reorder})
		if err != nil {
			return fmt.Errorf("seed product %s: %w", sp.sku, err)
		}
		cost := price.Mul(decimal.RequireFromString("0.6")).Round(2)
		if _, err := d.Inventory.Record(ctx, system, inventory.RecordInput{
			ProductID: p.ID, Quantity: sp.opening, UnitCost: &cost, Reason: "opening stock",
		}); err != nil {
			return fmt.Errorf("seed stock %s: %w", sp.sku, err)
		}
		if sp.firstSale > 0 {
			if _, err := d.Inventory.Record(ctx, system, inventory.RecordInput{
				ProductID: p.ID, Quantity: -sp.firstSale, Reason: "sale",
			}); err != nil {
				return fmt.Errorf("seed sale %s: %w", sp.sku, err)
			}
		}
	}
	d.Logger.InfoContext(ctx, "demo tenant seeded", slog.String("tenant", string(Tenant)), slog.Int("products", len(catalogue)))
	return nil
}

// Traffic records a stock movement every interval until ctx is done: mostly
// sales taking a few units out, and a restock once a product has run low,
// so on hand crosses reorder levels now and then.
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

func (d *Demo) step(ctx context.Context) error {
	products, err := d.Products.List(ctx, Tenant, product.ListParams{Limit: 200})
	if err != nil || len(products) == 0 {
		return err
	}
	p := products[rand.IntN(len(products))]
	in := inventory.RecordInput{ProductID: p.ID}
	switch {
	case p.OnHand < p.ReorderLevel && rand.IntN(3) == 0:
		in.Quantity = p.ReorderLevel*2 + int64(rand.IntN(10))
		cost := p.Price.Mul(decimal.RequireFromString("0.6")).Round(2)
		in.UnitCost = &cost
		in.Reason = "purchase receipt"
	case p.OnHand > 0:
		in.Quantity = -min(p.OnHand, int64(1+rand.IntN(4)))
		in.Reason = "sale"
	default:
		return nil
	}
	_, err = d.Inventory.Record(ctx, system, in)
	var rule *domain.RuleError
	if errors.As(err, &rule) {
		return nil // raced another movement; the next step picks again
	}
	return err
}
