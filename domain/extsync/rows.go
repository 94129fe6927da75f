package extsync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/sales"
)

// Writers are the domain services a sync upserts through, so synced rows
// get the same validation and events as rows made over the API.
type Writers struct {
	Products  ProductWriter  // *product.Service
	Customers CustomerWriter // *crm.Service
	Stock     StockRecorder  // *inventory.Service
	Orders    OrderCreator   // *sales.Service
}

// ProductWriter creates and updates products.
type ProductWriter interface {
	Create(ctx context.Context, actor domain.Actor, in product.CreateInput) (product.Product, error)
	Update(ctx context.Context, actor domain.Actor, id string, in product.UpdateInput) (product.Product, error)
}

// CustomerWriter creates and updates customers.
type CustomerWriter interface {
	CreateCustomer(ctx context.Context, actor domain.Actor, in crm.CustomerInput) (crm.Customer, error)
	UpdateCustomer(ctx context.Context, actor domain.Actor, id string, in crm.CustomerUpdate) (crm.Customer, error)
}

// StockRecorder records stock movements.
type StockRecorder interface {
	Record(ctx context.Context, actor domain.Actor, in inventory.RecordInput) (inventory.Movement, error)
}

// OrderCreator creates sales orders.
type OrderCreator interface {
	Create(ctx context.Context, actor domain.Actor, in sales.CreateInput) (sales.Order, error)
}

// Limits of records.
const (
	maxOrderNumberLen = 64
	maxOrderLines     = 100
	maxOnHand         = 1_000_000_000
)

// rowProblem is why one record was rejected; the run counts it and goes on.
type rowProblem struct{ msg string }

func (e *rowProblem) Error() string { return e.msg }

func problem(format string, args ...any) error { return &rowProblem{fmt.Sprintf(format, args...)} }

// rowFailure reports whether err rejects only this record (bad data, a
// missing reference, a broken rule) rather than the run (the database is
// down, the time is up). It returns the message to list.
func rowFailure(err error) (string, bool) {
	var (
		rp *rowProblem
		ve *domain.ValidationError
		re *domain.RuleError
	)
	switch {
	case errors.As(err, &rp):
		return rp.msg, true
	case errors.As(err, &ve):
		return fieldsMessage(ve), true
	case errors.As(err, &re):
		return re.Message, true
	case errors.Is(err, domain.ErrNotFound):
		return "a record it refers to no longer exists", true
	case errors.Is(err, domain.ErrConflict):
		return "it conflicts with an existing record", true
	}
	return "", false
}

func fieldsMessage(ve *domain.ValidationError) string {
	keys := make([]string, 0, len(ve.Fields))
	for k := range ve.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + ve.Fields[k]
	}
	return strings.Join(parts, "; ")
}

// decodeRecord decodes one record (a JSON object; unknown members are
// ignored, as an external system sends what it has).
func decodeRecord(raw json.RawMessage, dst any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return problem("the record is not a JSON object")
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return problem("%s must not be a JSON %s", te.Field, te.Value)
		}
		if field := badField(raw, dst); field != "" {
			return problem("%s has an invalid value", field)
		}
		return problem("the record has an invalid value: %s", clip(err.Error(), 200))
	}
	return nil
}

// badField finds the member of raw that dst cannot take (a field's own
// UnmarshalJSON, such as a decimal's, does not say which field failed).
func badField(raw json.RawMessage, dst any) string {
	var members map[string]json.RawMessage
	if json.Unmarshal(raw, &members) != nil {
		return ""
	}
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	typ := reflect.TypeOf(dst).Elem()
	for _, k := range keys {
		one, err := json.Marshal(map[string]json.RawMessage{k: members[k]})
		if err == nil && json.Unmarshal(one, reflect.New(typ).Interface()) != nil {
			return clip(k, 50)
		}
	}
	return ""
}

// upsert writes one record of the run's type and returns its natural key.
func (s *Service) upsert(ctx context.Context, r Run, raw json.RawMessage) (string, error) {
	actor := domain.SystemActor(r.TenantID)
	switch r.Type {
	case Products:
		return s.upsertProduct(ctx, actor, raw)
	case Customers:
		return s.upsertCustomer(ctx, actor, raw)
	case Inventory:
		return s.setStock(ctx, actor, r, raw)
	case Orders:
		return s.upsertOrder(ctx, actor, raw)
	}
	return "", fmt.Errorf("sync type %q: %w", r.Type, domain.ErrPermanent)
}

