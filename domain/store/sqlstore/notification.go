package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

const notificationCols = `id, tenant_id, user_id, seq, type, severity, title, body, action_url, data, read_at, created_at`

func scanNotification(sc scanner) (domain.Notification, error) {
	var (
		n    domain.Notification
		data []byte
	)
	err := sc.Scan(&n.ID, &n.TenantID, &n.UserID, &n.Seq, &n.Type, &n.Severity, &n.Title, &n.Body,
		&n.ActionURL, &data, nullTimeCol{&n.ReadAt}, timeCol{&n.CreatedAt})
	n.Data = data
	return n, err
}

func collectNotifications(op string, rows *sql.Rows) ([]domain.Notification, error) {
	defer rows.Close()
	out := []domain.Notification{}
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: scan: %w", op, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// InsertNotification stores n and sets n.Seq to the user's next sequence
// number. The number comes from incrementing users.notification_seq in the
// same transaction: the row lock makes concurrent inserters for one user
// wait for each other, so sequence order is commit order, without gaps. A
// user not known yet gets a minimal row (and tenant row).
//
// An empty n.ID gets a new UUID v7 and a zero n.CreatedAt the current time;
// n.CreatedAt is normalised to what is stored (UTC, microseconds), so that
// what the caller pushes equals what a later read returns.
func (s *Store) InsertNotification(ctx context.Context, n *domain.Notification) error {
	if n == nil {
		return errors.New("insert notification: nil notification")
	}
	if s.pgArrays() {
		_, err := s.insertNotificationsPG(ctx, []*domain.Notification{n})
		if errors.Is(err, domain.ErrConflict) {
			return fmt.Errorf("insert notification %s: %w", n.ID, domain.ErrConflict)
		}
		return err
	}
	row, err := prepareNotification(n)
	if err != nil {
		return fmt.Errorf("insert notification: %w", err)
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		bseq, err := s.shareBroadcastSeq(ctx, n.TenantID)
		if err != nil {
			return err
		}
		seq, _, err := s.addNotificationSeq(ctx, n.TenantID, n.UserID, 1, unreadDelta(n), bseq)
		if err != nil {
			return err
		}
		row[3], row[notificationColCount-1] = seq, bseq
		_, err = s.exec(ctx, `INSERT INTO notifications (`+notificationInsertCols+`) VALUES `+valuesList(1, notificationColCount), row...)
		if s.kind(err) == KindUniqueViolation {
			return fmt.Errorf("insert notification %s: %w", n.ID, domain.ErrConflict)
		}
		if err != nil {
			return s.wrap("insert notification", err)
		}
		n.Seq = seq
		return nil
	})
}

// notificationInsertCols are the columns an insert writes: the read ones
// and the tenant's broadcast counter at the insert (see broadcast.go).
const (
	notificationInsertCols = notificationCols + `, bseq`
	notificationColCount   = 13
)

// unreadDelta is what storing n adds to its user's unread_count.
func unreadDelta(n *domain.Notification) int64 {
	if n.ReadAt == nil {
		return 1
	}
	return 0
}

// seqCounts is how many notifications a batch adds to one user: seqs to
// hand out, and of those, how many are unread.
type seqCounts struct{ seqs, unread int64 }

// prepareNotification validates and normalises n (id and created_at
// defaults, UTC microseconds) and returns its column values, seq (index 3)
// and bseq (the last) left to fill.
func prepareNotification(n *domain.Notification) ([]any, error) {
	data, err := normaliseNotification(n)
	if err != nil {
		return nil, err
	}
	// Plain strings: the PostgreSQL batch gathers them into []string columns.
	return []any{n.ID, string(n.TenantID), string(n.UserID), int64(0), n.Type, string(n.Severity), n.Title, n.Body,
		n.ActionURL, data, encTimePtr(n.ReadAt), encTime(n.CreatedAt), int64(0)}, nil
}

