package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

var _ notification.BulkStore = (*Store)(nil)

const bulkCols = `tenant_id, id, requested_by, audience, type, severity, title, body, action_url, data,
	status, total, sent, failed, errors, resume_after, last_error, created_at, started_at, completed_at`

func scanBulk(sc scanner) (notification.Bulk, error) {
	var (
		b                       notification.Bulk
		audience, data, errList []byte
	)
	err := sc.Scan(&b.TenantID, &b.ID, &b.RequestedBy, &audience, &b.Type, &b.Severity, &b.Title, &b.Body,
		&b.ActionURL, &data, &b.Status, &b.Total, &b.Sent, &b.Failed, &errList, &b.ResumeAfter, &b.LastError,
		timeCol{&b.CreatedAt}, nullTimeCol{&b.StartedAt}, nullTimeCol{&b.CompletedAt})
	if err != nil {
		return b, err
	}
	if err := json.Unmarshal(audience, &b.Audience); err != nil {
		return b, fmt.Errorf("decode audience of bulk %s: %w", b.ID, err)
	}
	if err := json.Unmarshal(errList, &b.Errors); err != nil {
		return b, fmt.Errorf("decode errors of bulk %s: %w", b.ID, err)
	}
	b.Data = data
	return b, nil
}

// InsertBulk stores a new bulk send. domain.ErrConflict when the id is
// taken.
func (s *Store) InsertBulk(ctx context.Context, b notification.Bulk) error {
	return s.InsertBulks(ctx, []notification.Bulk{b})
}

const (
	bulkColCount   = 20
	bulksPerInsert = 100 // 2,000 bind parameters
)

// InsertBulks stores new bulk sends in a few multi-row INSERTs (a group
// commit of direct sends). domain.ErrConflict when an id is taken.
func (s *Store) InsertBulks(ctx context.Context, bs []notification.Bulk) error {
	rows := make([]any, 0, len(bs)*bulkColCount)
	for _, b := range bs {
		row, err := bulkRow(b)
		if err != nil {
			return fmt.Errorf("insert bulk: %w", err)
		}
		rows = append(rows, row...)
	}
	return s.insertRows(ctx, "insert bulk", `INSERT INTO bulk_notifications (`+bulkCols+`) VALUES `,
		bulkColCount, bulksPerInsert, rows)
}

// insertRows runs insert (ending in "VALUES ") for rows, colCount values
// each, perInsert rows a statement; a taken key is domain.ErrConflict.
func (s *Store) insertRows(ctx context.Context, op, insert string, colCount, perInsert int, rows []any) error {
	n := len(rows) / colCount
	for start := 0; start < n; start += perInsert {
		k := min(perInsert, n-start)
		_, err := s.exec(ctx, insert+valuesList(k, colCount), rows[start*colCount:(start+k)*colCount]...)
		if s.kind(err) == KindUniqueViolation {
			return fmt.Errorf("%s: id taken: %w", op, domain.ErrConflict)
		}
		if err != nil {
			return s.wrap(op, err)
		}
	}
	return nil
}

// bulkRow validates b and returns its column values in bulkCols order.
func bulkRow(b notification.Bulk) ([]any, error) {
	e, err := encodeBulk(b)
	if err != nil {
		return nil, err
	}
	return []any{b.TenantID, e.id, b.RequestedBy, e.audience, b.Type, b.Severity, b.Title, b.Body, b.ActionURL, e.data,
		b.Status, b.Total, b.Sent, b.Failed, e.errList, b.ResumeAfter, b.LastError,
		encTimeOrNow(b.CreatedAt), encTimePtr(b.StartedAt), encTimePtr(b.CompletedAt)}, nil
}

// encodedBulk are the columns of a bulk that are not its fields as they
// are.
type encodedBulk struct{ id, audience, data, errList string }

// encodeBulk validates b and encodes its id, audience, data and errors.
func encodeBulk(b notification.Bulk) (encodedBulk, error) {
	id, err := newRowID("id", b.ID)
	if err != nil {
		return encodedBulk{}, err
	}
	if err := requireTenant(b.TenantID); err != nil {
		return encodedBulk{}, err
	}
	audience, err := json.Marshal(b.Audience)
	if err != nil {
		return encodedBulk{}, fmt.Errorf("encode audience: %w", err)
	}
	data, err := encJSON("data", b.Data, "{}")
	if err != nil {
		return encodedBulk{}, err
	}
	errList := "[]" // what encJSONList writes for none, without encoding/json
	if len(b.Errors) > 0 {
		if errList, err = encJSONList(b.Errors); err != nil {
			return encodedBulk{}, err
		}
	}
	return encodedBulk{id: id, audience: string(audience), data: data, errList: errList}, nil
}

