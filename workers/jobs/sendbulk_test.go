package jobs_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/workers/jobs"
	"github.com/notifyhub/notifyhub/workers/runner"
)

type noFanout struct{}

func (noFanout) Publish(context.Context, domain.InboxUpdate) error { return nil }

// TestSendBulkNotificationsThroughTheQueue: a bulk request is stored and
// queued in one transaction, relayed to the default queue, sent by a
// worker; the notifications land in the inboxes of that tenant only.
func TestSendBulkNotificationsThroughTheQueue(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		for _, u := range []domain.User{
			{TenantID: "acme", ID: "bob", Perms: []string{domain.PermInventoryAlerts}},
			{TenantID: "acme", ID: "alice", Perms: []string{domain.PermAdmin}},
			{TenantID: "globex", ID: "bob", Perms: []string{domain.PermAdmin}},
		} {
			require.NoError(t, b.store.UpsertUser(ctx, u))
		}
		e := newEnv(t, b)
		notes := notification.NewService(b.store, noFanout{}, nil, logger())
		bulk := notification.NewBulkService(b.store, notes, e.disp, nil)
		require.NoError(t, e.reg.Register(jobs.SendBulkNotifications(bulk)))

		actor := domain.Actor{TenantID: "acme", UserID: "alice", Perms: []string{domain.PermAdmin}}
		req, err := bulk.Request(ctx, actor, notification.BulkRequest{All: true, Type: "alert", Title: "Fire drill at 3"})
		require.NoError(t, err)
		e.flush(t)
		e.start(t, runner.QueueConfig{})
		eventually(t, func() bool {
			got, err := bulk.Get(ctx, "acme", req.ID)
			return err == nil && got.Status == notification.BulkCompleted
		}, "the worker completes the send")
		got, err := bulk.Get(ctx, "acme", req.ID)
		require.NoError(t, err)
		require.EqualValues(t, []int64{2, 2, 0}, []int64{got.Total, got.Sent, got.Failed})
		for _, u := range []domain.UserID{"bob", "alice"} {
			items, err := b.store.ListNotifications(ctx, "acme", u, notification.ListParams{})
			require.NoError(t, err)
			require.Len(t, items, 1)
			require.Equal(t, notification.TypeAlert, items[0].Type)
		}
		items, err := b.store.ListNotifications(ctx, "globex", "bob", notification.ListParams{})
		require.NoError(t, err)
		require.Empty(t, items, "all means all of the tenant")
	})
}
