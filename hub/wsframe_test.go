package hub

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The header bytes RFC 6455 §5.7 gives for unmasked text frames, and the
// three length encodings at their limits.
func TestAppendTextFrameHeaders(t *testing.T) {
	t.Parallel()
	require.Equal(t, []byte{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}, appendTextFrame(nil, []byte("Hello")))
	require.Equal(t, []byte{0x81, 0x00}, appendTextFrame(nil, nil))
	for _, c := range []struct {
		n    int
		head []byte
	}{
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0x00, 126}},
		{65535, []byte{0x81, 126, 0xff, 0xff}},
		{65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		f := appendTextFrame([]byte("prefix"), bytes.Repeat([]byte("x"), c.n))
		require.Equal(t, append([]byte("prefix"), c.head...), f[:6+len(c.head)], "length %d", c.n)
		require.Len(t, f, 6+len(c.head)+c.n)
	}
}

// A real WebSocket client (the library's reader, which checks every
// header) reads the hub's frames of every length class: unread counts
// (under 126 bytes), notifications of 16-bit lengths up to the class's
// edge, and of 64-bit lengths.
func TestHubFramesReadByAClient(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	c := e.dial("t1", "u1", dialOpts{})
	c.ready()
	for _, size := range []int{0, 1, 200, 65535 - 400, 65535 - 250, 65535, 70000, 1 << 20} {
		n := e.hist.insert("t1", "u1", strings.Repeat("b", size))
		e.hub.Deliver(e.update(n))
		f := c.next()
		require.Equal(t, FrameNotification, f.Type)
		require.Len(t, f.Notification.Body, size)
		require.Equal(t, n.Seq, f.Notification.Seq)
		f = c.next()
		require.Equal(t, FrameUnreadCount, f.Type)
	}
}

// Once the library has written a close frame (answering a peer's close,
// or the hub's own Close), no data frame is framed after it.
func TestNoDataFrameAfterClose(t *testing.T) {
	t.Parallel()
	server, _ := tcpPair(t)
	w := &sockWriter{conn: server, timeout: time.Minute}
	require.True(t, w.cork())
	require.NoError(t, w.appendFrame([]byte("before")))
	require.NoError(t, w.uncork(time.Now().Add(time.Minute)))
	_, err := w.Write([]byte{0x88, 0x02, 0x03, 0xe8}) // the library's close frame, 1000
	require.NoError(t, err)
	require.True(t, w.cork())
	require.ErrorIs(t, w.appendFrame([]byte("after")), errCloseSent)
	w.abort()
	// A ping (opcode 9) or pong (10) is not a close.
	require.False(t, isCloseFrame([]byte{0x89, 0x00}))
	require.False(t, isCloseFrame([]byte{0x8a, 0x00}))
	require.True(t, isCloseFrame([]byte{0x88, 0x00}))
}