// GetBulk returns one of the tenant's bulk sends; domain.ErrNotFound for a
// missing, malformed or another tenant's id.
func (s *Store) GetBulk(ctx context.Context, tenant domain.TenantID, id string) (notification.Bulk, error) {
	return s.getBulk(ctx, "get bulk", tenant, id, "")
}

// LockBulk is GetBulk that locks the row until the transaction ends.
func (s *Store) LockBulk(ctx context.Context, tenant domain.TenantID, id string) (notification.Bulk, error) {
	if !s.inTx(ctx) {
		return notification.Bulk{}, errors.New("lock bulk: must run inside InTx")
	}
	return s.getBulk(ctx, "lock bulk", tenant, id, s.d.LockRows(false))
}

func (s *Store) getBulk(ctx context.Context, op string, tenant domain.TenantID, id, lock string) (notification.Bulk, error) {
	return getTenantRow(ctx, s, op, `SELECT `+bulkCols+` FROM bulk_notifications WHERE tenant_id = ? AND id = ?`, tenant, id, lock, scanBulk)
}

// UpdateBulk writes a bulk's progress: status, counts, errors, where to
// resume, last error and times.
func (s *Store) UpdateBulk(ctx context.Context, b notification.Bulk) error {
	key, ok := lookupID(b.ID)
	if !ok {
		return fmt.Errorf("update bulk %q: %w", b.ID, domain.ErrNotFound)
	}
	errList, err := encJSONList(b.Errors)
	if err != nil {
		return fmt.Errorf("update bulk: %w", err)
	}
	res, err := s.exec(ctx, `UPDATE bulk_notifications SET status = ?, total = ?, sent = ?, failed = ?, errors = ?,
		resume_after = ?, last_error = ?, started_at = ?, completed_at = ? WHERE tenant_id = ? AND id = ?`,
		b.Status, b.Total, b.Sent, b.Failed, errList, b.ResumeAfter, b.LastError,
		encTimePtr(b.StartedAt), encTimePtr(b.CompletedAt), b.TenantID, key)
	if err != nil {
		return s.wrap("update bulk", err)
	}
	n, err := affected("update bulk", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("update bulk %s: %w", key, domain.ErrNotFound)
	}
	return nil
}

// byteOrder makes a comparison or ORDER BY on text follow byte order, as
// Go compares strings (SQLite's default BINARY collation already does).
func (s *Store) byteOrder() string {
	if s.d.Name() == "postgres" {
		return ` COLLATE "C"`
	}
	return ""
}

// UserIDsAfter lists up to limit (default 500, at most 5000) of the
// tenant's known user ids greater than after, in byte order: holders of
// perm (directly or through admin), or every user when perm is "".
func (s *Store) UserIDsAfter(ctx context.Context, tenant domain.TenantID, perm string, after domain.UserID, limit int) ([]domain.UserID, error) {
	q, args := s.audienceQuery(`SELECT u.id FROM users u`, tenant, perm)
	q += ` AND u.id` + s.byteOrder() + ` > ? ORDER BY u.id` + s.byteOrder() + ` LIMIT ?`
	args = append(args, after, clamp(limit, 500, 5000))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("user ids after", err)
	}
	defer rows.Close()
	out := []domain.UserID{}
	for rows.Next() {
		var id domain.UserID
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("user ids after: scan: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("user ids after", err)
	}
	return out, nil
}

// CountUsers counts the users UserIDsAfter lists from the start.
func (s *Store) CountUsers(ctx context.Context, tenant domain.TenantID, perm string) (int64, error) {
	q, args := s.audienceQuery(`SELECT COUNT(*) FROM users u`, tenant, perm)
	var n int64
	if err := s.queryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, s.wrap("count users", err)
	}
	return n, nil
}

func (s *Store) audienceQuery(sel string, tenant domain.TenantID, perm string) (string, []any) {
	if perm == "" {
		return sel + ` WHERE u.tenant_id = ?`, []any{tenant}
	}
	return sel + permHoldersJoin + ` WHERE u.tenant_id = ?`, []any{tenant, perm, domain.PermAdmin, tenant}
}

