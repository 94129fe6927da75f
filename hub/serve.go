package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/notifyhub/notifyhub/domain"
)

// ErrHandshake wraps a failed WebSocket upgrade (not a WebSocket request,
// bad version, hijack failure). The handshake code has already answered the
// client, so the caller must only log it, not write a response.
var ErrHandshake = errors.New("websocket handshake failed")

// Identity is the verified owner of a socket. The web layer builds it from
// the token; the hub trusts it.
type Identity struct {
	TenantID domain.TenantID
	UserID   domain.UserID
	// ExpiresAt is the token's expiry: the socket is closed with 4001 then.
	// Zero means the socket does not expire.
	ExpiresAt time.Time
	// Record, when not nil, is the user to record before the catch-up
	// (its first connect, or changed claims). Only for a hub that
	// RecordsUsers: it then records it in the catch-up read's round trip.
	Record *Registration
}

// Registration is a user a socket records on connect.
type Registration struct {
	User domain.User // its tenant and id are the identity's
	// Done, when set, is called once, before Serve returns, with the
	// outcome of the record: nil, or History's error (the socket is then
	// closed with 1013). It is not called when Serve refused the socket,
	// or the socket ended, before the outcome was known: the caller then
	// records the user itself.
	Done func(error)
}

func (r *Registration) user() *domain.User {
	if r == nil {
		return nil
	}
	return &r.User
}

func (r *Registration) done(err error) {
	if r != nil && r.Done != nil {
		r.Done(err)
	}
}

// RecordsUsers reports whether Serve can record an Identity's Record in
// the catch-up read (History is an InboxHeadsRecorder).
func (h *Hub) RecordsUsers() bool { return h.heads != nil && h.heads.rec != nil }

// Serve upgrades r to a WebSocket for id and hands it to the hub.
//
// Before upgrading it returns errors for the web layer to render as JSON:
// one wrapping domain.ErrForbidden for a foreign Origin,
// a *domain.ValidationError for a malformed or unknown ?since=, one wrapping
// domain.ErrUnauthenticated for an empty or expired identity, ErrClosed after
// Close, and other (history) errors as they come. An error wrapping
// ErrHandshake means the upgrade itself failed and was already answered.
// After a successful upgrade Serve sends the catch-up and returns nil: the
// socket lives on without the request (its reader goroutine and the hub's
// delivery goroutines carry it), and what ends it is logged, since the
// response is gone. Serve does not use r or its context after the upgrade.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, id Identity) error {
	if h.closed.Load() {
		h.count(resultUnavailable)
		return fmt.Errorf("hub: serve: %w", ErrClosed)
	}
	if id.TenantID == "" || id.UserID == "" ||
		(id.Record != nil && (id.Record.User.TenantID != id.TenantID || id.Record.User.ID != id.UserID)) {
		h.count(resultUnauthenticated)
		return fmt.Errorf("hub: serve: identity without tenant or user: %w", domain.ErrUnauthenticated)
	}
	if !id.ExpiresAt.IsZero() && !time.Now().Before(id.ExpiresAt) {
		h.count(resultUnauthenticated)
		return fmt.Errorf("hub: serve: token expired: %w", domain.ErrUnauthenticated)
	}
	if !h.originAllowed(r) {
		h.count(resultOriginRefused)
		return fmt.Errorf("hub: origin %q not allowed: %w", r.Header.Get("Origin"), domain.ErrForbidden)
	}
	since, hasSince, err := h.resolveSince(r, id)
	if err != nil {
		var verr *domain.ValidationError
		if errors.As(err, &verr) {
			h.count(resultInvalid)
		} else {
			h.count(resultError)
		}
		return err
	}

	// Origin was checked above, against the same allow-list, so that a
	// refusal is rendered by the web layer as the JSON 403 of the contract;
	// Accept's own check would answer a plain-text 403 instead. The
	// hijacker swaps net/http's two 4 KiB buffers, which the library keeps
	// for the socket's life, for small ones and a writer that coalesces
	// frames (sockio.go).
	hj := &hijacker{ResponseWriter: w, timeout: h.cfg.WriteTimeout}
	ws, err := websocket.Accept(hj, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		h.count(resultHandshakeFailed)
		return fmt.Errorf("hub: %w: %w", ErrHandshake, err)
	}
	ws.SetReadLimit(h.cfg.ReadLimit)
	if hj.w == nil {
		// Accept hijacked through another path: write frame by frame.
		hj.w = &sockWriter{}
	}

	c := h.newConn(id, &wsTransport{ws: ws, w: hj.w, ic: hj.ic})
	// Register before the catch-up read (in start): anything committed
	// after that read is then already on its way to the queue.
	if err := h.register(c); err != nil {
		h.count(resultUnavailable)
		if hj.ic != nil {
			hj.ic.closing.Store(true)
		}
		_ = ws.Close(websocket.StatusGoingAway, "server shutting down")
		_ = ws.CloseNow()
		return nil
	}
	h.count(resultAccepted)
	if len(h.slots) == cap(h.slots) {
		// History reads are queueing, so the catch-up may be long: the
		// 101 goes out now rather than with its first frames. A failed
		// write fails the next one too, which ends the connection.
		_ = hj.w.sendHead()
	}
	ic := hj.ic // not hj: the closure lives as long as the socket
	c.cleanup = func() {
		_ = ws.CloseNow() // also ends the reader
		if h.idle != nil && ic != nil {
			h.idle.unwatch(ic)
		}
	}
	// The socket outlives this request: its reader runs on its own (or the
	// idle poller starts one when it is readable), the hub's pinger pings
	// it, and nothing uses r (or its context) after the upgrade.
	if hj.early || h.idle == nil || hj.ic == nil {
		go c.readLoop(ws, hj.ic, !hj.early)
	} else {
		c.waitIdle(ws, hj.ic)
	}
	if h.cfg.PingInterval > 0 {
		h.pingOnce.Do(func() { go h.pinger() })
	}
	c.start(since, hasSince, id.Record)
	return nil
}

