package notification

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// Direct sends. A list of user ids or a permission audience up to
// InlineMax is sent in one atomic write that also stores its bulk record,
// already completed with its sent and failed counts: no job, no outbox
// row, no progress updates. Either that
// write commits (GET bulk/{id} shows the result, every notification is
// stored and then pushed) or the request falls back to the queued job;
// should the write have landed with its answer lost, the fallback finds
// the bulk id taken and answers with what was stored.
//
// Concurrent direct sends are committed in groups: one write (on
// PostgreSQL one statement, one round trip, one fsync) for many requests,
// each answered after the commit. Each of two lanes runs one flusher at a
// time; what queues up while it commits is its next group, so an idle
// server adds no wait. Every request to one user takes the personal lane,
// so that concurrent personal sends share the fewest and largest commits
// (each group a statement and a commit of PostgreSQL's CPU: splitting them
// by user over two lanes cost a fifth more of it at 5,000 sends per
// second, and their latency too), and one user's personal notifications
// are committed and pushed in order by one flusher. A request to several
// users (a list, a permission audience) takes the other lane, so that a
// large one never holds a personal send up. Across the lanes a user's row
// lock still orders the seqs, and a socket that sees a later seq first
// refills the gap.
//
// An all audience does not come here: it is one broadcast, one row in its
// own transaction with its bulk record (BulkService.broadcastDirect).

// Bounds of one group commit.
const (
	defaultGroupMax    = 128  // requests: the personal lane takes every personal send
	groupRecipientsMax = 4000 // recipients; a request alone always fits
)

// The lanes of direct sends (laneOf), each with its own flusher.
const (
	personalLane = iota // sends to one user
	groupLane           // sends to several users
	directLanes
)

// GroupCommitLanes name the lanes in GroupCommit, indexed by lane.
var GroupCommitLanes = [directLanes]string{personalLane: "personal", groupLane: "group"}

// GroupCommit is what BulkService.OnGroupCommit learns of one group
// commit of direct sends. Under load a commit that takes long makes the
// next group larger, and so slower: these three show whether that is
// happening and where the POST's time goes.
type GroupCommit struct {
	Lane     string        // GroupCommitLanes: "personal" (sends to one user) or "group" (to several)
	Requests int           // requests the group took off the queue
	Waited   time.Duration // how long its oldest request had waited for it
	Took     time.Duration // the write, its commit and the push
}

// directSend is one request waiting for its group to commit.
type directSend struct {
	ctx  context.Context // the request's: a member whose request ended is dropped
	bulk Bulk
	size int // recipients it may reach, to bound the group
	// audience is a permission audience already resolved (by
	// newDirectSend): its size bounds the group by the users it really
	// reaches, so several such sends share a commit and their frames a
	// socket write.
	audience []domain.UserID
	queued   time.Time // when it joined its lane's queue
	// Set by the flush before done is closed.
	result Bulk
	err    error
	done   chan struct{}
}

// groupCommit queues direct sends for the flusher.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*directSend
	running bool // a flusher goroutine is draining the queue
}

// newDirectSend returns b's direct send, and whether b may be sent
// directly: an explicit list up to InlineMax, or a permission audience of
// at most InlineMax users, read here, before the group's write (users are
// never deleted; one that joins the audience meanwhile is one that joined
// a moment after the send, as under read committed).
func (s *BulkService) newDirectSend(ctx context.Context, b Bulk) (*directSend, bool, error) {
	if s.InlineMax <= 0 {
		return nil, false, nil
	}
	m := &directSend{ctx: ctx, bulk: b, done: make(chan struct{})}
	if n := len(b.Audience.UserIDs); n > 0 {
		m.size = n
		return m, n <= s.InlineMax, nil
	}
	to, err := s.store.UserIDsAfter(ctx, b.TenantID, b.Audience.Permission, "", s.InlineMax+1)
	if err != nil {
		return nil, false, err
	}
	if len(to) > s.InlineMax {
		return nil, false, nil
	}
	m.audience = to
	m.size = max(len(to), 1)
	return m, true, nil
}

// sendDirect sends m's bulk through a group commit and returns it as
// committed.
func (s *BulkService) sendDirect(m *directSend) (Bulk, error) {
	lane := laneOf(m.bulk)
	g := &s.lanes[lane]
	m.queued = time.Now() // not s.now: a duration, on the monotonic clock
	g.mu.Lock()
	g.queue = append(g.queue, m)
	if !g.running {
		g.running = true
		go s.flushQueued(lane)
	}
	g.mu.Unlock()
	// Not abandoned when ctx ends: the flush is bounded by inlineTimeout,
	// and the caller must learn whether its bulk committed.
	<-m.done
	return m.result, m.err
}

// laneOf is the lane of b: the personal lane for a send to one user,
// else the group lane.
func laneOf(b Bulk) int {
	if len(b.Audience.UserIDs) == 1 {
		return personalLane
	}
	return groupLane
}

// flushQueued commits the lane's queued sends group after group until
// none is left.
func (s *BulkService) flushQueued(lane int) {
	g := &s.lanes[lane]
	for {
		group := s.nextGroup(g)
		if len(group) == 0 {
			return
		}
		start := time.Now()
		s.flush(group)
		if s.OnGroupCommit != nil {
			s.OnGroupCommit(GroupCommit{Lane: GroupCommitLanes[lane], Requests: len(group),
				Waited: start.Sub(group[0].queued), Took: time.Since(start)})
		}
	}
}

