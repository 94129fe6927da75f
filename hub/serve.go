package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
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
}

// Serve upgrades r to a WebSocket for id and runs it until it ends.
//
// Before upgrading it returns errors for the web layer to render as JSON:
// one wrapping domain.ErrForbidden for a foreign Origin,
// a *domain.ValidationError for a malformed or unknown ?since=, one wrapping
// domain.ErrUnauthenticated for an empty or expired identity, ErrClosed after
// Close, and other (history) errors as they come. An error wrapping
// ErrHandshake means the upgrade itself failed and was already answered.
// After a successful upgrade Serve returns nil once the connection is over;
// what ended it is logged, not returned, since the response is gone.
//
// The socket outlives nothing but r's context: routes serving it must not
// carry a request timeout.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, id Identity) error {
	if h.closed.Load() {
		h.count(resultUnavailable)
		return fmt.Errorf("hub: serve: %w", ErrClosed)
	}
	if id.TenantID == "" || id.UserID == "" {
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
	// Accept's own check would answer a plain-text 403 instead.
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		h.count(resultHandshakeFailed)
		return fmt.Errorf("hub: %w: %w", ErrHandshake, err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(h.cfg.ReadLimit)

	c := h.newConn(id, wsTransport{ws})
	// Register before the catch-up read (in run): anything committed after
	// that read is then already on its way to the queue.
	if err := h.register(c); err != nil {
		h.count(resultUnavailable)
		_ = ws.Close(websocket.StatusGoingAway, "server shutting down")
		return nil
	}
	defer h.unregister(c)
	h.count(resultAccepted)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { c.readLoop(ctx, ws) })
	if h.cfg.PingInterval > 0 {
		wg.Go(func() { c.pingLoop(ctx, ws) })
	}
	c.run(ctx, since, hasSince)
	// run has closed the socket as its end required (or found it dead);
	// cancelling and CloseNow release the reader and pinger.
	cancel()
	_ = ws.CloseNow()
	wg.Wait()
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
type wsTransport struct{ ws *websocket.Conn }

func (t wsTransport) Write(ctx context.Context, frame []byte) error {
	return t.ws.Write(ctx, websocket.MessageText, frame)
}

func (t wsTransport) Close(code CloseCode, reason string) error {
	return t.ws.Close(websocket.StatusCode(code), reason)
}

// readLoop reads what the client sends: nothing is expected but
// {"type":"ping"}, answered with {"type":"pong"}; other messages are
// ignored. Reading also processes control frames (pongs, the peer's close)
// and enforces ReadLimit: the library closes an oversized message with 1009.
func (c *conn) readLoop(ctx context.Context, ws *websocket.Conn) {
	for {
		typ, data, err := ws.Read(ctx)
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

// pingLoop detects peers that vanished without closing (a dropped network
// would otherwise hold the socket until a write fails).
func (c *conn) pingLoop(ctx context.Context, ws *websocket.Conn) {
	t := time.NewTicker(c.h.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.haltC:
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, c.h.cfg.WriteTimeout)
		err := ws.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				c.halt(0, "", fmt.Errorf("ping: %w", err))
			}
			return
		}
	}
}

// logPeerEnd logs a connection ended by the peer or the network. Those are
// routine (tabs close, laptops sleep) except an oversized inbound message.
func logPeerEnd(log *slog.Logger, cause error) {
	if errors.Is(cause, websocket.ErrMessageTooBig) {
		log.Info("hub: websocket closed, inbound message over the read limit")
		return
	}
	log.Debug("hub: websocket ended by peer", slog.Any("cause", cause),
		slog.Int("status", int(websocket.CloseStatus(cause))))
}
