package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// Values are bound in one form that both dialects accept, so the SQL and the
// encoding are shared: timestamps as fixed-width RFC 3339 UTC text with
// microseconds (PostgreSQL parses it into timestamptz, SQLite keeps the
// text, which then sorts like the time), dates as "2006-01-02", money as
// exact decimal text, JSON as text. Scanning accepts either what pgx returns
// (time.Time, []byte) or what SQLite returns (string).

const (
	timeLayout = "2006-01-02T15:04:05.000000Z"
	dateLayout = time.DateOnly
)

// Money columns are NUMERIC(20,4) on PostgreSQL: at most 4 decimal places
// and 16 integer digits. Both dialects enforce the same bounds here rather
// than letting PostgreSQL round silently.
var maxMoney = decimal.New(1, 16)

// now is the store's clock for timestamps the caller left unset, truncated
// to what PostgreSQL keeps.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func encTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func encTimeOrNow(t time.Time) string {
	if t.IsZero() {
		return encTime(now())
	}
	return encTime(t)
}

func encTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return encTime(*t)
}

// encDate keeps the calendar date of t in its own location.
func encDate(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.Format(dateLayout)
}

func encMoney(field string, d decimal.Decimal) (string, error) {
	if !d.Equal(d.Truncate(4)) {
		return "", domain.Invalid(field, "at most 4 decimal places")
	}
	if d.Abs().GreaterThanOrEqual(maxMoney) {
		return "", domain.Invalid(field, "out of range")
	}
	return d.String(), nil
}

func encMoneyPtr(field string, d *decimal.Decimal) (any, error) {
	if d == nil {
		return nil, nil
	}
	return encMoney(field, *d)
}

// encJSON validates raw and returns it as text; empty becomes def.
func encJSON(field string, raw json.RawMessage, def string) (string, error) {
	if len(raw) == 0 {
		return def, nil
	}
	if !json.Valid(raw) {
		return "", domain.Invalid(field, "must be valid JSON")
	}
	return string(raw), nil
}

// lookupID canonicalises an id used to find a row. ok is false when id is
// not a UUID, so it cannot name any row (the caller answers ErrNotFound);
// this keeps a malformed id from reaching PostgreSQL's uuid parser.
func lookupID(id string) (string, bool) {
	if len(id) != 36 {
		return "", false
	}
	if isCanonicalUUID(id) { // what the store itself generates: no parse, no copy
		return id, true
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// isCanonicalUUID reports whether id is a UUID in the form
// uuid.UUID.String writes: lower-case hex in groups of 8-4-4-4-12.
func isCanonicalUUID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// newRowID canonicalises the id of a row being inserted.
func newRowID(field, id string) (string, error) {
	c, ok := lookupID(id)
	if !ok {
		return "", domain.Invalid(field, "must be a UUID")
	}
	return c, nil
}

func requireTenant(t domain.TenantID) error {
	if t == "" {
		return domain.Invalid("tenant_id", "required")
	}
	return nil
}

func requireUser(t domain.TenantID, u domain.UserID) error {
	if err := requireTenant(t); err != nil {
		return err
	}
	if u == "" {
		return domain.Invalid("user_id", "required")
	}
	return nil
}

// clamp bounds a page size: def when n < 1, at most max.
func clamp(n, def, max int) int {
	if n < 1 {
		return def
	}
	return min(n, max)
}

// invalidValue turns a value the database rejected into a ValidationError.
func invalidValue(err error) *domain.ValidationError {
	return domain.Invalid("value", err.Error())
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", s, err)
	}
	return t, nil
}

// timeCol scans a timestamp or date column into *t (UTC).
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*c.t = v.UTC()
		return nil
	case string:
		t, err := parseTime(v)
		*c.t = t
		return err
	case []byte:
		t, err := parseTime(string(v))
		*c.t = t
		return err
	}
	return fmt.Errorf("scan time: unsupported type %T", src)
}

// nullTimeCol scans a nullable timestamp or date column into *t.
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(src); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// encJSONList encodes a list as a JSON array: never null, so a column
// holding it always reads back as a list.
func encJSONList[T any](list []T) (string, error) {
	if list == nil {
		list = []T{}
	}
	raw, err := json.Marshal(list)
	if err != nil {
		return "", fmt.Errorf("encode list: %w", err)
	}
	return string(raw), nil
}

// getTenantRow reads the row of one of the tenant's records by id with
// query (ending in "WHERE tenant_id = ? AND id = ?"; lock is appended),
// and scans it. A malformed, missing or another tenant's id is
// domain.ErrNotFound.
func getTenantRow[T any](ctx context.Context, s *Store, op, query string, tenant domain.TenantID, id, lock string,
	scan func(scanner) (T, error)) (T, error) {
	var zero T
	key, ok := lookupID(id)
	if !ok {
		return zero, fmt.Errorf("%s %q: %w", op, id, domain.ErrNotFound)
	}
	v, err := scan(s.queryRow(ctx, query+lock, tenant, key))
	if errors.Is(err, sql.ErrNoRows) {
		return zero, fmt.Errorf("%s %s: %w", op, key, domain.ErrNotFound)
	}
	if err != nil {
		return zero, s.wrap(op, err)
	}
	return v, nil
}
