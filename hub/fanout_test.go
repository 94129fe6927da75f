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

// dialLive connects users u00, u01, … of tenant t1 and waits until each
// socket is live.
func dialLive(e *env, n int) ([]domain.UserID, map[domain.UserID]*client) {
	var users []domain.UserID
	clients := map[domain.UserID]*client{}
	for i := range n {
		u := domain.UserID(fmt.Sprintf("u%02d", i))
		users = append(users, u)
		clients[u] = e.dial("t1", u, dialOpts{})
		clients[u].ready()
	}
	return users, clients
}

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
	users, readers := dialLive(e, 2*fanOutWidth)
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

// Clients that vanish (their sockets closed without a close handshake)
// while broadcasts fan out are dropped by their own failed writes; the
// fan-out goes on to everybody else, and nothing waits for the dead.
func TestBroadcastFanOutPassesVanishedClients(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{WriteTimeout: time.Minute})
	users, clients := dialLive(e, 3*fanOutWidth)
	gone := map[domain.UserID]bool{}
	for i, u := range users {
		if i%3 == 1 {
			gone[u] = true
			require.NoError(t, clients[u].ws.CloseNow())
		}
	}
	for round := 1; round <= 20; round++ {
		id := domain.NewID()
		var batch []domain.InboxUpdate
		for _, u := range users {
			n := e.hist.insert("t1", u, strings.Repeat("y", 4<<10))
			n.ID = id
			batch = append(batch, e.update(n))
		}
		e.hub.DeliverBatch(batch)
		for _, u := range users {
			if !gone[u] {
				require.Equal(t, title("t1", u, int64(round)), clients[u].nextNotification(), "user %s, broadcast %d", u, round)
			}
		}
	}
	// The vanished ones are unregistered once their writes failed.
	require.Eventually(t, func() bool {
		return metricNow(e.hub.metrics.connections) == len(users)-len(gone)
	}, wait, 5*time.Millisecond)
}
