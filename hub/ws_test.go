package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/hub/broker/memory"
)

// Every tab of the addressed user gets the notification; the same user id
// in another tenant and another user of the tenant get nothing.
func TestDeliverToEveryTabOfThatUserOnly(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	tab1 := e.dial("t1", "u1", dialOpts{})
	tab2 := e.dial("t1", "u1", dialOpts{})
	otherTenant := e.dial("t2", "u1", dialOpts{}) // same user id, other tenant
	otherUser := e.dial("t1", "u2", dialOpts{})
	for _, c := range []*client{tab1, tab2, otherTenant, otherUser} {
		titles, unread := c.ready()
		require.Empty(t, titles)
		require.Zero(t, unread)
	}

	for range 3 {
		e.publish("t1", "u1")
	}
	// Markers published after: queues are FIFO, so had anything of t1/u1
	// leaked to the others it would arrive before their marker.
	e.publish("t2", "u1")
	e.publish("t1", "u2")

	for _, tab := range []*client{tab1, tab2} {
		for seq := int64(1); seq <= 3; seq++ {
			f := tab.next()
			require.Equal(t, FrameNotification, f.Type)
			require.Equal(t, title("t1", "u1", seq), f.Notification.Title)
			f = tab.next()
			require.Equal(t, FrameUnreadCount, f.Type, "every change is followed by unread_count")
			require.Equal(t, int(seq), *f.UnreadCount)
		}
	}
	require.Equal(t, title("t2", "u1", 1), otherTenant.nextNotification())
	require.Equal(t, title("t1", "u2", 1), otherUser.nextNotification())

	// And the tabs got nothing of theirs either.
	e.publish("t1", "u1")
	tab1.expectNotifications("t1", "u1", 4, 4)
	tab2.expectNotifications("t1", "u1", 4, 4)
}

// ?since= sends exactly the missed notifications (paged), then
// unread_count, then live ones, while a publisher commits during the
// catch-up read: no gap, no duplicate.
func TestSinceCatchUpWithPublisherDuringCatchUp(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{CatchupBatch: 3})
	var ns []domain.Notification
	for range 10 {
		ns = append(ns, e.hist.insert("t1", "u1", "body"))
	}

	started := make(chan struct{})
	gate := make(chan struct{})
	var once sync.Once
	e.hist.mu.Lock()
	e.hist.onAfter = func(k userKey, after int64) {
		if k == (userKey{"t1", "u1"}) && after == 3 {
			once.Do(func() {
				close(started)
				<-gate
			})
		}
	}
	e.hist.mu.Unlock()

	done := make(chan *client, 1)
	go func() { done <- e.dial("t1", "u1", dialOpts{since: ns[2].ID}) }()
	<-started
	// The connection is registered and its first catch-up read is held:
	// these commit during the catch-up and are also delivered live.
	for range 5 {
		e.publish("t1", "u1")
	}
	close(gate)
	c := <-done

	titles, unread := c.ready()
	var want []string
	for seq := int64(4); seq <= 15; seq++ {
		want = append(want, title("t1", "u1", seq))
	}
	require.Equal(t, want, titles, "catch-up must be seqs 4..15, oldest first")
	require.Equal(t, 15, unread)

	e.publish("t1", "u1")
	c.expectNotifications("t1", "u1", 16, 16) // live 11..15 were dropped as duplicates
}

// A publisher running freely while clients connect with since: whatever
// the interleaving, each client sees every seq after since exactly once.
func TestSinceCatchUpWithConcurrentPublisher(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{CatchupBatch: 7})
	var ns []domain.Notification
	for range 10 {
		ns = append(ns, e.hist.insert("t1", "u1", "body"))
	}
	const live = 150
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for range live {
			e.publish("t1", "u1")
		}
	}()
	clients := []*client{
		e.dial("t1", "u1", dialOpts{since: ns[4].ID}),
		e.dial("t1", "u1", dialOpts{since: ns[9].ID}),
	}
	<-pubDone
	for i, c := range clients {
		from := []int64{6, 11}[i]
		c.expectNotifications("t1", "u1", from, 10+live)
	}
	// Nothing duplicated after the end either.
	e.publish("t1", "u1")
	for _, c := range clients {
		c.expectNotifications("t1", "u1", 11+live, 11+live)
	}
}

