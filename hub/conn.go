package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// CloseCode is a WebSocket close status sent by the hub.
type CloseCode int

// Close codes (DESIGN.md §4.5).
const (
	CloseNormal        CloseCode = 1000
	CloseGoingAway     CloseCode = 1001 // hub shutting down
	CloseMessageTooBig CloseCode = 1009 // inbound frame over ReadLimit
	CloseTryAgainLater CloseCode = 1013 // history unavailable: reconnect with since
	CloseTokenExpired  CloseCode = 4001
	CloseSlow          CloseCode = 4008 // did not keep up with its queue
)

// transport is what a connection needs from its socket; the WebSocket
// adapter is in serve.go, and tests use an in-memory one.
type transport interface {
	// Write sends one text frame, giving up when ctx is done.
	Write(ctx context.Context, frame []byte) error
	// Close performs a close handshake with code and reason.
	Close(code CloseCode, reason string) error
}

var (
	// errHalted ends the loop because halt was called; the halt fields say
	// how to close.
	errHalted = errors.New("connection halted")
	// errHistory marks History failures: the socket is closed with 1013 so
	// the client reconnects with since and loses nothing.
	errHistory = errors.New("history unavailable")
)

// conn is one socket of one (tenant, user). A single goroutine (run) owns
// lastSeq and every write, so frames are ordered without locks; others only
// enqueue, request a resync or a pong, or halt it.
type conn struct {
	h     *Hub
	key   userKey
	id    Identity
	t     transport
	log   *slog.Logger
	queue chan *outbound

	resyncC chan struct{} // capacity 1: requests coalesce
	pongC   chan struct{} // capacity 1: one pending pong is enough

	haltOnce   sync.Once
	haltC      chan struct{}
	haltCode   CloseCode // 0: the peer is gone, no handshake possible
	haltReason string
	haltCause  error

	lastSeq int64 // seq of the last notification sent (or skipped as known)
}

func (h *Hub) newConn(id Identity, t transport) *conn {
	return &conn{
		h:       h,
		key:     userKey{tenant: id.TenantID, user: id.UserID},
		id:      id,
		t:       t,
		log:     h.log.With(slog.String("tenant", string(id.TenantID)), slog.String("user", string(id.UserID))),
		queue:   make(chan *outbound, h.cfg.QueueSize),
		resyncC: make(chan struct{}, 1),
		pongC:   make(chan struct{}, 1),
		haltC:   make(chan struct{}),
	}
}

// enqueue is called by Deliver; it never blocks.
func (c *conn) enqueue(ob *outbound) {
	select {
	case c.queue <- ob:
	default:
		if c.halt(CloseSlow, "slow consumer", nil) {
			c.h.metrics.slowCloses.Inc()
		}
	}
}

func (c *conn) requestResync() {
	select {
	case c.resyncC <- struct{}{}:
	default:
	}
}

func (c *conn) requestPong() {
	select {
	case c.pongC <- struct{}{}:
	default:
	}
}

// halt asks the loop to stop and close with code (0: peer gone). Only the
// first call counts; it reports whether this one did.
func (c *conn) halt(code CloseCode, reason string, cause error) bool {
	first := false
	c.haltOnce.Do(func() {
		c.haltCode, c.haltReason, c.haltCause = code, reason, cause
		close(c.haltC)
		first = true
	})
	return first
}

// run sends the catch-up, then live updates, until the connection ends. It
// must be called after register, so nothing committed after the catch-up
// read can be missed: it is either in the read or in the queue (or both,
// and the seq check drops the duplicate).
func (c *conn) run(ctx context.Context, since int64, hasSince bool) {
	var expired <-chan time.Time
	if !c.id.ExpiresAt.IsZero() {
		t := time.NewTimer(time.Until(c.id.ExpiresAt))
		defer t.Stop()
		expired = t.C
	}
	err := c.catchUp(ctx, since, hasSince)
	for err == nil {
		err = c.step(ctx, expired)
	}
	c.finish(err)
}

func (c *conn) catchUp(ctx context.Context, since int64, hasSince bool) error {
	if hasSince {
		c.lastSeq = since
		if err := c.refill(ctx); err != nil {
			return err
		}
	} else {
		hctx, cancel := context.WithTimeout(ctx, c.h.cfg.HistoryTimeout)
		maxSeq, err := c.h.history.MaxSeq(hctx, c.key.tenant, c.key.user)
		cancel()
		if err != nil {
			return fmt.Errorf("%w: max seq: %w", errHistory, err)
		}
		c.lastSeq = maxSeq
	}
	return c.sendCount(ctx)
}

func (c *conn) step(ctx context.Context, expired <-chan time.Time) error {
	// A halt wins over queued work: a slow or closing connection must not
	// keep draining its queue first.
	select {
	case <-c.haltC:
		return errHalted
	default:
	}
	select {
	case <-c.haltC:
		return errHalted
	case <-ctx.Done():
		return ctx.Err()
	case <-expired:
		c.halt(CloseTokenExpired, "token expired", nil)
		return errHalted
	case ob := <-c.queue:
		return c.handle(ctx, ob)
	case <-c.resyncC:
		if err := c.refill(ctx); err != nil {
			return err
		}
		return c.sendCount(ctx)
	case <-c.pongC:
		return c.write(ctx, pongFrame)
	}
}