// normaliseNotification validates n and normalises it in place as it is
// stored: a new UUID v7 for an empty id (canonical otherwise), the current
// time for a zero created_at, times in UTC microseconds. It returns the
// data column.
func normaliseNotification(n *domain.Notification) (string, error) {
	if err := normaliseRow(n); err != nil {
		return "", err
	}
	return encJSON("data", n.Data, "{}")
}

// normaliseRow is normaliseNotification but for the data, which
// pgNotifications validates once per set.
func normaliseRow(n *domain.Notification) error {
	if err := requireUser(n.TenantID, n.UserID); err != nil {
		return err
	}
	if n.ID == "" {
		n.ID = domain.NewID()
	}
	id, err := newRowID("id", n.ID)
	if err != nil {
		return err
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = now()
	}
	n.ID = id
	n.CreatedAt = n.CreatedAt.UTC().Truncate(time.Microsecond)
	if n.ReadAt != nil {
		r := n.ReadAt.UTC().Truncate(time.Microsecond)
		n.ReadAt = &r
	}
	return nil
}

// Batch sizes: users per statement, notification rows per INSERT (13 bind
// parameters each), well under both backends' parameter limits.
const (
	usersPerStatement      = 500
	notificationsPerInsert = 500
)

// InsertNotifications is InsertNotification for many notifications of one
// tenant, in one transaction and a few statements whatever their number:
// on PostgreSQL the users' rows are locked in id order first, so
// concurrent batches cannot deadlock, and the sequences' advance and the
// rows' insert are then one statement, the values bound as arrays
// (insertNotificationsPG); on SQLite, whose transaction excludes other
// writers, one UPDATE per 500 users and 500-row INSERTs. Each n.Seq is set; one user's notifications get consecutive
// seqs in slice order.
func (s *Store) InsertNotifications(ctx context.Context, ns []*domain.Notification) error {
	_, err := s.InsertNotificationsUnread(ctx, ns)
	return err
}

// InsertNotificationsUnread is InsertNotifications that also returns each
// recipient's unread count once the batch is in: the statement that hands
// out the seqs returns it, so no count query follows.
func (s *Store) InsertNotificationsUnread(ctx context.Context, ns []*domain.Notification) (map[domain.UserID]int, error) {
	if len(ns) == 0 {
		return map[domain.UserID]int{}, nil
	}
	for i, n := range ns {
		if n == nil {
			return nil, fmt.Errorf("insert notifications: notification %d is nil", i)
		}
		if n.TenantID != ns[0].TenantID {
			return nil, fmt.Errorf("insert notifications: %w", domain.Invalid("tenant_id", "one tenant per batch"))
		}
	}
	if s.pgArrays() {
		return s.insertNotificationsPG(ctx, ns)
	}
	rows := make([]any, 0, len(ns)*notificationColCount)
	counts := map[domain.UserID]seqCounts{}
	tenant := ns[0].TenantID
	for i, n := range ns {
		row, err := prepareNotification(n)
		if err != nil {
			return nil, fmt.Errorf("insert notifications: notification %d: %w", i, err)
		}
		rows = append(rows, row...)
		c := counts[n.UserID]
		c.seqs++
		c.unread += unreadDelta(n)
		counts[n.UserID] = c
	}
	users := make([]domain.UserID, 0, len(counts))
	for u := range counts {
		users = append(users, u)
	}
	slices.Sort(users)
	var unread map[domain.UserID]int
	err := s.InTx(ctx, func(ctx context.Context) error {
		bseq, err := s.shareBroadcastSeq(ctx, tenant)
		if err != nil {
			return err
		}
		last, got, err := s.addNotificationSeqs(ctx, tenant, users, counts, bseq)
		if err != nil {
			return err
		}
		// Hand out each user's block of seqs in slice order.
		next := make(map[domain.UserID]int64, len(last))
		for u, l := range last {
			next[u] = l - counts[u].seqs + 1
		}
		seqs := make([]int64, len(ns))
		for i, n := range ns {
			seqs[i] = next[n.UserID]
			next[n.UserID]++
		}
		for i, seq := range seqs {
			rows[i*notificationColCount+3] = seq
			rows[(i+1)*notificationColCount-1] = bseq
		}
		err = s.insertRows(ctx, "insert notifications", `INSERT INTO notifications (`+notificationInsertCols+`) VALUES `,
			notificationColCount, notificationsPerInsert, rows)
		if err != nil {
			return err
		}
		for i, n := range ns {
			n.Seq = seqs[i]
		}
		unread = got
		return nil
	})
	if err != nil {
		return nil, err
	}
	return unread, nil
}