func TestSinceErrorsBeforeUpgrade(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	mine := e.hist.insert("t1", "u1", "body")
	foreignTenant := e.hist.insert("t2", "u1", "body")
	foreignUser := e.hist.insert("t1", "u2", "body")

	for name, since := range map[string]string{
		"malformed":           "not-a-uuid",
		"unknown":             domain.NewID(),
		"other tenant's":      foreignTenant.ID,
		"other user's":        foreignUser.ID,
		"uuid without dashes": strings.ReplaceAll(mine.ID, "-", ""),
	} {
		_, status, err := e.tryDial("t1", "u1", dialOpts{since: since})
		require.Error(t, err, name)
		require.Equal(t, 400, status, name)
		var verr *domain.ValidationError
		serr := e.serveErr()
		require.ErrorAs(t, serr, &verr, name)
		require.Contains(t, verr.Fields, "since", name)
	}
	_, status, err := e.tryDial("t1", "u1", dialOpts{since: mine.ID + "&since=" + mine.ID})
	require.Error(t, err)
	require.Equal(t, 400, status, "since given twice")
	_ = e.serveErr()

	c := e.dial("t1", "u1", dialOpts{since: mine.ID})
	titles, _ := c.ready()
	require.Empty(t, titles)
}

// The same update delivered twice (a broker redelivery) is sent once.
func TestDuplicateDeliveryDropped(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	c := e.dial("t1", "u1", dialOpts{})
	c.ready()
	n := e.hist.insert("t1", "u1", "body")
	u := e.update(n)
	e.hub.Deliver(u)
	e.hub.Deliver(u)
	e.publish("t1", "u1")
	c.expectNotifications("t1", "u1", 1, 2)
}

// A live update whose seq skips ahead means updates were lost on the way:
// the connection refills from history before sending it.
func TestGapRefilledFromHistory(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	c := e.dial("t1", "u1", dialOpts{})
	c.ready()
	e.hist.insert("t1", "u1", "body") // published, but lost
	e.hist.insert("t1", "u1", "body") // published, but lost
	e.publish("t1", "u1")
	c.expectNotifications("t1", "u1", 1, 3)
	e.publish("t1", "u1")
	c.expectNotifications("t1", "u1", 4, 4)
}

// Resync (the broker may have missed updates) refills every connection
// from its last seq and re-sends unread_count.
func TestResyncRefillsMissedUpdates(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	a := e.dial("t1", "u1", dialOpts{})
	b := e.dial("t2", "u9", dialOpts{})
	a.ready()
	b.ready()
	e.publish("t1", "u1")
	a.expectNotifications("t1", "u1", 1, 1)
	require.Equal(t, FrameUnreadCount, a.next().Type)

	e.hist.insert("t1", "u1", "body") // committed while the broker was down
	e.hist.insert("t1", "u1", "body")
	e.hub.Resync()
	require.Equal(t, title("t1", "u1", 2), a.next().Notification.Title)
	require.Equal(t, title("t1", "u1", 3), a.next().Notification.Title)
	f := a.next()
	require.Equal(t, FrameUnreadCount, f.Type)
	require.Equal(t, 3, *f.UnreadCount)

	f = b.next() // nothing missed, but the count is refreshed
	require.Equal(t, FrameUnreadCount, f.Type)
	require.Equal(t, 0, *f.UnreadCount)
}

