package hub

import (
	"errors"
	"net"
	"sync"
	"time"
)

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
}

func (w *sockWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.corked {
		*w.buf = append(*w.buf, p...)
		return len(p), nil
	}
	return w.write(p, time.Now().Add(w.timeout))
}

// write sends p, giving up at deadline or up to half a WriteTimeout
// earlier: a deadline already set that leaves at least that much is kept,
// which spares resetting the runtime's timer on most writes.
func (w *sockWriter) write(p []byte, deadline time.Time) (int, error) {
	if w.conn == nil {
		return 0, errNoConn
	}
	if w.deadline.Before(deadline.Add(-w.timeout / 2)) {
		if err := w.conn.SetWriteDeadline(deadline); err != nil {
			return 0, err
		}
		w.deadline = deadline
	}
	return w.conn.Write(p)
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
	return true
}

// uncork writes what was collected in one write, giving up at deadline.
func (w *sockWriter) uncork(deadline time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.corked = false
	var err error
	if len(*w.buf) > 0 {
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
