package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
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
// adapter is in serve.go, and tests use in-memory ones.
type transport interface {
	// Write sends one text frame, giving up when ctx is done.
	Write(ctx context.Context, frame []byte) error
	// Close performs a close handshake with code and reason.
	Close(code CloseCode, reason string) error
}

// batchTransport is a transport that can send several frames in one go
// (one write system call for the WebSocket adapter). The connection uses
// it when its transport has it.
type batchTransport interface {
	transport
	// WriteBatch sends the frames, in order, giving up at deadline.
	WriteBatch(deadline time.Time, frames [][]byte) error
}

// tryTransport is a batchTransport that can also write without waiting
// for room in the socket, so a broadcast's fan-out workers can write to
// many sockets from one goroutine (runInline).
type tryTransport interface {
	batchTransport
	// CanTry reports whether TryWriteBatch works on this connection.
	CanTry() bool
	// TryWriteBatch sends what the socket takes at once and keeps the rest,
	// ahead of every later write, for FlushPending; it reports whether
	// everything went out.
	TryWriteBatch(deadline time.Time, frames [][]byte) (bool, error)
	// FlushPending sends what TryWriteBatch kept, giving up at deadline.
	FlushPending(deadline time.Time) error
}

var (
	// errHalted ends the loop because halt was called; the halt fields say
	// how to close.
	errHalted = errors.New("connection halted")
	// errHistory marks History failures: the socket is closed with 1013 so
	// the client reconnects with since and loses nothing.
	errHistory = errors.New("history unavailable")
)

// conn is one socket of one (tenant, user).
//
// It has no goroutine of its own while idle. Whoever gives it work (a
// Deliver, a timer, a halt) starts one if none runs; that goroutine, the
// "loop", drains the work, writes what it produced in one batch, and ends
// once nothing is left. Only one loop runs at a time (running, under mu),
// so the loop-owned fields below need no lock and frames stay ordered. An
// idle connection thus costs its reader goroutine and a few small structs,
// and a busy one writes every frame queued meanwhile in one system call.
type conn struct {
	h   *Hub
	key userKey
	// expiresAt is the token's expiry (zero: none); the identity's tenant
	// and user are in key.
	expiresAt time.Time
	t         transport

	// cleanup, when set, runs once the connection has ended (Serve
	// releases the socket with it); done, when set, is closed then.
	cleanup func()
	done    chan struct{}

	mu      sync.Mutex
	running bool        // a loop owns the connection (or its creator, until start)
	pending []*outbound // queued updates, at most QueueSize
	// Requests for the loop, taken together with pending.
	resyncReq   bool
	pongReq     bool
	resyncFired uint32 // generation of the resync jitter timer that fired
	countFired  uint32 // generation of the count debounce timer that fired
	// cancelHistory aborts the History call in progress, so that a halt
	// (slow consumer, Close) never waits for the database.
	cancelHistory context.CancelFunc
	// wake tells a loop waiting for a History slot that work arrived, or
	// the halt.
	wake chan struct{}

	haltOnce   sync.Once
	haltFlag   atomic.Bool
	haltCode   CloseCode // 0: the peer is gone, no handshake possible
	haltReason string
	haltCause  error

	// expiryIdx is the connection's place in the hub's expiries (4001 at
	// the token's expiry), -1 while it is not in them. Under their mu.
	expiryIdx int32

	// Owned by the loop.
	batch   []*outbound // the updates being handled
	out     [][]byte    // frames to write in the next batch
	sent    []*outbound // updates whose frames are in out, for metrics
	lastSeq int64       // seq of the last notification sent (or skipped as known)
	slot    bool        // holds one of the hub's History slots
	waiting bool        // counted in notifyhub_ws_history_reads_waiting
	// tryWrites: the loop runs inline (runInline) and writes without
	// waiting; writePending: such a write left bytes in the transport,
	// which the next flush sends first.
	tryWrites    bool
	writePending bool
	// held is a live notification past a gap, sent after the refill that
	// fills the gap. While it is set the queue is paused: nothing may
	// overtake it.
	held *outbound
	// resyncT runs the jitter of a requested resync; resyncDue means it
	// elapsed and the refill waits for a slot. resyncPending covers both
	// (counted in notifyhub_ws_resyncs_pending).
	resyncT       *time.Timer
	resyncGen     uint32
	resyncDue     bool
	resyncPending bool
	// countT runs the debounce of an unread-count refresh; countDue means
	// it elapsed and the query waits for a slot.
	countT   *time.Timer
	countGen uint32
	countDue bool
	// readStateAt is when the last read, unread or read_all update was
	// handled (see countTrusted).
	readStateAt time.Time
}

