package hub

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

// The fan-out workers of a broadcast write to many sockets in turn without
// ever waiting: a socket without room keeps the rest of its frames and
// moves to a goroutine of its own. Readers keep getting every broadcast,
// in order, while one client stopped reading; that client, reading again,
// gets everything, in order, nothing twice.
func TestBroadcastFanOutPassesAStalledSocket(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{QueueSize: 1 << 14, WriteTimeout: time.Minute})
	first := e.hist.insert("t1", "stalled", "body")
	stalled := e.dial("t1", "stalled", dialOpts{since: first.ID, noRead: true})
	var users []domain.UserID
	readers := map[domain.UserID]*client{}
	for i := range 2 * earlyStarts {
		u := domain.UserID(fmt.Sprintf("u%02d", i))
		users = append(users, u)
		readers[u] = e.dial("t1", u, dialOpts{})
		readers[u].ready()
	}
	// The stalled socket registers once its catch-up (one notification)
	// is written, which its send buffer takes at once.
	require.Eventually(t, func() bool {
		k := userKey{tenant: "t1", user: "stalled"}
		s := e.hub.shard(k)
		s.mu.RLock()
		defer s.mu.RUnlock()
		return len(s.users[k]) == 1
	}, wait, time.Millisecond)

	// 256 KiB a broadcast: the stalled socket's buffers fill within a few.
	body := strings.Repeat("x", 256<<10)
	const maxRounds = 400
	rounds := 0
	for value(t, e.hub.metrics.fanOutHandoffs) == 0 || rounds < 8 {
		require.Less(t, rounds, maxRounds, "the stalled socket never ran out of room")
		rounds++
		id := domain.NewID()
		var batch []domain.InboxUpdate
		for _, u := range append([]domain.UserID{"stalled"}, users...) {
			n := e.hist.insert("t1", u, body)
			n.ID = id // one broadcast: one id for every recipient
			batch = append(batch, e.update(n))
		}
		require.True(t, oneUpdateEach(batch))
		e.hub.DeliverBatch(batch)
		for _, u := range users {
			require.Equal(t, title("t1", u, int64(rounds)), readers[u].nextNotification(), "reader %s, broadcast %d", u, rounds)
		}
	}
	require.Zero(t, value(t, e.hub.metrics.slowCloses))

	stalled.startReading()
	for seq := int64(2); seq <= int64(rounds)+1; seq++ {
		require.Equal(t, title("t1", "stalled", seq), stalled.nextNotification(), "stalled client, seq %d", seq)
	}
	// Nothing after the last, and the socket still works.
	e.publish("t1", "stalled")
	require.Equal(t, title("t1", "stalled", int64(rounds)+2), stalled.nextNotification())
	select {
	case f := <-stalled.frames:
		if f.Type == FrameNotification {
			t.Fatalf("an extra notification %q", f.Notification.Title)
		}
	default:
	}
	require.NoError(t, stalled.ws.Close(websocket.StatusNormalClosure, ""))
}
