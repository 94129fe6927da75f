package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/sales"
)

// Tenant is the demo tenant's id.
const Tenant domain.TenantID = "acme"

// Users are the demo tenant's people. Bob and Dave hold inventory.alerts
// and so receive low-stock and expiry alerts; Alice gets everything as
// admin; Carol sells and is told about her orders and their invoices; Erin
// approves orders and purchase orders and collects payments.
var Users = []domain.User{
	{TenantID: Tenant, ID: "alice", Name: "Alice Admin", Email: "alice@acme.example", Perms: []string{domain.PermAdmin}},
	{TenantID: Tenant, ID: "bob", Name: "Bob Warehouse", Email: "bob@acme.example",
		Perms: []string{domain.PermInventoryManage, domain.PermInventoryAlerts, domain.PermProductsManage}},
	{TenantID: Tenant, ID: "carol", Name: "Carol Sales", Email: "carol@acme.example",
		Perms: []string{domain.PermSalesManage, domain.PermCRMManage}},
	{TenantID: Tenant, ID: "dave", Name: "Dave Buyer", Email: "dave@acme.example",
		Perms: []string{domain.PermInventoryAlerts, domain.PermProcurementManage}},
	{TenantID: Tenant, ID: "erin", Name: "Erin Finance", Email: "erin@acme.example",
		Perms: []string{domain.PermInvoicesManage, domain.PermSalesApprove, domain.PermProcurementApprove}},
}

// actor is the demo user id acting with their own permissions.
func actor(id domain.UserID) domain.Actor {
	for _, u := range Users {
		if u.ID == id {
			return domain.Actor{TenantID: Tenant, UserID: u.ID, Perms: u.Perms}
		}
	}
	panic("demo: no user " + string(id))
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
	Users       UserStore
	Products    *product.Service
	Inventory   *inventory.Service
	CRM         *crm.Service
	Sales       *sales.Service
	Invoices    *invoice.Service
	Procurement *procurement.Service
	Logger      *slog.Logger
}

var customers = []crm.CustomerInput{
	{Name: "Initech GmbH", Email: "ap@initech.example"},
	{Name: "Globex Retail", Email: "billing@globex.example"},
	{Name: "Hooli Offices", Email: "invoices@hooli.example"},
}

var vendors = []procurement.VendorInput{
	{Name: "Nordic Timber Ltd", Email: "orders@nordictimber.example"},
	{Name: "Brightlite Components", Email: "sales@brightlite.example"},
}

var crmList = crm.ListParams{Limit: 200}

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
	if err := d.seedPartners(ctx); err != nil {
		return err
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

// seedPartners creates the customers, a lead and the vendors, unless the
// tenant has some already (a database from an earlier start).
func (d *Demo) seedPartners(ctx context.Context) error {
	existing, err := d.CRM.ListCustomers(ctx, Tenant, crm.ListParams{Limit: 1})
	if err != nil {
		return err
	}
	if len(existing) == 0 {
		for _, c := range customers {
			if _, err := d.CRM.CreateCustomer(ctx, actor("carol"), c); err != nil {
				return fmt.Errorf("seed customer %s: %w", c.Name, err)
			}
		}
		lead, err := d.CRM.CreateLead(ctx, actor("carol"), crm.LeadInput{Name: "Umbrella Labs", Email: "procurement@umbrella.example"})
		if err != nil {
			return fmt.Errorf("seed lead: %w", err)
		}
		if _, err := d.CRM.ConvertLead(ctx, actor("carol"), lead.ID); err != nil {
			return fmt.Errorf("convert lead: %w", err)
		}
	}
	known, err := d.Procurement.ListVendors(ctx, Tenant, procurement.VendorFilter{Limit: 1})
	if err != nil {
		return err
	}
	if len(known) == 0 {
		for _, v := range vendors {
			if _, err := d.Procurement.CreateVendor(ctx, actor("dave"), v); err != nil && !errors.Is(err, domain.ErrConflict) {
				return fmt.Errorf("seed vendor %s: %w", v.Name, err)
			}
		}
	}
	return nil
}
