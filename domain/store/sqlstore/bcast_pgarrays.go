package sqlstore

import (
	"bytes"
	"slices"
	"strconv"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// On PostgreSQL a notification batch binds one array per column instead of
// one parameter per value: a 500-row INSERT of 6,000 parameters spent more
// time binding and encoding them (each one typed, converted and checked on
// its own) than inserting, and so did the 1,500-parameter VALUES list of
// the seq UPDATE. unnest turns the arrays back into rows server-side, and
// with no parameter limit left a batch of any size is one statement each.
//
// Every notification insert on PostgreSQL (a group of direct sends, a
// batch of a queued bulk send or of a listener) goes through one encoder,
// pgNotifications: the values a run of rows shares (a broadcast's tenant,
// type, severity, title, body, action_url, data, read_at and created_at)
// are one "set", bound, parsed and validated once; each row is its id,
// user, seq and set number. A personal send is a set of its own.

// pgArrays reports whether the store binds batches as arrays.
func (s *Store) pgArrays() bool { return s.d.Name() == "postgres" }

// pgLockTenantUsersQuery locks the tenant's users listed in one text[]
// parameter, in id order, after share-locking the tenant's row (as
// shareBroadcastSeq does) in a one-time check before any user is read:
// one round trip for both, and still a single-table row lock, which a
// writer that waited for it rechecks cheaply. It returns nothing when the
// tenant has no row.
const pgLockTenantUsersQuery = `SELECT id FROM users WHERE tenant_id = ? AND id = ANY(CAST(? AS text[]))
	AND EXISTS (SELECT 1 FROM tenants WHERE id = ? FOR SHARE) ORDER BY id FOR UPDATE OF users`

// pgCreateUsersQuery gives each listed user of the tenant without a row a
// minimal one (no seqs, no permissions), starting after the tenant's
// broadcasts so far; in the list's order, so that two writers creating
// the same users cannot deadlock.
const pgCreateUsersQuery = `INSERT INTO users (tenant_id, id, name, email, perms, notification_seq, unread_count, broadcast_base, created_at, updated_at)
	SELECT ?, id, '', '', '[]', 0, 0, ?, ?, ? FROM unnest(CAST(? AS text[])) WITH ORDINALITY AS x(id, k) ORDER BY k
	ON CONFLICT (tenant_id, id) DO NOTHING`

// pgNotificationSetsCTE is the CTE t of the sets a pgNotifications binds
// (its first nine arguments): materialised, so that PostgreSQL casts each
// set's data to json once, not once per row that joins it.
const pgNotificationSetsCTE = `t AS MATERIALIZED (
		SELECT k, tenant_id, type, severity, title, body, action_url, CAST(data AS json) AS data, read_at, created_at
		FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),
			CAST(? AS text[]), CAST(? AS text[]), CAST(? AS timestamptz[]), CAST(? AS timestamptz[]))
			WITH ORDINALITY AS s(tenant_id, type, severity, title, body, action_url, data, read_at, created_at, k))`

// pgNotificationRowsFrom are the rows a pgNotifications binds (its last
// four arguments: id, user, seq or what stands for it, set number) joined
// to their sets; the third column is named seqCol.
func pgNotificationRowsFrom(seqCol string) string {
	return `unnest(CAST(? AS uuid[]), CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS bigint[]))
		AS r(id, user_id, ` + seqCol + `, k) JOIN t ON t.k = r.k`
}

// pgNotifications encodes notification rows as the arguments of a
// statement built on pgNotificationSetsCTE and pgNotificationRowsFrom.
// Only a row alike to the row before it shares that row's set: a
// broadcast's rows come one after the other, and a personal send (a set of
// its own) then costs one comparison, no hashing.
type pgNotifications struct {
	// One element per set: tenant_id, type, severity, title, body,
	// action_url, data, read_at, created_at.
	sets [9]pgArray
	// One element per row.
	ids, users, ks pgArray
	nsets          int64
	prev           *domain.Notification // the last row added: its set is the latest
}

// reserve makes room for rows more rows of one set each (most of the
// encoding's bytes are the ids: 36 characters, quoted).
func (e *pgNotifications) reserve(rows int) {
	e.ids.grow(39 * rows)
	e.users.grow(16 * rows)
	e.ks.grow(4 * rows)
}

// add validates and normalises n (as normaliseNotification does) and
// appends it; its data is validated only when it starts a new set.
func (e *pgNotifications) add(n *domain.Notification) error {
	if err := normaliseRow(n); err != nil {
		return err
	}
	if e.prev == nil || !sameSet(e.prev, n) {
		data, err := encJSON("data", n.Data, "{}")
		if err != nil {
			return err
		}
		e.sets[0].text(string(n.TenantID))
		e.sets[1].text(n.Type)
		e.sets[2].text(string(n.Severity))
		e.sets[3].text(n.Title)
		e.sets[4].text(n.Body)
		e.sets[5].text(n.ActionURL)
		e.sets[6].text(data)
		e.sets[7].timeOrNull(n.ReadAt)
		e.sets[8].time(n.CreatedAt)
		e.nsets++
	}
	e.prev = n
	e.ids.text(n.ID)
	e.users.text(string(n.UserID))
	e.ks.int(e.nsets)
	return nil
}

// sameSet reports whether normalised a and b store the same values
// outside id, user and seq. Strings compare by pointer first, and a
// broadcast's rows share theirs.
func sameSet(a, b *domain.Notification) bool {
	return a.TenantID == b.TenantID && a.Type == b.Type && a.Severity == b.Severity && a.Title == b.Title &&
		a.Body == b.Body && a.ActionURL == b.ActionURL && bytes.Equal(a.Data, b.Data) &&
		a.CreatedAt.Equal(b.CreatedAt) && sameTime(a.ReadAt, b.ReadAt)
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// args are the statement's arguments: the sets, then ids, users, seqs
// (or what the statement takes in their place) and set numbers.
func (e *pgNotifications) args(seqs *pgArray) []any {
	out := make([]any, 0, len(e.sets)+4)
	for i := range e.sets {
		out = append(out, e.sets[i].String())
	}
	return append(out, e.ids.String(), e.users.String(), seqs.String(), e.ks.String())
}

// pgArray builds a PostgreSQL array literal ({"a","b",NULL}) element by
// element, so that a whole column is one text parameter that PostgreSQL
// casts to the column's array type: binding a []string instead boxes every
// element (pgx encodes arrays through an interface per element), which was
// most of a direct send's allocations.
type pgArray struct {
	b []byte
	n int
}

func (a *pgArray) grow(n int) { a.b = slices.Grow(a.b, n) }

func (a *pgArray) next() {
	if a.n == 0 {
		a.b = append(a.b, '{')
	} else {
		a.b = append(a.b, ',')
	}
	a.n++
}

// text appends s quoted: inside double quotes only " and \ are special
// (braces, commas, spaces and the word NULL are plain text there).
func (a *pgArray) text(s string) {
	a.next()
	a.b = append(a.b, '"')
	for {
		i := indexQuoteOrBackslash(s)
		if i < 0 {
			break
		}
		a.b = append(a.b, s[:i]...)
		a.b = append(a.b, '\\', s[i])
		s = s[i+1:]
	}
	a.b = append(a.b, s...)
	a.b = append(a.b, '"')
}

func indexQuoteOrBackslash(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			return i
		}
	}
	return -1
}

func (a *pgArray) int(v int64) {
	a.next()
	a.b = strconv.AppendInt(a.b, v, 10)
}

// time appends t as encTime writes it (UTC, microseconds).
func (a *pgArray) time(t time.Time) {
	a.next()
	a.b = append(a.b, '"')
	a.b = t.UTC().AppendFormat(a.b, timeLayout)
	a.b = append(a.b, '"')
}

func (a *pgArray) timeOrNull(t *time.Time) {
	if t == nil {
		a.next()
		a.b = append(a.b, "NULL"...)
		return
	}
	a.time(*t)
}

func (a *pgArray) String() string {
	if a.n == 0 {
		return "{}"
	}
	return string(append(a.b, '}'))
}

func arrayArgs(cols []pgArray) []any {
	out := make([]any, len(cols))
	for i := range cols {
		out[i] = cols[i].String()
	}
	return out
}