// A read, unread or read_all frame is forwarded as it comes, followed by
// the unread count History gives (after the debounce), never the count the
// update carries, which may be stale.
func TestReadStateFramesFollowedByHistorysCount(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	c := e.dial("t1", "u1", dialOpts{})
	c.ready()
	n := e.publish("t1", "u1")
	c.expectNotifications("t1", "u1", 1, 1)
	require.Equal(t, FrameUnreadCount, c.next().Type)

	for _, step := range []struct {
		commit func()
		u      domain.InboxUpdate
		want   int
	}{
		{func() { e.hist.setRead("t1", "u1", n.ID, true) },
			domain.InboxUpdate{Kind: domain.UpdateRead, TenantID: "t1", UserID: "u1", IDs: []string{n.ID}, UnreadCount: 7}, 0},
		{func() { e.hist.setRead("t1", "u1", n.ID, false) },
			domain.InboxUpdate{Kind: domain.UpdateUnread, TenantID: "t1", UserID: "u1", IDs: []string{n.ID}, UnreadCount: 7}, 1},
		{func() { e.hist.markAllRead("t1", "u1") },
			domain.InboxUpdate{Kind: domain.UpdateReadAll, TenantID: "t1", UserID: "u1", UnreadCount: 7}, 0},
	} {
		step.commit()
		e.hub.Deliver(step.u)
		f := c.next()
		require.Equal(t, string(step.u.Kind), f.Type)
		if step.u.Kind != domain.UpdateReadAll {
			require.Equal(t, []string{n.ID}, f.IDs)
		}
		f = c.next()
		require.Equal(t, FrameUnreadCount, f.Type)
		require.Equal(t, step.want, *f.UnreadCount, "History's count, not the carried one")
	}
}

func TestOriginCheckedBeforeUpgrade(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{AllowedOrigins: []string{"app.example.com", "*.example.com", "localhost:*"}})
	self := strings.TrimPrefix(e.srv.URL, "http://")

	for _, origin := range []string{
		"", // non-browser client
		"https://app.example.com",
		"https://eu.app.Example.com",
		"http://localhost:5173",
		"http://" + self, // the serving host itself
	} {
		c := e.dial("t1", "u1", dialOpts{origin: origin})
		c.ready()
		require.NoError(t, c.ws.Close(websocket.StatusNormalClosure, ""))
	}
	for _, origin := range []string{
		"https://evil.example.org",
		"https://example.com.evil.org",
		"https://example.com", // *.example.com needs a subdomain
		"http://localhost",    // localhost:* needs a port
		"null",
	} {
		_, status, err := e.tryDial("t1", "u1", dialOpts{origin: origin})
		require.Error(t, err, origin)
		require.Equal(t, 403, status, origin)
		require.ErrorIs(t, e.serveErr(), domain.ErrForbidden, origin)
	}
	require.Equal(t, 5.0, value(t, e.hub.metrics.connectionsTotal.WithLabelValues(resultAccepted)))
	require.Equal(t, 5.0, value(t, e.hub.metrics.connectionsTotal.WithLabelValues(resultOriginRefused)))
}

func TestIdentityRequired(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	_, status, err := e.tryDial("t1", "", dialOpts{})
	require.Error(t, err)
	require.Equal(t, 401, status)
	require.ErrorIs(t, e.serveErr(), domain.ErrUnauthenticated)

	_, status, err = e.tryDial("t1", "u1", dialOpts{expiresAt: time.Now().Add(-time.Second)})
	require.Error(t, err)
	require.Equal(t, 401, status)
	require.ErrorIs(t, e.serveErr(), domain.ErrUnauthenticated)
}

