package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// notificationUserRowTests check what the notifications -> users foreign
// key (dropped by migration 00010) used to: the store itself creates or
// updates the user's row in every transaction that stores a notification.
var notificationUserRowTests = map[string]func(t *testing.T, s *sqlstore.Store){
	// A broadcast's rows share every value but id, user and seq (on
	// PostgreSQL they are then bound once, not per row): hostile ones read
	// back exactly, read and unread alike, two broadcasts in one batch
	// each keep their own, and so does a row that differs from the rest.
	"BroadcastSharedValuesReadBack": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		read := at(time.Hour)
		for b, h := range bcastHostile {
			data, err := json.Marshal(map[string]any{h: h, "list": []string{h, "x"}})
			require.NoError(t, err)
			var batch []*domain.Notification
			for i := range 600 {
				n := &domain.Notification{ID: domain.NewID(), TenantID: tenantA, UserID: domain.UserID(fmt.Sprintf("s-%03d", i)),
					Type: "AnnouncementNotification", Severity: domain.SeverityInfo, Title: h, Body: h + h, ActionURL: "/a?q=" + h,
					Data: data, CreatedAt: at(time.Duration(b) * time.Second)}
				if b%2 == 1 {
					n.ReadAt = &read
				}
				if i >= 300 { // a second broadcast in the same batch (a group commit)
					n.Title, n.Data = h+" second", json.RawMessage(`{"second":true}`)
				}
				if b == len(bcastHostile)-1 && i == 599 {
					n.Title = "the last row differs" // no longer a shared batch
				}
				batch = append(batch, n)
			}
			_, err = s.InsertNotificationsUnread(ctx, batch)
			require.NoError(t, err)
			for _, i := range []int{0, 299, 599} {
				want := batch[i]
				got, err := s.NotificationsAfter(ctx, tenantA, want.UserID, int64(b), 1)
				require.NoError(t, err)
				require.Len(t, got, 1)
				g := got[0]
				require.Equal(t, want.ID, g.ID)
				require.Equal(t, int64(b+1), g.Seq)
				require.Equal(t, want.Title, g.Title)
				require.Equal(t, want.Body, g.Body)
				require.Equal(t, want.ActionURL, g.ActionURL)
				require.JSONEq(t, string(want.Data), string(g.Data))
				require.True(t, stored(want.CreatedAt).Equal(g.CreatedAt), "created_at %v, want %v", g.CreatedAt, want.CreatedAt)
				require.Equal(t, want.ReadAt == nil, g.ReadAt == nil)
				if want.ReadAt != nil {
					require.True(t, stored(read).Equal(*g.ReadAt))
				}
			}
		}
		unread, err := s.UnreadCount(ctx, tenantA, "s-000")
		require.NoError(t, err)
		require.Equal(t, (len(bcastHostile)+1)/2, unread)
	},
	"EveryStoredNotificationHasItsUserRow": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: "known"}))
		// One by one, to a known user and to users and tenants never seen.
		for _, n := range []*domain.Notification{
			newNotification(tenantA, "known", "one"),
			newNotification(tenantA, "unknown-1", "one"),
			newNotification("tenant-never-seen", "unknown-2", "one"),
		} {
			require.NoError(t, s.InsertNotification(ctx, n))
		}
		// In batches: known, unknown, one user twice, a new tenant; the
		// batch larger than a statement chunk.
		for _, tenant := range []domain.TenantID{tenantA, tenantB, "tenant-batch-new"} {
			var batch []*domain.Notification
			for i := range 1201 {
				batch = append(batch, newNotification(tenant, domain.UserID(fmt.Sprintf("b-%04d", i%1100)), "batch"))
			}
			batch = append(batch, newNotification(tenant, "known", "batch"), newNotification(tenant, "unknown-1", "batch"))
			_, err := s.InsertNotificationsUnread(ctx, batch)
			require.NoError(t, err)
		}
		single := []*domain.Notification{newNotification(tenantB, "unknown-3", "alone")}
		require.NoError(t, s.InsertNotifications(ctx, single))

		var orphans, behind, stored int
		require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications n WHERE NOT EXISTS
			(SELECT 1 FROM users u WHERE u.tenant_id = n.tenant_id AND u.id = n.user_id)`).Scan(&orphans))
		require.Zero(t, orphans, "notifications without their user's row")
		// And the row's counter has handed out every stored seq.
		require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications n JOIN users u
			ON u.tenant_id = n.tenant_id AND u.id = n.user_id WHERE n.seq > u.notification_seq`).Scan(&behind))
		require.Zero(t, behind)
		require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications`).Scan(&stored))
		require.Equal(t, 3+3*1203+1, stored)
	},
	// Inside a caller's transaction (a listener's group commit), batches
	// to known users only and batches with a user or tenant not seen
	// before (on PostgreSQL the locks then find a row missing, and the
	// rows are created before the insert). Either way seqs and unread
	// counts continue without gaps, the transaction goes on, and the same
	// user id in another tenant is untouched.
	"KnownAndUnknownRecipientsInOneTransaction": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		insertNotifications(t, s, tenantA, userA, 2)
		insertNotifications(t, s, tenantB, "new-in-a", 3) // the id exists, in the other tenant
		var batches [][]*domain.Notification
		err := s.InTx(ctx, func(ctx context.Context) error {
			for _, b := range [][]*domain.Notification{
				{newNotification(tenantA, userA, "known"), newNotification(tenantA, userA, "known again")},
				{newNotification(tenantA, userA, "mixed"), newNotification(tenantA, "new-in-a", "mixed"), newNotification(tenantA, userA, "mixed")},
				{newNotification(tenantA, "new-in-a", "now known"), newNotification(tenantA, userA, "now known")},
				{newNotification("tenant-new-in-tx", userA, "new tenant")},
			} {
				if _, err := s.InsertNotificationsUnread(ctx, b); err != nil {
					return err
				}
				batches = append(batches, b)
			}
			return s.InsertNotification(ctx, newNotification(tenantA, "single-new", "single"))
		})
		require.NoError(t, err)
		seqs := func(b []*domain.Notification) []int64 {
			out := make([]int64, len(b))
			for i, n := range b {
				out[i] = n.Seq
			}
			return out
		}
		require.Equal(t, [][]int64{{3, 4}, {5, 1, 6}, {2, 7}, {1}},
			[][]int64{seqs(batches[0]), seqs(batches[1]), seqs(batches[2]), seqs(batches[3])})
		counts := unreadCounts(t, s, tenantA, userA, "new-in-a", "single-new")
		require.Equal(t, map[domain.UserID]int{userA: 7, "new-in-a": 2, "single-new": 1}, counts)
		got, err := s.NotificationsAfter(ctx, tenantA, "new-in-a", 0, 10)
		require.NoError(t, err)
		require.Equal(t, []string{batches[1][1].ID, batches[2][0].ID}, notificationIDs(got))
		seq, err := s.MaxSeq(ctx, tenantB, "new-in-a")
		require.NoError(t, err)
		require.Equal(t, int64(3), seq, "the other tenant's user is untouched")
		require.Equal(t, map[domain.UserID]int{"new-in-a": 3}, unreadCounts(t, s, tenantB, "new-in-a"))
	},
}