// insertNotificationsPG is InsertNotificationsUnread on PostgreSQL, in two
// round trips: the tenant's share lock and the recipients' row locks in
// one statement (pgLockTenantUsersQuery), then their seqs' and unread
// counts' advance and the rows' insert in another (pgInsertLockedQuery),
// while other writers to those users wait. A tenant or recipient without
// a row yet gets one first (starting after the tenant's broadcasts so
// far), then the locks are taken again.
func (s *Store) insertNotificationsPG(ctx context.Context, ns []*domain.Notification) (map[domain.UserID]int, error) {
	d, err := newDirectRows(ns)
	if err != nil {
		return nil, fmt.Errorf("insert notifications: %w", err)
	}
	tenant := ns[0].TenantID
	var unread map[domain.UserID]int
	err = s.InTx(ctx, func(ctx context.Context) error {
		locked, err := s.lockTenantUsers(ctx, tenant, d.ids)
		if err != nil {
			return err
		}
		if locked != len(d.keys) {
			bseq, err := s.shareBroadcastSeq(ctx, tenant) // creates the tenant's row
			if err != nil {
				return err
			}
			at := encTime(now())
			if _, err := s.exec(ctx, pgCreateUsersQuery, tenant, bseq, at, at, d.ids); err != nil {
				return s.wrap("insert notifications: create users", err)
			}
			if locked, err = s.lockTenantUsers(ctx, tenant, d.ids); err != nil {
				return err
			}
			if locked != len(d.keys) {
				// Cannot happen: every missing row was just created.
				return fmt.Errorf("insert notifications: %d of %d recipients locked", locked, len(d.keys))
			}
		}
		out, err := s.runDirect(ctx, "insert notifications", pgInsertLockedQuery, d.args, d)
		if err != nil {
			return err
		}
		if len(out) != len(d.keys) {
			// Cannot happen: every recipient was found and locked.
			return fmt.Errorf("insert notifications: %d of %d recipients updated", len(out), len(d.keys))
		}
		unread = make(map[domain.UserID]int, len(out))
		for k, n := range out {
			unread[k.UserID] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return unread, nil
}

// lockTenantUsers runs pgLockTenantUsersQuery and counts the users it
// locked (none when the tenant has no row).
func (s *Store) lockTenantUsers(ctx context.Context, tenant domain.TenantID, ids string) (int, error) {
	r, err := s.query(ctx, pgLockTenantUsersQuery, tenant, ids, tenant)
	if err != nil {
		return 0, s.wrap("lock users", err)
	}
	locked := 0
	for r.Next() {
		locked++
	}
	if err := r.Close(); err != nil {
		return 0, s.wrap("lock users", err)
	}
	if err := r.Err(); err != nil {
		return 0, s.wrap("lock users", err)
	}
	return locked, nil
}

// addNotificationSeqs advances the sequence and unread count of each of
// users (sorted) by counts[user] and returns each one's last seq and new
// unread count, creating unknown users. bseq is the tenant's broadcast
// counter, read under its share lock (shareBroadcastSeq). It takes no row
// locks: it runs only where the transaction already excludes every other
// writer (SQLite's IMMEDIATE transactions); PostgreSQL, with row locks,
// takes insertNotificationsPG, which locks the users in id order first.
func (s *Store) addNotificationSeqs(ctx context.Context, tenant domain.TenantID, users []domain.UserID, counts map[domain.UserID]seqCounts, bseq int64) (map[domain.UserID]int64, map[domain.UserID]int, error) {
	last := make(map[domain.UserID]int64, len(users))
	unread := make(map[domain.UserID]int, len(users))
	if len(users) == 1 {
		// One row: the plain UPDATE locks it; no lock query, no join.
		c := counts[users[0]]
		seq, n, err := s.addNotificationSeq(ctx, tenant, users[0], c.seqs, c.unread, bseq)
		if err != nil {
			return nil, nil, err
		}
		last[users[0]], unread[users[0]] = seq, n
		return last, unread, nil
	}
	for start := 0; start < len(users); start += usersPerStatement {
		chunk := users[start:min(start+usersPerStatement, len(users))]
		q, args := s.addSeqsStatement(tenant, chunk, counts)
		r, err := s.query(ctx, q, args...)
		if err != nil {
			return nil, nil, s.wrap("next notification seqs", err)
		}
		for r.Next() {
			var (
				u            domain.UserID
				seq, n, base int64
			)
			if err := r.Scan(&u, &seq, &n, &base); err != nil {
				r.Close()
				return nil, nil, s.wrap("next notification seqs", err)
			}
			last[u], unread[u] = seq+bseq-base, int(n+bseq-base)
		}
		if err := r.Close(); err != nil {
			return nil, nil, s.wrap("next notification seqs", err)
		}
		if err := r.Err(); err != nil {
			return nil, nil, s.wrap("next notification seqs", err)
		}
	}
	for _, u := range users {
		if _, ok := last[u]; !ok {
			seq, n, err := s.addNotificationSeq(ctx, tenant, u, counts[u].seqs, counts[u].unread, bseq)
			if err != nil {
				return nil, nil, err
			}
			last[u], unread[u] = seq, n
		}
	}
	return last, unread, nil
}

// addSeqsStatement is the UPDATE advancing the seqs and unread counts of
// users (a chunk) by counts, returning id, last seq and unread count.
func (s *Store) addSeqsStatement(tenant domain.TenantID, users []domain.UserID, counts map[domain.UserID]seqCounts) (string, []any) {
	args := make([]any, 0, 3*len(users)+1)
	for _, u := range users {
		args = append(args, u, counts[u].seqs, counts[u].unread)
	}
	args = append(args, tenant)
	return `UPDATE users SET notification_seq = users.notification_seq + v.column2,
		unread_count = users.unread_count + v.column3
		FROM (VALUES ` + strings.Repeat("(?, CAST(? AS BIGINT), CAST(? AS BIGINT)), ", len(users)-1) + `(?, CAST(? AS BIGINT), CAST(? AS BIGINT))) AS v
		WHERE users.tenant_id = ? AND users.id = v.column1
		RETURNING users.id, users.notification_seq, users.unread_count, users.broadcast_base`, args
}

// addNotificationSeq advances the user's sequence by k and unread count by
// unread, and returns the last seq of the block and the new unread count
// (the broadcasts they got included), creating the user when unknown.
// bseq is the tenant's broadcast counter, read under its share lock.
func (s *Store) addNotificationSeq(ctx context.Context, tenant domain.TenantID, user domain.UserID, k, unread, bseq int64) (int64, int, error) {
	var seq, n, base int64
	err := s.queryRow(ctx, `UPDATE users SET notification_seq = notification_seq + ?, unread_count = unread_count + ?
		WHERE tenant_id = ? AND id = ? RETURNING notification_seq, unread_count, broadcast_base`, k, unread, tenant, user).Scan(&seq, &n, &base)
	if err == nil {
		return seq + bseq - base, int(n + bseq - base), nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, 0, s.wrap("next notification seq", err)
	}
	// Unknown user: create a minimal row (shareBroadcastSeq made its
	// tenant), starting after the tenant's broadcasts so far. A
	// concurrent creator makes this the increment instead.
	at := encTime(now())
	err = s.queryRow(ctx, `INSERT INTO users (tenant_id, id, name, email, perms, notification_seq, unread_count, broadcast_base, created_at, updated_at)
		VALUES (?, ?, '', '', '[]', ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, id) DO UPDATE SET notification_seq = users.notification_seq + ?,
			unread_count = users.unread_count + ?
		RETURNING notification_seq, unread_count, broadcast_base`, tenant, user, k, unread, bseq, at, at, k, unread).Scan(&seq, &n, &base)
	if err != nil {
		return 0, 0, s.wrap("next notification seq: create user", err)
	}
	return seq + bseq - base, int(n + bseq - base), nil
}

// inboxHeadCols are a user's latest seq and unread count, from users x
// joined to their tenant t: the personal figures on the row plus the
// broadcasts since the user was created (see broadcast.go).
const inboxHeadCols = `x.notification_seq + COALESCE(t.broadcast_seq, 0) - x.broadcast_base,
	x.unread_count + COALESCE(t.broadcast_seq, 0) - x.broadcast_base`

// UnreadCount is the user's number of unread notifications, the
// broadcasts they got included (0 for a user without a row).
func (s *Store) UnreadCount(ctx context.Context, tenant domain.TenantID, user domain.UserID) (int, error) {
	_, n, err := s.inboxHead(ctx, "unread count", tenant, user)
	return n, err
}

// MaxSeq is the user's latest notification seq, 0 when they have none.
func (s *Store) MaxSeq(ctx context.Context, tenant domain.TenantID, user domain.UserID) (int64, error) {
	seq, _, err := s.inboxHead(ctx, "max seq", tenant, user)
	return seq, err
}

// inboxHead reads the user's latest seq and unread count from their row
// and their tenant's (every insert and change of read state keeps the
// figures there), without reading the inbox.
func (s *Store) inboxHead(ctx context.Context, op string, tenant domain.TenantID, user domain.UserID) (int64, int, error) {
	var (
		seq int64
		n   int
	)
	err := s.queryRow(ctx, `SELECT `+inboxHeadCols+` FROM users x LEFT JOIN tenants t ON t.id = x.tenant_id
		WHERE x.tenant_id = ? AND x.id = ?`, tenant, user).Scan(&seq, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, s.wrap(op, err)
	}
	return seq, n, nil
}

// MarkRead sets read_at of one of the user's notifications if unset;
// changed is false when it was read already. domain.ErrNotFound for an id
// that is not this user's.
func (s *Store) MarkRead(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string, at time.Time) (bool, error) {
	return s.setRead(ctx, "mark read", tenant, user, id, -1,
		`UPDATE notifications SET read_at = ? WHERE id = ? AND tenant_id = ? AND user_id = ? AND read_at IS NULL`,
		`INSERT INTO broadcast_reads (tenant_id, user_id, bseq, read_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		encTimeOrNow(at))
}

// MarkUnread clears read_at; changed is false when it was unread.
// domain.ErrNotFound for an id that is not this user's.
func (s *Store) MarkUnread(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string) (bool, error) {
	return s.setRead(ctx, "mark unread", tenant, user, id, +1,
		`UPDATE notifications SET read_at = NULL WHERE id = ? AND tenant_id = ? AND user_id = ? AND read_at IS NOT NULL`,
		`DELETE FROM broadcast_reads WHERE tenant_id = ? AND user_id = ? AND bseq = ?`)
}

// setRead changes the read state of one of the user's notifications and
// moves their unread count by delta when it changed, in one transaction:
// update (guarded by the current state) for a personal row, else
// broadcast (on the user's row of broadcast_reads: tenant, user, bseq,
// then lead) for a broadcast they got. Changing nothing, it tells
// "already so" from "not this user's".
func (s *Store) setRead(ctx context.Context, op string, tenant domain.TenantID, user domain.UserID, id string, delta int64, update, broadcast string, lead ...any) (bool, error) {
	key, ok := lookupID(id)
	if !ok {
		return false, fmt.Errorf("%s %q: %w", op, id, domain.ErrNotFound)
	}
	var n int64
	err := s.InTx(ctx, func(ctx context.Context) error {
		res, err := s.exec(ctx, update, append(slices.Clone(lead), key, tenant, user)...)
		if err != nil {
			return s.wrap(op, err)
		}
		if n, err = affected(op, res); err != nil {
			return err
		}
		if n == 0 {
			it, err := s.resolveInboxItem(ctx, tenant, user, key)
			if err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			if !it.broadcast {
				return nil // a personal row already so
			}
			res, err := s.exec(ctx, broadcast, append([]any{tenant, user, it.bseq}, lead...)...)
			if err != nil {
				return s.wrap(op, err)
			}
			if n, err = affected(op, res); err != nil || n == 0 {
				return err
			}
		}
		return s.addUnread(ctx, op, tenant, user, delta*n)
	})
	if err != nil {
		return false, err
	}
	return n > 0, nil
}

// MarkAllRead marks every unread notification of the user read, the
// broadcasts they got included, and returns how many it marked.
func (s *Store) MarkAllRead(ctx context.Context, tenant domain.TenantID, user domain.UserID, at time.Time) (int64, error) {
	var n int64
	when := encTimeOrNow(at)
	err := s.InTx(ctx, func(ctx context.Context) error {
		res, err := s.exec(ctx, `UPDATE notifications SET read_at = ? WHERE tenant_id = ? AND user_id = ? AND read_at IS NULL`,
			when, tenant, user)
		if err != nil {
			return s.wrap("mark all read", err)
		}
		if n, err = affected("mark all read", res); err != nil {
			return err
		}
		res, err = s.exec(ctx, `INSERT INTO broadcast_reads (tenant_id, user_id, bseq, read_at)
			SELECT b.tenant_id, ?, b.bseq, ? FROM broadcasts b
			WHERE b.tenant_id = ? AND b.bseq > (SELECT broadcast_base FROM users WHERE tenant_id = ? AND id = ?)
			ON CONFLICT DO NOTHING`, user, when, tenant, tenant, user)
		if err != nil {
			return s.wrap("mark all read: broadcasts", err)
		}
		nb, err := affected("mark all read", res)
		if err != nil {
			return err
		}
		if n += nb; n == 0 {
			return nil
		}
		return s.addUnread(ctx, "mark all read", tenant, user, -n)
	})
	return n, err
}

// addUnread moves the user's unread count by delta: the rows this
// transaction changed, never a recount, so that concurrent changes (each
// adding its own delta under the row lock) add up exactly.
func (s *Store) addUnread(ctx context.Context, op string, tenant domain.TenantID, user domain.UserID, delta int64) error {
	if _, err := s.exec(ctx, `UPDATE users SET unread_count = unread_count + ? WHERE tenant_id = ? AND id = ?`,
		delta, tenant, user); err != nil {
		return s.wrap(op+": unread count", err)
	}
	return nil
}

// LockInbox serialises changes to one user's inbox until the transaction
// ends, so that the unread count and latest seq each change computes
// reflect every change committed before it: the tenant's broadcast counter
// (share-locked, as every personal insert locks it: no broadcast commits
// meanwhile) and then the user's row (which every personal insert locks
// too). A user without a row has no inbox to lock. Call it inside InTx.
func (s *Store) LockInbox(ctx context.Context, tenant domain.TenantID, user domain.UserID) error {
	var n int64
	err := s.queryRow(ctx, `SELECT broadcast_seq FROM tenants WHERE id = ?`+s.d.ShareRows(), string(tenant)).Scan(&n)
	if err == nil {
		err = s.queryRow(ctx, `SELECT 1 FROM users WHERE tenant_id = ? AND id = ?`+s.d.LockRows(false), string(tenant), string(user)).Scan(&n)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return s.wrap("lock inbox", err)
	}
	return nil
}
