package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// broadcastSeqTests check that stored-once broadcasts keep every user's
// inbox one contiguous sequence: the catch-up, the listing, the id
// resolution and the heads agree with the order the notifications were
// committed in, at every position and page size.
var broadcastSeqTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"InterleavedOrderAtEveryPosition": testBroadcastInterleaved,
	"LockInboxHoldsBroadcasts":        testLockInboxHoldsBroadcasts,
}

// testLockInboxHoldsBroadcasts: while a transaction holds a user's inbox
// (as marking read does), no broadcast commits, so the unread count and
// latest seq it reads (read_all's up_to_seq) cover exactly what it marked.
func testLockInboxHoldsBroadcasts(t *testing.T, s *sqlstore.Store) {
	ctx := ctxFor(t)
	require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: userA}))
	first := newNotification(tenantA, "", "before")
	first.ID = ""
	_, err := s.InsertBroadcast(ctx, first)
	require.NoError(t, err)
	locked, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.InTx(ctx, func(ctx context.Context) error {
			if err := s.LockInbox(ctx, tenantA, userA); err != nil {
				return err
			}
			n, err := s.MarkAllRead(ctx, tenantA, userA, at(1))
			if err != nil {
				return err
			}
			close(locked)
			<-release
			head, err := s.MaxSeq(ctx, tenantA, userA)
			if err != nil {
				return err
			}
			unread, err := s.UnreadCount(ctx, tenantA, userA)
			if err != nil {
				return err
			}
			if n != 1 || head != 1 || unread != 0 {
				return fmt.Errorf("marked %d, head %d, unread %d inside the lock; want 1, 1, 0", n, head, unread)
			}
			return nil
		})
	}()
	select {
	case <-locked:
	case err := <-done:
		t.Fatalf("the locking transaction ended early: %v", err)
	}
	sent := make(chan error, 1)
	go func() {
		later := newNotification(tenantA, "", "during")
		later.ID = ""
		_, err := s.InsertBroadcast(ctx, later)
		sent <- err
	}()
	// The broadcast waits for the lock; if it did not, the checks inside
	// the transaction above fail.
	select {
	case err := <-sent:
		close(release)
		require.NoError(t, <-done)
		require.NoError(t, err)
		t.Fatal("a broadcast committed while an inbox was locked")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-done)
	require.NoError(t, <-sent)
	head, err := s.MaxSeq(ctx, tenantA, userA)
	require.NoError(t, err)
	require.Equal(t, int64(2), head)
	unread, err := s.UnreadCount(ctx, tenantA, userA)
	require.NoError(t, err)
	require.Equal(t, 1, unread, "the later broadcast is unread")
}