// KnownUsers reports which of ids are known users of the tenant.
func (s *Store) KnownUsers(ctx context.Context, tenant domain.TenantID, ids []domain.UserID) (map[domain.UserID]bool, error) {
	out := make(map[domain.UserID]bool, len(ids))
	for start := 0; start < len(ids); start += idsPerUpdate {
		chunk := ids[start:min(start+idsPerUpdate, len(ids))]
		args := make([]any, 0, 1+len(chunk))
		args = append(args, tenant)
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := s.query(ctx, `SELECT id FROM users WHERE tenant_id = ? AND id IN (`+inList(len(chunk))+`)`, args...)
		if err != nil {
			return nil, s.wrap("known users", err)
		}
		for rows.Next() {
			var id domain.UserID
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("known users: scan: %w", err)
			}
			out[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.wrap("known users", err)
		}
	}
	return out, nil
}

// InsertDirect stores a group of direct sends in one atomic write: the
// bulks (already completed) and the notifications, of any tenants. Each
// n.Seq is set as InsertNotifications sets it (one user's notifications
// get consecutive seqs in slice order) and the result is each recipient's
// unread count once the write is in. Every recipient must be a known
// user: an unknown one fails the whole write (nothing is stored), it does
// not become a user.
//
// On PostgreSQL, outside a transaction, this is one statement in
// autocommit (one round trip instead of begin, lock, update, two inserts
// and commit); elsewhere the same writes run in one transaction.
func (s *Store) InsertDirect(ctx context.Context, bs []notification.Bulk, ns []*domain.Notification) (map[notification.InboxKey]int, error) {
	if !s.pgArrays() || s.inTx(ctx) {
		return s.insertDirectTx(ctx, bs, ns)
	}
	bargs, err := bulkArrays(bs)
	if err != nil {
		return nil, fmt.Errorf("insert direct: %w", err)
	}
	d, err := newDirectRows(ns)
	if err != nil {
		return nil, fmt.Errorf("insert direct: %w", err)
	}
	out, err := s.runDirect(ctx, "insert direct", pgInsertDirectQuery, append(d.args, bargs...), d)
	if err != nil {
		return nil, err
	}
	if len(out) != len(d.keys) {
		// Cannot happen once the statement succeeded (an unknown user
		// fails it): a guard, not a path.
		return nil, fmt.Errorf("insert direct: %d of %d recipients updated", len(out), len(d.keys))
	}
	return out, nil
}

// directRows are notifications encoded for a one-statement insert
// (pgInsertDirectQuery, pgInsertKnownQuery): their recipients, one row
// each in (tenant, id) order with how many seqs and unread notifications
// they gain, then the rows, each with how many later rows go to the same
// user, so that the user's new last seq minus that is the row's seq.
type directRows struct {
	ns   []*domain.Notification
	keys []notification.InboxKey
	ids  string // the recipients' user ids, in keys' order, as one text[] literal
	back []int64
	args []any
}

func newDirectRows(ns []*domain.Notification) (*directRows, error) {
	counts := map[notification.InboxKey]seqCounts{}
	back := make([]int64, len(ns))
	for i := len(ns) - 1; i >= 0; i-- {
		if ns[i] == nil {
			return nil, fmt.Errorf("notification %d is nil", i)
		}
		k := notification.InboxKey{TenantID: ns[i].TenantID, UserID: ns[i].UserID}
		c := counts[k]
		back[i] = c.seqs
		c.seqs++
		c.unread += unreadDelta(ns[i])
		counts[k] = c
	}
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b notification.InboxKey) int {
		return cmp.Or(cmp.Compare(a.TenantID, b.TenantID), cmp.Compare(a.UserID, b.UserID))
	})
	var recipients [4]pgArray // tenant, id, seqs, unread
	for _, k := range keys {
		recipients[0].text(string(k.TenantID))
		recipients[1].text(string(k.UserID))
		recipients[2].int(counts[k].seqs)
		recipients[3].int(counts[k].unread)
	}
	var enc pgNotifications
	var backs pgArray
	enc.reserve(len(ns))
	backs.grow(2 * len(ns))
	for i, n := range ns {
		if err := enc.add(n); err != nil {
			return nil, fmt.Errorf("notification %d: %w", i, err)
		}
		backs.int(back[i])
	}
	rargs := arrayArgs(recipients[:])
	args := make([]any, 0, 4+13+bulkColCount)
	args = append(args, rargs...)
	args = append(args, enc.args(&backs)...)
	return &directRows{ns: ns, keys: keys, ids: rargs[1].(string), back: back, args: args}, nil
}

