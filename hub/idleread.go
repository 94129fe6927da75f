package hub

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
)

// An idle socket's reader goroutine waits in idleConn.waitReadable, right
// above the netpoller, rather than inside the WebSocket library's read
// path: that path is about 2.4 KiB of stack deep, which costs every idle
// socket a 4 KiB stack, where the shallow wait (about 0.8 KiB) fits the
// 2 KiB minimum. Reading then happens on a fresh goroutine (readLoop in
// serve.go). The library still reads and handles every frame; idleConn
// only tells it, through errIdle, that nothing more has arrived when it
// asks for the next message's first byte.

// errIdle is what the library's read returns when the socket has nothing
// to read between two messages; the library's state is untouched (no byte
// of a frame was taken), so the next read starts cleanly.
var errIdle = errors.New("hub: socket idle")

// idleConn is the net.Conn the library reads through. It tracks where
// frames and messages end in the bytes it hands over, so that it knows
// when the library, asking for more, is between messages.
type idleConn struct {
	net.Conn
	rc syscall.RawConn
	// closing makes reads block as usual: the library's close handshake
	// reads the peer's answer itself and must not be told "idle".
	closing atomic.Bool

	// The frame tracker, advanced only by reads, which the library
	// serializes.
	head   [14]byte // the header being read
	headN  int
	remain int64 // payload bytes of the current frame not handed over yet
	inMsg  bool  // a fragmented data message has not ended

	// The socket's slot in the idle poller (idlepoll.go), -1 while it has
	// none; unwatched once the connection has ended. Under the poller's mu.
	pollSlot  int32
	unwatched bool
}

// betweenMessages reports whether everything handed over so far ends a
// message (or nothing was).
func (c *idleConn) betweenMessages() bool {
	return c.headN == 0 && c.remain == 0 && !c.inMsg
}

// track advances the frame tracker over p, bytes handed to the library.
func (c *idleConn) track(p []byte) {
	for len(p) > 0 {
		if c.remain > 0 {
			k := int64(len(p))
			if k > c.remain {
				k = c.remain
			}
			c.remain -= k
			p = p[k:]
			continue
		}
		c.head[c.headN] = p[0]
		c.headN++
		p = p[1:]
		if c.headN < 2 {
			continue
		}
		size := 2
		switch c.head[1] & 0x7F {
		case 126:
			size += 2
		case 127:
			size += 8
		}
		if c.head[1]&0x80 != 0 {
			size += 4 // masking key
		}
		if c.headN < size {
			continue
		}
		var length int64
		switch c.head[1] & 0x7F {
		case 126:
			length = int64(c.head[2])<<8 | int64(c.head[3])
		case 127:
			for _, b := range c.head[2:10] {
				length = length<<8 | int64(b)
			}
		default:
			length = int64(c.head[1] & 0x7F)
		}
		if length < 0 {
			length = 0 // the library refuses such a frame and ends the socket
		}
		fin, op := c.head[0]&0x80 != 0, c.head[0]&0x0F
		if op < 0x8 { // data and continuation frames; control frames leave the message as it is
			c.inMsg = !fin
		}
		c.headN, c.remain = 0, length
	}
}