// newConn returns a connection owned by the caller, who must call start
// (or run) after register.
func (h *Hub) newConn(id Identity, t transport) *conn {
	return &conn{
		h:         h,
		key:       userKey{tenant: id.TenantID, user: id.UserID},
		expiresAt: id.ExpiresAt,
		t:         t,
		running:   true,
		wake:      make(chan struct{}, 1),
		expiryIdx: -1,
	}
}

// post queues ob without blocking. When no loop runs it reports true: the
// caller owns the connection's next loop and must start it (startLoop(c)),
// which it may do after posting more, so that they go out in one write.
// A connection whose queue is full is halted as slow (4008) instead.
func (c *conn) post(ob *outbound) bool {
	c.mu.Lock()
	if len(c.pending) >= c.h.cfg.QueueSize {
		c.mu.Unlock()
		if c.halt(CloseSlow, "slow consumer", nil) {
			c.h.metrics.slowCloses.Inc()
		}
		return false
	}
	c.pending = append(c.pending, ob)
	if c.running {
		c.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
		return false
	}
	c.running = true
	c.mu.Unlock()
	return true
}

func (c *conn) requestResync() {
	c.mu.Lock()
	c.resyncReq = true
	c.kickLocked()
}

func (c *conn) requestPong() {
	c.mu.Lock()
	c.pongReq = true
	c.kickLocked()
}

// kickLocked makes sure a loop will see the work just posted: it starts
// one, or wakes the one that runs. It unlocks mu.
func (c *conn) kickLocked() {
	if c.running {
		c.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
		return
	}
	c.running = true
	c.mu.Unlock()
	startLoop(c)
}

// halt asks the loop to stop and close with code (0: peer gone). Only the
// first call counts; it reports whether this one did.
func (c *conn) halt(code CloseCode, reason string, cause error) bool {
	first := false
	c.haltOnce.Do(func() {
		c.haltCode, c.haltReason, c.haltCause = code, reason, cause
		c.haltFlag.Store(true)
		first = true
	})
	if first {
		c.mu.Lock()
		cancel := c.cancelHistory
		c.kickLocked()
		if cancel != nil {
			cancel()
		}
	}
	return first
}

func (c *conn) halted() bool { return c.haltFlag.Load() }

// run is start for callers that want to wait: it returns once the
// connection has ended, which ctx's end brings about (as a peer that left).
func (c *conn) run(ctx context.Context, since int64, hasSince bool) {
	c.done = make(chan struct{})
	stop := context.AfterFunc(ctx, func() { c.halt(0, "", ctx.Err()) })
	defer stop()
	c.start(since, hasSince, nil)
	<-c.done
}

// start sends the catch-up, then the live updates queued meanwhile, on the
// calling goroutine, and returns once the connection is idle (or over);
// later work runs on loops of its own. It must be called after register,
// so nothing committed after the catch-up read can be missed: it is either
// in the read or in the queue (or both, and the seq check drops the
// duplicate). rec, when not nil, is recorded before the catch-up.
func (c *conn) start(since int64, hasSince bool, rec *Registration) {
	if !c.expiresAt.IsZero() {
		c.h.expiries.add(c)
	}
	if err := c.catchUp(since, hasSince, rec); err != nil {
		c.finish(err)
		return
	}
	c.loop()
}

