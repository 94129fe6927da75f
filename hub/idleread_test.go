package hub

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

// readerStacks returns the stacks of the hub's socket readers.
func readerStacks() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "hub.(*conn).readLoop") || strings.Contains(g, "hub.(*conn).readSome") {
			out = append(out, g)
		}
	}
	return out
}

// An idle socket has no reader goroutine: the idle poller starts one when
// the socket is readable, and the socket is idle again, without one, after
// each message and control frame.
func TestIdleSocketHasNoReader(t *testing.T) {
	e := setup(t, Config{PingInterval: -1})
	require.NotNil(t, e.hub.idle, "epoll is available on Linux")
	hc := checkIdleReaders(t, e, func() bool { return len(readerStacks()) == 0 })

	// The socket's slot is freed once it has ended.
	ic := hc.t.(*wsTransport).ic
	require.Eventually(t, func() bool {
		e.hub.idle.mu.Lock()
		defer e.hub.idle.mu.Unlock()
		return ic.unwatched && ic.pollSlot == -1
	}, wait, time.Millisecond)
}

// Without the poller, an idle socket's reader waits outside the WebSocket
// library (with a small stack), and a fresh one waits there again after
// each message and control frame: one reading goroutine per socket.
func TestIdleReaderWaitsOutsideTheLibrary(t *testing.T) {
	e := setup(t, Config{PingInterval: -1})
	e.hub.idle = nil
	checkIdleReaders(t, e, func() bool {
		s := readerStacks()
		return len(s) == 1 && strings.Contains(s[0], "hub.(*idleConn).waitReadable") &&
			!strings.Contains(s[0], "websocket.(*Conn).Read")
	})
}

// checkIdleReaders connects, sends a message and pings, and checks idle
// (the state of the readers of an idle socket) after each; then closes.
func checkIdleReaders(t *testing.T, e *env, idle func() bool) *conn {
	t.Helper()
	c := e.dial("t1", "u1", dialOpts{})
	c.ready()
	hcs := e.hub.connsOf("t1", "u1")
	require.Len(t, hcs, 1)
	require.Eventually(t, idle, wait, time.Millisecond, "after connecting")

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, c.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)))
	require.Equal(t, FramePong, c.next().Type)
	require.Eventually(t, idle, wait, time.Millisecond, "after a message")

	require.NoError(t, hcs[0].t.(pingTransport).Ping(ctx), "the pong reached the library")
	require.Eventually(t, idle, wait, time.Millisecond, "after a pong")

	// The peer's close is read too: the connection ends.
	require.NoError(t, c.ws.Close(websocket.StatusNormalClosure, "bye"))
	require.Eventually(t, func() bool { return len(e.hub.connsOf("t1", "u1")) == 0 }, wait, time.Millisecond)
	return hcs[0]
}

// connsOf returns the registered connections of (tenant, user).
func (h *Hub) connsOf(tenant domain.TenantID, user domain.UserID) []*conn {
	k := userKey{tenant, user}
	s := h.shard(k)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.users[k])
}

// The tracker knows where messages end, whatever the chunks the bytes come
// in: control frames inside a fragmented message leave it open.
func TestIdleConnTracksMessageEnds(t *testing.T) {
	masked := func(fin bool, op byte, n int) []byte {
		b0 := op
		if fin {
			b0 |= 0x80
		}
		b := []byte{b0}
		switch {
		case n <= 125:
			b = append(b, 0x80|byte(n))
		case n <= 0xFFFF:
			b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
		default:
			b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
		}
		return append(append(b, 1, 2, 3, 4), make([]byte, n)...)
	}
	type step struct {
		bytes   []byte
		between bool // after these bytes
	}
	steps := []step{
		{masked(true, 0x1, 5), true},
		{masked(false, 0x1, 300), false},
		{masked(true, 0x9, 4), false}, // ping inside the message
		{masked(true, 0x0, 70000), true},
		{masked(true, 0xA, 0), true}, // pong between messages
	}
	for _, chunk := range []int{1, 3, 7, 1 << 20} {
		var c idleConn
		require.True(t, c.betweenMessages())
		for i, st := range steps {
			for b := st.bytes; len(b) > 0; {
				k := min(chunk, len(b))
				c.track(b[:k])
				b = b[k:]
				if len(b) > 0 {
					require.False(t, c.betweenMessages(), "chunk %d, step %d: inside a frame", chunk, i)
				}
			}
			require.Equal(t, st.between, c.betweenMessages(), "chunk %d, step %d", chunk, i)
		}
	}
}

// Over TLS the hijacked connection is no socket of its own: the reader
// reads through the library alone, and everything still works.
func TestSocketOverTLS(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	srv := httptest.NewTLSServer(http.HandlerFunc(e.handle))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	hdr := http.Header{"X-Tenant": {"t1"}, "X-User": {"u1"}}
	ws, _, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(srv.URL, "https")+"/ws",
		&websocket.DialOptions{HTTPClient: srv.Client(), HTTPHeader: hdr})
	require.NoError(t, err)
	defer ws.CloseNow()
	next := func() frame {
		_, p, err := ws.Read(ctx)
		require.NoError(t, err)
		var f frame
		require.NoError(t, json.Unmarshal(p, &f))
		return f
	}
	require.Equal(t, FrameUnreadCount, next().Type)
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)))
	require.Equal(t, FramePong, next().Type)
	e.publish("t1", "u1")
	require.Equal(t, FrameNotification, next().Type)
	require.NoError(t, ws.Close(websocket.StatusNormalClosure, ""))
	require.Eventually(t, func() bool { return metricNow(e.hub.metrics.connections) == 0 }, wait, time.Millisecond)
}

// A peer that drops the TCP connection of an idle socket (no close frame)
// is noticed by the poller: the connection ends and its slot is freed,
// and the next socket, which takes the slot over, is read as usual.
func TestIdleSocketPeerDropAndSlotReuse(t *testing.T) {
	e := setup(t, Config{PingInterval: -1})
	require.NotNil(t, e.hub.idle)
	for i := range 3 {
		user := domain.UserID("u" + strconv.Itoa(i))
		c := rawDial(t, e, string(user), nil)
		require.Equal(t, FrameUnreadCount, c.nextText())
		hcs := e.hub.connsOf("t1", user)
		require.Len(t, hcs, 1)
		ic := hcs[0].t.(*wsTransport).ic
		require.Eventually(t, func() bool {
			e.hub.idle.mu.Lock()
			defer e.hub.idle.mu.Unlock()
			return ic.pollSlot >= 0
		}, wait, time.Millisecond, "waiting in the poller")

		c.send(clientFrame(true, opText, []byte(`{"type":"ping"}`), true))
		require.Equal(t, FramePong, c.nextText())

		require.NoError(t, c.nc.Close())
		require.Eventually(t, func() bool { return len(e.hub.connsOf("t1", user)) == 0 }, wait, time.Millisecond)
		e.hub.idle.mu.Lock()
		require.True(t, ic.unwatched)
		require.Equal(t, int32(-1), ic.pollSlot)
		e.hub.idle.mu.Unlock()
	}
}
