package hub

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// Sizes of the buffers the WebSocket library reads and writes through.
// net/http hands over 4 KiB each, kept for the socket's life; the hub
// writes through sockWriter (which has its own batch buffer, borrowed only
// while writing) and reads little more than pings and close frames (a
// client's ping message is 21 bytes; a frame header at most 14, and
// payloads larger than the buffer are read into the library's own).
const (
	readBufSize  = 64
	writeBufSize = 128
)

// hijacker wraps the ResponseWriter given to websocket.Accept: its Hijack
// returns small buffers over a sockWriter instead of net/http's, and the
// connection as an idleConn (idleread.go) when it is a socket.
type hijacker struct {
	http.ResponseWriter
	timeout time.Duration
	w       *sockWriter
	ic      *idleConn // nil: not a socket of its own (TLS)
	early   bool      // the client sent bytes after its request: read them first
	// switching: the library wrote the 101, held back for the socket
	// writer to send with the first frames (handshake.go).
	switching bool
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Whatever net/http still buffers must not be lost: the response head
	// it may hold, and bytes the client sent after its request.
	if brw.Writer.Buffered() > 0 {
		if err := brw.Writer.Flush(); err != nil {
			_ = conn.Close()
			return nil, nil, err
		}
	}
	var nc net.Conn = conn
	if ic := newIdleConn(conn); ic != nil {
		nc, h.ic = ic, ic
	}
	var src io.Reader = nc
	size := readBufSize
	n := brw.Reader.Buffered()
	if n > 0 {
		early, _ := brw.Reader.Peek(n)
		if h.ic != nil {
			h.ic.track(early) // handed to the library ahead of what ic reads
		}
		src = io.MultiReader(bytes.NewReader(bytes.Clone(early)), nc)
		size = max(size, n)
		h.early = true
	}
	br := bufio.NewReaderSize(src, size)
	if n > 0 {
		// Load them into br, where the library looks for buffered bytes.
		if _, err := br.Peek(n); err != nil {
			_ = conn.Close()
			return nil, nil, err
		}
	}
	h.w = &sockWriter{conn: conn, timeout: h.timeout, raw: rawConnOf(conn)}
	if h.switching {
		h.w.head = switchingHead(h.ResponseWriter.Header())
	}
	return nc, bufio.NewReadWriter(br, bufio.NewWriterSize(h.w, writeBufSize)), nil
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (h *hijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// batchPool lends the buffers frames are coalesced in while a batch is
// written; an idle connection holds none.
var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// maxPooledBatch keeps a rare huge batch (a catch-up page) from pinning
// memory in the pool.
const maxPooledBatch = 256 << 10

var errNoConn = errors.New("hub: socket writer without a connection")

// sockWriter is what the WebSocket library's buffered writer flushes into.
// Corked (while the hub writes a batch of frames), it collects the bytes
// and sends them in one write at uncork, under one deadline; otherwise (the
// library's own control frames: pongs, close) it writes through, under a
// fresh WriteTimeout deadline.
type sockWriter struct {
	mu       sync.Mutex
	conn     net.Conn
	timeout  time.Duration
	deadline time.Time // the write deadline set on conn
	corked   bool
	buf      *[]byte
	// raw writes without blocking (tryUncork); nil where it cannot (TLS,
	// systems without it).
	raw syscall.RawConn
	// pending is what a tryUncork left unsent: it goes out ahead of
	// anything else, on the next write of any kind.
	pending []byte
	// closeSent: the library wrote a close frame; no data frame may follow
	// it (RFC 6455 §5.5.1).
	closeSent bool
	// head is the upgrade's 101 answer until it is sent, ahead of the
	// first bytes written (handshake.go).
	head []byte
}

func (w *sockWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if isCloseFrame(p) {
		w.closeSent = true
	}
	if w.corked {
		*w.buf = append(*w.buf, p...)
		return len(p), nil
	}
	if w.head != nil {
		// The library's own first frame (a close, a ping): still one write.
		buf := append(w.head, p...)
		w.head = nil
		if _, err := w.write(buf, time.Now().Add(w.timeout)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return w.write(p, time.Now().Add(w.timeout))
}

// sendHead sends the held 101 answer on its own, if it is still held.
func (w *sockWriter) sendHead() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.head == nil || w.corked {
		return nil
	}
	head := w.head
	w.head = nil
	_, err := w.write(head, time.Now().Add(w.timeout))
	return err
}

// write sends p, giving up at deadline or up to half a WriteTimeout
// earlier: a deadline already set that leaves at least that much is kept,
// which spares resetting the runtime's timer on most writes.
func (w *sockWriter) write(p []byte, deadline time.Time) (int, error) {
	if w.conn == nil {
		return 0, errNoConn
	}
	if err := w.keepDeadline(deadline); err != nil {
		return 0, err
	}
	if len(w.pending) > 0 {
		if _, err := w.conn.Write(w.pending); err != nil {
			return 0, err
		}
		w.pending = nil // an idle connection keeps no buffer
	}
	if len(p) == 0 {
		return 0, nil
	}
	return w.conn.Write(p)
}

// keepDeadline sets the write deadline to deadline unless the one set
// leaves at least half a WriteTimeout before it.
func (w *sockWriter) keepDeadline(deadline time.Time) error {
	if w.deadline.Before(deadline.Add(-w.timeout / 2)) {
		if err := w.conn.SetWriteDeadline(deadline); err != nil {
			return err
		}
		w.deadline = deadline
	}
	return nil
}

// canTry reports whether tryUncork can write without blocking. conn and
// raw are set when the writer is made and never change: no lock.
func (w *sockWriter) canTry() bool { return w.raw != nil && w.conn != nil }

// tryUncork is uncork without blocking: it writes what the socket takes at
// once and keeps the rest (pending) for the next write, which
// flushPending makes from a goroutine that may wait. It reports whether
// everything went out.
func (w *sockWriter) tryUncork(deadline time.Time) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.corked = false
	defer w.release()
	buf := *w.buf
	switch {
	case len(buf) == 0:
		return len(w.pending) == 0, nil
	case w.raw == nil || w.conn == nil || len(w.pending) > 0:
		w.pending = append(w.pending, buf...)
		return false, nil
	}
	// The deadline is the one a later blocking write of the rest gives up
	// at; a raw write also fails at once on one already past.
	if err := w.keepDeadline(deadline); err != nil {
		return false, err
	}
	n, err := writeNow(w.raw, buf)
	if err != nil {
		return false, err
	}
	if n < len(buf) {
		w.pending = append([]byte(nil), buf[n:]...)
		return false, nil
	}
	return true, nil
}

// flushPending writes what tryUncork left, giving up at deadline.
func (w *sockWriter) flushPending(deadline time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) == 0 {
		return nil
	}
	_, err := w.write(nil, deadline)
	return err
}

// errCloseSent refuses a data frame after the close frame.
var errCloseSent = errors.New("hub: websocket close frame already sent")

// appendFrame adds payload, framed as a text message, to the batch being
// collected (the writer must be corked).
func (w *sockWriter) appendFrame(payload []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.closeSent:
		return errCloseSent
	case !w.corked:
		return errors.New("hub: frame appended to a writer that is not collecting")
	}
	*w.buf = appendTextFrame(*w.buf, payload)
	return nil
}

// cork starts collecting; false when this writer cannot (no connection).
func (w *sockWriter) cork() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn == nil {
		return false
	}
	w.corked = true
	w.buf = batchPool.Get().(*[]byte)
	if w.head != nil {
		*w.buf = append(*w.buf, w.head...)
		w.head = nil
	}
	return true
}

// uncork writes what was collected in one write, giving up at deadline.
func (w *sockWriter) uncork(deadline time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.corked = false
	var err error
	if len(*w.buf) > 0 || len(w.pending) > 0 {
		_, err = w.write(*w.buf, deadline)
	}
	w.release()
	return err
}

// abort drops what was collected (the connection is failing anyway).
func (w *sockWriter) abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.corked = false
	w.release()
}

func (w *sockWriter) release() {
	if cap(*w.buf) <= maxPooledBatch {
		*w.buf = (*w.buf)[:0]
		batchPool.Put(w.buf)
	}
	w.buf = nil
}