func (c *conn) catchUp(since int64, hasSince bool, rec *Registration) error {
	if rec != nil && (hasSince || !c.h.RecordsUsers()) {
		// The head read records the user; here its figures are not
		// needed (or, without a recorder, the caller records it).
		if err := c.record(rec); err != nil {
			return err
		}
		rec = nil
	}
	if hasSince {
		c.lastSeq = since
		c.h.metrics.refills.WithLabelValues(refillCatchUp).Inc()
		if err := c.refill(); err != nil {
			return err
		}
		return c.sendCount()
	}
	if c.h.heads != nil {
		// Both figures in one read, shared with the sockets starting
		// meanwhile: a connection storm is mostly these. The batch takes
		// one History slot for its one query; the socket takes none.
		var unread int
		err := c.historyCall("inbox head", func(hctx context.Context) (err error) {
			c.lastSeq, unread, err = c.h.heads.read(hctx, c.key, rec.user())
			return err
		})
		c.recorded(rec, err)
		if err != nil {
			return err
		}
		return c.writeCount(unread)
	}
	err := c.history("max seq", func(hctx context.Context) (err error) {
		c.lastSeq, err = c.h.history.MaxSeq(hctx, c.key.tenant, c.key.user)
		return err
	})
	if err != nil {
		return err
	}
	return c.sendCount()
}

// record records rec's user in an inbox-head read whose figures it drops
// (a socket with since catches up from there). Without a recorder it
// leaves rec to the caller (its Done is not called).
func (c *conn) record(rec *Registration) error {
	if !c.h.RecordsUsers() {
		return nil
	}
	err := c.historyCall("record user", func(hctx context.Context) error {
		_, _, err := c.h.heads.read(hctx, c.key, &rec.User)
		return err
	})
	c.recorded(rec, err)
	return err
}

// recorded tells rec the outcome of its record: nil, or History's error.
// A socket that ended meanwhile leaves it untold (the caller records the
// user itself), since its batch may or may not have run.
func (c *conn) recorded(rec *Registration, err error) {
	if !errors.Is(err, errHalted) {
		rec.done(err)
	}
}

// loop handles the connection's work until there is none left (it then
// returns, and the next piece of work starts a new loop) or the
// connection ends.
func (c *conn) loop() {
	for {
		if c.halted() {
			c.finish(errHalted)
			return
		}
		worked, err := c.step()
		if err != nil {
			c.finish(err)
			return
		}
		if worked {
			continue
		}
		if c.needsSlot() {
			// Waiting for a slot is one more wait of the loop, not a
			// blocking call: live updates keep flowing while the node's
			// refills queue up.
			c.setWaiting(true)
			select {
			case <-c.wake: // work or a halt
			case c.h.slots <- struct{}{}:
				c.setWaiting(false)
				c.slot = true
				c.h.metrics.historyInFlight.Inc()
				err := c.sync()
				c.releaseSlot() // normally released by the first History call
				if err != nil {
					c.finish(err)
					return
				}
			}
			continue
		}
		if c.park() {
			return
		}
	}
}

// runInline runs c's loop on the calling goroutine, one of a broadcast's
// fan-out workers that go through many connections in turn, for as long as
// it never waits: its writes take only what the socket has room for. When
// a write leaves bytes behind, or the loop has anything to wait for (a
// History slot, a halt's close handshake), the loop moves to a goroutine
// of its own, as startLoop would have run it, and the worker goes on to
// the next connection. One goroutine hand-off per connection cost the
// server about a fifth of its CPU per broadcast delivery.
//
// The caller owns c's loop (post reported true).
func (c *conn) runInline() {
	for {
		if c.halted() {
			break
		}
		c.tryWrites = true
		worked, err := c.step()
		c.tryWrites = false
		if err != nil {
			connLoops.run(func() { c.finish(err) })
			return
		}
		if c.writePending {
			c.h.metrics.fanOutHandoffs.Inc()
			break
		}
		if worked {
			continue
		}
		if c.needsSlot() {
			break
		}
		if c.park() {
			return
		}
	}
	startLoop(c)
}

