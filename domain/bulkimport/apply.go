package bulkimport

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/product"
)

// actor is who the rows are imported as: the importing user (so events
// name them), with the one permission the import type's writes need.
func (im Import) actor() domain.Actor {
	user := im.RequestedBy
	if user == "" {
		user = domain.SystemUserID
	}
	perm := map[Type]string{
		Products: domain.PermProductsManage, Customers: domain.PermCRMManage,
		Vendors: domain.PermProcurementManage, Inventory: domain.PermInventoryManage,
	}[im.Type]
	return domain.Actor{TenantID: im.TenantID, UserID: user, Perms: []string{perm}}
}

// keyName names a type's natural key in messages.
var keyName = map[Type]string{Products: "sku", Customers: "email", Vendors: "name"}

// apply imports rows (in the transaction carried by ctx) and tallies them
// into im. A row the domain refuses makes apply return the error: the
// caller rolls the batch back and imports its rows one by one (oneByOne).
func (s *Service) apply(ctx context.Context, im *Import, rows []row, oneByOne bool) error {
	if im.Type != Inventory {
		if err := s.claimKeys(ctx, im, rows); err != nil {
			return err
		}
	}
	var err error
	switch im.Type {
	case Products:
		err = s.applyProducts(ctx, im, rows, oneByOne)
	case Customers:
		err = s.applyCustomers(ctx, im, rows)
	case Vendors:
		err = s.applyVendors(ctx, im, rows)
	case Inventory:
		err = s.applyStock(ctx, im, rows)
	default:
		err = fmt.Errorf("import %s has unknown type %q: %w", im.ID, im.Type, domain.ErrPermanent)
	}
	if err != nil {
		return err
	}
	for _, r := range rows {
		switch {
		case r.fail != "":
			im.recordFailure(r.no, r.fail)
		case r.skipped:
			im.Imported++
			im.Skipped++
		default:
			im.Imported++
		}
	}
	last := rows[len(rows)-1]
	im.ResumeRow, im.ResumeOffset = last.no, last.end
	return nil
}

// recordFailure counts a failed row, keeping the first MaxStoredErrors.
func (im *Import) recordFailure(no int64, msg string) {
	im.Failed++
	if len(im.Errors) < MaxStoredErrors {
		im.Errors = append(im.Errors, RowError{Row: no, Message: clip(msg, 500)})
	}
}

// claimKeys marks the valid rows whose natural key an earlier row of the
// file already had as duplicates.
func (s *Service) claimKeys(ctx context.Context, im *Import, rows []row) error {
	keys := make([]RowKey, 0, len(rows))
	for _, r := range rows {
		if r.fail == "" && r.key != "" {
			keys = append(keys, RowKey{Key: r.key, Row: r.no})
		}
	}
	if len(keys) == 0 {
		return nil
	}
	seen, err := s.store.ClaimImportKeys(ctx, im.TenantID, im.ID, keys)
	if err != nil {
		return err
	}
	for i := range rows {
		r := &rows[i]
		if first, dup := seen[r.key]; r.fail == "" && r.key != "" && dup && first != r.no {
			r.fail = fmt.Sprintf("%s: duplicate %q: row %d has the same %s", keyName[im.Type], clip(r.key, 60), first, keyName[im.Type])
		}
	}
	return nil
}

