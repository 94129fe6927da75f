package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/notifyhub/notifyhub/domain"
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
// lastSeq, the pending-work state below and every write, so frames are
// ordered without locks; others only enqueue, request a resync or a pong, or
// halt it.
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
	// haltCtx is cancelled by halt: it aborts a History read in progress,
	// so that Close and slow-consumer closes do not wait for the database.
	// Writes do not use it: a cancelled write would tear the socket down
	// before the close handshake could tell the client why.
	haltCtx    context.Context
	haltCancel context.CancelFunc

	// Owned by run's goroutine.
	lastSeq int64 // seq of the last notification sent (or skipped as known)
	slot    bool  // holds one of the hub's History slots
	waiting bool  // counted in notifyhub_ws_history_reads_waiting

	// held is a live notification past a gap, sent after the refill that
	// fills the gap. While it is set the queue is paused: nothing may
	// overtake it.
	held *outbound
	// resyncT runs the jitter of a requested resync; resyncDue means it
	// elapsed and the refill waits for a slot. resyncPending covers both
	// (counted in notifyhub_ws_resyncs_pending).
	resyncT       *time.Timer
	resyncDue     bool
	resyncPending bool
	// countT runs the debounce of an unread-count refresh; countDue means
	// it elapsed and the query waits for a slot.
	countT   *time.Timer
	countDue bool
	// readStateAt is when the last read, unread or read_all update was
	// handled (see countTrusted).
	readStateAt time.Time
}