// canRunInline reports whether c's writes can be made without waiting.
func (c *conn) canRunInline() bool {
	tt, ok := c.t.(tryTransport)
	return ok && tt.CanTry()
}

// step takes the queued updates and requests and handles them, writing
// what they produce in one batch. It reports whether there was any.
func (c *conn) step() (bool, error) {
	c.mu.Lock()
	if c.held == nil {
		c.batch, c.pending = c.pending, c.batch[:0]
	}
	resync, pong := c.resyncReq, c.pongReq
	resyncFired, countFired := c.resyncFired, c.countFired
	c.resyncReq, c.pongReq, c.resyncFired, c.countFired = false, false, 0, 0
	c.mu.Unlock()
	items := c.batch
	worked := len(items) > 0 || resync || pong || resyncFired != 0 || countFired != 0

	if resync {
		c.scheduleResync()
	}
	if resyncFired != 0 && resyncFired == c.resyncGen && c.resyncT != nil {
		c.resyncT, c.resyncDue = nil, true
	}
	if countFired != 0 && countFired == c.countGen && c.countT != nil {
		c.countT, c.countDue = nil, true
	}
	if pong {
		c.out = append(c.out, pongFrame)
	}
	for i, ob := range items {
		c.handle(ob)
		if c.held != nil && i+1 < len(items) {
			// The queue pauses behind the held update: put the rest back,
			// ahead of what arrived meanwhile.
			c.mu.Lock()
			c.pending = append(append([]*outbound(nil), items[i+1:]...), c.pending...)
			c.mu.Unlock()
			break
		}
	}
	clear(c.batch)
	c.batch = c.batch[:0]
	return worked, c.flush()
}

// park ends the loop if no work arrived since step looked; it reports
// whether it did.
func (c *conn) park() bool {
	c.setWaiting(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	if (len(c.pending) > 0 && c.held == nil) || c.resyncReq || c.pongReq || c.resyncFired != 0 || c.countFired != 0 {
		return false
	}
	if c.halted() {
		return false
	}
	// Idle connections keep no large buffers.
	if cap(c.batch) > 64 {
		c.batch = nil
	}
	if cap(c.out) > 64 {
		c.out, c.sent = nil, nil
	}
	c.running = false
	return true
}

func (c *conn) needsSlot() bool { return c.held != nil || c.resyncDue || c.countDue }

func (c *conn) handle(ob *outbound) {
	if ob.seq == 0 { // read, unread, read_all
		c.out = append(c.out, ob.frame)
		c.sent = append(c.sent, ob)
		c.readStateAt = time.Now()
		c.scheduleCount()
		return
	}
	if ob.seq <= c.lastSeq {
		return // already sent, from history or an earlier delivery
	}
	if ob.seq > c.lastSeq+1 {
		// A gap: an update was lost on the way (or arrived out of order).
		// History has everything committed, this one included; hold it
		// until the refill at the next free slot.
		c.held = ob
		return
	}
	c.sendNotification(ob)
	if c.countTrusted() {
		c.out = append(c.out, ob.count)
		return
	}
	c.scheduleCount()
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
		c.countGen++
		gen := c.countGen
		c.countT = time.AfterFunc(d, func() {
			c.mu.Lock()
			c.countFired = gen
			c.kickLocked()
		})
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
		c.resyncGen++
		gen := c.resyncGen
		c.resyncT = time.AfterFunc(rand.N(j), func() {
			c.mu.Lock()
			c.resyncFired = gen
			c.kickLocked()
		})
		return
	}
	c.resyncDue = true
}

