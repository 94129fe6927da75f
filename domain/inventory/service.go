package inventory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

const (
	maxQuantity  = 1_000_000_000
	maxReasonLen = 200
	maxBatchLen  = 64
	maxCodeLen   = 32
	maxNameLen   = 200
	dateLayout   = "2006-01-02"
)

// Service runs the inventory commands.
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

// RecordInput is the body of POST /api/v1/stock-movements.
type RecordInput struct {
	ProductID   string           `json:"product_id"`
	LocationID  string           `json:"location_id"` // "" = the tenant's default location
	Quantity    int64            `json:"quantity"`    // + in, − out
	UnitCost    *decimal.Decimal `json:"unit_cost"`
	BatchNumber string           `json:"batch_number"`
	ExpiryDate  string           `json:"expiry_date"` // YYYY-MM-DD or ""
	Reason      string           `json:"reason"`
}

// LocationInput is the body of POST /api/v1/locations.
type LocationInput struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Record appends a movement to the ledger, updates on hand and the stock
// batches, and writes StockMovementRecorded (and LowStockDetected on a
// downward crossing of the reorder level) in the same transaction. On hand
// at a location never goes below zero: such a movement is refused with a
// RuleError.
//
// A movement in with an expiry date adds to its batch (product, location,
// batch number, expiry date); one without is untracked stock. A movement
// out consumes the location's batches: the one it names (batch number
// and/or expiry date) first, then first expiry first out, then untracked
// stock.
func (s *Service) Record(ctx context.Context, actor domain.Actor, in RecordInput) (Movement, error) {
	if err := actor.Require(domain.PermInventoryManage); err != nil {
		return Movement{}, err
	}
	m, err := s.validate(actor, in)
	if err != nil {
		return Movement{}, err
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		// Locking the product serialises movements of one product, so the
		// totals below cannot interleave with another writer. The same
		// statement reads the location: one round trip while locked.
		p, loc, err := s.store.LockProductAt(ctx, actor.TenantID, m.ProductID, m.LocationID)
		if err != nil {
			if errors.Is(err, domain.ErrNotFound) {
				return fmt.Errorf("product %s: %w", m.ProductID, domain.ErrNotFound)
			}
			return err
		}
		if loc.ID == "" { // first use of the default location, or not the tenant's
			if loc, err = s.location(ctx, actor.TenantID, m.LocationID); err != nil {
				return err
			}
		}
		m.LocationID = loc.ID
		after, batched, applied, err := s.store.MoveStockLevel(ctx, actor.TenantID, p.ID, loc.ID, m.Quantity)
		if err != nil {
			return err
		}
		if !applied {
			level, err := s.store.StockLevel(ctx, actor.TenantID, p.ID, loc.ID)
			if err != nil {
				return err
			}
			return domain.Rule("insufficient_stock",
				"%s has %d on hand at %s; cannot move out %d", p.SKU, level, loc.Code, -m.Quantity)
		}
		m.OnHandAfter = after
		total := p.OnHand + m.Quantity
		crossed := p.OnHand >= p.ReorderLevel && total < p.ReorderLevel
		if m.Quantity > 0 || batched {
			if err := s.updateBatches(ctx, p.ID, m); err != nil {
				return err
			}
		}
		recorded := StockMovementRecorded{
			MovementID: m.ID, ProductID: p.ID, SKU: p.SKU, LocationID: loc.ID,
			Quantity: m.Quantity, UnitCost: m.UnitCost, BatchNumber: m.BatchNumber,
			Reason: m.Reason, OnHand: total, LocationOn: after,
		}
		if m.ExpiryDate != nil {
			recorded.ExpiryDate = m.ExpiryDate.Format(dateLayout)
		}
		payloads := []domain.EventPayload{recorded}
		if crossed {
			payloads = append(payloads, LowStockDetected{
				ProductID: p.ID, SKU: p.SKU, Name: p.Name, OnHand: total,
				ReorderLevel: p.ReorderLevel, LocationID: loc.ID,
				LocationCode: loc.Code, LocationName: loc.Name, MovementID: m.ID,
			})
		}
		events, err := newEvents(actor, m.CreatedAt, payloads...)
		if err != nil {
			return err
		}
		// The ledger entry, the product's totals and the events in one
		// call: one round trip on PostgreSQL while the product is locked.
		return s.store.WriteMovement(ctx, m, total, total < p.ReorderLevel, events...)
	})
	if err != nil {
		return Movement{}, fmt.Errorf("record stock movement: %w", err)
	}
	return m, nil
}

// updateBatches applies movement m (already validated, location resolved)
// to the stock batches of product at m's location. Call it inside the
// transaction that holds the product's lock.
func (s *Service) updateBatches(ctx context.Context, productID string, m Movement) error {
	if m.Quantity > 0 {
		if m.ExpiryDate == nil {
			return nil // untracked stock
		}
		return s.store.AddToBatch(ctx, Batch{
			TenantID: m.TenantID, ProductID: productID, LocationID: m.LocationID,
			BatchNumber: m.BatchNumber, ExpiryDate: *m.ExpiryDate, Quantity: m.Quantity, UpdatedAt: m.CreatedAt,
		})
	}
	batches, err := s.store.StockBatches(ctx, m.TenantID, productID, m.LocationID)
	if err != nil {
		return err
	}
	for _, b := range consume(batches, -m.Quantity, m.BatchNumber, m.ExpiryDate) {
		if err := s.store.SetBatchQuantity(ctx, b.Key(), b.Quantity); err != nil {
			return err
		}
	}
	return nil
}

