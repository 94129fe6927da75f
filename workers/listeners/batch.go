package listeners

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// sendToPermissionEachOnce is the batch form of a listener whose effect is
// one draft per event sent to the holders of perm (runner.BatchListener):
// one transaction for all of evs, in which each event gets its own
// processed_events key, and the drafts of the events seen for the first
// time are inserted together and pushed after commit. An event already
// processed (a redelivery) is skipped alone. Any error rolls all of it
// back, and the runner then handles each event on its own.
func sendToPermissionEachOnce(ctx context.Context, store Store, n Notifier, listener, perm string,
	evs []domain.Event, draft func(domain.Event) (notification.Draft, error)) error {
	drafts := make([]notification.Draft, len(evs))
	for i, ev := range evs {
		var err error
		if drafts[i], err = draft(ev); err != nil {
			return err
		}
	}
	return store.InTx(ctx, func(ctx context.Context) error {
		first, err := markProcessedMany(ctx, store, listener, evs)
		if err != nil {
			return err
		}
		var sends []notification.PermissionSend
		for i, ev := range evs {
			if first[i] {
				sends = append(sends, notification.PermissionSend{Tenant: ev.TenantID, Permission: perm, Draft: drafts[i]})
			}
		}
		_, err = n.SendToPermissions(ctx, sends)
		return err
	})
}

// markProcessedMany marks every event of a batch in one call (one round
// trip on PostgreSQL).
func markProcessedMany(ctx context.Context, store Store, listener string, evs []domain.Event) ([]bool, error) {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return store.MarkProcessedMany(ctx, listener, ids)
}
