package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	if err := requireUser(n.TenantID, n.UserID); err != nil {
		return fmt.Errorf("insert notification: %w", err)
	}
	if n.ID == "" {
		n.ID = domain.NewID()
	}
	id, err := newRowID("id", n.ID)
	if err != nil {
		return fmt.Errorf("insert notification: %w", err)
	}
	data, err := encJSON("data", n.Data, "{}")
	if err != nil {
		return fmt.Errorf("insert notification: %w", err)
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
	return s.InTx(ctx, func(ctx context.Context) error {
		seq, err := s.nextNotificationSeq(ctx, n.TenantID, n.UserID)
		if err != nil {
			return err
		}
		_, err = s.exec(ctx, `INSERT INTO notifications (`+notificationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, n.TenantID, n.UserID, seq, n.Type, n.Severity, n.Title, n.Body, n.ActionURL, data,
			encTimePtr(n.ReadAt), encTime(n.CreatedAt))
		if s.kind(err) == KindUniqueViolation {
			return fmt.Errorf("insert notification %s: %w", id, domain.ErrConflict)
		}
		if err != nil {
			return s.wrap("insert notification", err)
		}
		n.Seq = seq
		return nil
	})
}

func (s *Store) nextNotificationSeq(ctx context.Context, tenant domain.TenantID, user domain.UserID) (int64, error) {
	var seq int64
	err := s.queryRow(ctx, `UPDATE users SET notification_seq = notification_seq + 1
		WHERE tenant_id = ? AND id = ? RETURNING notification_seq`, tenant, user).Scan(&seq)
	if err == nil {
		return seq, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, s.wrap("next notification seq", err)
	}
	// Unknown user: create a minimal row. A concurrent creator makes this
	// the increment instead.
	if err := s.ensureTenant(ctx, tenant); err != nil {
		return 0, err
	}
	at := encTime(now())
	err = s.queryRow(ctx, `INSERT INTO users (tenant_id, id, name, email, perms, notification_seq, created_at, updated_at)
		VALUES (?, ?, '', '', '[]', 1, ?, ?)
		ON CONFLICT (tenant_id, id) DO UPDATE SET notification_seq = users.notification_seq + 1
		RETURNING notification_seq`, tenant, user, at, at).Scan(&seq)
	if err != nil {
		return 0, s.wrap("next notification seq: create user", err)
	}
	return seq, nil
}

// UnreadCount counts the user's unread notifications.
func (s *Store) UnreadCount(ctx context.Context, tenant domain.TenantID, user domain.UserID) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM notifications WHERE tenant_id = ? AND user_id = ? AND read_at IS NULL`,
		tenant, user).Scan(&n)
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
	err := s.queryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM notifications WHERE tenant_id = ? AND user_id = ?`,
		tenant, user).Scan(&seq)
	if err != nil {
		return 0, s.wrap("max seq", err)
	}
	return seq, nil
}

// MarkRead sets read_at of one of the user's notifications if unset;
// changed is false when it was read already. domain.ErrNotFound for an id
// that is not this user's.
func (s *Store) MarkRead(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string, at time.Time) (bool, error) {
	return s.setRead(ctx, "mark read", tenant, user, id,
		`UPDATE notifications SET read_at = ? WHERE id = ? AND tenant_id = ? AND user_id = ? AND read_at IS NULL`,
		encTimeOrNow(at))
}

// MarkUnread clears read_at; changed is false when it was unread.
// domain.ErrNotFound for an id that is not this user's.
func (s *Store) MarkUnread(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string) (bool, error) {
	return s.setRead(ctx, "mark unread", tenant, user, id,
		`UPDATE notifications SET read_at = NULL WHERE id = ? AND tenant_id = ? AND user_id = ? AND read_at IS NOT NULL`)
}

// setRead runs an update of read_at guarded by its current state; when it
// changes nothing, it tells "already so" from "not this user's".
func (s *Store) setRead(ctx context.Context, op string, tenant domain.TenantID, user domain.UserID, id, update string, lead ...any) (bool, error) {
	key, ok := lookupID(id)
	if !ok {
		return false, fmt.Errorf("%s %q: %w", op, id, domain.ErrNotFound)
	}
	res, err := s.exec(ctx, update, append(lead, key, tenant, user)...)
	if err != nil {
		return false, s.wrap(op, err)
	}
	n, err := affected(op, res)
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
	res, err := s.exec(ctx, `UPDATE notifications SET read_at = ? WHERE tenant_id = ? AND user_id = ? AND read_at IS NULL`,
		encTimeOrNow(at), tenant, user)
	if err != nil {
		return 0, s.wrap("mark all read", err)
	}
	return affected("mark all read", res)
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