func (c *conn) handle(ctx context.Context, ob *outbound) error {
	if ob.seq == 0 { // read, unread, read_all
		if err := c.write(ctx, ob.frame); err != nil {
			return err
		}
		c.observe(ob)
		return c.write(ctx, ob.count)
	}
	if ob.seq > c.lastSeq+1 {
		// A gap: an update was lost on the way (or arrived out of order).
		// History has everything committed, this one included.
		if err := c.refill(ctx); err != nil {
			return err
		}
		if ob.seq > c.lastSeq+1 {
			return fmt.Errorf("%w: history ends at seq %d but seq %d was published", errHistory, c.lastSeq, ob.seq)
		}
		if ob.seq <= c.lastSeq {
			return c.sendCount(ctx)
		}
	}
	if ob.seq <= c.lastSeq {
		return nil // already sent, from history or an earlier delivery
	}
	if err := c.write(ctx, ob.frame); err != nil {
		return err
	}
	c.lastSeq = ob.seq
	c.h.metrics.delivered.Inc()
	c.observe(ob)
	return c.write(ctx, ob.count)
}

func (c *conn) observe(ob *outbound) {
	if !ob.committedAt.IsZero() {
		c.h.metrics.latency.Observe(time.Since(ob.committedAt).Seconds())
	}
}

// refill sends every notification after lastSeq from History, oldest first,
// in pages of CatchupBatch.
func (c *conn) refill(ctx context.Context) error {
	batch := c.h.cfg.CatchupBatch
	for {
		hctx, cancel := context.WithTimeout(ctx, c.h.cfg.HistoryTimeout)
		page, err := c.h.history.NotificationsAfter(hctx, c.key.tenant, c.key.user, c.lastSeq, batch)
		cancel()
		if err != nil {
			return fmt.Errorf("%w: notifications after %d: %w", errHistory, c.lastSeq, err)
		}
		progressed := false
		for i := range page {
			n := &page[i]
			if n.Seq <= c.lastSeq {
				continue
			}
			progressed = true
			frame, err := encodeNotification(n)
			if err != nil {
				// Unencodable data would fail for every client forever;
				// skip it rather than wedge the connection.
				c.log.Error("hub: skip unencodable notification", slog.String("id", n.ID), slog.Any("err", err))
				c.lastSeq = n.Seq
				continue
			}
			if err := c.write(ctx, frame); err != nil {
				return err
			}
			c.lastSeq = n.Seq
			c.h.metrics.delivered.Inc()
		}
		if len(page) < batch {
			return nil
		}
		if !progressed {
			return fmt.Errorf("%w: a full page after seq %d held nothing newer", errHistory, c.lastSeq)
		}
	}
}

func (c *conn) sendCount(ctx context.Context) error {
	hctx, cancel := context.WithTimeout(ctx, c.h.cfg.HistoryTimeout)
	n, err := c.h.history.UnreadCount(hctx, c.key.tenant, c.key.user)
	cancel()
	if err != nil {
		return fmt.Errorf("%w: unread count: %w", errHistory, err)
	}
	return c.write(ctx, encodeCount(n))
}

// write sends one frame under its own timeout, unless the connection has
// been halted in the meantime.
func (c *conn) write(ctx context.Context, frame []byte) error {
	select {
	case <-c.haltC:
		return errHalted
	default:
	}
	wctx, cancel := context.WithTimeout(ctx, c.h.cfg.WriteTimeout)
	defer cancel()
	if err := c.t.Write(wctx, frame); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// finish closes the socket as the ending cause requires and logs it at the
// level it deserves: routine ends are not errors.
func (c *conn) finish(err error) {
	select {
	case <-c.haltC:
		// Whatever ended the loop (often a write that failed because the
		// peer stopped reading), the halt says why and how to close.
		err = errHalted
	default:
	}
	switch {
	case errors.Is(err, errHalted):
		if c.haltCode == 0 {
			logPeerEnd(c.log, c.haltCause)
			return
		}
		cerr := c.t.Close(c.haltCode, c.haltReason)
		level := slog.LevelDebug
		if c.haltCode == CloseSlow {
			level = slog.LevelInfo
		}
		c.log.Log(context.Background(), level, "hub: websocket closed",
			slog.Int("code", int(c.haltCode)), slog.String("reason", c.haltReason), slog.Any("close_err", cerr))
	case errors.Is(err, errHistory):
		c.log.Warn("hub: closing websocket, history read failed", slog.Any("err", err))
		_ = c.t.Close(CloseTryAgainLater, "history unavailable, reconnect with since")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		c.log.Debug("hub: websocket context ended", slog.Any("err", err))
	default:
		// A failed or timed-out write: the peer is gone or not reading;
		// the transport is already unusable.
		c.log.Debug("hub: websocket write failed", slog.Any("err", err))
	}
}
