package hub

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The hub speaks the server side of RFC 6455 itself: what it needs is
// small (text frames out; pings, pongs, closes and small text messages
// in), and owning it is what lets an idle socket cost so little. An idle
// socket's reader goroutine waits for readability right above the
// netpoller, with no read buffer and a stack that stays at the 2 KiB
// minimum (a library's read path parks several frames deeper, which needs
// 4 KiB), and a socket holds no library state (a general-purpose
// connection, its reader and writer, their locks and channels: about
// 2 KiB).

// Opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// maxControlPayload is the largest payload of a control frame (§5.5).
const maxControlPayload = 125

// closeProtocolError closes a socket whose peer broke the protocol.
const closeProtocolError CloseCode = 1002

// closeWait bounds how long Close waits for the peer's close frame.
const closeWait = 5 * time.Second

// errMessageTooBig ends a read whose message exceeds the read limit; the
// peer has been sent 1009.
var errMessageTooBig = errors.New("websocket: inbound message over the read limit")

// closeError is the close frame the peer sent.
type closeError struct {
	code   CloseCode // 1005 when the frame had no code
	reason string
}

func (e closeError) Error() string {
	return fmt.Sprintf("websocket: peer closed with %d %q", e.code, e.reason)
}

// peerCloseCode returns the code of the peer's close frame in err, or -1.
func peerCloseCode(err error) int {
	var ce closeError
	if errors.As(err, &ce) {
		return int(ce.code)
	}
	return -1
}

// protocolError is a frame that breaks RFC 6455; the peer has been sent
// 1002.
type protocolError string

func (e protocolError) Error() string { return "websocket: protocol error: " + string(e) }

// handshakeError answers a request that is not a WebSocket handshake.
type handshakeError struct {
	status int
	msg    string
}

func (e *handshakeError) Error() string { return e.msg }

// wsConn is one accepted WebSocket: frames go out through w (one write per
// batch), and one reader goroutine at a time calls readMessage.
type wsConn struct {
	nc    net.Conn
	rc    syscall.RawConn
	w     *sockWriter
	limit int64

	// Owned by the reader.
	pend  []byte // bytes read and not yet parsed (a partial frame); nil when none
	msg   []byte // the fragmented data message being assembled
	inMsg bool   // a data message has started and not finished
	msgOp byte   // its opcode

	mu        sync.Mutex
	closeSent bool
	peerDone  chan struct{} // closed once the peer's close frame or the end of reading is seen; made by Close
	readEnded bool
	pongWait  chan struct{} // the Ping in progress waits on it
	pingSeq   uint64
	pingKey   [8]byte
	closed    atomic.Bool
}

// checkHandshake validates a WebSocket opening handshake (RFC 6455 §4.2.1)
// and returns the Sec-WebSocket-Accept value.
func checkHandshake(r *http.Request) (string, *handshakeError) {
	bad := func(status int, format string, args ...any) (string, *handshakeError) {
		return "", &handshakeError{status: status, msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case !r.ProtoAtLeast(1, 1):
		return bad(http.StatusUpgradeRequired, "websocket: handshake request must be at least HTTP/1.1, not %q", r.Proto)
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return bad(http.StatusUpgradeRequired, "websocket: Connection header %q does not contain Upgrade", r.Header.Get("Connection"))
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		return bad(http.StatusUpgradeRequired, "websocket: Upgrade header %q does not contain websocket", r.Header.Get("Upgrade"))
	case r.Method != http.MethodGet:
		return bad(http.StatusMethodNotAllowed, "websocket: handshake method is %q, not GET", r.Method)
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return bad(http.StatusBadRequest, "websocket: unsupported version %q (only 13)", r.Header.Get("Sec-WebSocket-Version"))
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return bad(http.StatusBadRequest, "websocket: want one Sec-WebSocket-Key, got %d", len(keys))
	}
	key := strings.TrimSpace(keys[0])
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		return bad(http.StatusBadRequest, "websocket: invalid Sec-WebSocket-Key %q", key)
	}
	return acceptKey(key), nil
}

