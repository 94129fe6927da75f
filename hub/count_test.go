package hub

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

// Commits that raced reach the hub out of commit order, each carrying the
// count its own transaction saw. Whatever those counts say, every
// unread_count the client gets after a read-state change is History's, and
// the last one it gets is History's.
func TestUnreadCountIsHistorysDespiteRacingUpdates(t *testing.T) {
	t.Parallel()
	// An hour-long race window: the notifications below are distrusted
	// however slowly this machine runs.
	e := setup(t, Config{ReadRaceWindow: time.Hour})
	var ns []domain.Notification
	for range 5 {
		ns = append(ns, e.hist.insert("t1", "u1", "body"))
	}
	c := e.dial("t1", "u1", dialOpts{})
	_, unread := c.ready()
	require.Equal(t, 5, unread)

	// Commit order: read_all, a notification, unread of #5, a marker
	// notification. Each carried count is what a transaction racing with
	// the others could have computed, and none is the final truth.
	e.hist.markAllRead("t1", "u1")
	readAll := domain.InboxUpdate{Kind: domain.UpdateReadAll, TenantID: "t1", UserID: "u1", UnreadCount: 0}
	late := e.hist.insert("t1", "u1", "body")
	lateUpdate := e.update(late)
	lateUpdate.UnreadCount = 6 // computed before the read_all committed
	e.hist.setRead("t1", "u1", ns[4].ID, false)
	unreadUpdate := domain.InboxUpdate{Kind: domain.UpdateUnread, TenantID: "t1", UserID: "u1", IDs: []string{ns[4].ID}, UnreadCount: 1}
	marker := e.hist.insert("t1", "u1", "body")
	markerUpdate := e.update(marker)
	markerUpdate.UnreadCount = 2
	truth, err := e.hist.UnreadCount(context.Background(), "t1", "u1")
	require.NoError(t, err)
	require.Equal(t, 3, truth)

	// Delivery order: the unread overtook the read_all; the notification
	// committed between them arrives only after the count they caused was
	// sent, and is followed by the marker.
	e.hub.Deliver(unreadUpdate)
	e.hub.Deliver(readAll)
	var kinds []string
	// upTo reads frames up to the first count after the frame of the
	// notification id until (any count when until is ""), requiring every
	// count to be the truth: a wrongly trusted one would come before.
	upTo := func(until string) {
		t.Helper()
		seen := until == ""
		for {
			f := c.next()
			if f.Type == FrameUnreadCount {
				require.Equal(t, truth, *f.UnreadCount, "after %v", kinds)
				if seen {
					return
				}
				continue
			}
			kinds = append(kinds, f.Type)
			if f.Type == FrameNotification && f.Notification.ID == until {
				seen = true
			}
		}
	}
	upTo("")
	e.hub.Deliver(lateUpdate)
	e.hub.Deliver(markerUpdate)
	upTo(marker.ID)
	require.Equal(t, []string{FrameUnread, FrameReadAll, FrameNotification, FrameNotification}, kinds)
}

// Without a recent read-state change, a notification's own count goes out
// with it at once: no extra History query for the common case.
func TestNotificationCountTrustedWithoutReadRace(t *testing.T) {
	t.Parallel()
	h, gh := newGatedHub(t, Config{})
	tr := newFakeTransport()
	attach(t, h, Identity{TenantID: "t1", UserID: "u1"}, tr)
	require.Equal(t, FrameUnreadCount, tr.next(t).Type)
	_, _, calls := gh.stats()
	require.Equal(t, 1, calls, "the catch-up count")

	for seq := int64(1); seq <= 3; seq++ {
		u := notificationUpdate(gh.fakeHistory, "t1", "u1")
		u.UnreadCount = 40 + int(seq) // distinct from History's, to tell them apart
		h.Deliver(u)
		require.Equal(t, title("t1", "u1", seq), tr.next(t).Notification.Title)
		f := tr.next(t)
		require.Equal(t, FrameUnreadCount, f.Type)
		require.Equal(t, 40+int(seq), *f.UnreadCount)
	}
	_, _, calls = gh.stats()
	require.Equal(t, 1, calls)
}

// Read-state frames are forwarded one by one as they come while their count
// refreshes coalesce into one pending History query; a refill (here a
// resync) answers it with History's count, so it is not asked twice.
func TestCountRefreshesCoalesce(t *testing.T) {
	t.Parallel()
	// The debounce outlasts the test: only the resync's count can answer.
	h, gh := newGatedHub(t, Config{UnreadCountDebounce: time.Hour, ResyncJitter: -1})
	tr := newFakeTransport()
	attach(t, h, Identity{TenantID: "t1", UserID: "u1"}, tr)
	require.Equal(t, FrameUnreadCount, tr.next(t).Type)

	n := gh.insert("t1", "u1", "body") // its update was lost
	gh.setRead("t1", "u1", n.ID, true)
	gh.insert("t1", "u1", "body") // lost too, and unread
	for range 10 {
		h.Deliver(domain.InboxUpdate{Kind: domain.UpdateRead, TenantID: "t1", UserID: "u1", IDs: []string{n.ID}, UnreadCount: 99})
	}
	for range 10 {
		f := tr.next(t)
		require.Equal(t, FrameRead, f.Type)
		require.Equal(t, []string{n.ID}, f.IDs)
	}

	h.Resync()
	for seq := int64(1); seq <= 2; seq++ {
		f := tr.next(t)
		require.Equal(t, FrameNotification, f.Type)
		require.Equal(t, title("t1", "u1", seq), f.Notification.Title)
	}
	f := tr.next(t)
	require.Equal(t, FrameUnreadCount, f.Type)
	require.Equal(t, 1, *f.UnreadCount)
	_, _, calls := gh.stats()
	require.Equal(t, 2, calls, "catch-up, then one count for ten read updates and the resync")
}