func (h *Hub) count(result string) {
	h.metrics.connectionsTotal.WithLabelValues(result).Inc()
}

// resolveSince parses ?since= and resolves it to its seq in the user's
// inbox. An empty since is the same as none.
func (h *Hub) resolveSince(r *http.Request, id Identity) (int64, bool, error) {
	values := r.URL.Query()["since"]
	if len(values) > 1 {
		return 0, false, domain.Invalid("since", "must be given at most once")
	}
	if len(values) == 0 || values[0] == "" {
		return 0, false, nil
	}
	nid, err := domain.ParseID("since", values[0])
	if err != nil {
		return 0, false, err
	}
	// A reconnect storm resolves many cursors at once: this read takes a
	// History slot like every other one.
	if err := h.acquire(r.Context(), nil); err != nil {
		return 0, false, fmt.Errorf("hub: resolve since %s: wait for a history slot: %w", nid, err)
	}
	defer h.release()
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.HistoryTimeout)
	defer cancel()
	seq, err := h.history.NotificationSeq(ctx, id.TenantID, id.UserID, nid)
	if errors.Is(err, domain.ErrNotFound) {
		// Another user's or tenant's id looks exactly like an unknown one.
		return 0, false, domain.Invalid("since", "not a notification of this user")
	}
	if err != nil {
		return 0, false, fmt.Errorf("hub: resolve since %s: %w", nid, err)
	}
	return seq, true, nil
}

// wsTransport adapts a coder/websocket connection to transport.
type wsTransport struct {
	ws *websocket.Conn
	w  *sockWriter
	ic *idleConn // nil when Accept hijacked through another path
}

func (t *wsTransport) Write(ctx context.Context, frame []byte) error {
	return t.ws.Write(ctx, websocket.MessageText, frame)
}

// WriteBatch frames every message into the corked writer (wsframe.go),
// then sends them in one write under the deadline: no context per write,
// one system call per batch.
func (t *wsTransport) WriteBatch(deadline time.Time, frames [][]byte) error {
	if !t.w.cork() {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		for _, f := range frames {
			if err := t.ws.Write(ctx, websocket.MessageText, f); err != nil {
				return err
			}
		}
		return nil
	}
	if err := t.appendFrames(frames); err != nil {
		return err
	}
	return t.w.uncork(deadline)
}

// CanTry reports whether TryWriteBatch can write without waiting here.
func (t *wsTransport) CanTry() bool { return t.w.canTry() }

// TryWriteBatch is WriteBatch without waiting for room in the socket: what
// it does not take at once stays in the writer, ahead of every later
// write, until FlushPending sends it. It reports whether all went out.
func (t *wsTransport) TryWriteBatch(deadline time.Time, frames [][]byte) (bool, error) {
	if !t.w.cork() {
		return false, errNoConn
	}
	if err := t.appendFrames(frames); err != nil {
		return false, err
	}
	return t.w.tryUncork(deadline)
}