// A client that stops reading is closed with 4008 once its queue
// overflows, while another tab of the same user and other users keep
// receiving everything.
func TestSlowClientClosedOthersUnaffected(t *testing.T) {
	t.Parallel()
	// A long write timeout: the stalled write must still be pending when
	// the test lets the slow client read again, so that it can see 4008.
	e := setup(t, Config{QueueSize: 4, WriteTimeout: time.Minute})
	// The slow client cannot be read to see it is live, so it connects
	// with a cursor: whenever its catch-up runs, it owes every seq after
	// #1, in order.
	first := e.hist.insert("t1", "u1", "body")
	slow := e.dial("t1", "u1", dialOpts{since: first.ID, noRead: true})
	fast := e.dial("t1", "u1", dialOpts{})
	other := e.dial("t1", "u2", dialOpts{})
	fast.ready()
	other.ready()

	// Big notifications fill the socket buffers of the slow client; then
	// its writer blocks and its queue overflows. Publish in lockstep with
	// the fast tab so that only the slow one falls behind.
	body := strings.Repeat("x", 64<<10)
	const maxPublished = 2000 // ~128 MiB: far more than any socket buffer
	published := int64(1)     // seq of the last one committed
	for value(t, e.hub.metrics.slowCloses) == 0 {
		require.Less(t, published, int64(maxPublished), "slow client never overflowed")
		n := e.hist.insert("t1", "u1", body)
		e.hub.Deliver(e.update(n))
		published++
		require.Equal(t, title("t1", "u1", published), fast.nextNotification())
	}
	for range 3 {
		n := e.hist.insert("t1", "u1", body)
		e.hub.Deliver(e.update(n))
		published++
		require.Equal(t, title("t1", "u1", published), fast.nextNotification())
	}
	e.publish("t1", "u2")
	other.expectNotifications("t1", "u2", 1, 1)

	// The slow client reads again: a prefix of the notifications, then 4008.
	slow.startReading()
	seq := int64(1)
	for _, f := range slow.framesUntilEnd() {
		if f.Type == FrameNotification {
			seq++
			require.Equal(t, title("t1", "u1", seq), f.Notification.Title, "frames before the close are in order")
		}
	}
	require.Equal(t, websocket.StatusCode(CloseSlow), slow.closeStatus())
	require.Less(t, seq, published)
	require.Equal(t, 1.0, value(t, e.hub.metrics.slowCloses))
}

func TestTokenExpiryCloses4001(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	c := e.dial("t1", "u1", dialOpts{expiresAt: time.Now().Add(time.Second)})
	c.ready()
	require.Equal(t, websocket.StatusCode(CloseTokenExpired), c.closeStatus())
}