// runDirect runs a one-statement insert of d (op names it in errors) and
// returns each recipient's unread count; each row's Seq is set when every
// recipient came back. The statement returns nothing for a recipient it
// did not update.
func (s *Store) runDirect(ctx context.Context, op, query string, args []any, d *directRows) (map[notification.InboxKey]int, error) {
	r, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, s.insertErr(op, err)
	}
	defer r.Close()
	last := make(map[notification.InboxKey]int64, len(d.keys))
	out := make(map[notification.InboxKey]int, len(d.keys))
	for r.Next() {
		var (
			k   notification.InboxKey
			seq int64
			n   int
		)
		if err := r.Scan(&k.TenantID, &k.UserID, &seq, &n); err != nil {
			return nil, s.wrap(op, err)
		}
		last[k], out[k] = seq, n
	}
	if err := r.Err(); err != nil {
		return nil, s.insertErr(op, err)
	}
	if len(last) == len(d.keys) {
		for i, n := range d.ns {
			n.Seq = last[notification.InboxKey{TenantID: n.TenantID, UserID: n.UserID}] - d.back[i]
		}
	}
	return out, nil
}

// bulkArrays are the bulk columns of pgInsertDirectQuery, in bulkCols
// order, each one array literal; an unset started_at or completed_at is
// NULL.
func bulkArrays(bs []notification.Bulk) ([]any, error) {
	var cols [bulkColCount]pgArray
	for _, b := range bs {
		e, err := encodeBulk(b)
		if err != nil {
			return nil, err
		}
		created := b.CreatedAt
		if created.IsZero() { // as encTimeOrNow
			created = now()
		}
		cols[0].text(string(b.TenantID))
		cols[1].text(e.id)
		cols[2].text(string(b.RequestedBy))
		cols[3].text(e.audience)
		cols[4].text(b.Type)
		cols[5].text(string(b.Severity))
		cols[6].text(b.Title)
		cols[7].text(b.Body)
		cols[8].text(b.ActionURL)
		cols[9].text(e.data)
		cols[10].text(string(b.Status))
		cols[11].int(b.Total)
		cols[12].int(b.Sent)
		cols[13].int(b.Failed)
		cols[14].text(e.errList)
		cols[15].text(string(b.ResumeAfter))
		cols[16].text(b.LastError)
		cols[17].time(created)
		cols[18].timeOrNull(b.StartedAt)
		cols[19].timeOrNull(b.CompletedAt)
	}
	return arrayArgs(cols[:]), nil
}

// insertErr turns an error of the insert op into the store's: a taken id
// is domain.ErrConflict.
func (s *Store) insertErr(op string, err error) error {
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("%s: id taken: %w", op, domain.ErrConflict)
	}
	return s.wrap(op, err)
}

