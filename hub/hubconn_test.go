package hub

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// The store production wires in reads the catch-up in one query; without
// this the hub would silently fall back to two.
var _ InboxHeadReader = (*sqlstore.Store)(nil)

// historyOnly hides InboxHead: a History that has only the four reads.
type historyOnly struct{ History }

// A socket without since starts right after the user's latest notification
// with their unread count, whichever way History gives the two figures: the
// next live notification is delivered once, with nothing before it (a
// start too low would resend history, one too high would drop it).
func TestCatchUpWithoutSinceStartsAtTheLatestSeq(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		history                func(*fakeHistory) History
		heads, maxSeqs, counts int64
	}{
		"one read":  {history: func(f *fakeHistory) History { return f }, heads: 1},
		"two reads": {history: func(f *fakeHistory) History { return historyOnly{f} }, maxSeqs: 1, counts: 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setupHistory(t, Config{}, tc.history)
			ns := []domain.Notification{
				e.hist.insert("t1", "u1", "body"), e.hist.insert("t1", "u1", "body"), e.hist.insert("t1", "u1", "body"),
			}
			e.hist.insert("t1", "u2", "body")
			e.hist.setRead("t1", "u1", ns[1].ID, true)

			c := e.dial("t1", "u1", dialOpts{})
			titles, unread := c.ready()
			require.Empty(t, titles, "no history without since")
			require.Equal(t, 2, unread)
			require.Equal(t, []int64{tc.heads, tc.maxSeqs, tc.counts},
				[]int64{e.hist.heads.Load(), e.hist.maxSeqs.Load(), e.hist.counts.Load()}, "History calls (head, max seq, count)")

			e.publish("t1", "u1")
			f := c.next()
			require.Equal(t, FrameNotification, f.Type)
			require.Equal(t, title("t1", "u1", 4), f.Notification.Title)
			f = c.next()
			require.Equal(t, FrameUnreadCount, f.Type)
			require.Equal(t, 3, *f.UnreadCount)
		})
	}
}