func TestOversizedInboundFrameCloses1009(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{ReadLimit: 128})
	c := e.dial("t1", "u1", dialOpts{})
	c.ready()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// A small message is fine (and ignored).
	require.NoError(t, c.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"hello"}`)))
	require.NoError(t, c.ws.Write(ctx, websocket.MessageText, []byte(strings.Repeat("x", 1024))))
	require.Equal(t, websocket.StatusMessageTooBig, c.closeStatus())
}

func TestPingAnsweredWithPong(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	c := e.dial("t1", "u1", dialOpts{})
	c.ready()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, c.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)))
	require.Equal(t, FramePong, c.next().Type)
}

// Close says going-away to everyone and refuses new sockets.
func TestCloseGoingAway(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	var clients []*client
	for i := range 3 {
		c := e.dial("t1", domain.UserID(fmt.Sprint("u", i)), dialOpts{})
		c.ready()
		clients = append(clients, c)
	}
	e.hub.Close()
	for _, c := range clients {
		require.Equal(t, websocket.StatusGoingAway, c.closeStatus())
	}
	require.Zero(t, value(t, e.hub.metrics.connections))
	_, status, err := e.tryDial("t1", "u1", dialOpts{})
	require.Error(t, err)
	require.Equal(t, 503, status)
	require.ErrorIs(t, e.serveErr(), ErrClosed)
}

// History failing mid-connection closes with 1013 so that the client
// reconnects with since rather than silently missing notifications.
func TestHistoryFailureClosesTryAgainLater(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	c := e.dial("t1", "u1", dialOpts{})
	c.ready()
	e.hist.setFail(errors.New("database down"))
	e.hub.Resync()
	require.Equal(t, websocket.StatusTryAgainLater, c.closeStatus())
}

// Many concurrent clients each get exactly their user's notifications.
func TestManyConcurrentClients(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	const users, tabs, perUser = 20, 5, 5 // 2 tenants x 20 users x 5 tabs = 200 sockets
	type who struct {
		tenant domain.TenantID
		user   domain.UserID
	}
	var all []who
	for _, tenant := range []domain.TenantID{"t1", "t2"} {
		for u := range users {
			all = append(all, who{tenant, domain.UserID(fmt.Sprint("u", u))})
		}
	}
	clients := make(map[who][]*client)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, w := range all {
		for range tabs {
			wg.Go(func() {
				c := e.dial(w.tenant, w.user, dialOpts{})
				c.ready()
				mu.Lock()
				clients[w] = append(clients[w], c)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	require.Equal(t, float64(len(all)*tabs), value(t, e.hub.metrics.connections))

	for _, w := range all {
		wg.Go(func() {
			for range perUser {
				e.publish(w.tenant, w.user)
			}
		})
	}
	wg.Wait()
	for _, w := range all {
		e.publish(w.tenant, w.user) // marker: anything leaked would precede it
	}
	for _, w := range all {
		for _, c := range clients[w] {
			c.expectNotifications(w.tenant, w.user, 1, perUser+1)
		}
	}
	// Counted once each write has returned, maybe just after the read.
	require.Eventually(t, func() bool {
		return metricNow(e.hub.metrics.delivered) == len(all)*tabs*(perUser+1)
	}, wait, time.Millisecond)
}

// The hub subscribed to the in-process broker: publishing through the
// broker reaches the socket.
func TestRunWithMemoryBroker(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	b, err := memory.New(memory.Config{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	runDone := make(chan error, 1)
	go func() { runDone <- e.hub.Run(ctx, b) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-runDone)
	})

	c := e.dial("t1", "u1", dialOpts{})
	c.ready()
	n := e.hist.insert("t1", "u1", "body")
	// Run subscribes asynchronously; a publish it misses shows up as a gap
	// refilled by the next one, so publish until the first arrives.
	require.NoError(t, b.Publish(t.Context(), e.update(n)))
	n2 := e.hist.insert("t1", "u1", "body")
	deadline := time.After(wait)
	for {
		require.NoError(t, b.Publish(t.Context(), e.update(n2)))
		select {
		case f := <-c.frames:
			if f.Type != FrameNotification {
				continue
			}
			require.Equal(t, title("t1", "u1", 1), f.Notification.Title)
			c.expectNotifications("t1", "u1", 2, 2)
			return
		case <-deadline:
			t.Fatal("nothing delivered through the broker")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestMetricsTrackConnections(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	c := e.dial("t1", "u1", dialOpts{})
	c.ready()
	require.Equal(t, 1.0, value(t, e.hub.metrics.connections))
	e.publish("t1", "u1")
	c.expectNotifications("t1", "u1", 1, 1)
	// The server counts a frame once its write has returned, which may be
	// just after the client has read it.
	require.Eventually(t, func() bool {
		return metricNow(e.hub.metrics.delivered) == 1 && metricNow(e.hub.metrics.latency) == 1
	}, wait, time.Millisecond, "one delivery, one latency observation")
	require.Equal(t, 1.0, value(t, e.hub.metrics.delivered))
	require.Equal(t, 1.0, value(t, e.hub.metrics.latency))

	require.NoError(t, c.ws.Close(websocket.StatusNormalClosure, "bye"))
	require.Eventually(t, func() bool { return metricNow(e.hub.metrics.connections) == 0 }, wait, 5*time.Millisecond)

	names := map[string]bool{}
	mfs, err := e.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"notifyhub_ws_connections", "notifyhub_ws_connections_total",
		"notifyhub_notifications_delivered_total", "notifyhub_delivery_latency_seconds", "notifyhub_ws_slow_closes_total",
		"notifyhub_ws_history_reads_in_flight", "notifyhub_ws_history_reads_waiting", "notifyhub_ws_resyncs_pending",
		"notifyhub_ws_refills_total"} {
		require.True(t, names[n], "metric %s registered", n)
	}
}

// A plain HTTP request is answered by the handshake code; Serve reports it
// as ErrHandshake so that the web layer does not answer twice.
func TestNonWebSocketRequestIsHandshakeError(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+"/ws", nil)
	require.NoError(t, err)
	req.Header.Set("X-Tenant", "t1")
	req.Header.Set("X-User", "u1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusUpgradeRequired, resp.StatusCode)
	require.ErrorIs(t, e.serveErr(), ErrHandshake)
	require.Equal(t, 1.0, value(t, e.hub.metrics.connectionsTotal.WithLabelValues(resultHandshakeFailed)))
}
