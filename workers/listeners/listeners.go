package listeners

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// Store is what listeners need for idempotency.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	// MarkProcessed records (listener, event) and reports whether this is
	// the first time; call it inside the effect's transaction.
	MarkProcessed(ctx context.Context, listener, eventID string) (first bool, err error)
	// MarkProcessedMany is MarkProcessed for a batch's events: first[i]
	// for eventIDs[i] (false for a repeat earlier in the list).
	MarkProcessedMany(ctx context.Context, listener string, eventIDs []string) (first []bool, err error)
}

// Notifier sends notifications (notification.Service has it).
type Notifier interface {
	SendToPermission(ctx context.Context, tenant domain.TenantID, perm string, d notification.Draft) ([]domain.Notification, error)
	// SendToPermissions sends several drafts in one transaction.
	SendToPermissions(ctx context.Context, ps []notification.PermissionSend) ([][]domain.Notification, error)
}

// once runs effect in a transaction together with the processed_events
// marker, and skips it when the marker is already there.
func once(ctx context.Context, store Store, listener string, ev domain.Event, effect func(ctx context.Context) error) error {
	return store.InTx(ctx, func(ctx context.Context) error {
		first, err := store.MarkProcessed(ctx, listener, ev.ID)
		if err != nil || !first {
			return err
		}
		return effect(ctx)
	})
}
