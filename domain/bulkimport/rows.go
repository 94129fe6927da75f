package bulkimport

import (
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Field limits, the same as the domain services enforce (so a row that
// passes here is not refused there; they still check).
const (
	maxSKULen      = 64
	maxNameLen     = 200
	maxEmailLen    = 254
	maxTextLen     = 200 // reason, location code
	maxBatchLen    = 64
	maxQuantity    = 1_000_000_000
	maxReorder     = 1_000_000_000
	maxTerms       = 365
	maxMoneyDigits = 16
	dateLayout     = "2006-01-02"
)

// row is one data row, parsed and checked. A row with fail set is not
// imported; its message says why.
type row struct {
	no   int64 // data row number, from 1
	end  int64 // file offset just after it
	fail string
	key  string // natural key for duplicate detection ("" for inventory)

	sku, name, email, location, batch, expiry, reason string
	price, cost                                       *decimal.Decimal
	reorder, quantity                                 *int64
	terms                                             *int
	emailSet                                          bool // vendors: the email column was filled
	skipped                                           bool // inventory: an earlier import of the file applied it
}

// parseRow reads a record of an import of type t into a row. mapping
// names the columns in messages.
func parseRow(t Type, cols columns, mapping map[string]string, rec record, no int64) row {
	r := row{no: no, end: rec.end}
	if rec.malformed != "" {
		r.fail = "the row " + rec.malformed
		return r
	}
	c := cells{typ: t, rec: rec.fields, cols: cols, mapping: mapping}
	switch t {
	case Products:
		r.sku = c.text("sku", maxSKULen)
		r.name = c.text("name", maxNameLen)
		r.price = c.money("price")
		r.reorder = c.integer("reorder_level", 0, maxReorder)
		r.key = r.sku
	case Customers:
		r.email = c.email("email")
		r.name = c.text("name", maxNameLen)
		if n := c.integer("payment_terms_days", 0, maxTerms); n != nil {
			terms := int(*n)
			r.terms = &terms
		}
		r.key = r.email
	case Vendors:
		r.name = c.text("name", maxNameLen)
		r.email = c.email("email")
		r.emailSet = r.email != ""
		r.key = r.name
	case Inventory:
		r.sku = c.text("sku", maxSKULen)
		r.quantity = c.integer("quantity", 1, maxQuantity)
		r.location = c.text("location", maxTextLen)
		r.cost = c.money("unit_cost")
		r.batch = c.text("batch_number", maxBatchLen)
		r.expiry = c.date("expiry_date")
		r.reason = c.text("reason", maxTextLen)
	}
	if len(c.problems) > 0 {
		r.fail = strings.Join(c.problems, "; ")
		r.key = ""
	}
	return r
}

// cells reads the mapped fields of one record, collecting problems.
type cells struct {
	typ      Type
	rec      []string
	cols     columns
	mapping  map[string]string
	problems []string
}

// raw returns the trimmed cell of field, and whether the field is mapped.
func (c *cells) raw(name string) (string, bool) {
	i, ok := c.cols[name]
	if !ok || i >= len(c.rec) {
		return "", false
	}
	return strings.TrimSpace(c.rec[i]), true
}

func (c *cells) fail(name, format string, args ...any) {
	c.problems = append(c.problems, name+": "+fmt.Sprintf(format, args...))
}

// value returns the cell of field, checking required fields are filled
// and the text is printable UTF-8.
func (c *cells) value(name string) string {
	v, mapped := c.raw(name)
	if !mapped {
		return ""
	}
	switch {
	case v == "" && requiredField[name]:
		c.fail(name, "is required (the column %q is empty)", clip(c.mapping[name], 40))
	case !utf8.ValidString(v):
		c.fail(name, "is not valid UTF-8 text")
		return ""
	case strings.ContainsFunc(v, isControl):
		c.fail(name, "must not contain control characters")
		return ""
	}
	return v
}

// requiredField: the fields a row must fill, in whichever import type
// has them (email, required only of customers, is checked by email).
var requiredField = map[string]bool{"sku": true, "name": true, "price": true, "quantity": true}

func (c *cells) text(name string, max int) string {
	v := c.value(name)
	if utf8.RuneCountInString(v) > max {
		c.fail(name, "must be at most %d characters", max)
		return ""
	}
	return v
}

// plainDecimal is what a money cell may hold: digits with an optional
// sign and decimal point; no exponent, thousands separator or currency.
var plainDecimal = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$`)

func (c *cells) money(name string) *decimal.Decimal {
	v := c.value(name)
	if v == "" {
		return nil
	}
	if len(v) > 40 || !plainDecimal.MatchString(v) {
		c.fail(name, "%q is not a decimal number like 12.50", clip(v, 40))
		return nil
	}
	d, err := decimal.NewFromString(v)
	switch {
	case err != nil:
		c.fail(name, "%q is not a decimal number like 12.50", clip(v, 40))
	case d.IsNegative():
		c.fail(name, "must not be negative (got %s)", v)
	case !d.Equal(d.Truncate(4)):
		c.fail(name, "must have at most 4 decimal places (got %s)", v)
	case d.GreaterThanOrEqual(decimal.New(1, maxMoneyDigits)):
		c.fail(name, "is too large (got %s)", v)
	default:
		return &d
	}
	return nil
}

func (c *cells) integer(name string, lo, hi int64) *int64 {
	v := c.value(name)
	if v == "" {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil && len(v) <= 40 && plainDecimal.MatchString(v):
		c.fail(name, "must be a whole number (got %s)", v)
	case err != nil:
		c.fail(name, "%q is not a whole number", clip(v, 40))
	case n < 0 && lo >= 0:
		c.fail(name, "must not be negative (got %d)", n)
	case n < lo || n > hi:
		c.fail(name, "must be between %d and %d (got %d)", lo, hi, n)
	default:
		return &n
	}
	return nil
}

func (c *cells) date(name string) string {
	v := c.value(name)
	if v == "" {
		return ""
	}
	if _, err := time.Parse(dateLayout, v); err != nil {
		c.fail(name, "%q is not a date like 2026-12-31", clip(v, 40))
		return ""
	}
	return v
}

// email reads an email cell: required for customers (their key), optional
// for vendors. Customers' emails are lower-cased, as crm stores them.
func (c *cells) email(name string) string {
	v := c.value(name)
	customer := c.typ == Customers
	if v == "" {
		if customer {
			c.fail(name, "is required (customers are matched by email)")
		}
		return ""
	}
	if customer {
		v = strings.ToLower(v)
	}
	if len(v) > maxEmailLen {
		c.fail(name, "must be at most %d characters", maxEmailLen)
		return ""
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Name != "" || !strings.EqualFold(a.Address, v) || strings.ContainsAny(v, " <>") ||
		!strings.Contains(v[strings.LastIndexByte(v, '@')+1:], ".") {
		c.fail(name, "%q is not an email address like name@example.com", clip(v, 60))
		return ""
	}
	return v
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
