package notification

import (
	"context"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// Status filters an inbox listing.
type Status string

const (
	StatusAll    Status = "all"
	StatusUnread Status = "unread"
	StatusRead   Status = "read"
)

// ListParams pages through one user's inbox, newest first.
type ListParams struct {
	Status Status
	Before string // exclusive cursor: a notification id of this user, "" for the newest
	Limit  int
}

// BroadcastRecipient is one user a broadcast reached.
type BroadcastRecipient struct {
	UserID domain.UserID
	Seq    int64 // the broadcast's seq in this user's inbox
	Unread int   // the user's unread count right after it
}

// Store is what the notification service (and the hub's catch-up) needs.
// Every method is scoped by tenant and user: another user's id is
// domain.ErrNotFound.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	// AfterCommit runs fn after the surrounding transaction commits (never
	// if it rolls back); outside a transaction it runs fn at once.
	AfterCommit(ctx context.Context, fn func())
	// UsersWithPermission lists the tenant's known users holding perm
	// directly or through admin, ordered by id.
	UsersWithPermission(ctx context.Context, tenant domain.TenantID, perm string) ([]domain.User, error)
	// InsertNotification stores n (ID and CreatedAt set by the caller) and
	// sets n.Seq to the user's next sequence number, taken in the
	// transaction so that sequence order is commit order.
	InsertNotification(ctx context.Context, n *domain.Notification) error
	// InsertNotifications is InsertNotification for many notifications of
	// one tenant at once (a broadcast): one user's get consecutive seqs in
	// slice order.
	InsertNotifications(ctx context.Context, ns []*domain.Notification) error
	// InsertNotificationsUnread is InsertNotifications that also returns
	// each recipient's unread count after the batch.
	InsertNotificationsUnread(ctx context.Context, ns []*domain.Notification) (map[domain.UserID]int, error)
	// InsertBroadcast stores n once for every user of n.TenantID known
	// when it commits (n.UserID must be empty, n.ReadAt nil), setting n.ID
	// when empty and n.CreatedAt as InsertNotification does. It returns the
	// recipients in user-id order, each with the seq n takes in their inbox
	// and their unread count after it. Every read of an inbox includes the
	// broadcasts its user got, under the broadcast's id.
	InsertBroadcast(ctx context.Context, n *domain.Notification) ([]BroadcastRecipient, error)
	UnreadCount(ctx context.Context, tenant domain.TenantID, user domain.UserID) (int, error)
	// ListNotifications: domain.ErrNotFound when Before is not this user's.
	ListNotifications(ctx context.Context, tenant domain.TenantID, user domain.UserID, p ListParams) ([]domain.Notification, error)
	// NotificationSeq resolves one of the user's notification ids to its seq.
	NotificationSeq(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string) (int64, error)
	// NotificationsAfter returns up to limit notifications with seq > after,
	// oldest first (the catch-up read).
	NotificationsAfter(ctx context.Context, tenant domain.TenantID, user domain.UserID, after int64, limit int) ([]domain.Notification, error)
	// MaxSeq is the user's latest seq, 0 when they have none.
	MaxSeq(ctx context.Context, tenant domain.TenantID, user domain.UserID) (int64, error)
	// LockInbox serialises changes to the user's inbox until the
	// transaction ends, so unread counts taken in it are consistent.
	LockInbox(ctx context.Context, tenant domain.TenantID, user domain.UserID) error
	// MarkRead sets read_at if unset; changed is false when it was already
	// read. domain.ErrNotFound for an id that is not this user's.
	MarkRead(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string, at time.Time) (changed bool, err error)
	// MarkUnread clears read_at; changed is false when it was unread.
	MarkUnread(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string) (changed bool, err error)
	// MarkAllRead marks every unread notification read and returns how many.
	MarkAllRead(ctx context.Context, tenant domain.TenantID, user domain.UserID, at time.Time) (int64, error)
}