// valid lists the distinct non-empty keys of the rows not failed so far.
func valid(rows []row, key func(row) string) []string {
	var out []string
	for _, r := range rows {
		if k := key(r); r.fail == "" && k != "" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Upsert by SKU: an existing live product gets the row's name, price and
// (when given) reorder level, writing ProductUpdated only for what
// changed; a new SKU is a new product with ProductCreated. A batch is
// written at once (see productBatch); one by one, after a row of the
// batch was refused, each row goes through product.Service itself.
func (s *Service) applyProducts(ctx context.Context, im *Import, rows []row, oneByOne bool) error {
	if !oneByOne {
		return s.applyProductBatch(ctx, im, rows)
	}
	existing, err := s.catalog.ImportProductsBySKU(ctx, im.TenantID, valid(rows, func(r row) string { return r.sku }))
	if err != nil {
		return err
	}
	actor := im.actor()
	for _, r := range rows {
		if r.fail != "" {
			continue
		}
		if p, ok := existing[r.sku]; ok {
			name := r.name
			_, err = s.commands.Products.Update(ctx, actor, p.ID, product.UpdateInput{Name: &name, Price: r.price, ReorderLevel: r.reorder})
		} else {
			_, err = s.commands.Products.Create(ctx, actor, product.CreateInput{SKU: r.sku, Name: r.name, Price: r.price, ReorderLevel: r.reorder})
		}
		if err != nil {
			return rowFailed(r, err)
		}
	}
	return nil
}

// applyProductBatch writes a batch's products in a few statements: it
// locks and reads the existing ones at once, then inserts the new ones
// and updates the changed ones several per statement, and appends the
// events together, in row order. What it writes is what product.Create
// and product.Update write for the same rows (productBatch mirrors them;
// TestProductBatchWritesWhatTheServiceWrites compares). A refusal (a SKU
// taken meanwhile, a row the service would refuse) fails the batch as a
// *rowError, so that commit imports it row by row.
func (s *Service) applyProductBatch(ctx context.Context, im *Import, rows []row) error {
	existing, err := s.catalog.LockImportProductsBySKU(ctx, im.TenantID, valid(rows, func(r row) string { return r.sku }))
	if err != nil {
		return err
	}
	b := productBatch{tenant: im.TenantID, user: im.actor().UserID, now: s.now(), events: make([]domain.Event, 0, len(rows))}
	var first *row
	for i := range rows {
		r := &rows[i]
		if r.fail != "" {
			continue
		}
		if first == nil {
			first = r
		}
		if p, ok := existing[r.sku]; ok {
			err = b.update(p, *r)
		} else {
			err = b.create(*r)
		}
		if err != nil {
			return rowFailed(*r, err)
		}
	}
	if first == nil {
		return nil
	}
	err = s.catalog.InsertImportedProducts(ctx, b.created)
	if err == nil {
		err = s.catalog.UpdateImportedProducts(ctx, im.TenantID, b.updated)
	}
	if err == nil {
		err = s.catalog.AppendEvents(ctx, b.events...)
	}
	if err != nil && refused(err) {
		return rowFailed(*first, err)
	}
	return err
}

// productBatch collects the writes of a batch of product rows.
type productBatch struct {
	tenant           domain.TenantID
	user             domain.UserID
	now              time.Time
	created, updated []product.Product
	events           []domain.Event
}

// create is product.Create of the row.
func (b *productBatch) create(r row) error {
	if r.price == nil {
		return domain.Invalid("price", "is required")
	}
	var reorder int64
	if r.reorder != nil {
		reorder = *r.reorder
	}
	p := product.Product{ID: domain.NewID(), TenantID: b.tenant, SKU: r.sku, Name: r.name, Price: *r.price,
		ReorderLevel: reorder, CreatedAt: b.now, UpdatedAt: b.now}
	ev, err := domain.NewEvent(b.tenant, b.user, b.now, product.ProductCreated{
		ProductID: p.ID, SKU: p.SKU, Name: p.Name, Price: p.Price, ReorderLevel: p.ReorderLevel,
	})
	if err != nil {
		return err
	}
	b.created = append(b.created, p)
	b.events = append(b.events, ev)
	return nil
}

// update is product.Update of p with the row's name, price and reorder
// level: nothing when nothing changes.
func (b *productBatch) update(p product.Product, r row) error {
	changes := map[string]product.Change{}
	if r.name != p.Name {
		changes["name"] = product.Change{Old: p.Name, New: r.name}
		p.Name = r.name
	}
	if r.price != nil && !r.price.Equal(p.Price) {
		changes["price"] = product.Change{Old: p.Price, New: *r.price}
		p.Price = *r.price
	}
	if r.reorder != nil && *r.reorder != p.ReorderLevel {
		changes["reorder_level"] = product.Change{Old: p.ReorderLevel, New: *r.reorder}
		p.ReorderLevel = *r.reorder
	}
	if len(changes) == 0 {
		return nil
	}
	p.UpdatedAt = b.now
	// The flag follows the new reorder level, as product.Update does.
	p.LowStock = p.OnHand < p.ReorderLevel
	ev, err := domain.NewEvent(b.tenant, b.user, b.now, product.ProductUpdated{ProductID: p.ID, SKU: p.SKU, Changes: changes})
	if err != nil {
		return err
	}
	b.updated = append(b.updated, p)
	b.events = append(b.events, ev)
	return nil
}

// Upsert by email: an existing customer gets the row's name and (when
// given) payment terms; a new email is crm.CreateCustomer.
func (s *Service) applyCustomers(ctx context.Context, im *Import, rows []row) error {
	existing, err := s.catalog.ImportCustomersByEmail(ctx, im.TenantID, valid(rows, func(r row) string { return r.email }))
	if err != nil {
		return err
	}
	actor := im.actor()
	for _, r := range rows {
		if r.fail != "" {
			continue
		}
		if c, ok := existing[r.email]; ok {
			changed := c.Name != r.name || (r.terms != nil && *r.terms != c.PaymentTermsDays)
			c.Name = r.name
			if r.terms != nil {
				c.PaymentTermsDays = *r.terms
			}
			if changed {
				err = s.catalog.UpdateImportedCustomer(ctx, c)
			}
		} else {
			_, err = s.commands.Customers.CreateCustomer(ctx, actor, crm.CustomerInput{Name: r.name, Email: r.email, PaymentTermsDays: r.terms})
		}
		if err != nil {
			return rowFailed(r, err)
		}
	}
	return nil
}

// Upsert by name: an existing vendor gets the row's email when it has
// one; a new name is procurement.CreateVendor.
func (s *Service) applyVendors(ctx context.Context, im *Import, rows []row) error {
	existing, err := s.catalog.ImportVendorsByName(ctx, im.TenantID, valid(rows, func(r row) string { return r.name }))
	if err != nil {
		return err
	}
	actor := im.actor()
	for _, r := range rows {
		if r.fail != "" {
			continue
		}
		if v, ok := existing[r.name]; ok {
			if r.emailSet && v.Email != r.email {
				v.Email = r.email
				err = s.catalog.UpdateImportedVendor(ctx, v)
			}
		} else {
			_, err = s.commands.Vendors.CreateVendor(ctx, actor, procurement.VendorInput{Name: r.name, Email: r.email})
		}
		if err != nil {
			return rowFailed(r, err)
		}
	}
	return nil
}

// Each inventory row is a stock movement in, for an existing SKU, at the
// location whose code it names (the tenant's default without one), made
// through inventory.Record. The movement is recorded against (file
// SHA-256, row): a row already applied, by this import or an earlier one
// of the same file, is skipped.
func (s *Service) applyStock(ctx context.Context, im *Import, rows []row) error {
	products, err := s.catalog.ImportProductsBySKU(ctx, im.TenantID, valid(rows, func(r row) string { return r.sku }))
	if err != nil {
		return err
	}
	var locations map[string]string
	if len(valid(rows, func(r row) string { return r.location })) > 0 {
		list, err := s.catalog.ListLocations(ctx, im.TenantID)
		if err != nil {
			return err
		}
		locations = make(map[string]string, len(list))
		for _, l := range list {
			locations[l.Code] = l.ID
		}
	}
	nos := make([]int64, 0, len(rows))
	for _, r := range rows {
		if r.fail == "" {
			nos = append(nos, r.no)
		}
	}
	applied, err := s.store.ImportedStockRows(ctx, im.TenantID, im.FileSHA256, nos)
	if err != nil {
		return err
	}
	actor := im.actor()
	for i := range rows {
		r := &rows[i]
		if r.fail != "" {
			continue
		}
		if applied[r.no] {
			r.skipped = true
			continue
		}
		p, ok := products[r.sku]
		if !ok {
			r.fail = fmt.Sprintf("sku: unknown SKU %q (import or create the product first)", clip(r.sku, 60))
			continue
		}
		locationID := ""
		if r.location != "" {
			if locationID, ok = locations[r.location]; !ok {
				r.fail = fmt.Sprintf("location: unknown location code %q", clip(r.location, 60))
				continue
			}
		}
		reason := r.reason
		if reason == "" {
			reason = fmt.Sprintf("import %s, row %d", im.ID, r.no)
		}
		m, err := s.commands.Stock.Record(ctx, actor, inventory.RecordInput{
			ProductID: p.ID, LocationID: locationID, Quantity: *r.quantity, UnitCost: r.cost,
			BatchNumber: r.batch, ExpiryDate: r.expiry, Reason: reason,
		})
		if err != nil {
			return rowFailed(*r, err)
		}
		if err := s.store.InsertImportedStockRow(ctx, StockRow{TenantID: im.TenantID, FileSHA256: im.FileSHA256,
			Row: r.no, ImportID: im.ID, MovementID: m.ID}); err != nil {
			return rowFailed(*r, err)
		}
	}
	return nil
}

// rowError is a row the domain refused while importing a batch.
type rowError struct {
	row int64
	err error
}

func (e *rowError) Error() string { return fmt.Sprintf("row %d: %v", e.row, e.err) }
func (e *rowError) Unwrap() error { return e.err }

func rowFailed(r row, err error) error { return &rowError{row: r.no, err: err} }