// insertDirectTx is InsertDirect as a transaction of the usual batch
// writes (SQLite). Recipients must be known here too.
func (s *Store) insertDirectTx(ctx context.Context, bs []notification.Bulk, ns []*domain.Notification) (map[notification.InboxKey]int, error) {
	byTenant := map[domain.TenantID][]*domain.Notification{}
	for _, n := range ns {
		byTenant[n.TenantID] = append(byTenant[n.TenantID], n)
	}
	var out map[notification.InboxKey]int
	err := s.InTx(ctx, func(ctx context.Context) error {
		out = make(map[notification.InboxKey]int)
		if len(bs) > 0 {
			if err := s.InsertBulks(ctx, bs); err != nil {
				return err
			}
		}
		for _, tenant := range slices.Sorted(maps.Keys(byTenant)) {
			tns := byTenant[tenant]
			ids := make([]domain.UserID, 0, len(tns))
			for _, n := range tns {
				ids = append(ids, n.UserID)
			}
			known, err := s.KnownUsers(ctx, tenant, slices.Compact(slices.Sorted(slices.Values(ids))))
			if err != nil {
				return err
			}
			for _, n := range tns {
				if !known[n.UserID] {
					return fmt.Errorf("insert direct: user %s/%s: %w", tenant, n.UserID, domain.ErrNotFound)
				}
			}
			unread, err := s.InsertNotificationsUnread(ctx, tns)
			if err != nil {
				return err
			}
			for u, c := range unread {
				out[notification.InboxKey{TenantID: tenant, UserID: u}] = c
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pgDirectRecipients is the first step of the one-statement inserts: the
// recipients, one row each (tenant, id, seqs, unread), their arguments.
const pgDirectRecipients = `WITH v AS (
		SELECT * FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS bigint[]))
		AS x(tenant_id, id, seqs, unread)
	)`

// pgDirectLocks lock what the inserts change. The recipients' tenants are
// share-locked first (their broadcast counters: see broadcast.go), then
// the recipients' rows in (tenant, id) order, as every batch locks them,
// so that it cannot deadlock with another batch or a broadcast; each
// one-time count makes the next step wait for those locks before it
// touches any row.
const pgDirectLocks = `, tl AS MATERIALIZED (
		SELECT tn.id, tn.broadcast_seq FROM tenants tn WHERE tn.id IN (SELECT tenant_id FROM v)
		ORDER BY tn.id FOR SHARE OF tn
	), lk AS MATERIALIZED (
		SELECT u.id FROM users u JOIN v ON u.tenant_id = v.tenant_id AND u.id = v.id
		WHERE (SELECT count(*) FROM tl) >= 0
		ORDER BY u.tenant_id, u.id FOR UPDATE OF u
	)`

// pgDirectInsert advances the recipients' seqs and unread counts (upd,
// once cond holds) and inserts the notifications (ins), their seqs from
// upd; join is how the rows meet upd and tl. Arguments: the
// notifications as pgNotifications binds them, seq carrying how many
// later rows go to the same user.
func pgDirectInsert(cond, join string) string {
	return `, upd AS (
		UPDATE users u SET notification_seq = u.notification_seq + v.seqs, unread_count = u.unread_count + v.unread
		FROM v WHERE u.tenant_id = v.tenant_id AND u.id = v.id AND ` + cond + `
		RETURNING u.tenant_id, u.id, u.notification_seq, u.unread_count, u.broadcast_base
	), ` + pgNotificationSetsCTE + `, ins AS (
		INSERT INTO notifications (` + notificationInsertCols + `)
		SELECT r.id, t.tenant_id, r.user_id, upd.notification_seq - r.back + tl.broadcast_seq - upd.broadcast_base,
			t.type, t.severity, t.title, t.body, t.action_url, t.data, t.read_at, t.created_at, tl.broadcast_seq
		FROM ` + pgNotificationRowsFrom("back") + `
		` + join + ` upd ON upd.tenant_id = t.tenant_id AND upd.id = r.user_id
		` + join + ` tl ON tl.id = t.tenant_id
	)`
}

// pgDirectResult returns each updated recipient's last seq and unread
// count, its tenant's broadcasts included.
const pgDirectResult = `
	SELECT upd.tenant_id, upd.id, upd.notification_seq + tl.broadcast_seq - upd.broadcast_base,
		upd.unread_count + tl.broadcast_seq - upd.broadcast_base
	FROM upd JOIN tl ON tl.id = upd.tenant_id`

// pgInsertDirectQuery is InsertDirect's statement: pgDirectLocks, then
// pgDirectInsert, then the bulks (the 20 bulk columns' arguments). A
// recipient without a row leaves its notifications' seq NULL, which fails
// the statement as a whole.
var pgInsertDirectQuery = pgDirectRecipients + pgDirectLocks + pgDirectInsert("(SELECT count(*) FROM lk) >= 0", "LEFT JOIN") + `, bk AS (
		INSERT INTO bulk_notifications (` + bulkCols + `)
		SELECT tenant_id, CAST(id AS uuid), requested_by, CAST(audience AS json), type, severity, title, body, action_url,
			CAST(data AS json), status, total, sent, failed, CAST(errors AS json), resume_after, last_error,
			created_at, CAST(NULLIF(started_at, '') AS timestamptz), CAST(NULLIF(completed_at, '') AS timestamptz)
		FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),
			CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),
			CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS text[]),
			CAST(? AS text[]), CAST(? AS text[]), CAST(? AS timestamptz[]), CAST(? AS text[]), CAST(? AS text[]))
		AS b(tenant_id, id, requested_by, audience, type, severity, title, body, action_url, data, status, total,
			sent, failed, errors, resume_after, last_error, created_at, started_at, completed_at)
	)` + pgDirectResult

// pgInsertLockedQuery is pgDirectInsert for recipients and a tenant that
// earlier statements of the transaction found and locked
// (insertNotificationsPG).
// Its snapshot, taken after those locks, sees the rows' latest versions.
// Taking the locks in this statement too (as pgInsertDirectQuery does)
// made four writers to the same users a third slower than the separate
// statements: a statement that waited for a row then rechecks the newer
// version against its whole join (PostgreSQL's EvalPlanQual)
// (BenchmarkInsertNotificationsInTx).
var pgInsertLockedQuery = pgDirectRecipients + `, tl AS (
		SELECT tn.id, tn.broadcast_seq FROM tenants tn WHERE tn.id IN (SELECT tenant_id FROM v)
	)` + pgDirectInsert("true", "JOIN") + pgDirectResult