type productRecord struct {
	SKU          string           `json:"sku"`
	Name         *string          `json:"name"`
	Price        *decimal.Decimal `json:"price"`
	ReorderLevel *int64           `json:"reorder_level"`
}

// upsertProduct creates the product with the record's SKU, or updates the
// fields the record has.
func (s *Service) upsertProduct(ctx context.Context, actor domain.Actor, raw json.RawMessage) (string, error) {
	var rec productRecord
	if err := decodeRecord(raw, &rec); err != nil {
		return "", err
	}
	sku := strings.TrimSpace(rec.SKU)
	if sku == "" {
		return "", problem("sku is required (it is the product's key)")
	}
	id, err := s.store.FindByKey(ctx, actor.TenantID, KeySKU, sku)
	if errors.Is(err, domain.ErrNotFound) {
		_, err = s.writers.Products.Create(ctx, actor, product.CreateInput{
			SKU: sku, Name: deref(rec.Name), Price: rec.Price, ReorderLevel: rec.ReorderLevel,
		})
		if !errors.Is(err, domain.ErrConflict) {
			return sku, err
		}
		// Created meanwhile (another run): update it instead.
		id, err = s.store.FindByKey(ctx, actor.TenantID, KeySKU, sku)
	}
	if err != nil {
		return sku, err
	}
	_, err = s.writers.Products.Update(ctx, actor, id, product.UpdateInput{
		Name: rec.Name, Price: rec.Price, ReorderLevel: rec.ReorderLevel,
	})
	return sku, err
}

type customerRecord struct {
	Email string  `json:"email"`
	Name  *string `json:"name"`
}

// upsertCustomer creates the customer with the record's email, or renames
// it.
func (s *Service) upsertCustomer(ctx context.Context, actor domain.Actor, raw json.RawMessage) (string, error) {
	var rec customerRecord
	if err := decodeRecord(raw, &rec); err != nil {
		return "", err
	}
	email := strings.ToLower(strings.TrimSpace(rec.Email))
	if email == "" {
		return "", problem("email is required (it is the customer's key)")
	}
	key := clip(email, 254)
	id, err := s.store.FindByKey(ctx, actor.TenantID, KeyEmail, email)
	if errors.Is(err, domain.ErrNotFound) {
		_, err = s.writers.Customers.CreateCustomer(ctx, actor, crm.CustomerInput{Name: deref(rec.Name), Email: email})
		if !errors.Is(err, domain.ErrConflict) {
			return key, err
		}
		id, err = s.store.FindByKey(ctx, actor.TenantID, KeyEmail, email)
	}
	if err != nil || rec.Name == nil {
		return key, err
	}
	_, err = s.writers.Customers.UpdateCustomer(ctx, actor, id, crm.CustomerUpdate{Name: rec.Name})
	return key, err
}

type stockRecord struct {
	SKU    string `json:"sku"`
	OnHand *int64 `json:"on_hand"`
}