// sync does the pending History work once the loop has got a slot: the
// refill (for a gap or a resync) with the held notification, then the
// count.
func (c *conn) sync() error {
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
		if err := c.refill(); err != nil {
			return err
		}
		if ob := c.held; ob != nil {
			c.held = nil
			if ob.seq > c.lastSeq+1 {
				return fmt.Errorf("%w: history ends at seq %d but seq %d was published", errHistory, c.lastSeq, ob.seq)
			}
			if ob.seq == c.lastSeq+1 {
				c.sendNotification(ob)
			}
		}
	}
	// After a refill, and for a due refresh: the database's count.
	return c.sendCount()
}

// sendNotification adds a live notification's frame to the batch.
func (c *conn) sendNotification(ob *outbound) {
	c.out = append(c.out, ob.frame)
	c.sent = append(c.sent, ob)
	c.lastSeq = ob.seq
}

// flush writes the batch: one write for the WebSocket transport, under one
// WriteTimeout. A halt that came meanwhile wins over it.
func (c *conn) flush() error {
	if c.writePending && !c.tryWrites {
		// What a write without waiting left goes out first.
		if err := c.t.(tryTransport).FlushPending(time.Now().Add(c.h.cfg.WriteTimeout)); err != nil {
			return fmt.Errorf("write frames: %w", err)
		}
		c.writePending = false
	}
	if len(c.out) == 0 {
		return nil
	}
	defer func() {
		clear(c.out)
		c.out = c.out[:0]
		clear(c.sent)
		c.sent = c.sent[:0]
	}()
	if c.halted() {
		return errHalted
	}
	deadline := time.Now().Add(c.h.cfg.WriteTimeout)
	var err error
	if tt, ok := c.t.(tryTransport); ok && c.tryWrites {
		var sent bool
		sent, err = tt.TryWriteBatch(deadline, c.out)
		// Kept bytes count as written: they leave ahead of anything else,
		// from the goroutine the loop moves to (runInline).
		c.writePending = !sent
	} else if bt, ok := c.t.(batchTransport); ok {
		err = bt.WriteBatch(deadline, c.out)
	} else {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		for _, f := range c.out {
			if err = c.t.Write(ctx, f); err != nil {
				break
			}
		}
		cancel()
	}
	if err != nil {
		return fmt.Errorf("write frames: %w", err)
	}
	c.h.metrics.writes.Inc()
	now := time.Now()
	delivered := 0
	for _, ob := range c.sent {
		if ob.seq != 0 {
			delivered++
		}
		if !ob.committedAt.IsZero() {
			c.h.metrics.latency.Observe(now.Sub(ob.committedAt).Seconds())
		}
	}
	if delivered > 0 {
		c.h.metrics.delivered.Add(float64(delivered))
	}
	return nil
}

// refill sends every notification after lastSeq from History, oldest first,
// in pages of CatchupBatch, each page in one write.
func (c *conn) refill() error {
	batch := c.h.cfg.CatchupBatch
	for {
		var page []domain.Notification
		err := c.history(fmt.Sprintf("notifications after %d", c.lastSeq), func(hctx context.Context) (err error) {
			page, err = c.h.history.NotificationsAfter(hctx, c.key.tenant, c.key.user, c.lastSeq, batch)
			return err
		})
		if err != nil {
			return err
		}
		progressed, written := false, 0
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
				c.logAt(slog.LevelError, "hub: skip unencodable notification", slog.String("id", n.ID), slog.Any("err", err))
				c.lastSeq = n.Seq
				continue
			}
			c.out = append(c.out, frame)
			c.lastSeq = n.Seq
			written++
		}
		if err := c.flush(); err != nil {
			return err
		}
		c.h.metrics.delivered.Add(float64(written))
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
func (c *conn) sendCount() error {
	c.countDue = false
	stopTimer(&c.countT)
	var n int
	err := c.history("unread count", func(hctx context.Context) (err error) {
		n, err = c.h.history.UnreadCount(hctx, c.key.tenant, c.key.user)
		return err
	})
	if err != nil {
		return err
	}
	return c.writeCount(n)
}

