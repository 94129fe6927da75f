package hub

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
)

// History is the part of the notification store the hub reads for catch-up
// (domain/notification.Store satisfies it). Every method is scoped by tenant
// and user.
//
// Each notification carries a per-user Seq taken in its inserting
// transaction, so seq order is commit order and committed seqs of one user
// have no gaps (1, 2, 3, ...). The hub relies on that for gap detection.
type History interface {
	// NotificationSeq resolves one of the user's notification ids to its
	// seq; domain.ErrNotFound when the id is not this user's.
	NotificationSeq(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string) (int64, error)
	// NotificationsAfter returns up to limit notifications with seq > after,
	// oldest first.
	NotificationsAfter(ctx context.Context, tenant domain.TenantID, user domain.UserID, after int64, limit int) ([]domain.Notification, error)
	// MaxSeq is the user's latest seq, 0 when they have none.
	MaxSeq(ctx context.Context, tenant domain.TenantID, user domain.UserID) (int64, error)
	// UnreadCount counts the user's unread notifications.
	UnreadCount(ctx context.Context, tenant domain.TenantID, user domain.UserID) (int, error)
}

// InboxHeadReader is what a History may add to answer a catch-up without
// since in one read instead of two (*sqlstore.Store has it). Its figures
// must be those MaxSeq and UnreadCount would give, read from one snapshot.
type InboxHeadReader interface {
	// InboxHead returns the user's latest seq (0 when none) and unread
	// count.
	InboxHead(ctx context.Context, tenant domain.TenantID, user domain.UserID) (maxSeq int64, unread int, err error)
}
