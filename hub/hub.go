package hub

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// ErrClosed is returned by Serve once Close has been called.
var ErrClosed = errors.New("hub closed")

// numShards splits the connection registry so that Deliver, register and
// unregister for different users rarely contend on one lock.
const numShards = 64

// userKey routes updates: every route is keyed by (tenant, user), so the
// same user id in two tenants never shares a socket.
type userKey struct {
	tenant domain.TenantID
	user   domain.UserID
}

type shard struct {
	mu sync.RWMutex
	// users holds each user's connections on this node: a slice, since a
	// user has one or a few (tabs), far smaller than a set.
	users map[userKey][]*conn
}

// Hub holds this node's WebSocket connections, keyed by (tenant, user).
// Its methods are safe for concurrent use.
type Hub struct {
	cfg     Config
	history History
	log     *slog.Logger
	metrics *metrics

	seed   maphash.Seed
	shards [numShards]shard

	// slots is the node-wide limit on History reads (MaxConcurrentRefills):
	// a send takes a slot, a receive gives it back. Blocked senders are
	// served in arrival order, so waiting is fair.
	slots chan struct{}

	closed    atomic.Bool
	closeOnce sync.Once
	live      sync.WaitGroup // registered connections, for Close

	pingOnce sync.Once
	stopPing chan struct{}

	// heads, when History has InboxHeads, batches the catch-up reads of
	// sockets opened without since.
	heads *headReads

	// idle watches the idle sockets (nil: each waits on a goroutine).
	idle *idlePoller
	// expiries closes connections at their token's expiry.
	expiries expiries
}

