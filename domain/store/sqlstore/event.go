package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

const eventCols = `id, tenant_id, actor_id, type, aggregate_type, aggregate_id, occurred_at, payload`

// eventsPerInsert bounds one multi-row INSERT (8 binds per row stays far
// below every driver's parameter limit).
const eventsPerInsert = 100

// idsPerUpdate bounds one "id IN (...)" list.
const idsPerUpdate = 500

// notInternal leaves the reserved machinery types (queued jobs, retries)
// out of the tenant's event log; internalTypes are its arguments.
var (
	notInternal   = ` AND type NOT IN (` + inList(len(domain.InternalEventTypes)) + `)`
	internalTypes = func() []any {
		out := make([]any, len(domain.InternalEventTypes))
		for i, t := range domain.InternalEventTypes {
			out[i] = t
		}
		return out
	}()
)

func scanEvent(sc scanner) (domain.Event, error) {
	var (
		e       domain.Event
		payload []byte
	)
	err := sc.Scan(&e.ID, &e.TenantID, &e.ActorID, &e.Type, &e.AggregateType, &e.AggregateID,
		timeCol{&e.OccurredAt}, &payload)
	e.Payload = payload
	return e, err
}

// AppendEvents writes events to the outbox, in order, atomically: in the
// transaction carried by ctx, or in one of its own. Once that transaction
// commits, EventSignal fires (and, on PostgreSQL, other processes are
// notified). domain.ErrConflict when an event id is already there.
func (s *Store) AppendEvents(ctx context.Context, events ...domain.Event) error {
	if len(events) == 0 {
		return nil
	}
	// Column by column, in eventCols order.
	var cols [8][]string
	for c := range cols {
		cols[c] = make([]string, len(events))
	}
	for i, e := range events {
		row, err := eventRow(i, e)
		if err != nil {
			return fmt.Errorf("append events: %w", err)
		}
		for c, v := range row {
			cols[c][i] = v
		}
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		var err error
		if s.pgArrays() {
			_, err = s.exec(ctx, pgAppendEventsQuery, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7])
		} else {
			for start := 0; start < len(events) && err == nil; start += eventsPerInsert {
				n := min(eventsPerInsert, len(events)-start)
				args := make([]any, 0, n*8)
				for i := start; i < start+n; i++ {
					for c := range cols {
						args = append(args, cols[c][i])
					}
				}
				_, err = s.exec(ctx, `INSERT INTO events (`+eventCols+`) VALUES `+valuesList(n, 8), args...)
			}
		}
		if s.kind(err) == KindUniqueViolation {
			return fmt.Errorf("append events: duplicate event id: %w", domain.ErrConflict)
		}
		if err != nil {
			return s.wrap("append events", err)
		}
		s.txFrom(ctx).events.Store(true)
		return nil
	})
}

// eventArgs are the arguments of an INSERT INTO events (eventCols) of the
// events, 8 a row, checked.
func eventArgs(events []domain.Event) ([]any, error) {
	args := make([]any, 0, len(events)*8)
	for i, e := range events {
		row, err := eventRow(i, e)
		if err != nil {
			return nil, err
		}
		for _, v := range row {
			args = append(args, v)
		}
	}
	return args, nil
}

// eventRow is event i's values in eventCols order, checked.
func eventRow(i int, e domain.Event) ([8]string, error) {
	id, err := newRowID("id", e.ID)
	if err != nil {
		return [8]string{}, fmt.Errorf("event %d: %w", i, err)
	}
	if err := requireTenant(e.TenantID); err != nil {
		return [8]string{}, fmt.Errorf("event %s: %w", id, err)
	}
	if e.Type == "" {
		return [8]string{}, fmt.Errorf("event %s: %w", id, domain.Invalid("type", "required"))
	}
	payload, err := encJSON("payload", e.Payload, "{}")
	if err != nil {
		return [8]string{}, fmt.Errorf("event %s: %w", id, err)
	}
	return [8]string{id, string(e.TenantID), string(e.ActorID), e.Type, e.AggregateType, e.AggregateID,
		encTimeOrNow(e.OccurredAt), payload}, nil
}