// ListBatches lists the product's batches that hold stock, at every
// location, first expiry first, with the days remaining until each
// expires. domain.ErrNotFound when the product is not the tenant's.
func (s *Service) ListBatches(ctx context.Context, tenant domain.TenantID, productID string) ([]Batch, error) {
	id, err := domain.ParseID("product_id", productID)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.GetProduct(ctx, tenant, id); err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	batches, err := s.store.ListBatches(ctx, tenant, id)
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	today := s.now()
	for i := range batches {
		batches[i].DaysRemaining = domain.DaysBetween(today, batches[i].ExpiryDate)
	}
	return batches, nil
}

func newEvents(actor domain.Actor, at time.Time, payloads ...domain.EventPayload) ([]domain.Event, error) {
	events := make([]domain.Event, 0, len(payloads))
	for _, p := range payloads {
		ev, err := domain.NewEvent(actor.TenantID, actor.UserID, at, p)
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	return events, nil
}

func (s *Service) location(ctx context.Context, tenant domain.TenantID, id string) (Location, error) {
	if id == "" {
		return s.store.DefaultLocation(ctx, tenant)
	}
	loc, err := s.store.GetLocation(ctx, tenant, id)
	if errors.Is(err, domain.ErrNotFound) {
		return Location{}, fmt.Errorf("location %s: %w", id, domain.ErrNotFound)
	}
	return loc, err
}

func (s *Service) validate(actor domain.Actor, in RecordInput) (Movement, error) {
	v := &domain.ValidationError{}
	m := Movement{
		ID: domain.NewID(), TenantID: actor.TenantID, ActorID: actor.UserID,
		Quantity: in.Quantity, UnitCost: in.UnitCost, CreatedAt: s.now().UTC(),
		BatchNumber: strings.TrimSpace(in.BatchNumber), Reason: strings.TrimSpace(in.Reason),
	}
	if id, err := domain.ParseID("product_id", in.ProductID); err != nil {
		v.Add("product_id", "must be a UUID")
	} else {
		m.ProductID = id
	}
	if in.LocationID != "" {
		if id, err := domain.ParseID("location_id", in.LocationID); err != nil {
			v.Add("location_id", "must be a UUID")
		} else {
			m.LocationID = id
		}
	}
	switch {
	case in.Quantity == 0:
		v.Add("quantity", "must not be zero")
	case in.Quantity > maxQuantity || in.Quantity < -maxQuantity:
		v.Add("quantity", fmt.Sprintf("must be between -%d and %d", maxQuantity, maxQuantity))
	}
	if in.UnitCost != nil {
		if in.UnitCost.IsNegative() {
			v.Add("unit_cost", "must not be negative")
		} else if !in.UnitCost.Equal(in.UnitCost.Round(4)) {
			v.Add("unit_cost", "must have at most 4 decimal places")
		} else if len(in.UnitCost.Truncate(0).String()) > 16 {
			v.Add("unit_cost", "is too large")
		}
	}
	if in.ExpiryDate != "" {
		d, err := time.Parse(dateLayout, in.ExpiryDate)
		if err != nil {
			v.Add("expiry_date", "must be a date like 2026-12-31")
		} else {
			m.ExpiryDate = &d
		}
	}
	checkText(v, "batch_number", m.BatchNumber, maxBatchLen, false)
	checkText(v, "reason", m.Reason, maxReasonLen, true)
	return m, v.Err()
}

// CreateLocation adds a location; codes are unique per tenant.
func (s *Service) CreateLocation(ctx context.Context, actor domain.Actor, in LocationInput) (Location, error) {
	if err := actor.Require(domain.PermInventoryManage); err != nil {
		return Location{}, err
	}
	v := &domain.ValidationError{}
	l := Location{ID: domain.NewID(), TenantID: actor.TenantID,
		Code: strings.TrimSpace(in.Code), Name: strings.TrimSpace(in.Name)}
	checkText(v, "code", l.Code, maxCodeLen, true)
	checkText(v, "name", l.Name, maxNameLen, true)
	if err := v.Err(); err != nil {
		return Location{}, err
	}
	if err := s.store.InsertLocation(ctx, l); err != nil {
		return Location{}, fmt.Errorf("create location: %w", err)
	}
	return l, nil
}

// ListLocations lists the tenant's locations.
func (s *Service) ListLocations(ctx context.Context, tenant domain.TenantID) ([]Location, error) {
	return s.store.ListLocations(ctx, tenant)
}

// ListMovements pages through the ledger, newest first.
func (s *Service) ListMovements(ctx context.Context, tenant domain.TenantID, f MovementFilter) ([]Movement, error) {
	v := &domain.ValidationError{}
	if f.ProductID != "" {
		if id, err := domain.ParseID("product_id", f.ProductID); err != nil {
			v.Add("product_id", "must be a UUID")
		} else {
			f.ProductID = id
		}
	}
	if f.Before != "" {
		if id, err := domain.ParseID("before", f.Before); err != nil {
			v.Add("before", "must be a UUID")
		} else {
			f.Before = id
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch {
	case f.Limit <= 0:
		f.Limit = 50
	case f.Limit > 200:
		f.Limit = 200
	}
	return s.store.ListMovements(ctx, tenant, f)
}

func checkText(v *domain.ValidationError, field, s string, max int, required bool) {
	switch {
	case s == "" && required:
		v.Add(field, "is required")
	case utf8.RuneCountInString(s) > max:
		v.Add(field, fmt.Sprintf("must be at most %d characters", max))
	case !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		v.Add(field, "must not contain control characters")
	}
}
