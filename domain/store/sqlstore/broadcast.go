package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// A tenant broadcast is stored once (table broadcasts), not once per user
// (migration 00018 has the whole design). Each user's inbox still has one
// contiguous sequence, the position the hub's gap detection and the
// catch-up rely on:
//
//	position = personal count + broadcasts since the user's row was created
//	         = users.notification_seq + tenants.broadcast_seq - users.broadcast_base
//
// A broadcast advances tenants.broadcast_seq under the tenant row's
// exclusive lock; a personal insert takes that row's share lock before
// anything else and records the counter it read (notifications.bseq). So a
// tenant's broadcasts and personal notifications commit in one order: a
// broadcast B came before a personal row P exactly when B <= P.bseq. A
// personal row stores its position in seq; a broadcast's position in one
// user's inbox is that user's personal count before it plus its rank among
// the user's broadcasts, computed when read.

// BroadcastRecipient is notification.BroadcastRecipient.
type BroadcastRecipient = notification.BroadcastRecipient

// InsertBroadcast stores n once for every user of n.TenantID known when it
// commits and returns them in id order (byte order), with the seq n takes
// in each one's inbox and their unread count after it. n.UserID must be empty and n.ReadAt
// nil; n.ID (when empty) and n.CreatedAt are set as InsertNotification
// sets them. Users created while it commits wait for it, and then start
// after it: a broadcast reaches exactly the users it returns.
func (s *Store) InsertBroadcast(ctx context.Context, n *domain.Notification) ([]BroadcastRecipient, error) {
	data, err := prepareBroadcast(n)
	if err != nil {
		return nil, err
	}
	var out []BroadcastRecipient
	err = s.InTx(ctx, func(ctx context.Context) error {
		out = nil
		// The exclusive lock waits for every personal insert in flight
		// (each holds the share lock): their rows count before this one.
		var bseq int64
		err := s.queryRow(ctx, advanceBroadcastSeq, n.TenantID).Scan(&bseq)
		if errors.Is(err, sql.ErrNoRows) {
			if err := s.ensureTenant(ctx, n.TenantID); err != nil {
				return err
			}
			err = s.queryRow(ctx, advanceBroadcastSeq, n.TenantID).Scan(&bseq)
		}
		if err != nil {
			return s.wrap("insert broadcast: advance", err)
		}
		// Statements after the lock: their snapshots have every personal
		// row that counts before the broadcast. On PostgreSQL the row goes
		// in with the recipients' read, one round trip less under the
		// tenant row's lock.
		row := []any{n.ID, n.TenantID, bseq, n.Type, n.Severity, n.Title, n.Body, n.ActionURL, data, encTime(n.CreatedAt)}
		if s.pgArrays() {
			out, err = s.insertBroadcastPacked(ctx, n.ID, n.TenantID, bseq, row)
			return err
		}
		if _, err := s.exec(ctx, broadcastInsert, row...); err != nil {
			return s.broadcastInsertErr(n.ID, err)
		}
		out, err = s.broadcastRecipients(ctx, n.TenantID, bseq)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// prepareBroadcast validates broadcast n, sets its id (when empty),
// created_at and seq as stored, and returns its data as stored.
func prepareBroadcast(n *domain.Notification) (data string, err error) {
	if n == nil {
		return "", errors.New("insert broadcast: nil notification")
	}
	if n.UserID != "" {
		return "", fmt.Errorf("insert broadcast: %w", domain.Invalid("user_id", "a broadcast has no user"))
	}
	if n.ReadAt != nil {
		return "", fmt.Errorf("insert broadcast: %w", domain.Invalid("read_at", "a broadcast is stored unread"))
	}
	if err := requireTenant(n.TenantID); err != nil {
		return "", fmt.Errorf("insert broadcast: %w", err)
	}
	if n.ID == "" {
		n.ID = domain.NewID()
	}
	id, err := newRowID("id", n.ID)
	if err != nil {
		return "", fmt.Errorf("insert broadcast: %w", err)
	}
	if data, err = encJSON("data", n.Data, "{}"); err != nil {
		return "", fmt.Errorf("insert broadcast: %w", err)
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = now()
	}
	n.ID, n.Seq = id, 0
	n.CreatedAt = n.CreatedAt.UTC().Truncate(time.Microsecond)
	return data, nil
}

// broadcastInsert inserts a broadcast's one row (arguments: id,
// tenant_id, bseq, type, severity, title, body, action_url, data,
// created_at).
const broadcastInsert = `INSERT INTO broadcasts (id, tenant_id, bseq, type, severity, title, body, action_url, data, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// broadcastInsertErr is the store's error for a failed insert of
// broadcast id: a taken id is domain.ErrConflict.
func (s *Store) broadcastInsertErr(id string, err error) error {
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert broadcast %s: %w", id, domain.ErrConflict)
	}
	return s.wrap("insert broadcast", err)
}

// broadcastRecipients reads the users a broadcast numbered bseq reaches,
// in id order (byte order), with its seq in each one's inbox and their
// unread count after it.
func (s *Store) broadcastRecipients(ctx context.Context, tenant domain.TenantID, bseq int64) ([]BroadcastRecipient, error) {
	rows, err := s.query(ctx, `SELECT id, notification_seq, broadcast_base, unread_count FROM users
		WHERE tenant_id = ? AND broadcast_base < ? ORDER BY id`, tenant, bseq)
	if err != nil {
		return nil, s.wrap("insert broadcast: recipients", err)
	}
	defer rows.Close()
	var out []BroadcastRecipient
	for rows.Next() {
		var (
			r                  BroadcastRecipient
			pseq, base, unread int64
		)
		if err := rows.Scan(&r.UserID, &pseq, &base, &unread); err != nil {
			return nil, s.wrap("insert broadcast: recipients", err)
		}
		r.Seq = pseq + bseq - base
		r.Unread = int(unread + bseq - base)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("insert broadcast: recipients", err)
	}
	return out, nil
}

// insertBroadcastPacked inserts the broadcast row (as broadcastInsert,
// row its arguments) and reads broadcastRecipients in the same statement
// (PostgreSQL), one round trip less under the tenant row's lock. The
// recipients come packed in one text value: scanning a thousand rows
// through database/sql, column by column, cost more CPU than the rest of
// a broadcast's transaction (about 1 ms of 1.5 for 1,000 users). Each
// recipient is packed as
//
//	<bytes in id>:<id><seq>,<unread>;
//
// so an id may hold any character (the length says where it ends).
func (s *Store) insertBroadcastPacked(ctx context.Context, id string, tenant domain.TenantID, bseq int64, row []any) ([]BroadcastRecipient, error) {
	var packed sql.NullString
	args := append(row[:len(row):len(row)], bseq, bseq, tenant, bseq)
	err := s.queryRow(ctx, `WITH ins AS (`+broadcastInsert+`)
		SELECT string_agg(octet_length(id) || ':' || id
			|| (notification_seq + CAST(? AS bigint) - broadcast_base) || ','
			|| (unread_count + CAST(? AS bigint) - broadcast_base) || ';', '')
		FROM users WHERE tenant_id = ? AND broadcast_base < ?`, args...).Scan(&packed)
	if err != nil {
		return nil, s.broadcastInsertErr(id, err)
	}
	out, err := unpackRecipients(packed.String)
	if err != nil {
		return nil, fmt.Errorf("insert broadcast: recipients: %w", err)
	}
	sortRecipients(out)
	return out, nil
}

// sortRecipients sorts rs in byte order of the ids. Sorted here, not by
// the database: its collation's sort took more than half of the
// statement's time, with the tenant row locked.
func sortRecipients(rs []BroadcastRecipient) {
	slices.SortFunc(rs, func(a, b BroadcastRecipient) int { return strings.Compare(string(a.UserID), string(b.UserID)) })
}

// unpackRecipients reads what insertBroadcastPacked packed.
func unpackRecipients(p string) ([]BroadcastRecipient, error) {
	if p == "" {
		return nil, nil
	}
	out := make([]BroadcastRecipient, 0, strings.Count(p, ";"))
	for len(p) > 0 {
		n, rest, ok := cutInt(p, ':')
		if !ok || n <= 0 || n > int64(len(rest)) {
			return nil, fmt.Errorf("malformed id length at %q", clipForError(p))
		}
		id := rest[:n]
		seq, rest, ok := cutInt(rest[n:], ',')
		if !ok {
			return nil, fmt.Errorf("malformed seq of %q", clipForError(id))
		}
		unread, rest, ok := cutInt(rest, ';')
		if !ok || unread < 0 || unread > math.MaxInt32 {
			return nil, fmt.Errorf("malformed unread count of %q", clipForError(id))
		}
		out = append(out, BroadcastRecipient{UserID: domain.UserID(id), Seq: seq, Unread: int(unread)})
		p = rest
	}
	return out, nil
}

// cutInt reads a decimal int64 (optionally negative) up to sep and
// returns it and what follows sep.
func cutInt(p string, sep byte) (int64, string, bool) {
	i := strings.IndexByte(p, sep)
	if i <= 0 {
		return 0, "", false
	}
	n, err := strconv.ParseInt(p[:i], 10, 64)
	if err != nil {
		return 0, "", false
	}
	return n, p[i+1:], true
}

func clipForError(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// shareBroadcastSeq takes the tenant row's share lock (PostgreSQL; SQLite
// writers are serialised anyway) and returns its broadcast counter,
// creating the tenant when missing (a notification creates its user, and
// a user needs a tenant). Every personal insert calls it before it locks
// any user row, so that no transaction holding a user row ever waits for
// the tenant row (a broadcast, queued for the exclusive lock, would then
// wait for it in turn).
func (s *Store) shareBroadcastSeq(ctx context.Context, tenant domain.TenantID) (int64, error) {
	var bseq int64
	q := `SELECT broadcast_seq FROM tenants WHERE id = ?` + s.d.ShareRows()
	err := s.queryRow(ctx, q, tenant).Scan(&bseq)
	if errors.Is(err, sql.ErrNoRows) {
		if err := s.ensureTenant(ctx, tenant); err != nil {
			return 0, err
		}
		err = s.queryRow(ctx, q, tenant).Scan(&bseq)
	}
	if err != nil {
		return 0, s.wrap("lock tenant broadcasts", err)
	}
	return bseq, nil
}

// inboxRow is a row of the inbox union: a personal notification or a
// broadcast as one user sees it.
type inboxRow struct {
	n         domain.Notification
	broadcast bool
	bseq      int64 // personal: the tenant's broadcast counter at its insert
	// before is, for a broadcast, the user's personal count before it
	// when the query computed it (list queries), else -1.
	before int64
}

// inboxUser is what positions in one user's inbox are computed from.
type inboxUser struct {
	known bool
	pseq  int64 // personal notifications so far
	base  int64 // the tenant's broadcast counter when the user was created
	bseq  int64 // the tenant's broadcast counter now
}

func (u inboxUser) head() int64 { return u.pseq + u.bseq - u.base }

func (s *Store) inboxUser(ctx context.Context, tenant domain.TenantID, user domain.UserID) (inboxUser, error) {
	var u inboxUser
	err := s.queryRow(ctx, `SELECT u.notification_seq, u.broadcast_base, COALESCE(t.broadcast_seq, 0)
		FROM users u LEFT JOIN tenants t ON t.id = u.tenant_id WHERE u.tenant_id = ? AND u.id = ?`,
		tenant, user).Scan(&u.pseq, &u.base, &u.bseq)
	if errors.Is(err, sql.ErrNoRows) {
		return inboxUser{}, nil
	}
	if err != nil {
		return inboxUser{}, s.wrap("inbox of user", err)
	}
	u.known = true
	return u, nil
}

// inboxUnionCols are the columns of both halves of an inbox union: a kind
// (0 personal, 1 broadcast), the notification's columns, the broadcast
// seq, and for a broadcast the user's personal count before it when asked
// for (else -1).
const personalUnionCols = `0, ` + notificationCols + `, bseq, -1`

// broadcastUnionCols selects a broadcast b as user ? sees it, with its
// read state from r (a LEFT JOIN of broadcast_reads); before is the
// expression of the personal count before it.
func broadcastUnionCols(before string) string {
	return `1, b.id, b.tenant_id, CAST(? AS TEXT), 0, b.type, b.severity, b.title, b.body, b.action_url, b.data, r.read_at,
		b.created_at, b.bseq, ` + before
}

// broadcastReadsJoin joins a broadcast b to the reading user's read row.
const broadcastReadsJoin = ` LEFT JOIN broadcast_reads r ON r.tenant_id = b.tenant_id AND r.user_id = ? AND r.bseq = b.bseq`

// personalBefore is the expression of the user's personal count before
// broadcast b (parameters: the user's base, the user, then a seq every row
// before b is below): the personal seq of their last row before it. The
// bound starts the walk back through the user's rows at the page's
// cursor, not at their newest row.
const personalBefore = `COALESCE((SELECT n.seq - n.bseq + ? FROM notifications n
	WHERE n.tenant_id = b.tenant_id AND n.user_id = ? AND n.seq < ? AND n.bseq < b.bseq
	ORDER BY n.seq DESC LIMIT 1), 0)`

func (s *Store) collectInbox(op string, rows *sql.Rows) ([]inboxRow, []inboxRow, error) {
	defer rows.Close()
	var personal, broadcasts []inboxRow
	for rows.Next() {
		var (
			r    inboxRow
			kind int
			data []byte
		)
		n := &r.n
		if err := rows.Scan(&kind, &n.ID, &n.TenantID, &n.UserID, &n.Seq, &n.Type, &n.Severity, &n.Title, &n.Body,
			&n.ActionURL, &data, nullTimeCol{&n.ReadAt}, timeCol{&n.CreatedAt}, &r.bseq, &r.before); err != nil {
			return nil, nil, fmt.Errorf("%s: scan: %w", op, err)
		}
		n.Data = data
		if kind == 1 {
			r.broadcast = true
			broadcasts = append(broadcasts, r)
		} else {
			personal = append(personal, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, s.wrap(op, err)
	}
	return personal, broadcasts, nil
}

// NotificationsAfter returns up to limit (default 200, at most 1000) of the
// user's notifications with seq > after, oldest first: the catch-up read.
// Personal rows and broadcasts come from one statement (one snapshot), in
// which the user's committed notifications are a prefix of their order,
// so the seqs it returns are contiguous.
func (s *Store) NotificationsAfter(ctx context.Context, tenant domain.TenantID, user domain.UserID, after int64, limit int) ([]domain.Notification, error) {
	limit = clamp(limit, 200, 1000)
	u, err := s.inboxUser(ctx, tenant, user)
	if err != nil || !u.known {
		return []domain.Notification{}, err
	}
	after = max(after, 0)
	// The user's personal count at position after (their rows up to it
	// are committed: the position was handed out), hence the last
	// broadcast it covers.
	pc, err := s.personalCountAt(ctx, tenant, user, u.base, after)
	if err != nil {
		return nil, err
	}
	covered := u.base + after - pc
	rows, err := s.query(ctx, `SELECT * FROM (SELECT `+personalUnionCols+` FROM notifications
			WHERE tenant_id = ? AND user_id = ? AND seq > ? ORDER BY seq LIMIT ?) p
		UNION ALL
		SELECT * FROM (SELECT `+broadcastUnionCols("-1")+` FROM broadcasts b`+broadcastReadsJoin+`
			WHERE b.tenant_id = ? AND b.bseq > ? ORDER BY b.bseq LIMIT ?) q`,
		tenant, user, after, limit, user, user, tenant, covered, limit)
	if err != nil {
		return nil, s.wrap("notifications after", err)
	}
	personal, broadcasts, err := s.collectInbox("notifications after", rows)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Notification, 0, min(limit, len(personal)+len(broadcasts)))
	i, j := 0, 0
	for len(out) < limit {
		hasP, hasB := i < len(personal), j < len(broadcasts)
		switch {
		case hasB && (!hasP || broadcasts[j].bseq <= personal[i].bseq):
			if !hasP && len(personal) == limit {
				return out, nil // a personal row not read may come first
			}
			n := broadcasts[j].n
			n.Seq = pc + broadcasts[j].bseq - u.base
			out = append(out, n)
			j++
		case hasP:
			if !hasB && len(broadcasts) == limit {
				return out, nil // a broadcast not read may come first
			}
			p := personal[i]
			out = append(out, p.n)
			pc = p.n.Seq - p.bseq + u.base
			i++
		default:
			return out, nil
		}
	}
	return out, nil
}

// personalCountAt is the user's personal count at position pos: the
// personal seq of their last personal row at or before it.
func (s *Store) personalCountAt(ctx context.Context, tenant domain.TenantID, user domain.UserID, base, pos int64) (int64, error) {
	if pos <= 0 {
		return 0, nil
	}
	var seq, bseq int64
	err := s.queryRow(ctx, `SELECT seq, bseq FROM notifications WHERE tenant_id = ? AND user_id = ? AND seq <= ?
		ORDER BY seq DESC LIMIT 1`, tenant, user, pos).Scan(&seq, &bseq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.wrap("personal count", err)
	}
	return seq - bseq + base, nil
}

// inboxItem is a notification id resolved in one user's inbox.
type inboxItem struct {
	broadcast bool
	seq       int64 // its position
	bseq      int64 // broadcast: its seq; personal: the counter at its insert
}

// resolveInboxItem finds id among the user's personal notifications, then
// among the broadcasts they got; domain.ErrNotFound when neither.
func (s *Store) resolveInboxItem(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string) (inboxItem, error) {
	key, ok := lookupID(id)
	if !ok {
		return inboxItem{}, fmt.Errorf("notification %q: %w", id, domain.ErrNotFound)
	}
	var it inboxItem
	err := s.queryRow(ctx, `SELECT seq, bseq FROM notifications WHERE id = ? AND tenant_id = ? AND user_id = ?`,
		key, tenant, user).Scan(&it.seq, &it.bseq)
	if err == nil {
		return it, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return inboxItem{}, s.wrap("notification seq", err)
	}
	var base int64
	err = s.queryRow(ctx, `SELECT b.bseq, u.broadcast_base FROM broadcasts b
		JOIN users u ON u.tenant_id = b.tenant_id AND u.id = ?
		WHERE b.id = ? AND b.tenant_id = ? AND b.bseq > u.broadcast_base`, user, key, tenant).Scan(&it.bseq, &base)
	if errors.Is(err, sql.ErrNoRows) {
		return inboxItem{}, fmt.Errorf("notification %s: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return inboxItem{}, s.wrap("notification seq", err)
	}
	// Its position: the personal count before it plus its rank among the
	// user's broadcasts.
	var pc int64
	err = s.queryRow(ctx, `SELECT seq - bseq + ? FROM notifications WHERE tenant_id = ? AND user_id = ? AND bseq < ?
		ORDER BY seq DESC LIMIT 1`, base, tenant, user, it.bseq).Scan(&pc)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return inboxItem{}, s.wrap("notification seq", err)
	}
	it.broadcast, it.seq = true, pc+it.bseq-base
	return it, nil
}

// NotificationSeq resolves one of the user's notification ids (a personal
// one or a broadcast they got) to its seq in their inbox;
// domain.ErrNotFound when the id is not theirs.
func (s *Store) NotificationSeq(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string) (int64, error) {
	it, err := s.resolveInboxItem(ctx, tenant, user, id)
	if err != nil {
		return 0, err
	}
	return it.seq, nil
}

// ListNotifications pages through the user's inbox newest first, personal
// notifications and the broadcasts they got. Before must be one of this
// user's notification ids (domain.ErrNotFound otherwise). Limit defaults
// to 50, at most 200.
func (s *Store) ListNotifications(ctx context.Context, tenant domain.TenantID, user domain.UserID, p notification.ListParams) ([]domain.Notification, error) {
	var pStatus, bStatus string
	switch p.Status {
	case "", notification.StatusAll:
	case notification.StatusUnread:
		pStatus, bStatus = ` AND read_at IS NULL`, ` AND r.read_at IS NULL`
	case notification.StatusRead:
		pStatus, bStatus = ` AND read_at IS NOT NULL`, ` AND r.read_at IS NOT NULL`
	default:
		return nil, fmt.Errorf("list notifications: %w", domain.Invalid("status", "must be unread, read or all"))
	}
	limit := clamp(p.Limit, 50, 200)
	u, err := s.inboxUser(ctx, tenant, user)
	if err != nil {
		return nil, err
	}
	if p.Before == "" && !u.known {
		return []domain.Notification{}, nil
	}
	pq := `SELECT ` + personalUnionCols + ` FROM notifications WHERE tenant_id = ? AND user_id = ?` + pStatus
	pArgs := []any{tenant, user}
	bq := `SELECT ` + broadcastUnionCols(personalBefore) + ` FROM broadcasts b` + broadcastReadsJoin + `
		WHERE b.tenant_id = ? AND b.bseq > ?` + bStatus
	// A listed broadcast's personal count is found walking back through
	// the user's rows from a bound all rows before it are under: the
	// cursor's seq (they committed before it); without a cursor, none.
	bound := int64(math.MaxInt64)
	var it inboxItem
	if p.Before != "" {
		if it, err = s.resolveInboxItem(ctx, tenant, user, p.Before); err != nil {
			return nil, fmt.Errorf("list notifications: before: %w", err)
		}
		bound = it.seq
	}
	bArgs := []any{user, u.base, user, bound, user, tenant, u.base}
	if p.Before != "" {
		if it.broadcast {
			// Older than broadcast B: personal rows committed before it,
			// broadcasts before it.
			pq += ` AND bseq < ?`
			pArgs = append(pArgs, it.bseq)
			bq += ` AND b.bseq < ?`
			bArgs = append(bArgs, it.bseq)
		} else {
			pq += ` AND seq < ?`
			pArgs = append(pArgs, it.seq)
			bq += ` AND b.bseq <= ?`
			bArgs = append(bArgs, it.bseq)
		}
	}
	pq += ` ORDER BY seq DESC LIMIT ?`
	pArgs = append(pArgs, limit)
	bq += ` ORDER BY b.bseq DESC LIMIT ?`
	bArgs = append(bArgs, limit)
	rows, err := s.query(ctx, `SELECT * FROM (`+pq+`) p UNION ALL SELECT * FROM (`+bq+`) q`, append(pArgs, bArgs...)...)
	if err != nil {
		return nil, s.wrap("list notifications", err)
	}
	personal, broadcasts, err := s.collectInbox("list notifications", rows)
	if err != nil {
		return nil, err
	}
	// Newest first: broadcast B is newer than personal row P when P was
	// inserted before B (B > P.bseq).
	out := make([]domain.Notification, 0, min(limit, len(personal)+len(broadcasts)))
	i, j := 0, 0
	for len(out) < limit && (i < len(personal) || j < len(broadcasts)) {
		if j < len(broadcasts) && (i >= len(personal) || broadcasts[j].bseq > personal[i].bseq) {
			b := broadcasts[j]
			b.n.Seq = b.before + b.bseq - u.base
			out = append(out, b.n)
			j++
			continue
		}
		out = append(out, personal[i].n)
		i++
	}
	return out, nil
}