// valuesList is "(?, ?), (?, ?)" for rows of cols markers.
func valuesList(rows, cols int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(row+", ", rows-1) + row
}

// inList is "?, ?, ?" for n markers.
func inList(n int) string { return strings.Repeat("?, ", n-1) + "?" }

// pgAppendEventsQuery appends events held column by column in arrays, in
// their order (WITH ORDINALITY: pos follows it): one statement for a batch
// of any size, where a VALUES list binds 8 parameters per event and takes
// one statement per eventsPerInsert.
const pgAppendEventsQuery = `INSERT INTO events (` + eventCols + `)
	SELECT id, tenant_id, actor_id, type, aggregate_type, aggregate_id, CAST(occurred_at AS timestamptz), CAST(payload AS json)
	FROM unnest(CAST(? AS uuid[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),
		CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]))
		WITH ORDINALITY AS e(id, tenant_id, actor_id, type, aggregate_type, aggregate_id, occurred_at, payload, n)
	ORDER BY n`

// ClaimUnpublished returns up to limit (default 100, at most 10,000) committed,
// unpublished events: dispatched jobs first, then the others, each oldest
// (outbox position) first. It must run inside InTx: on PostgreSQL the rows
// stay locked (FOR UPDATE SKIP LOCKED) until that transaction ends, so
// concurrent relays never claim the same rows; on SQLite the write
// transaction excludes other claimers.
//
// It selects by published_at rather than from a remembered position, so an
// event whose transaction commits after a later-positioned one is still
// claimed, by a later call.
//
// Jobs go first so that a job never waits behind a backlog of domain
// events (a large import's million ProductCreated held up the import's own
// continuation for minutes); they go to their queues' topics, so no
// consumer sees an order change.
func (s *Store) ClaimUnpublished(ctx context.Context, limit int) ([]domain.Event, error) {
	if !s.inTx(ctx) {
		return nil, errors.New("claim unpublished events: must run inside InTx")
	}
	limit = clamp(limit, 100, maxClaim)
	jobs, err := s.claimEvents(ctx, unpublishedJobs, limit)
	if err != nil || len(jobs) == limit {
		return jobs, err
	}
	rest, err := s.claimEvents(ctx, unpublishedOthers, limit-len(jobs))
	return append(jobs, rest...), err
}

// The two halves of a claim. The job type is written into the statement,
// not bound: only a literal lets the planners match the partial index
// events_unpublished_jobs (migration 00011).
const (
	unpublishedJobs   = `published_at IS NULL AND type = '` + domain.EventJobDispatched + `'`
	unpublishedOthers = `published_at IS NULL AND type <> '` + domain.EventJobDispatched + `'`
)

func (s *Store) claimEvents(ctx context.Context, where string, limit int) ([]domain.Event, error) {
	rows, err := s.query(ctx, `SELECT `+eventCols+` FROM events WHERE `+where+` ORDER BY pos LIMIT ?`+s.d.LockRows(true), limit)
	if err != nil {
		return nil, s.wrap("claim unpublished events", err)
	}
	return collectEvents("claim unpublished events", rows)
}