// setStock sets the product's on hand at the tenant's default location to
// the record's, through a stock movement of the difference (none when it
// already matches). The product's row lock is held from reading the level
// to the movement, so a concurrent movement cannot slip in between.
func (s *Service) setStock(ctx context.Context, actor domain.Actor, r Run, raw json.RawMessage) (string, error) {
	var rec stockRecord
	if err := decodeRecord(raw, &rec); err != nil {
		return "", err
	}
	sku := strings.TrimSpace(rec.SKU)
	switch {
	case sku == "":
		return "", problem("sku is required (it is the product's key)")
	case rec.OnHand == nil:
		return sku, problem("on_hand is required")
	case *rec.OnHand < 0 || *rec.OnHand > maxOnHand:
		return sku, problem("on_hand must be between 0 and %d", maxOnHand)
	}
	id, err := s.store.FindByKey(ctx, actor.TenantID, KeySKU, sku)
	if errors.Is(err, domain.ErrNotFound) {
		return sku, problem("unknown product SKU %q (sync products first)", clip(sku, 64))
	}
	if err != nil {
		return sku, err
	}
	return sku, s.store.InTx(ctx, func(ctx context.Context) error {
		p, err := s.store.LockProduct(ctx, actor.TenantID, id)
		if err != nil {
			return err
		}
		loc, err := s.store.DefaultLocation(ctx, actor.TenantID)
		if err != nil {
			return err
		}
		level, err := s.store.StockLevel(ctx, actor.TenantID, p.ID, loc.ID)
		if err != nil {
			return err
		}
		diff := *rec.OnHand - level
		if diff == 0 {
			return nil
		}
		_, err = s.writers.Stock.Record(ctx, actor, inventory.RecordInput{
			ProductID: p.ID, LocationID: loc.ID, Quantity: diff,
			Reason: fmt.Sprintf("external sync %s: on hand set to %d", r.ID, *rec.OnHand),
		})
		return err
	})
}

type orderRecord struct {
	Number        string         `json:"number"`
	CustomerEmail string         `json:"customer_email"`
	Lines         []orderRecLine `json:"lines"`
}

type orderRecLine struct {
	SKU       string           `json:"sku"`
	Quantity  int64            `json:"quantity"`
	UnitPrice *decimal.Decimal `json:"unit_price"`
}

// upsertOrder creates a pending sales order for an external order number
// seen for the first time; a number already synced is left as it is
// (orders are not changed by syncs). The customer (by email) and every
// product (by SKU) must already be known.
func (s *Service) upsertOrder(ctx context.Context, actor domain.Actor, raw json.RawMessage) (string, error) {
	var rec orderRecord
	if err := decodeRecord(raw, &rec); err != nil {
		return "", err
	}
	number := strings.TrimSpace(rec.Number)
	switch {
	case number == "":
		return "", problem("number is required (it is the order's key)")
	case utf8.RuneCountInString(number) > maxOrderNumberLen:
		return clip(number, maxOrderNumberLen), problem("number must be at most %d characters", maxOrderNumberLen)
	case !utf8.ValidString(number) || strings.ContainsFunc(number, func(c rune) bool { return c < 0x20 || c == 0x7f }):
		return "", problem("number must not contain control characters")
	}
	if _, err := s.store.FindByKey(ctx, actor.TenantID, KeyOrderNumber, number); err == nil {
		return number, nil // synced before
	} else if !errors.Is(err, domain.ErrNotFound) {
		return number, err
	}
	email := strings.ToLower(strings.TrimSpace(rec.CustomerEmail))
	if email == "" {
		return number, problem("customer_email is required")
	}
	customer, err := s.store.FindByKey(ctx, actor.TenantID, KeyEmail, email)
	if errors.Is(err, domain.ErrNotFound) {
		return number, problem("unknown customer %q (sync customers first)", clip(email, 254))
	}
	if err != nil {
		return number, err
	}
	if len(rec.Lines) == 0 || len(rec.Lines) > maxOrderLines {
		return number, problem("lines must have between 1 and %d lines", maxOrderLines)
	}
	in := sales.CreateInput{CustomerID: customer, Lines: make([]sales.LineInput, len(rec.Lines))}
	for i, l := range rec.Lines {
		sku := strings.TrimSpace(l.SKU)
		if sku == "" {
			return number, problem("lines[%d].sku is required", i)
		}
		id, err := s.store.FindByKey(ctx, actor.TenantID, KeySKU, sku)
		if errors.Is(err, domain.ErrNotFound) {
			return number, problem("lines[%d]: unknown product SKU %q (sync products first)", i, clip(sku, 64))
		}
		if err != nil {
			return number, err
		}
		in.Lines[i] = sales.LineInput{ProductID: id, Quantity: l.Quantity, UnitPrice: l.UnitPrice}
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		o, err := s.writers.Orders.Create(ctx, actor, in)
		if err != nil {
			return err
		}
		return s.store.InsertOrderRef(ctx, actor.TenantID, number, o.ID)
	})
	if errors.Is(err, domain.ErrConflict) {
		return number, nil // another run synced the same number meanwhile
	}
	return number, err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