func testBroadcastInterleaved(t *testing.T, s *sqlstore.Store) {
	ctx := ctxFor(t)
	users := []domain.UserID{"u1", "u2", "u3"}
	// u3 joins late: it must not see what was broadcast before.
	for _, u := range users[:2] {
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: u}))
	}
	require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantB, ID: "u1"}))
	want := map[domain.UserID][]string{} // each user's ids in commit order
	rng := rand.New(rand.NewPCG(7, 11))
	joined := 2
	for step := range 36 {
		switch r := rng.IntN(10); {
		case step == 12:
			require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: users[2]}))
			joined = 3
		case r < 3:
			n := newNotification(tenantA, "", fmt.Sprintf("broadcast %d", step))
			n.ID = ""
			got, err := s.InsertBroadcast(ctx, n)
			require.NoError(t, err)
			require.Len(t, got, joined)
			for _, rc := range got {
				want[rc.UserID] = append(want[rc.UserID], n.ID)
				require.Equal(t, int64(len(want[rc.UserID])), rc.Seq, "broadcast seq of %s", rc.UserID)
			}
		case r < 7:
			u := users[rng.IntN(joined)]
			n := newNotification(tenantA, u, fmt.Sprintf("personal %d", step))
			require.NoError(t, s.InsertNotification(ctx, n))
			want[u] = append(want[u], n.ID)
			require.Equal(t, int64(len(want[u])), n.Seq, "personal seq of %s", u)
		default:
			// Several users at once, two rows for one of them.
			var ns []*domain.Notification
			for _, u := range users[:joined] {
				ns = append(ns, newNotification(tenantA, u, fmt.Sprintf("batch %d", step)))
			}
			ns = append(ns, newNotification(tenantA, users[0], fmt.Sprintf("batch %d again", step)))
			require.NoError(t, s.InsertNotifications(ctx, ns))
			for _, n := range ns {
				want[n.UserID] = append(want[n.UserID], n.ID)
				require.Equal(t, int64(len(want[n.UserID])), n.Seq, "batch seq of %s", n.UserID)
			}
		}
	}
	// Another tenant's user of the same id sees none of it.
	other, err := s.NotificationsAfter(ctx, tenantB, "u1", 0, 1000)
	require.NoError(t, err)
	require.Empty(t, other)

	for _, u := range users {
		ids := want[u]
		head, err := s.MaxSeq(ctx, tenantA, u)
		require.NoError(t, err)
		require.Equal(t, int64(len(ids)), head, "head of %s", u)
		unread, err := s.UnreadCount(ctx, tenantA, u)
		require.NoError(t, err)
		require.Equal(t, len(ids), unread, "unread of %s", u)
		for i, id := range ids {
			seq, err := s.NotificationSeq(ctx, tenantA, u, id)
			require.NoError(t, err)
			require.Equal(t, int64(i+1), seq, "seq of %s's item %d", u, i)
		}
		// The catch-up from every position with every small page size
		// walks the same sequence.
		for _, limit := range []int{1, 2, 1000} {
			for from := 0; from <= len(ids); from++ {
				walked := []string{}
				after := int64(from)
				for {
					page, err := s.NotificationsAfter(ctx, tenantA, u, after, limit)
					require.NoError(t, err)
					if len(page) == 0 {
						break
					}
					for _, n := range page {
						after++
						require.Equal(t, after, n.Seq, "%s after %d limit %d", u, from, limit)
						require.Equal(t, u, n.UserID)
						walked = append(walked, n.ID)
					}
				}
				require.Equal(t, ids[from:], walked, "%s after %d limit %d", u, from, limit)
			}
		}
		// The listing, newest first, page by page.
		for _, limit := range []int{2, 5} {
			var listed []string
			before := ""
			for {
				page, err := s.ListNotifications(ctx, tenantA, u, notification.ListParams{Before: before, Limit: limit})
				require.NoError(t, err)
				if len(page) == 0 {
					break
				}
				for _, n := range page {
					seq := int64(len(ids) - len(listed))
					require.Equal(t, seq, n.Seq, "%s listed limit %d", u, limit)
					listed = append(listed, n.ID)
				}
				before = page[len(page)-1].ID
			}
			require.Equal(t, reversed(ids), listed, "%s listed limit %d", u, limit)
		}
	}
	// Read state: mark some read, check every view agrees.
	u := users[0]
	ids := want[u]
	read := map[string]bool{}
	for i := 0; i < len(ids); i += 3 {
		changed, err := s.MarkRead(ctx, tenantA, u, ids[i], at(1))
		require.NoError(t, err)
		require.True(t, changed)
		changed, err = s.MarkRead(ctx, tenantA, u, ids[i], at(1))
		require.NoError(t, err)
		require.False(t, changed)
		read[ids[i]] = true
	}
	unread, err := s.UnreadCount(ctx, tenantA, u)
	require.NoError(t, err)
	require.Equal(t, len(ids)-len(read), unread)
	for _, status := range []notification.Status{notification.StatusRead, notification.StatusUnread} {
		var listed []string
		before := ""
		for {
			page, err := s.ListNotifications(ctx, tenantA, u, notification.ListParams{Status: status, Before: before, Limit: 2})
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			for _, n := range page {
				require.Equal(t, status == notification.StatusRead, n.ReadAt != nil)
				listed = append(listed, n.ID)
			}
			before = page[len(page)-1].ID
		}
		var wantIDs []string
		for _, id := range slices.Backward(ids) {
			if read[id] == (status == notification.StatusRead) {
				wantIDs = append(wantIDs, id)
			}
		}
		require.Equal(t, wantIDs, listed, "status %s", status)
	}
	// Another user's read state did not move.
	unread2, err := s.UnreadCount(ctx, tenantA, users[1])
	require.NoError(t, err)
	require.Equal(t, len(want[users[1]]), unread2)
	requireUnreadCounters(t, s)
	n, err := s.MarkAllRead(ctx, tenantA, u, at(2))
	require.NoError(t, err)
	require.Equal(t, int64(len(ids)-len(read)), n)
	unread, err = s.UnreadCount(ctx, tenantA, u)
	require.NoError(t, err)
	require.Zero(t, unread)
	changed, err := s.MarkUnread(ctx, tenantA, u, ids[len(ids)-1])
	require.NoError(t, err)
	require.True(t, changed)
	unread, err = s.UnreadCount(ctx, tenantA, u)
	require.NoError(t, err)
	require.Equal(t, 1, unread)
	requireUnreadCounters(t, s)
}