func (h *Hub) newConn(id Identity, t transport) *conn {
	haltCtx, haltCancel := context.WithCancel(context.Background())
	return &conn{
		h:          h,
		key:        userKey{tenant: id.TenantID, user: id.UserID},
		id:         id,
		t:          t,
		log:        h.log.With(slog.String("tenant", string(id.TenantID)), slog.String("user", string(id.UserID))),
		queue:      make(chan *outbound, h.cfg.QueueSize),
		resyncC:    make(chan struct{}, 1),
		pongC:      make(chan struct{}, 1),
		haltC:      make(chan struct{}),
		haltCtx:    haltCtx,
		haltCancel: haltCancel,
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
		c.haltCancel()
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
		c.h.metrics.refills.WithLabelValues(refillCatchUp).Inc()
		if err := c.refill(ctx); err != nil {
			return err
		}
	} else {
		var maxSeq int64
		err := c.history(ctx, "max seq", func(hctx context.Context) (err error) {
			maxSeq, err = c.h.history.MaxSeq(hctx, c.key.tenant, c.key.user)
			return err
		})
		if err != nil {
			return err
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
	queue := c.queue
	if c.held != nil {
		queue = nil
	}
	// Waiting for a slot is one more case of the loop, not a blocking
	// call: live updates keep flowing while the node's refills queue up.
	var slots chan struct{}
	if c.held != nil || c.resyncDue || c.countDue {
		slots = c.h.slots
	}
	c.setWaiting(slots != nil)
	select {
	case <-c.haltC:
		return errHalted
	case <-ctx.Done():
		return ctx.Err()
	case <-expired:
		c.halt(CloseTokenExpired, "token expired", nil)
		return errHalted
	case ob := <-queue:
		return c.handle(ctx, ob)
	case <-c.resyncC:
		c.scheduleResync()
		return nil
	case <-timerC(c.resyncT):
		c.resyncT, c.resyncDue = nil, true
		return nil
	case <-timerC(c.countT):
		c.countT, c.countDue = nil, true
		return nil
	case slots <- struct{}{}:
		c.setWaiting(false)
		c.slot = true
		c.h.metrics.historyInFlight.Inc()
		defer c.releaseSlot() // normally released by the first History call
		return c.sync(ctx)
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
		c.readStateAt = time.Now()
		c.scheduleCount()
		return nil
	}
	if ob.seq <= c.lastSeq {
		return nil // already sent, from history or an earlier delivery
	}
	if ob.seq > c.lastSeq+1 {
		// A gap: an update was lost on the way (or arrived out of order).
		// History has everything committed, this one included; hold it
		// until the refill at the next free slot.
		c.held = ob
		return nil
	}
	if err := c.sendNotification(ctx, ob); err != nil {
		return err
	}
	if c.countTrusted() {
		return c.write(ctx, ob.count)
	}
	c.scheduleCount()
	return nil
}

// countTrusted reports whether the unread count carried by a notification
// update may be sent as is.
//
// Each update carries the count its transaction computed, right at its
// commit. But every commit publishes from its own goroutine, so two changes
// of one user that commit close together can arrive in either order, and
// the last count to arrive is then not the latest. Seq orders notifications
// among themselves, yet says nothing of their place relative to read,
// unread and read_all updates, which carry no sequence at all. So the hub
// sends a carried count only when no read-state change is recent (the
// common case: no extra query, no delay); otherwise it sends History's
// count, once UnreadCountDebounce has coalesced the burst. The trade-off:
// after read changes the count lags by up to the debounce and costs one
// UnreadCount query per connection (per tab) per burst; and a notification
// delayed in transit by more than ReadRaceWindow behind a later read change
// would still show its stale count until the next change.
func (c *conn) countTrusted() bool {
	if c.countT != nil || c.countDue {
		return false // History's count is on its way and supersedes it
	}
	w := c.h.cfg.ReadRaceWindow
	return w < 0 || c.readStateAt.IsZero() || time.Since(c.readStateAt) >= w
}

// scheduleCount asks for an unread-count refresh from History after the
// debounce; requests meanwhile share it.
func (c *conn) scheduleCount() {
	if c.countT != nil || c.countDue {
		return
	}
	if d := c.h.cfg.UnreadCountDebounce; d > 0 {
		c.countT = time.NewTimer(d)
		return
	}
	c.countDue = true
}

// scheduleResync starts the jitter of a resync refill, unless a refill
// that has not started yet is already pending: it will read everything
// committed before this request anyway.
func (c *conn) scheduleResync() {
	if c.resyncPending || c.held != nil {
		return
	}
	c.setResyncPending(true)
	if j := c.h.cfg.ResyncJitter; j > 0 {
		c.resyncT = time.NewTimer(rand.N(j))
		return
	}
	c.resyncDue = true
}

// sync does the pending History work once step has got a slot: the refill
// (for a gap or a resync) with the held notification, then the count.
func (c *conn) sync(ctx context.Context) error {
	if c.held != nil || c.resyncDue {
		reason := refillResync
		if c.held != nil {
			reason = refillGap
		}
		c.h.metrics.refills.WithLabelValues(reason).Inc()
		// This refill starts after every resync requested so far, so it
		// answers them all, including one still in its jitter.
		c.resyncDue = false
		stopTimer(&c.resyncT)
		c.setResyncPending(false)
		if err := c.refill(ctx); err != nil {
			return err
		}
		if ob := c.held; ob != nil {
			c.held = nil
			if ob.seq > c.lastSeq+1 {
				return fmt.Errorf("%w: history ends at seq %d but seq %d was published", errHistory, c.lastSeq, ob.seq)
			}
			if ob.seq == c.lastSeq+1 {
				if err := c.sendNotification(ctx, ob); err != nil {
					return err
				}
			}
		}
	}
	// After a refill, and for a due refresh: the database's count.
	return c.sendCount(ctx)
}

func (c *conn) sendNotification(ctx context.Context, ob *outbound) error {
	if err := c.write(ctx, ob.frame); err != nil {
		return err
	}
	c.lastSeq = ob.seq
	c.h.metrics.delivered.Inc()
	c.observe(ob)
	return nil
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
		var page []domain.Notification
		err := c.history(ctx, fmt.Sprintf("notifications after %d", c.lastSeq), func(hctx context.Context) (err error) {
			page, err = c.h.history.NotificationsAfter(hctx, c.key.tenant, c.key.user, c.lastSeq, batch)
			return err
		})
		if err != nil {
			return err
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

// sendCount sends History's unread count. It answers every refresh asked
// for so far: the query starts after all of them.
func (c *conn) sendCount(ctx context.Context) error {
	c.countDue = false
	stopTimer(&c.countT)
	var n int
	err := c.history(ctx, "unread count", func(hctx context.Context) (err error) {
		n, err = c.h.history.UnreadCount(hctx, c.key.tenant, c.key.user)
		return err
	})
	if err != nil {
		return err
	}
	return c.write(ctx, encodeCount(n))
}

// history runs one History call under a slot of the node-wide limit: the
// one this connection holds already, or one it waits for. The slot is given
// back as soon as the call returns, before any frame is written, so a slow
// socket never keeps the database's share. A halt cancels both the wait and
// the call.
func (c *conn) history(ctx context.Context, what string, call func(context.Context) error) error {
	if !c.slot {
		if err := c.h.acquire(ctx, c.haltC); err != nil {
			return err
		}
		c.slot = true
	}
	defer c.releaseSlot()
	hctx, cancel := context.WithTimeout(ctx, c.h.cfg.HistoryTimeout)
	defer cancel()
	stop := context.AfterFunc(c.haltCtx, cancel)
	defer stop()
	err := call(hctx)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err() // the connection is over; History is not to blame
	}
	return fmt.Errorf("%w: %s: %w", errHistory, what, err)
}

func (c *conn) releaseSlot() {
	if c.slot {
		c.slot = false
		c.h.release()
	}
}

// setWaiting keeps notifyhub_ws_history_reads_waiting in step with whether
// step is offering to take a slot.
func (c *conn) setWaiting(w bool) {
	if w == c.waiting {
		return
	}
	c.waiting = w
	if w {
		c.h.metrics.historyWaiting.Inc()
	} else {
		c.h.metrics.historyWaiting.Dec()
	}
}

func (c *conn) setResyncPending(p bool) {
	if p == c.resyncPending {
		return
	}
	c.resyncPending = p
	if p {
		c.h.metrics.resyncsPending.Inc()
	} else {
		c.h.metrics.resyncsPending.Dec()
	}
}

// timerC is t's channel, or nil (never ready) when no timer runs.
func timerC(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}

func stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
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

// finish releases what the loop held, closes the socket as the ending cause
// requires and logs it at the level it deserves: routine ends are not
// errors.
func (c *conn) finish(err error) {
	c.releaseSlot()
	c.setWaiting(false)
	c.setResyncPending(false)
	stopTimer(&c.resyncT)
	stopTimer(&c.countT)
	c.haltCancel() // frees the context; halt state is read from haltC only
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
