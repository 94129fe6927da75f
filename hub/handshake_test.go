package hub

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recListener records what the server writes on each accepted connection,
// write by write.
type recListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*recConn
}

func (l *recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rc := &recConn{Conn: c}
	l.mu.Lock()
	l.conns = append(l.conns, rc)
	l.mu.Unlock()
	return rc, nil
}

// writes returns the writes on the n-th accepted connection.
func (l *recListener) writes(t *testing.T, n int) [][]byte {
	t.Helper()
	l.mu.Lock()
	require.Greater(t, len(l.conns), n)
	c := l.conns[n]
	l.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.writes...)
}

type recConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *recConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, bytes.Clone(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// SyscallConn keeps the socket's idle reader (idleread.go) in the test.
func (c *recConn) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}

// recordWrites serves e's hub on a server whose connections record their
// writes.
func recordWrites(t *testing.T, e *env) *recListener {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(e.handle))
	l := &recListener{Listener: srv.Listener}
	srv.Listener = l
	srv.Start()
	t.Cleanup(func() {
		e.hub.Close() // the sockets first
		srv.Close()
	})
	e.srv = srv
	return l
}

// rawDialPath is rawDial for a request path of one's own.
func rawDialPath(t *testing.T, e *env, path, user string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(wait)))
	req := strings.Replace(rawRequest(e, user, ""), "GET /ws ", "GET "+path+" ", 1)
	_, err = nc.Write([]byte(req))
	require.NoError(t, err)
	c := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	resp, err := http.ReadResponse(c.br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	require.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", resp.Header.Get("Sec-WebSocket-Accept"))
	return c
}

// splitWrite parses one server write: the 101 head, then whole frames.
// It returns the head's status and headers and each frame as its type
// (text frames) or "close <code>".
func splitWrite(t *testing.T, w []byte) (*http.Response, []string) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(w))
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	var frames []string
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); errors.Is(err, io.EOF) {
			return resp, frames
		} else {
			require.NoError(t, err, "a frame cut in two")
		}
		n := int(h[1] & 0x7F)
		require.Less(t, n, 127, "no frame that large here")
		if n == 126 {
			var l [2]byte
			_, err := io.ReadFull(br, l[:])
			require.NoError(t, err)
			n = int(binary.BigEndian.Uint16(l[:]))
		}
		payload := make([]byte, n)
		_, err := io.ReadFull(br, payload)
		require.NoError(t, err, "a frame cut in two")
		switch h[0] & 0x0F {
		case opText:
			var f frame
			require.NoError(t, json.Unmarshal(payload, &f))
			frames = append(frames, f.Type)
		case opClose:
			frames = append(frames, "close "+strconv.Itoa(int(binary.BigEndian.Uint16(payload))))
		default:
			frames = append(frames, "op "+strconv.Itoa(int(h[0]&0x0F)))
		}
	}
}

// The 101 goes out in one write with the first frames: the unread count
// of a plain connect.
func TestHandshakeWrittenWithUnreadCount(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{PingInterval: -1}) // no ping among the writes checked
	l := recordWrites(t, e)
	e.hist.insert("t1", "u1", "one")
	c := rawDial(t, e, "u1", nil)
	require.Equal(t, FrameUnreadCount, c.nextText())

	writes := l.writes(t, 0)
	resp, frames := splitWrite(t, writes[0])
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	require.Equal(t, "websocket", resp.Header.Get("Upgrade"))
	require.Equal(t, "Upgrade", resp.Header.Get("Connection"))
	require.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", resp.Header.Get("Sec-WebSocket-Accept"))
	_, err := http.ParseTime(resp.Header.Get("Date"))
	require.NoError(t, err)
	require.Equal(t, []string{FrameUnreadCount}, frames)
}

// A catch-up with since: the 101, then the notifications oldest first,
// then the unread count, all in the first write and in that order.
func TestHandshakeWrittenWithCatchUp(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{PingInterval: -1}) // no ping among the writes checked
	l := recordWrites(t, e)
	first := e.hist.insert("t1", "u1", "one")
	e.hist.insert("t1", "u1", "two")
	e.hist.insert("t1", "u1", "three")
	c := rawDialPath(t, e, "/ws?since="+first.ID, "u1")
	require.Equal(t, FrameNotification, c.nextText())
	require.Equal(t, FrameNotification, c.nextText())
	require.Equal(t, FrameUnreadCount, c.nextText())

	writes := l.writes(t, 0)
	resp, frames := splitWrite(t, writes[0])
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	// The count is its own batch after the page; both after the 101.
	require.Equal(t, []string{FrameNotification, FrameNotification}, frames)
	require.Len(t, writes, 2)
	require.Equal(t, FrameUnreadCount, textType(t, writes[1]))
}

// When History reads queue (every slot taken), the catch-up may wait
// long: the 101 is sent at once, on its own, and the frames follow.
func TestHandshakeNotHeldWhileHistoryQueues(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{MaxConcurrentRefills: 1, PingInterval: -1})
	l := recordWrites(t, e)
	require.NoError(t, e.hub.acquire(context.Background(), nil))
	released := false
	defer func() {
		if !released {
			e.hub.release()
		}
	}()
	c := rawDial(t, e, "u1", nil) // the 101 arrives while the slot is held
	writes := l.writes(t, 0)
	require.Len(t, writes, 1)
	resp, frames := splitWrite(t, writes[0])
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	require.Empty(t, frames)

	e.hub.release()
	released = true
	require.Equal(t, FrameUnreadCount, c.nextText())
}

// A connection that ends before any frame (History down at connect) sends
// the 101 with its close frame.
func TestHandshakeWrittenWithClose(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{PingInterval: -1}) // no ping among the writes checked
	l := recordWrites(t, e)
	e.hist.setFail(errors.New("database down"))
	c := rawDial(t, e, "u1", nil)
	require.Equal(t, CloseTryAgainLater, c.closeCode())

	resp, frames := splitWrite(t, l.writes(t, 0)[0])
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	require.Equal(t, []string{"close 1013"}, frames)
}

// textType is the type of the one text frame w holds.
func textType(t *testing.T, w []byte) string {
	t.Helper()
	require.GreaterOrEqual(t, len(w), 2)
	require.Equal(t, byte(0x80|opText), w[0])
	n := int(w[1] & 0x7F)
	require.Less(t, n, 126)
	require.Len(t, w, 2+n)
	var f frame
	require.NoError(t, json.Unmarshal(w[2:], &f))
	return f.Type
}