// acceptKey is the Sec-WebSocket-Accept answer to key (§4.2.2).
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// headerHasToken reports whether a comma-separated header holds token,
// case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// acceptWS completes the handshake: it answers 101 through w (so that
// what wraps w, such as an access log, sees the status), hijacks the
// connection and keeps none of net/http's buffers. A request that is not a
// handshake is answered here and returned as an error.
func acceptWS(w http.ResponseWriter, r *http.Request, writeTimeout time.Duration, limit int64) (*wsConn, error) {
	accept, herr := checkHandshake(r)
	if herr != nil {
		if herr.status == http.StatusUpgradeRequired {
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "websocket")
		}
		if herr.status == http.StatusBadRequest {
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		http.Error(w, herr.msg, herr.status)
		return nil, herr
	}
	h := w.Header()
	h.Set("Upgrade", "websocket")
	h.Set("Connection", "Upgrade")
	h.Set("Sec-WebSocket-Accept", accept)
	w.WriteHeader(http.StatusSwitchingProtocols)
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("websocket: hijack: %w", err)
	}
	ws := &wsConn{nc: nc, limit: limit, w: &sockWriter{conn: nc, timeout: writeTimeout}}
	// The response head is out (net/http flushed it at the hijack); what
	// the client sent after its request may already sit in net/http's
	// reader: keep it, drop the buffers.
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		ws.pend = append([]byte(nil), early...)
	}
	if brw.Writer.Buffered() > 0 {
		if err := brw.Writer.Flush(); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("websocket: flush handshake: %w", err)
		}
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		_ = nc.Close()
		return nil, fmt.Errorf("websocket: hijacked %T has no file descriptor", nc)
	}
	if ws.rc, err = sc.SyscallConn(); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("websocket: %w", err)
	}
	return ws, nil
}

// readBufs lend the buffer a read lands in; a waiting reader holds none.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 2<<10); return &b }}

// fill waits until the socket is readable and appends what it reads to
// pend. The wait sits right above the netpoller: an idle reader's stack
// stays minimal.
func (ws *wsConn) fill() error {
	var (
		buf  *[]byte
		n    int
		rerr error
	)
	err := ws.rc.Read(func(fd uintptr) bool {
		b := readBufs.Get().(*[]byte)
		for {
			n, rerr = syscall.Read(int(fd), *b)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			readBufs.Put(b)
			return false // wait for readability, then try again
		}
		buf = b
		return true
	})
	if err != nil {
		return err
	}
	defer readBufs.Put(buf)
	if rerr != nil {
		return &net.OpError{Op: "read", Net: "tcp", Err: rerr}
	}
	if n <= 0 {
		return io.EOF
	}
	ws.pend = append(ws.pend, (*buf)[:n]...)
	return nil
}

// readMessage returns the next data message (its opcode and payload),
// answering pings, noting pongs and handling the close handshake on the
// way. Its error ends the reading: a closeError when the peer closed, or
// errMessageTooBig, a protocolError, or the socket's error.
func (ws *wsConn) readMessage() (byte, []byte, error) {
	for {
		op, msg, done, err := ws.parse()
		if err != nil {
			ws.endRead()
			return 0, nil, err
		}
		if done {
			return op, msg, nil
		}
		if err := ws.fill(); err != nil {
			ws.endRead()
			return 0, nil, err
		}
	}
}

// parse takes the frames in pend up to the end of a data message, which
// it returns (done); without one, it consumes what it can and asks for more.
func (ws *wsConn) parse() (op byte, msg []byte, done bool, err error) {
	for {
		p := ws.pend
		if len(p) < 2 {
			return 0, nil, false, nil
		}
		b0, b1 := p[0], p[1]
		fin, rsv, fop := b0&0x80 != 0, b0&0x70, b0&0x0F
		if rsv != 0 {
			return 0, nil, false, ws.fail(closeProtocolError, "reserved bits set")
		}
		if b1&0x80 == 0 {
			return 0, nil, false, ws.fail(closeProtocolError, "unmasked client frame")
		}
		length, head := int64(b1&0x7F), 2
		switch length {
		case 126:
			if len(p) < 4 {
				return 0, nil, false, nil
			}
			length, head = int64(binary.BigEndian.Uint16(p[2:])), 4
		case 127:
			if len(p) < 10 {
				return 0, nil, false, nil
			}
			u := binary.BigEndian.Uint64(p[2:])
			if u > 1<<62 {
				return 0, nil, false, ws.fail(closeProtocolError, "frame length out of range")
			}
			length, head = int64(u), 10
		}
		head += 4 // masking key
		switch fop {
		case opClose, opPing, opPong:
			if !fin || length > maxControlPayload {
				return 0, nil, false, ws.fail(closeProtocolError, "fragmented or oversized control frame")
			}
		case opText, opBinary:
			if ws.inMsg {
				return 0, nil, false, ws.fail(closeProtocolError, "new message before the previous one ended")
			}
		case opContinuation:
			if !ws.inMsg {
				return 0, nil, false, ws.fail(closeProtocolError, "continuation without a message")
			}
		default:
			return 0, nil, false, ws.fail(closeProtocolError, fmt.Sprintf("unknown opcode %d", fop))
		}
		if fop < opClose && int64(len(ws.msg))+length > ws.limit {
			// Refused on its header: an oversized message is never
			// buffered.
			_ = ws.fail(CloseMessageTooBig, fmt.Sprintf("read limited at %d bytes", ws.limit))
			return 0, nil, false, errMessageTooBig
		}
		if int64(len(p)-head) < length {
			return 0, nil, false, nil
		}
		end := head + int(length)
		payload := p[head:end]
		unmask(payload, p[head-4:head])
		switch fop {
		case opClose:
			ws.pend = nil
			return 0, nil, false, ws.peerClosed(payload)
		case opPing:
			// The reply copies the payload: pend may be reused.
			if err := ws.writeControl(opPong, payload); err != nil {
				return 0, nil, false, err
			}
		case opPong:
			ws.notePong(payload)
		default:
			if fop != opContinuation {
				ws.inMsg, ws.msgOp = true, fop
			}
			ws.msg = append(ws.msg, payload...)
			if fin {
				op, msg = ws.msgOp, ws.msg
				ws.msg, ws.inMsg = nil, false
				ws.consume(end)
				return op, msg, true, nil
			}
		}
		ws.consume(end)
	}
}

