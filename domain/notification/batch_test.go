package notification_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// batchRecorder is a fan-out that can publish batches.
type batchRecorder struct {
	recorder
	mu      sync.Mutex
	batches [][]domain.InboxUpdate
}

func (b *batchRecorder) PublishBatch(_ context.Context, us []domain.InboxUpdate) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batches = append(b.batches, append([]domain.InboxUpdate(nil), us...))
	return nil
}

// One send to many users: one batch insert, one batch publish, and each
// update carries its recipient's count right after its own notification,
// as if sent one by one (a user listed twice sees n-1, then n).
func TestSendToUsersPublishesOneBatch(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		fan := &batchRecorder{}
		svc := notification.NewService(f.store, fan, nil, nil)
		_, err := svc.SendToUsers(ctx, "acme", []domain.UserID{"bob"}, draft("earlier"))
		require.NoError(t, err)
		require.Len(t, fan.all(), 1, "a single update goes through Publish")

		users := []domain.UserID{"carol", "bob", "alice", "bob"}
		sent, err := svc.SendToUsers(ctx, "acme", users, draft("many"))
		require.NoError(t, err)
		require.Len(t, sent, 4)
		fan.mu.Lock()
		defer fan.mu.Unlock()
		require.Len(t, fan.batches, 1)
		got := fan.batches[0]
		require.Len(t, got, 4)
		wantCounts := []int{1, 2, 1, 3} // bob had one unread already
		wantSeqs := []int64{1, 2, 1, 3}
		for i, u := range got {
			require.Equal(t, users[i], u.UserID)
			require.Equal(t, sent[i].ID, u.Notification.ID)
			require.Equal(t, wantSeqs[i], u.Seq, "update %d", i)
			require.Equal(t, wantCounts[i], u.UnreadCount, "update %d", i)
			require.False(t, u.CommittedAt.IsZero())
		}
		for _, u := range []domain.UserID{"carol", "bob", "alice"} {
			n, err := f.store.UnreadCount(ctx, "acme", u)
			require.NoError(t, err)
			require.Equal(t, map[domain.UserID]int{"carol": 1, "bob": 3, "alice": 1}[u], n)
		}
	})
}