// ClaimAndMarkPublished is ClaimUnpublished and MarkPublished (at) in one
// statement: it must run inside InTx, and what it returns is marked
// published only if that transaction commits. A relay that claims, then
// publishes, then commits saves the separate mark's round trip; if the
// publish fails, the rollback leaves the events unpublished. Oldest
// (outbox position) first after the jobs, like ClaimUnpublished. A
// non-empty hold is a setting key share-locked first, in the same
// statement, until the transaction ends: a relay holds its stream epoch
// that way while it publishes, so a relay swapping the epoch waits for the
// batches in flight and then requeues them too. A missing key holds
// nothing; holders do not block each other.
func (s *Store) ClaimAndMarkPublished(ctx context.Context, limit int, at time.Time, hold string) ([]domain.Event, error) {
	if !s.inTx(ctx) {
		return nil, errors.New("claim and mark events published: must run inside InTx")
	}
	// Jobs first, as in ClaimUnpublished: the union is read in order and
	// stops at the limit, so the others' half locks only what it returns.
	lock := s.d.LockRows(true)
	limit = clamp(limit, 100, maxClaim)
	args := []any{encTimeOrNow(at), limit, limit, limit}
	with, held := "", "TRUE"
	if share := s.d.ShareRows(); hold != "" && share != "" {
		// The one-time count takes the hold before any event is claimed.
		with, held = `WITH h AS MATERIALIZED (SELECT 1 FROM settings WHERE key = ?`+share+`) `, `(SELECT count(*) FROM h) >= 0`
		args = append([]any{hold}, args...)
	}
	rows, err := s.query(ctx, with+`UPDATE events SET published_at = ? WHERE `+held+` AND pos IN (
		SELECT pos FROM (
			SELECT pos FROM (SELECT pos FROM events WHERE `+unpublishedJobs+` ORDER BY pos LIMIT ?`+lock+`) AS j
			UNION ALL
			SELECT pos FROM (SELECT pos FROM events WHERE `+unpublishedOthers+` ORDER BY pos LIMIT ?`+lock+`) AS o
		) AS c LIMIT ?)
		RETURNING pos, `+eventCols, args...)
	if err != nil {
		return nil, s.wrap("claim and mark events published", err)
	}
	defer rows.Close()
	type claimed struct {
		pos int64
		ev  domain.Event
	}
	var got []claimed
	for rows.Next() {
		var (
			c       claimed
			payload []byte
		)
		err := rows.Scan(&c.pos, &c.ev.ID, &c.ev.TenantID, &c.ev.ActorID, &c.ev.Type, &c.ev.AggregateType,
			&c.ev.AggregateID, timeCol{&c.ev.OccurredAt}, &payload)
		if err != nil {
			return nil, fmt.Errorf("claim and mark events published: scan: %w", err)
		}
		c.ev.Payload = payload
		got = append(got, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("claim and mark events published", err)
	}
	// RETURNING follows no order: jobs first, then by outbox position.
	slices.SortFunc(got, func(a, b claimed) int {
		aj, bj := a.ev.Type == domain.EventJobDispatched, b.ev.Type == domain.EventJobDispatched
		if aj != bj {
			if aj {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.pos, b.pos)
	})
	out := make([]domain.Event, len(got))
	for i, c := range got {
		out[i] = c.ev
	}
	return out, nil
}

func collectEvents(op string, rows *sql.Rows) ([]domain.Event, error) {
	defer rows.Close()
	out := []domain.Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: scan: %w", op, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// maxClaim bounds one claim: a relay far behind takes batches this large.
const maxClaim = 10_000

// pgMarkPublishedQuery marks the events of one uuid[] parameter. "IS NOT
// DISTINCT FROM NULL" is "IS NULL" that the planner cannot match with the
// predicate of events_unpublished: through that index, an UPDATE reads
// every unpublished row to find its few (the plan it picked when the
// statistics were taken with the outbox empty), which made each batch of a
// large backlog slower than the last. The unique index on id finds them.
const pgMarkPublishedQuery = `UPDATE events SET published_at = ?
	WHERE id = ANY(CAST(? AS uuid[])) AND published_at IS NOT DISTINCT FROM NULL`

// MarkPublished records that the events with these ids reached the stream.
// Ids already marked, unknown or malformed are skipped.
func (s *Store) MarkPublished(ctx context.Context, ids []string, at time.Time) error {
	keys := make([]any, 0, len(ids))
	for _, id := range ids {
		if key, ok := lookupID(id); ok {
			keys = append(keys, key)
		}
	}
	when := encTimeOrNow(at)
	if s.pgArrays() {
		if len(keys) == 0 {
			return nil
		}
		list := make([]string, len(keys))
		for i, k := range keys {
			list[i] = k.(string)
		}
		if _, err := s.exec(ctx, pgMarkPublishedQuery, when, list); err != nil {
			return s.wrap("mark events published", err)
		}
		return nil
	}
	for start := 0; start < len(keys); start += idsPerUpdate {
		chunk := keys[start:min(start+idsPerUpdate, len(keys))]
		args := append([]any{when}, chunk...)
		_, err := s.exec(ctx, `UPDATE events SET published_at = ? WHERE published_at IS NULL AND id IN (`+inList(len(chunk))+`)`, args...)
		if err != nil {
			return s.wrap("mark events published", err)
		}
	}
	return nil
}

// OldestUnpublished is when the oldest unpublished event occurred; ok is
// false when every event is published (for the relay lag metric).
func (s *Store) OldestUnpublished(ctx context.Context) (time.Time, bool, error) {
	var t time.Time
	err := s.queryRow(ctx, `SELECT occurred_at FROM events WHERE published_at IS NULL ORDER BY pos LIMIT 1`).Scan(timeCol{&t})
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, s.wrap("oldest unpublished event", err)
	}
	return t, true, nil
}

// ListEvents pages through the tenant's event log, oldest first, optionally
// of one type. The reserved machinery types (domain.InternalEventTypes:
// queued jobs, retries) are left out. after is an event id of this tenant ("" for the start;
// domain.ErrNotFound when it is not the tenant's). Limit defaults to 50, at
// most 500. Only committed events appear; one that commits late with an
// earlier position than after is not shown to that page's reader.
func (s *Store) ListEvents(ctx context.Context, tenant domain.TenantID, eventType string, after string, limit int) ([]domain.Event, error) {
	q := `SELECT ` + eventCols + ` FROM events WHERE tenant_id = ?` + notInternal
	args := append([]any{tenant}, internalTypes...)
	if eventType != "" {
		q += ` AND type = ?`
		args = append(args, eventType)
	}
	if after != "" {
		key, ok := lookupID(after)
		if !ok {
			return nil, fmt.Errorf("list events: after %q: %w", after, domain.ErrNotFound)
		}
		var pos int64
		err := s.queryRow(ctx, `SELECT pos FROM events WHERE tenant_id = ? AND id = ?`, tenant, key).Scan(&pos)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("list events: after %s: %w", key, domain.ErrNotFound)
		}
		if err != nil {
			return nil, s.wrap("list events: resolve after", err)
		}
		q += ` AND pos > ?`
		args = append(args, pos)
	}
	q += ` ORDER BY pos LIMIT ?`
	args = append(args, clamp(limit, 50, 500))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list events", err)
	}
	return collectEvents("list events", rows)
}

// RequeuePublished marks every event published at or after since as
// unpublished again, so the relay sends it once more, and returns how many.
// It is for a stream that lost its data (Redis restarted empty): consumers
// are idempotent, so the repeats change nothing they already did.
func (s *Store) RequeuePublished(ctx context.Context, since time.Time) (int64, error) {
	res, err := s.exec(ctx, `UPDATE events SET published_at = NULL WHERE published_at >= ?`, encTimeOrNow(since))
	if err != nil {
		return 0, s.wrap("requeue published events", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.wrap("requeue published events", err)
	}
	return n, nil
}

// LatestEvents returns the tenant's newest events, newest first (for the
// dashboard's feed, which then follows with ListEvents after the newest).
// Limit defaults to 50, at most 500.
func (s *Store) LatestEvents(ctx context.Context, tenant domain.TenantID, limit int) ([]domain.Event, error) {
	args := append(append([]any{tenant}, internalTypes...), clamp(limit, 50, 500))
	rows, err := s.query(ctx, `SELECT `+eventCols+` FROM events WHERE tenant_id = ?`+notInternal+` ORDER BY pos DESC LIMIT ?`, args...)
	if err != nil {
		return nil, s.wrap("latest events", err)
	}
	return collectEvents("latest events", rows)
}
