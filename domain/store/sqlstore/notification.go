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
	"github.com/notifyhub/notifyhub/domain/notification"
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
	row, err := prepareNotification(n)
	if err != nil {
		return fmt.Errorf("insert notification: %w", err)
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		seq, _, err := s.addNotificationSeq(ctx, n.TenantID, n.UserID, 1, unreadDelta(n))
		if err != nil {
			return err
		}
		row[3] = seq
		_, err = s.exec(ctx, `INSERT INTO notifications (`+notificationCols+`) VALUES `+valuesList(1, notificationColCount), row...)
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

const notificationColCount = 12

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
// left to fill.
func prepareNotification(n *domain.Notification) ([]any, error) {
	data, err := normaliseNotification(n)
	if err != nil {
		return nil, err
	}
	// Plain strings: the PostgreSQL batch gathers them into []string columns.
	return []any{n.ID, string(n.TenantID), string(n.UserID), int64(0), n.Type, string(n.Severity), n.Title, n.Body,
		n.ActionURL, data, encTimePtr(n.ReadAt), encTime(n.CreatedAt)}, nil
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

// Batch sizes: users per statement, notification rows per INSERT (12 bind
// parameters each), well under both backends' parameter limits.
const (
	usersPerStatement      = 500
	notificationsPerInsert = 500
)

// InsertNotifications is InsertNotification for many notifications of one
// tenant, in one transaction and a few statements whatever their number:
// the users' sequences advance in one UPDATE per 500 users (rows locked in
// id order first, so concurrent batches cannot deadlock), the rows go in
// 500-row INSERTs (on PostgreSQL one statement each, the values bound as
// arrays: see bcast_pgarrays.go). Each n.Seq is set; one user's
// notifications get consecutive seqs in slice order.
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
	// On PostgreSQL the rows are encoded as pgNotifications, elsewhere as
	// bind values (notificationColCount a row).
	var (
		rows []any
		enc  pgNotifications
	)
	pg := s.pgArrays()
	if pg {
		enc.reserve(len(ns))
	} else {
		rows = make([]any, 0, len(ns)*notificationColCount)
	}
	counts := map[domain.UserID]seqCounts{}
	tenant := ns[0].TenantID
	for i, n := range ns {
		if n == nil {
			return nil, fmt.Errorf("insert notifications: notification %d is nil", i)
		}
		if n.TenantID != tenant {
			return nil, fmt.Errorf("insert notifications: %w", domain.Invalid("tenant_id", "one tenant per batch"))
		}
		if pg {
			if err := enc.add(n); err != nil {
				return nil, fmt.Errorf("insert notifications: notification %d: %w", i, err)
			}
		} else {
			row, err := prepareNotification(n)
			if err != nil {
				return nil, fmt.Errorf("insert notifications: notification %d: %w", i, err)
			}
			rows = append(rows, row...)
		}
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
		last, got, err := s.addNotificationSeqs(ctx, tenant, users, counts)
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
		if pg {
			err = s.insertNotificationSets(ctx, &enc, seqs)
		} else {
			for i, seq := range seqs {
				rows[i*notificationColCount+3] = seq
			}
			err = s.insertRows(ctx, "insert notifications", `INSERT INTO notifications (`+notificationCols+`) VALUES `,
				notificationColCount, notificationsPerInsert, rows)
		}
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

// addNotificationSeqs advances the sequence and unread count of each of
// users (sorted) by counts[user] and returns each one's last seq and new
// unread count, creating unknown users.
func (s *Store) addNotificationSeqs(ctx context.Context, tenant domain.TenantID, users []domain.UserID, counts map[domain.UserID]seqCounts) (map[domain.UserID]int64, map[domain.UserID]int, error) {
	last := make(map[domain.UserID]int64, len(users))
	unread := make(map[domain.UserID]int, len(users))
	if len(users) == 1 {
		// One row: the plain UPDATE locks it; no lock query, no join.
		c := counts[users[0]]
		seq, n, err := s.addNotificationSeq(ctx, tenant, users[0], c.seqs, c.unread)
		if err != nil {
			return nil, nil, err
		}
		last[users[0]], unread[users[0]] = seq, n
		return last, unread, nil
	}
	perStatement := usersPerStatement
	if s.pgArrays() {
		perStatement = len(users)
	}
	for start := 0; start < len(users); start += perStatement {
		chunk := users[start:min(start+perStatement, len(users))]
		if q, args := s.lockUsersStatement(tenant, chunk); q != "" {
			// Lock in id order: two batches sharing users then wait for
			// each other instead of deadlocking.
			r, err := s.query(ctx, q, args...)
			if err != nil {
				return nil, nil, s.wrap("lock users", err)
			}
			if err := r.Close(); err != nil {
				return nil, nil, s.wrap("lock users", err)
			}
		}
		q, args := s.addSeqsStatement(tenant, chunk, counts)
		r, err := s.query(ctx, q, args...)
		if err != nil {
			return nil, nil, s.wrap("next notification seqs", err)
		}
		for r.Next() {
			var (
				u   domain.UserID
				seq int64
				n   int
			)
			if err := r.Scan(&u, &seq, &n); err != nil {
				r.Close()
				return nil, nil, s.wrap("next notification seqs", err)
			}
			last[u], unread[u] = seq, n
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
			seq, n, err := s.addNotificationSeq(ctx, tenant, u, counts[u].seqs, counts[u].unread)
			if err != nil {
				return nil, nil, err
			}
			last[u], unread[u] = seq, n
		}
	}
	return last, unread, nil
}

// lockUsersStatement is the query locking the tenant's users (a sorted
// chunk) in id order, or "" when the dialect has no row locks.
func (s *Store) lockUsersStatement(tenant domain.TenantID, users []domain.UserID) (string, []any) {
	if s.pgArrays() {
		var ids pgArray
		for _, u := range users {
			ids.text(string(u))
		}
		return pgLockUsersQuery, []any{tenant, ids.String()}
	}
	lock := s.d.LockRows(false)
	if lock == "" {
		return "", nil
	}
	args := make([]any, 0, len(users)+1)
	args = append(args, tenant)
	for _, u := range users {
		args = append(args, u)
	}
	return `SELECT id FROM users WHERE tenant_id = ? AND id IN (` + inList(len(users)) + `) ORDER BY id` + lock, args
}

// addSeqsStatement is the UPDATE advancing the seqs and unread counts of
// users (a chunk) by counts, returning id, last seq and unread count.
func (s *Store) addSeqsStatement(tenant domain.TenantID, users []domain.UserID, counts map[domain.UserID]seqCounts) (string, []any) {
	if s.pgArrays() {
		return pgAddSeqsQuery, pgSeqArgs(tenant, users, counts)
	}
	args := make([]any, 0, 3*len(users)+1)
	for _, u := range users {
		args = append(args, u, counts[u].seqs, counts[u].unread)
	}
	args = append(args, tenant)
	return `UPDATE users SET notification_seq = users.notification_seq + v.column2,
		unread_count = users.unread_count + v.column3
		FROM (VALUES ` + strings.Repeat("(?, CAST(? AS BIGINT), CAST(? AS BIGINT)), ", len(users)-1) + `(?, CAST(? AS BIGINT), CAST(? AS BIGINT))) AS v
		WHERE users.tenant_id = ? AND users.id = v.column1
		RETURNING users.id, users.notification_seq, users.unread_count`, args
}

// insertNotificationSets inserts the rows enc holds with their seqs, in
// one statement (PostgreSQL).
func (s *Store) insertNotificationSets(ctx context.Context, enc *pgNotifications, seqs []int64) error {
	var seqArr pgArray
	for _, seq := range seqs {
		seqArr.int(seq)
	}
	_, err := s.exec(ctx, pgInsertNotificationsQuery, enc.args(&seqArr)...)
	if s.kind(err) == KindUniqueViolation {
		return fmt.Errorf("insert notifications: id taken: %w", domain.ErrConflict)
	}
	if err != nil {
		return s.wrap("insert notifications", err)
	}
	return nil
}

// addNotificationSeq advances the user's sequence by k and unread count by
// unread, and returns the last seq of the block and the new unread count,
// creating the user (and tenant) when unknown.
func (s *Store) addNotificationSeq(ctx context.Context, tenant domain.TenantID, user domain.UserID, k, unread int64) (int64, int, error) {
	var (
		seq int64
		n   int
	)
	err := s.queryRow(ctx, `UPDATE users SET notification_seq = notification_seq + ?, unread_count = unread_count + ?
		WHERE tenant_id = ? AND id = ? RETURNING notification_seq, unread_count`, k, unread, tenant, user).Scan(&seq, &n)
	if err == nil {
		return seq, n, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, 0, s.wrap("next notification seq", err)
	}
	// Unknown user: create a minimal row. A concurrent creator makes this
	// the increment instead.
	if err := s.ensureTenant(ctx, tenant); err != nil {
		return 0, 0, err
	}
	at := encTime(now())
	err = s.queryRow(ctx, `INSERT INTO users (tenant_id, id, name, email, perms, notification_seq, unread_count, created_at, updated_at)
		VALUES (?, ?, '', '', '[]', ?, ?, ?, ?)
		ON CONFLICT (tenant_id, id) DO UPDATE SET notification_seq = users.notification_seq + ?,
			unread_count = users.unread_count + ?
		RETURNING notification_seq, unread_count`, tenant, user, k, unread, at, at, k, unread).Scan(&seq, &n)
	if err != nil {
		return 0, 0, s.wrap("next notification seq: create user", err)
	}
	return seq, n, nil
}

// UnreadCount is the user's number of unread notifications (0 for a user
// without a row).
func (s *Store) UnreadCount(ctx context.Context, tenant domain.TenantID, user domain.UserID) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT unread_count FROM users WHERE tenant_id = ? AND id = ?`, tenant, user).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.wrap("unread count", err)
	}
	return n, nil
}

// ListNotifications pages through the user's inbox newest first (seq
// descending). Before must be one of this user's notification ids
// (domain.ErrNotFound otherwise). Limit defaults to 50, at most 200.
func (s *Store) ListNotifications(ctx context.Context, tenant domain.TenantID, user domain.UserID, p notification.ListParams) ([]domain.Notification, error) {
	q := `SELECT ` + notificationCols + ` FROM notifications WHERE tenant_id = ? AND user_id = ?`
	args := []any{tenant, user}
	switch p.Status {
	case "", notification.StatusAll:
	case notification.StatusUnread:
		q += ` AND read_at IS NULL`
	case notification.StatusRead:
		q += ` AND read_at IS NOT NULL`
	default:
		return nil, fmt.Errorf("list notifications: %w", domain.Invalid("status", "must be unread, read or all"))
	}
	if p.Before != "" {
		seq, err := s.NotificationSeq(ctx, tenant, user, p.Before)
		if err != nil {
			return nil, fmt.Errorf("list notifications: before: %w", err)
		}
		q += ` AND seq < ?`
		args = append(args, seq)
	}
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, clamp(p.Limit, 50, 200))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list notifications", err)
	}
	return collectNotifications("list notifications", rows)
}

// NotificationSeq resolves one of the user's notification ids to its seq;
// domain.ErrNotFound when the id is not this user's.
func (s *Store) NotificationSeq(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string) (int64, error) {
	key, ok := lookupID(id)
	if !ok {
		return 0, fmt.Errorf("notification %q: %w", id, domain.ErrNotFound)
	}
	var seq int64
	err := s.queryRow(ctx, `SELECT seq FROM notifications WHERE id = ? AND tenant_id = ? AND user_id = ?`,
		key, tenant, user).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("notification %s: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return 0, s.wrap("notification seq", err)
	}
	return seq, nil
}

// NotificationsAfter returns up to limit (default 200, at most 1000) of the
// user's notifications with seq > after, oldest first: the catch-up read.
func (s *Store) NotificationsAfter(ctx context.Context, tenant domain.TenantID, user domain.UserID, after int64, limit int) ([]domain.Notification, error) {
	rows, err := s.query(ctx, `SELECT `+notificationCols+` FROM notifications
		WHERE tenant_id = ? AND user_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		tenant, user, after, clamp(limit, 200, 1000))
	if err != nil {
		return nil, s.wrap("notifications after", err)
	}
	return collectNotifications("notifications after", rows)
}

// MaxSeq is the user's latest notification seq, 0 when they have none.
func (s *Store) MaxSeq(ctx context.Context, tenant domain.TenantID, user domain.UserID) (int64, error) {
	var seq int64
	// The counter on the user's row is advanced by every insert in its
	// transaction, so it is the latest seq without reading the inbox.
	err := s.queryRow(ctx, `SELECT notification_seq FROM users WHERE tenant_id = ? AND id = ?`,
		tenant, user).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.wrap("max seq", err)
	}
	return seq, nil
}