// consume drops the first n bytes of pend, releasing it once empty so that
// an idle socket holds no read memory.
func (ws *wsConn) consume(n int) {
	if n == len(ws.pend) {
		ws.pend = nil
		return
	}
	ws.pend = ws.pend[n:]
}

func unmask(p, key []byte) {
	for i := range p {
		p[i] ^= key[i&3]
	}
}

// fail sends the peer a close frame for a broken protocol and returns the
// error that ends the read; the socket is closed by whoever handles it.
func (ws *wsConn) fail(code CloseCode, reason string) error {
	ws.mu.Lock()
	sent := ws.closeSent
	ws.closeSent = true
	ws.mu.Unlock()
	if !sent {
		_ = ws.writeClose(code, reason)
	}
	return protocolError(reason)
}

// peerClosed handles the peer's close frame: it answers it (echoing the
// code, §5.5.1) unless the hub's own close is what it answers.
func (ws *wsConn) peerClosed(payload []byte) error {
	ce := closeError{code: 1005}
	switch {
	case len(payload) == 1:
		return ws.fail(closeProtocolError, "close payload of one byte")
	case len(payload) >= 2:
		ce.code, ce.reason = CloseCode(binary.BigEndian.Uint16(payload)), string(payload[2:])
		if !validWireCloseCode(ce.code) {
			return ws.fail(closeProtocolError, fmt.Sprintf("invalid close code %d", ce.code))
		}
	}
	ws.mu.Lock()
	sent := ws.closeSent
	ws.closeSent = true
	ws.mu.Unlock()
	if !sent {
		if ce.code == 1005 {
			_ = ws.writeControl(opClose, nil)
		} else {
			_ = ws.writeClose(ce.code, ce.reason)
		}
	}
	return ce
}