// New returns a Hub reading catch-up history from history.
func New(cfg Config, history History) (*Hub, error) {
	if history == nil {
		return nil, errors.New("hub: history is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	h := &Hub{
		cfg:      cfg,
		history:  history,
		log:      cfg.Logger,
		metrics:  m,
		seed:     maphash.MakeSeed(),
		slots:    make(chan struct{}, cfg.MaxConcurrentRefills),
		stopPing: make(chan struct{}),
		idle:     sharedPoller(),
	}
	for i := range h.shards {
		h.shards[i].users = make(map[userKey][]*conn)
	}
	if src, ok := history.(InboxHeadsReader); ok {
		h.heads = newHeadReads(src, cfg.HistoryTimeout,
			func() error { return h.acquire(context.Background(), nil) }, h.release)
	}
	return h, nil
}

func (h *Hub) shard(k userKey) *shard {
	var mh maphash.Hash
	mh.SetSeed(h.seed)
	mh.WriteString(string(k.tenant))
	mh.WriteByte(0) // ("ab","c") and ("a","bc") must not collide by construction
	mh.WriteString(string(k.user))
	return &h.shards[mh.Sum64()%numShards]
}

// register adds c to the registry; it fails once Close has begun, so that
// Close sees every connection it has to wait for.
func (h *Hub) register(c *conn) error {
	s := h.shard(c.key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.closed.Load() {
		return ErrClosed
	}
	s.users[c.key] = append(s.users[c.key], c)
	h.live.Add(1)
	h.metrics.connections.Inc()
	return nil
}

func (h *Hub) unregister(c *conn) {
	s := h.shard(c.key)
	s.mu.Lock()
	cs := s.users[c.key]
	i := slices.Index(cs, c)
	ok := i >= 0
	switch {
	case !ok:
	case len(cs) == 1:
		delete(s.users, c.key)
	default:
		cs[i] = cs[len(cs)-1]
		cs[len(cs)-1] = nil
		s.users[c.key] = cs[:len(cs)-1]
	}
	s.mu.Unlock()
	if ok {
		h.metrics.connections.Dec()
		h.live.Done()
	}
}

// Deliver hands a committed update to every local connection of its
// (tenant, user). It never blocks: the update is encoded once and queued on
// each connection; a connection whose queue is full is closed as slow (4008)
// by its own goroutine. Brokers call it from their subscription.
func (h *Hub) Deliver(u domain.InboxUpdate) {
	us := [1]domain.InboxUpdate{u}
	h.DeliverBatch(us[:])
}

// DeliverBatch is Deliver for updates in commit order. Every update is
// queued before any connection starts writing, so a connection that
// several are for sends them in one write; but the recipients of one
// broadcast, one update each, start writing as soon as theirs is queued.
// The connections' loops start on fan-out workers (fanOut). It does not
// keep us.
func (h *Hub) DeliverBatch(us []domain.InboxUpdate) {
	var enc frameEncoder
	var startsBuf [16]*conn
	starts := startsBuf[:0] // connections whose loop starts once all is queued
	early := oneUpdateEach(us)
	for i := range us {
		u := &us[i]
		k := userKey{tenant: u.TenantID, user: u.UserID}
		s := h.shard(k)
		// One lookup, the encoding under the read lock: a registration
		// waits for one update's encoding at most.
		s.mu.RLock()
		cs := s.users[k]
		if len(cs) == 0 {
			s.mu.RUnlock()
			continue // nobody of this user on this node: skip the encoding
		}
		ob, err := enc.encode(u)
		if err != nil {
			s.mu.RUnlock()
			// Connections will notice the missing seq on the next update
			// and refill from History, which is the truth.
			h.log.Error("hub: drop undeliverable update",
				slog.String("tenant", string(u.TenantID)), slog.String("kind", string(u.Kind)),
				slog.Any("err", err))
			continue
		}
		for _, c := range cs {
			if c.post(ob) {
				starts = append(starts, c)
			}
		}
		s.mu.RUnlock()
		if early && len(starts) >= fanOutWidth {
			fanOut(starts)
			clear(starts)
			starts = starts[:0]
		}
	}
	for len(starts) > 0 {
		n := min(len(starts), fanOutWidth)
		fanOut(starts[:n])
		starts = starts[n:]
	}
}

// fanOutWidth is how many connections one fan-out worker writes to in
// turn, and so how many of a one-update-each batch are queued before their
// loops start, while the rest are still encoded.
const fanOutWidth = 8

// fanOut runs the loops of cs (whose caller owns them) on one worker,
// each inline while its writes need no wait (runInline), and hands the
// others to loops of their own. Every loop a delivery starts starts here:
// a group commit's personal notifications share workers as a broadcast's
// recipients do. The worker, not the caller, tells which run inline: it
// is about to touch each connection's writer anyway, and the caller is
// still queueing the rest of a broadcast.
func fanOut(cs []*conn) {
	if len(cs) == 0 {
		return
	}
	cs = slices.Clone(cs)
	connLoops.run(func() {
		for _, c := range cs {
			if c.canRunInline() {
				c.runInline()
			} else {
				startLoop(c)
			}
		}
	})
}

// oneUpdateEach reports whether us are the recipients' copies of one
// notification (a broadcast): one update per user, so no connection has
// several to send together and its loop may start as soon as its own is
// queued. Otherwise the median recipient of a 1,000-user broadcast waited
// for all 1,000 frames to be encoded and queued first (about 1.5 ms here).
func oneUpdateEach(us []domain.InboxUpdate) bool {
	if len(us) <= fanOutWidth || us[0].Notification == nil {
		return false
	}
	id := us[0].Notification.ID
	for i := range us {
		u := &us[i]
		if u.Kind != domain.UpdateNotification || u.Notification == nil || u.Notification.ID != id {
			return false
		}
	}
	return true
}

// Resync makes every local connection refill from History from its last
// delivered seq and re-send unread_count. Brokers call it when updates may
// have been missed. It never blocks; requests to a busy connection coalesce.
//
// After a broker outage every socket of the node needs a refill at once, a
// burst the database may answer with errors (each closing a socket with
// 1013, each client then reconnecting). So each connection first waits a
// random ResyncJitter, keeps sending live updates meanwhile, and then reads
// under the node-wide MaxConcurrentRefills limit.
func (h *Hub) Resync() {
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.RLock()
		for _, cs := range s.users {
			for _, c := range cs {
				c.requestResync()
			}
		}
		s.mu.RUnlock()
	}
}

// acquire takes one History slot, waiting in arrival order behind other
// readers; it gives up when ctx is done or c (nil: none) is halted.
func (h *Hub) acquire(ctx context.Context, c *conn) error {
	select {
	case h.slots <- struct{}{}:
		h.metrics.historyInFlight.Inc()
		return nil
	default:
	}
	h.metrics.historyWaiting.Inc()
	defer h.metrics.historyWaiting.Dec()
	var wake chan struct{}
	if c != nil {
		wake = c.wake
	}
	for {
		if c != nil && c.halted() {
			return errHalted
		}
		select {
		case h.slots <- struct{}{}:
			h.metrics.historyInFlight.Inc()
			return nil
		case <-wake:
			// New work or a halt: the loop sees the work once the
			// History call is through; a halt ends the wait.
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pinger pings every WebSocket of the node once per PingInterval, one
// shard at a time, so that no connection needs a timer or goroutine of its
// own for it: each ping runs on a short-lived goroutine until its pong.
func (h *Hub) pinger() {
	t := time.NewTicker(max(h.cfg.PingInterval/numShards, time.Millisecond))
	defer t.Stop()
	for i := 0; ; i = (i + 1) % numShards {
		select {
		case <-h.stopPing:
			return
		case <-t.C:
		}
		s := &h.shards[i]
		s.mu.RLock()
		for _, cs := range s.users {
			for _, c := range cs {
				if p, ok := c.t.(pingTransport); ok && !c.halted() {
					go c.ping(p)
				}
			}
		}
		s.mu.RUnlock()
	}
}

// release gives back a slot taken by acquire (or by a connection's step).
func (h *Hub) release() {
	<-h.slots
	h.metrics.historyInFlight.Dec()
}

// Close closes every connection with 1001 (going away), makes later Serve
// calls fail with ErrClosed, and waits until every connection has ended
// (bounded by the close handshake timeouts). Connections waiting for a
// History slot or a resync jitter leave at once, and History reads in
// progress are cancelled, so Close never waits for queued refills. It is
// idempotent.
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		h.closed.Store(true)
		close(h.stopPing)
		for i := range h.shards {
			s := &h.shards[i]
			s.mu.RLock()
			for _, cs := range s.users {
				for _, c := range cs {
					c.halt(CloseGoingAway, "server shutting down", nil)
				}
			}
			s.mu.RUnlock()
		}
	})
	h.live.Wait()
}