// MarkRead sets read_at of one of the user's notifications if unset;
// changed is false when it was read already. domain.ErrNotFound for an id
// that is not this user's.
func (s *Store) MarkRead(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string, at time.Time) (bool, error) {
	return s.setRead(ctx, "mark read", tenant, user, id, -1,
		`UPDATE notifications SET read_at = ? WHERE id = ? AND tenant_id = ? AND user_id = ? AND read_at IS NULL`,
		encTimeOrNow(at))
}

// MarkUnread clears read_at; changed is false when it was unread.
// domain.ErrNotFound for an id that is not this user's.
func (s *Store) MarkUnread(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string) (bool, error) {
	return s.setRead(ctx, "mark unread", tenant, user, id, +1,
		`UPDATE notifications SET read_at = NULL WHERE id = ? AND tenant_id = ? AND user_id = ? AND read_at IS NOT NULL`)
}

// setRead runs an update of read_at guarded by its current state and
// moves the user's unread count by delta when it changed a row, both in
// one transaction; when it changes nothing, it tells "already so" from
// "not this user's".
func (s *Store) setRead(ctx context.Context, op string, tenant domain.TenantID, user domain.UserID, id string, delta int64, update string, lead ...any) (bool, error) {
	key, ok := lookupID(id)
	if !ok {
		return false, fmt.Errorf("%s %q: %w", op, id, domain.ErrNotFound)
	}
	var n int64
	err := s.InTx(ctx, func(ctx context.Context) error {
		res, err := s.exec(ctx, update, append(lead, key, tenant, user)...)
		if err != nil {
			return s.wrap(op, err)
		}
		if n, err = affected(op, res); err != nil || n == 0 {
			return err
		}
		return s.addUnread(ctx, op, tenant, user, delta*n)
	})
	if err != nil {
		return false, err
	}
	if n > 0 {
		return true, nil
	}
	if _, err := s.NotificationSeq(ctx, tenant, user, key); err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	return false, nil
}

// MarkAllRead marks every unread notification of the user read and returns
// how many it marked.
func (s *Store) MarkAllRead(ctx context.Context, tenant domain.TenantID, user domain.UserID, at time.Time) (int64, error) {
	var n int64
	err := s.InTx(ctx, func(ctx context.Context) error {
		res, err := s.exec(ctx, `UPDATE notifications SET read_at = ? WHERE tenant_id = ? AND user_id = ? AND read_at IS NULL`,
			encTimeOrNow(at), tenant, user)
		if err != nil {
			return s.wrap("mark all read", err)
		}
		if n, err = affected("mark all read", res); err != nil || n == 0 {
			return err
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
// ends (the user's row, which InsertNotification also locks), so that the
// unread count each change computes reflects every change committed before
// it. A user without a row has no inbox to lock. Call it inside InTx.
func (s *Store) LockInbox(ctx context.Context, tenant domain.TenantID, user domain.UserID) error {
	var one int
	err := s.queryRow(ctx, `SELECT 1 FROM users WHERE tenant_id = ? AND id = ?`+s.d.LockRows(false), string(tenant), string(user)).Scan(&one)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return s.wrap("lock inbox", err)
	}
	return nil
}