// validWireCloseCode reports whether a close frame may carry code
// (RFC 6455 §7.4).
func validWireCloseCode(code CloseCode) bool {
	switch {
	case code == 1004 || code == 1005 || code == 1006:
		return false
	case code >= 1000 && code <= 1014, code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// endRead records that nothing more will be read and releases a Close
// waiting for the peer's answer.
func (ws *wsConn) endRead() {
	ws.mu.Lock()
	ws.readEnded = true
	if ws.peerDone != nil {
		close(ws.peerDone)
		ws.peerDone = nil
	}
	if ws.pongWait != nil {
		close(ws.pongWait) // Ping sees readEnded: no pong will come
		ws.pongWait = nil
	}
	ws.mu.Unlock()
}

// appendFrameHeader appends an unmasked server frame's header.
func appendFrameHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n <= 125:
		return append(b, byte(n))
	case n <= 0xFFFF:
		return append(b, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

// writeControl sends a control frame on its own, under WriteTimeout.
func (ws *wsConn) writeControl(op byte, payload []byte) error {
	var a [2 + maxControlPayload]byte
	b := appendFrameHeader(a[:0], op, len(payload))
	b = append(b, payload...)
	_, err := ws.w.Write(b)
	return err
}

func (ws *wsConn) writeClose(code CloseCode, reason string) error {
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
	}
	var a [maxControlPayload]byte
	p := binary.BigEndian.AppendUint16(a[:0], uint16(code))
	return ws.writeControl(opClose, append(p, reason...))
}

// writeFrames sends text frames in one write, giving up at deadline.
func (ws *wsConn) writeFrames(deadline time.Time, frames [][]byte) error {
	if ws.closed.Load() {
		return net.ErrClosed
	}
	ws.mu.Lock()
	sent := ws.closeSent
	ws.mu.Unlock()
	if sent {
		return errors.New("websocket: write after close")
	}
	if !ws.w.cork() {
		return errNoConn
	}
	var head [10]byte
	for _, f := range frames {
		ws.w.appendFrame(appendFrameHeader(head[:0], opText, len(f)), f)
	}
	return ws.w.uncork(deadline)
}

// appendFrame adds a frame to the corked batch, header and payload
// together, so that a control frame written meanwhile lands between
// frames.
func (w *sockWriter) appendFrame(head, payload []byte) {
	w.mu.Lock()
	*w.buf = append(append(*w.buf, head...), payload...)
	w.mu.Unlock()
}

// Write sends one text frame, giving up when ctx is done (or after
// WriteTimeout when it has no deadline).
func (ws *wsConn) Write(ctx context.Context, frame []byte) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(ws.w.timeout)
	}
	return ws.writeFrames(deadline, [][]byte{frame})
}

// WriteBatch sends the frames in one write, giving up at deadline.
func (ws *wsConn) WriteBatch(deadline time.Time, frames [][]byte) error {
	return ws.writeFrames(deadline, frames)
}

// Ping sends a ping and waits for its pong, or for ctx.
func (ws *wsConn) Ping(ctx context.Context) error {
	ws.mu.Lock()
	if ws.readEnded || ws.closeSent {
		ws.mu.Unlock()
		return net.ErrClosed
	}
	ws.pingSeq++
	binary.BigEndian.PutUint64(ws.pingKey[:], ws.pingSeq)
	key := ws.pingKey
	wait := make(chan struct{})
	ws.pongWait = wait
	ws.mu.Unlock()
	if err := ws.writeControl(opPing, key[:]); err != nil {
		return err
	}
	select {
	case <-wait:
		ws.mu.Lock()
		ended := ws.readEnded
		ws.mu.Unlock()
		if ended {
			return net.ErrClosed
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("websocket: wait for pong: %w", ctx.Err())
	}
}

// notePong releases the Ping waiting for this pong.
func (ws *wsConn) notePong(payload []byte) {
	ws.mu.Lock()
	if ws.pongWait != nil && string(payload) == string(ws.pingKey[:]) {
		close(ws.pongWait)
		ws.pongWait = nil
	}
	ws.mu.Unlock()
}

// Close performs the close handshake: it sends code and reason, waits (up
// to closeWait) for the peer's close frame, which the reader sees, and
// closes the connection.
func (ws *wsConn) Close(code CloseCode, reason string) error {
	ws.mu.Lock()
	if ws.closeSent {
		ws.mu.Unlock()
		return ws.CloseNow()
	}
	ws.closeSent = true
	var done chan struct{}
	if !ws.readEnded {
		done = make(chan struct{})
		ws.peerDone = done
	}
	ws.mu.Unlock()
	err := ws.writeClose(code, reason)
	if err == nil && done != nil {
		t := time.NewTimer(closeWait)
		select {
		case <-done:
		case <-t.C:
			err = errors.New("websocket: no close frame from the peer in time")
		}
		t.Stop()
	}
	if cerr := ws.CloseNow(); err == nil {
		err = cerr
	}
	return err
}

// closeAbrupt says goodbye with code without waiting for the answer (no
// reader runs yet) and closes the connection.
func (ws *wsConn) closeAbrupt(code CloseCode, reason string) {
	ws.mu.Lock()
	ws.closeSent = true
	ws.mu.Unlock()
	_ = ws.writeClose(code, reason)
	_ = ws.CloseNow()
}

// cleanup is the connection's release once it has ended.
func (ws *wsConn) cleanup() { _ = ws.CloseNow() }

// CloseNow closes the connection without a handshake; it ends the reader.
func (ws *wsConn) CloseNow() error {
	if ws.closed.Swap(true) {
		return nil
	}
	return ws.nc.Close()
}
