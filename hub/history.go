package hub

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
)

// History is the part of the notification store the hub reads for catch-up
// (domain/notification.Store satisfies it). Every method is scoped by tenant
// and user.
//
// Each notification carries a per-user Seq fixed in its inserting
// transaction (for a tenant broadcast, stored once, each recipient's own
// position in their inbox), so seq order is commit order and committed
// seqs of one user have no gaps (1, 2, 3, ...). The hub relies on that for
// gap detection.
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

// InboxHeadsReader is what a History may add to answer the catch-up of
// sockets opened without since together: one read for every such socket
// starting at the same time, instead of a MaxSeq and an UnreadCount each
// (*sqlstore.Store has it). Its figures must be those MaxSeq and
// UnreadCount would give, each user's read from one snapshot.
type InboxHeadsReader interface {
	// InboxHeads returns the latest seq (0 when none) and the unread count
	// of user users[i] of tenant tenants[i] at index i; a user may be
	// given twice.
	InboxHeads(ctx context.Context, tenants []domain.TenantID, users []domain.UserID) (maxSeqs []int64, unread []int, err error)
}

// InboxHeadsRecorder is what a History may add so that a socket that must
// record its user (its first connect, or changed claims) does so in its
// catch-up read: one round trip for both (*sqlstore.Store has it).
type InboxHeadsRecorder interface {
	InboxHeadsReader
	// RecordInboxHeads records the users of record (created, or updated
	// where their claims changed) and returns InboxHeads of tenants and
	// users, read no earlier than the call began.
	RecordInboxHeads(ctx context.Context, record []domain.User, tenants []domain.TenantID, users []domain.UserID) (maxSeqs []int64, unread []int, err error)
}