// nextGroup takes the lane's next group off its queue (bounded in
// requests and recipients); when the queue is empty it ends the flusher's
// turn.
func (s *BulkService) nextGroup(g *groupCommit) []*directSend {
	g.mu.Lock()
	defer g.mu.Unlock()
	maxMembers := s.GroupMax
	if maxMembers < 1 {
		maxMembers = 1
	}
	n, recipients := 0, 0
	for n < len(g.queue) && n < maxMembers && (n == 0 || recipients+g.queue[n].size <= groupRecipientsMax) {
		recipients += g.queue[n].size
		n++
	}
	if n == 0 {
		g.running = false
		return nil
	}
	group := slices.Clone(g.queue[:n])
	g.queue = slices.Delete(g.queue, 0, n)
	return group
}

// flush commits one group and answers its members. Should the group's
// transaction fail, each member is committed alone, so that one bad
// request does not fail the others.
func (s *BulkService) flush(group []*directSend) {
	live := group[:0]
	for _, m := range group {
		if err := m.ctx.Err(); err != nil {
			m.err = err
			close(m.done)
			continue
		}
		live = append(live, m)
	}
	if len(live) == 0 {
		return
	}
	err := s.commitGroup(live)
	// Alone, a member that timed out with the others would only time out
	// again: those go to the job at once.
	if err != nil && len(live) > 1 && !errors.Is(err, context.DeadlineExceeded) {
		for _, m := range live {
			if err := s.commitGroup([]*directSend{m}); err != nil {
				m.err = err
			}
			close(m.done)
		}
		return
	}
	for _, m := range live {
		m.err = cmp.Or(m.err, err)
		close(m.done)
	}
}

// commitGroup writes the group's bulks, completed, and their notifications
// in one atomic write, then pushes the notifications. A member whose
// audience outgrew InlineMax is left out of it, its err set to
// errAudienceTooLarge.
//
// The recipients are resolved first, outside the write: users are never
// deleted, so one known now is known when the write lands (and should one
// not be, the write fails as a whole and the member goes to the job). A
// permission audience read a moment before the write is what a read in
// its transaction gave under read committed.
func (s *BulkService) commitGroup(group []*directSend) error {
	// Not any one request's context: the group serves them all.
	ctx, cancel := context.WithTimeout(context.Background(), inlineTimeout)
	defer cancel()
	// Microseconds, as stored: the answer equals a later GET.
	now := s.now().UTC().Truncate(time.Microsecond)
	known, err := s.knownRecipients(ctx, group)
	if err != nil {
		return err
	}
	bulks := make([]Bulk, 0, len(group))
	ds := make([]delivery, 0, len(group))
	for _, m := range group {
		b := m.bulk
		m.result, m.err = Bulk{}, nil
		var to []domain.UserID
		if ids := b.Audience.UserIDs; len(ids) > 0 {
			for _, u := range ids {
				if known[InboxKey{b.TenantID, u}] {
					to = append(to, u)
				} else {
					b.fail(u, "unknown user")
				}
			}
			b.ResumeAfter = ids[len(ids)-1]
		} else {
			// A permission audience, resolved by newDirectSend.
			to = m.audience
			if len(to) > 0 {
				b.ResumeAfter = to[len(to)-1]
			}
		}
		b.Status, b.StartedAt, b.CompletedAt = BulkCompleted, &now, &now
		b.Sent = int64(len(to))
		b.Total = b.Sent + b.Failed
		m.result = b
		bulks = append(bulks, b)
		if len(to) > 0 {
			ds = append(ds, delivery{tenant: b.TenantID, users: to, draft: b.draft()})
		}
	}
	if len(bulks) == 0 {
		return nil
	}
	_, err = s.sender.sendDirect(ctx, ds, func(ns []*domain.Notification) (map[InboxKey]int, error) {
		return s.store.InsertDirect(ctx, bulks, ns)
	})
	if err != nil {
		// Whatever failed, a cached user may be the cause: look again.
		s.known.reset()
	}
	return err
}

// knownRecipients reports which explicit recipients of the group are
// known users of their tenant (another tenant's user is unknown): from the
// cache, else one query per tenant for the rest.
func (s *BulkService) knownRecipients(ctx context.Context, group []*directSend) (map[InboxKey]bool, error) {
	known := map[InboxKey]bool{}
	ask := map[domain.TenantID][]domain.UserID{}
	for _, m := range group {
		for _, u := range m.bulk.Audience.UserIDs {
			k := InboxKey{m.bulk.TenantID, u}
			if s.known.has(k) {
				known[k] = true
			} else {
				ask[k.TenantID] = append(ask[k.TenantID], u)
			}
		}
	}
	for tenant, us := range ask {
		got, err := s.store.KnownUsers(ctx, tenant, slices.Compact(slices.Sorted(slices.Values(us))))
		if err != nil {
			return nil, err
		}
		for u, ok := range got {
			if ok {
				k := InboxKey{tenant, u}
				known[k] = true
				s.known.add(k)
			}
		}
	}
	return known, nil
}

// InboxKey names one user's inbox.
type InboxKey struct {
	TenantID domain.TenantID
	UserID   domain.UserID
}

// maxKnownUsers bounds the cache of known users (~100 bytes an entry).
const maxKnownUsers = 1 << 16

// knownUsers caches users found to exist. Only the positive answer is
// kept, and users are never deleted, so it never says "known" wrongly; an
// unknown id is asked again each time. Bounded: when full it starts over.
type knownUsers struct {
	mu sync.Mutex
	m  map[InboxKey]struct{}
}

func (c *knownUsers) has(k InboxKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[k]
	return ok
}

func (c *knownUsers) add(k InboxKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxKnownUsers {
		c.m = make(map[InboxKey]struct{})
	}
	c.m[k] = struct{}{}
}

func (c *knownUsers) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}