// appendFrames frames each message into the corked writer, in memory (the
// library's own control frames, written meanwhile, land between whole
// frames); on failure it drops the batch and uncorks.
func (t *wsTransport) appendFrames(frames [][]byte) error {
	for _, f := range frames {
		if err := t.w.appendFrame(f); err != nil {
			t.w.abort()
			return err
		}
	}
	return nil
}

// FlushPending sends what TryWriteBatch left, giving up at deadline.
func (t *wsTransport) FlushPending(deadline time.Time) error { return t.w.flushPending(deadline) }

func (t *wsTransport) Close(code CloseCode, reason string) error {
	if t.ic != nil {
		// The library reads the peer's answer itself: it must wait for it.
		t.ic.closing.Store(true)
	}
	return t.ws.Close(websocket.StatusCode(code), reason)
}

// waitIdle leaves the socket to the idle poller, which starts its reader
// once it has something to read: an idle socket has no goroutine.
func (c *conn) waitIdle(ws *websocket.Conn, ic *idleConn) {
	if err := c.h.idle.arm(c, ic); err != nil {
		c.halt(0, "", fmt.Errorf("read: %w", err))
	}
}

// readLoop reads what the client sends: nothing is expected but
// {"type":"ping"}, answered with {"type":"pong"}; other messages are
// ignored. Reading also processes control frames (pongs, the peer's close)
// and enforces ReadLimit: the library closes an oversized message with
// 1009.
//
// The connection has one goroutine at a time for this, the only
// long-lived one. While the socket is idle it waits in ic (idleread.go),
// outside the library, with the smallest stack; once something arrives it
// hands over to a fresh goroutine (readSome) that reads through the
// library, whose read path needs twice the stack, and that hands back to
// a fresh waiter when the socket is idle again. Its grown stack thus goes
// back to the runtime at once, instead of staying with an idle socket
// until the next collection (every ping round would otherwise double the
// stacks of all idle sockets). wait false skips the first wait: the
// client sent frames right behind its handshake, already buffered. Without
// ic (TLS), one goroutine reads through the library and waits inside it.
func (c *conn) readLoop(ws *websocket.Conn, ic *idleConn, wait bool) {
	if ic == nil {
		c.readSome(ws, nil)
		return
	}
	if wait {
		if err := ic.waitReadable(); err != nil {
			c.halt(0, "", fmt.Errorf("read: %w", err))
			return
		}
	}
	go c.readSome(ws, ic)
}

// readSome reads messages through the library until the socket is idle
// (errIdle, only with ic), then leaves the waiting to the idle poller, or
// without one to a fresh readLoop.
func (c *conn) readSome(ws *websocket.Conn, ic *idleConn) {
	for {
		typ, data, err := ws.Read(context.Background())
		if ic != nil && errors.Is(err, errIdle) {
			if c.h.idle != nil {
				c.waitIdle(ws, ic)
				return
			}
			go c.readLoop(ws, ic, true)
			return
		}
		if err != nil {
			c.halt(0, "", fmt.Errorf("read: %w", err))
			return
		}
		if typ == websocket.MessageText && isPing(data) {
			c.requestPong()
		}
	}
}

func isPing(data []byte) bool {
	var msg struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(data, &msg) == nil && msg.Type == "ping"
}

// pingTransport is a transport that can ping its peer and wait for the
// pong.
type pingTransport interface {
	Ping(ctx context.Context) error
}

func (t *wsTransport) Ping(ctx context.Context) error { return t.ws.Ping(ctx) }

// ping detects a peer that vanished without closing (a dropped network
// would otherwise hold the socket until a write fails). The hub's pinger
// runs it on a goroutine that lives until the pong (or WriteTimeout).
func (c *conn) ping(p pingTransport) {
	ctx, cancel := context.WithTimeout(context.Background(), c.h.cfg.WriteTimeout)
	err := p.Ping(ctx)
	cancel()
	if err != nil && !c.halted() {
		c.halt(0, "", fmt.Errorf("ping: %w", err))
	}
}

// logPeerEnd logs a connection ended by the peer or the network. Those are
// routine (tabs close, laptops sleep) except an oversized inbound message.
func logPeerEnd(c *conn, cause error) {
	if errors.Is(cause, websocket.ErrMessageTooBig) {
		c.logAt(slog.LevelInfo, "hub: websocket closed, inbound message over the read limit")
		return
	}
	c.logAt(slog.LevelDebug, "hub: websocket ended by peer", slog.Any("cause", cause),
		slog.Int("status", int(websocket.CloseStatus(cause))))
}