func (c *conn) writeCount(n int) error {
	c.out = append(c.out, encodeCount(n))
	return c.flush()
}

// history runs one History call under a slot of the node-wide limit: the
// one this connection holds already, or one it waits for. The slot is given
// back as soon as the call returns, before any frame is written, so a slow
// socket never keeps the database's share. A halt cancels both the wait and
// the call.
func (c *conn) history(what string, call func(context.Context) error) error {
	if !c.slot {
		if err := c.h.acquire(context.Background(), c); err != nil {
			return err
		}
		c.slot = true
	}
	defer c.releaseSlot()
	return c.historyCall(what, call)
}

// historyCall runs call under HistoryTimeout, cancelled by a halt. The
// caller sees to the slot (a batched read takes one for its batch).
func (c *conn) historyCall(what string, call func(context.Context) error) error {
	hctx, cancel := context.WithTimeout(context.Background(), c.h.cfg.HistoryTimeout)
	defer cancel()
	c.mu.Lock()
	c.cancelHistory = cancel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.cancelHistory = nil
		c.mu.Unlock()
	}()
	if c.halted() {
		return errHalted // halted before cancelHistory was set
	}
	err := call(hctx)
	if err == nil {
		return nil
	}
	if c.halted() {
		return errHalted // the connection is over; History is not to blame
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
// the loop is waiting for a slot.
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

func stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

// logAt logs with the connection's tenant and user, building the
// attributes only when the level is enabled.
func (c *conn) logAt(level slog.Level, msg string, attrs ...any) {
	log := c.h.log
	if !log.Enabled(context.Background(), level) {
		return
	}
	attrs = append(attrs, slog.String("tenant", string(c.key.tenant)), slog.String("user", string(c.key.user)))
	log.Log(context.Background(), level, msg, attrs...)
}

// finish releases what the connection held, closes the socket as the
// ending cause requires, unregisters it and logs at the level the cause
// deserves: routine ends are not errors. It runs once, on the loop.
func (c *conn) finish(err error) {
	c.releaseSlot()
	c.setWaiting(false)
	c.setResyncPending(false)
	stopTimer(&c.resyncT)
	stopTimer(&c.countT)
	c.h.expiries.remove(c)
	if c.halted() {
		// Whatever ended the loop (often a write that failed because the
		// peer stopped reading), the halt says why and how to close.
		err = errHalted
	} else {
		// Halting now makes later kicks and enqueues no-ops that start
		// no loop (running stays set) and stops the other goroutines.
		c.halt(0, "", err)
	}
	switch {
	case errors.Is(err, errHalted):
		if c.haltCode == 0 {
			logPeerEnd(c, c.haltCause)
			break
		}
		cerr := c.t.Close(c.haltCode, c.haltReason)
		level := slog.LevelDebug
		if c.haltCode == CloseSlow {
			level = slog.LevelInfo
		}
		c.logAt(level, "hub: websocket closed",
			slog.Int("code", int(c.haltCode)), slog.String("reason", c.haltReason), slog.Any("close_err", cerr))
	case errors.Is(err, errHistory):
		c.logAt(slog.LevelWarn, "hub: closing websocket, history read failed", slog.Any("err", err))
		_ = c.t.Close(CloseTryAgainLater, "history unavailable, reconnect with since")
	default:
		// A failed or timed-out write: the peer is gone or not reading;
		// the transport is already unusable.
		c.logAt(slog.LevelDebug, "hub: websocket write failed", slog.Any("err", err))
	}
	c.mu.Lock()
	clear(c.pending)
	c.pending, c.batch, c.out, c.sent = nil, nil, nil, nil
	c.mu.Unlock()
	if c.cleanup != nil {
		c.cleanup()
	}
	c.h.unregister(c)
	if c.done != nil {
		close(c.done)
	}
}
