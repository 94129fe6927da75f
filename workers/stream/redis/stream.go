package redisstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/notifyhub/notifyhub/workers/stream"
)

// bodyField is the one field of every entry; it holds the body verbatim.
const bodyField = "b"

const (
	// defaultBlockSlice bounds each XREADGROUP of a sliced blocking read.
	defaultBlockSlice = 500 * time.Millisecond
	// defaultIdleConns is how many dedicated blocking connections wait
	// between reads.
	defaultIdleConns = 4
	// unblockRetry spaces CLIENT UNBLOCK attempts while a cancelled read
	// has not started blocking yet.
	unblockRetry = 10 * time.Millisecond
)

// Options configures a Stream. The zero value works.
type Options struct {
	// Prefix is prepended to every key: topic T lives at Prefix+"stream:"+T.
	// Production uses "notifyhub:"; tests use a unique prefix each.
	Prefix string
	// MaxLen, when positive, caps each topic at about this many entries
	// (XADD MAXLEN ~). It is a memory safety valve only: beyond it Redis
	// drops the oldest entries even when a group has not acknowledged them
	// (the outbox stays the truth). 0 means no cap; Trim is the normal way
	// entries go.
	MaxLen int64
	// BlockSlice, when positive, cuts blocking reads into XREADGROUP calls
	// of at most this long, checking ctx between them. Clients that cannot
	// lend a dedicated connection (cluster, ring) always read this way, with
	// 500ms by default. A plain *redis.Client otherwise blocks for the whole
	// duration on a dedicated connection and is woken on cancellation with
	// CLIENT UNBLOCK, which costs no polling.
	BlockSlice time.Duration
	// IdleConns is how many dedicated blocking connections are kept between
	// reads (default 4). Each blocking reader holds one while it waits.
	IdleConns int
	// Registerer receives the stream's metrics (groups recreated, entries
	// trimmed). Nil: not exported.
	Registerer prometheus.Registerer
	// Logger receives warnings such as a group recreated after Redis lost
	// it. Default: discard.
	Logger *slog.Logger
}

// Stream is a stream.Stream on Redis Streams. It is safe for concurrent use.
type Stream struct {
	client redis.UniversalClient
	// direct is set when client is a *redis.Client: blocking reads then run
	// on a dedicated connection that CLIENT UNBLOCK can wake.
	direct *redis.Client
	opts   Options
	log    *slog.Logger
	met    *stream.Metrics

	life context.Context // done once Close is called
	stop context.CancelFunc

	mu     sync.Mutex
	idle   []*blockConn
	closed bool
}

var _ stream.Stream = (*Stream)(nil)

// blockConn is a connection pinned out of the pool with its server-side
// client id, so another connection can CLIENT UNBLOCK it.
type blockConn struct {
	conn *redis.Conn
	id   int64
}

// New returns a Stream on client. The caller keeps ownership of client;
// Close releases only what the Stream holds.
func New(client redis.UniversalClient, opts Options) *Stream {
	if opts.IdleConns <= 0 {
		opts.IdleConns = defaultIdleConns
	}
	if opts.MaxLen < 0 {
		opts.MaxLen = 0
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(slog.String("component", "redisstream"))
	s := &Stream{client: client, opts: opts, log: log, met: stream.NewMetrics(opts.Registerer, "redis", "e.g. Redis restarted empty", log)}
	if c, ok := client.(*redis.Client); ok {
		s.direct = c
	}
	s.life, s.stop = context.WithCancel(context.Background())
	return s
}

// Close makes every later call return stream.ErrClosed, wakes blocked
// reads, and returns the dedicated connections to the client's pool. It does
// not close the client.
func (s *Stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	s.stop()
	for _, bc := range idle {
		_ = bc.conn.Close()
	}
	return nil
}

func (s *Stream) key(topic string) string { return s.opts.Prefix + "stream:" + topic }

// bind derives a context that is also cancelled by Close.
func (s *Stream) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.life.Err() != nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.life, cancel)
	return ctx, func() { stop(); cancel() }
}

func (s *Stream) checkOpen() error {
	if s.life.Err() != nil {
		return stream.ErrClosed
	}
	return nil
}

// Publish appends bodies to topic in order with one pipelined round trip.
// On error some bodies may have been appended.
func (s *Stream) Publish(ctx context.Context, topic string, bodies ...[]byte) error {
	if err := stream.CheckName("topic", topic); err != nil {
		return fmt.Errorf("redisstream: publish: %w", err)
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	if len(bodies) == 0 {
		return nil
	}
	key := s.key(topic)
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, b := range bodies {
			if b == nil {
				b = []byte{}
			}
			p.XAdd(ctx, &redis.XAddArgs{
				Stream: key,
				MaxLen: s.opts.MaxLen,
				Approx: s.opts.MaxLen > 0,
				Values: []any{bodyField, b},
			})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstream: publish %d entries to %q: %w", len(bodies), topic, err)
	}
	return nil
}

// EnsureGroup creates group at the start of topic (and the topic) unless it
// exists.
func (s *Stream) EnsureGroup(ctx context.Context, topic, group string) error {
	if err := stream.CheckNames("topic", topic, "group", group); err != nil {
		return fmt.Errorf("redisstream: ensure group: %w", err)
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	if err := s.createGroup(ctx, s.key(topic), group); err != nil {
		return fmt.Errorf("redisstream: ensure group %q on %q: %w", group, topic, err)
	}
	return nil
}

// createGroup runs XGROUP CREATE key group 0 MKSTREAM; an existing group is
// fine. Always from "0", never "$": a group that Redis lost must see again
// what is still in the topic.
func (s *Stream) createGroup(ctx context.Context, key, group string) error {
	err := s.client.XGroupCreateMkStream(ctx, key, group, "0").Err()
	if err != nil && !isBusyGroup(err) {
		return err
	}
	return nil
}

// recreate handles NOGROUP: the group vanished (Redis restarted empty,
// failover, or someone destroyed it). It comes back from the start.
func (s *Stream) recreate(ctx context.Context, topic, group string) error {
	s.met.Recreated.Inc()
	s.log.WarnContext(ctx, "stream group missing; recreating it from the start of the topic",
		slog.String("topic", topic), slog.String("group", group))
	if err := s.createGroup(ctx, s.key(topic), group); err != nil {
		return fmt.Errorf("recreate group: %w", err)
	}
	return nil
}

// DeleteGroup destroys group and its pending list (XGROUP DESTROY). Use it
// when a listener is retired: a group nobody reads holds back Trim forever.
// Deleting a missing group is not an error.
func (s *Stream) DeleteGroup(ctx context.Context, topic, group string) error {
	if err := stream.CheckNames("topic", topic, "group", group); err != nil {
		return fmt.Errorf("redisstream: delete group: %w", err)
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	if err := s.client.XGroupDestroy(ctx, s.key(topic), group).Err(); err != nil && !isNoKey(err) {
		return fmt.Errorf("redisstream: delete group %q on %q: %w", group, topic, err)
	}
	return nil
}

// Read hands up to limit new entries to consumer, blocking up to block for
// them. A block timeout, a done ctx or Close yield an empty result.
func (s *Stream) Read(ctx context.Context, topic, group, consumer string, limit int, block time.Duration) ([]stream.Message, error) {
	if err := stream.CheckNames("topic", topic, "group", group, "consumer", consumer); err != nil {
		return nil, fmt.Errorf("redisstream: read: %w", err)
	}
	if err := stream.CheckMax(limit); err != nil {
		return nil, fmt.Errorf("redisstream: read: %w", err)
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	ctx, cancel := s.bind(ctx)
	defer cancel()
	if ctx.Err() != nil {
		return nil, s.checkOpen()
	}
	args := &redis.XReadGroupArgs{
		Group:    group,
		Consumer: consumer,
		Streams:  []string{s.key(topic), ">"},
		Count:    int64(limit),
	}
	msgs, err := s.readGroup(ctx, args, block)
	if isNoGroup(err) {
		if err = s.recreate(ctx, topic, group); err == nil {
			msgs, err = s.readGroup(ctx, args, block)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, s.checkOpen()
		}
		return nil, fmt.Errorf("redisstream: read %q group %q: %w", topic, group, err)
	}
	if len(msgs) == 0 {
		return nil, s.checkOpen()
	}
	return msgs, nil
}

func (s *Stream) readGroup(ctx context.Context, args *redis.XReadGroupArgs, block time.Duration) ([]stream.Message, error) {
	if block <= 0 {
		args.Block = -1 // no BLOCK argument: answer at once
		return xreadGroup(ctx, s.client, args)
	}
	// go-redis sends BLOCK in whole milliseconds and BLOCK 0 waits forever.
	block = max(block, time.Millisecond)
	if s.direct != nil && s.opts.BlockSlice <= 0 {
		return s.readUnblockable(ctx, args, block)
	}
	return s.readSliced(ctx, args, block)
}

// readSliced blocks in slices, checking ctx between them.
func (s *Stream) readSliced(ctx context.Context, args *redis.XReadGroupArgs, block time.Duration) ([]stream.Message, error) {
	slice := s.opts.BlockSlice
	if slice <= 0 {
		slice = defaultBlockSlice
	}
	deadline := time.Now().Add(block)
	for {
		d := min(time.Until(deadline), slice)
		if d < time.Millisecond {
			return nil, nil
		}
		args.Block = d
		msgs, err := xreadGroup(ctx, s.client, args)
		if err != nil || len(msgs) > 0 || ctx.Err() != nil {
			return msgs, err
		}
	}
}

// readUnblockable blocks on a dedicated connection for the whole duration.
func (s *Stream) readUnblockable(ctx context.Context, args *redis.XReadGroupArgs, block time.Duration) ([]stream.Message, error) {
	args.Block = block
	return unblockableRead(ctx, s, func(ctx context.Context, c redis.Cmdable) ([]stream.Message, error) {
		return xreadGroup(ctx, c, args)
	})
}

// unblockableRead runs one blocking read on a dedicated connection.
// go-redis does not interrupt a blocking command when ctx is cancelled, so
// a watcher sends CLIENT UNBLOCK for that connection, which makes Redis
// answer as on a timeout.
func unblockableRead[T any](ctx context.Context, s *Stream, read func(ctx context.Context, c redis.Cmdable) (T, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		bc, reused, err := s.takeConn(ctx)
		if err != nil {
			var zero T
			return zero, err
		}
		done := make(chan struct{})
		finished := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(finished)
			s.unblock(bc.id, done)
		})
		// The watcher, not ctx, ends the wait: a cancelled ctx must not
		// strand entries Redis already handed to this consumer.
		res, err := read(context.WithoutCancel(ctx), bc.conn)
		close(done)
		if !stop() {
			// Let the watcher finish before the connection is reused, so a
			// late CLIENT UNBLOCK cannot hit somebody else's read.
			<-finished
		}
		healthy := isServerReply(err)
		s.releaseConn(bc, healthy)
		if !healthy && reused && attempt == 0 && ctx.Err() == nil {
			// An idle connection may have gone stale; try a fresh one once.
			continue
		}
		return res, err
	}
}

// unblock wakes the read blocked on connection id. The read may not have
// reached Redis yet, so it retries until the read returns.
func (s *Stream) unblock(id int64, done <-chan struct{}) {
	for {
		n, err := s.client.ClientUnblock(context.Background(), id).Result()
		if err == nil && n > 0 {
			return
		}
		if err != nil && isServerReply(err) {
			// Refused (ACL?): the read ends at its block timeout instead.
			s.log.Warn("CLIENT UNBLOCK refused; a cancelled read waits for its block timeout", slog.Any("error", err))
			return
		}
		t := time.NewTimer(unblockRetry)
		select {
		case <-done:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (s *Stream) takeConn(ctx context.Context) (*blockConn, bool, error) {
	s.mu.Lock()
	if n := len(s.idle); n > 0 {
		bc := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return bc, true, nil
	}
	s.mu.Unlock()
	conn := s.direct.Conn()
	id, err := conn.ClientID(ctx).Result()
	if err != nil {
		_ = conn.Close()
		return nil, false, fmt.Errorf("client id: %w", err)
	}
	return &blockConn{conn: conn, id: id}, false, nil
}

func (s *Stream) releaseConn(bc *blockConn, healthy bool) {
	s.mu.Lock()
	if healthy && !s.closed && len(s.idle) < s.opts.IdleConns {
		s.idle = append(s.idle, bc)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	_ = bc.conn.Close()
}

func xreadGroup(ctx context.Context, c redis.Cmdable, args *redis.XReadGroupArgs) ([]stream.Message, error) {
	res, err := c.XReadGroup(ctx, args).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil // block timeout or unblocked
	}
	if err != nil {
		return nil, err
	}
	var out []stream.Message
	for _, st := range res {
		for _, m := range st.Messages {
			out = append(out, stream.Message{ID: m.ID, Body: body(m), Deliveries: 1})
		}
	}
	return out, nil
}

// body returns the entry's body field; an entry written by someone else
// without it is delivered with an empty body rather than hidden.
func body(m redis.XMessage) []byte {
	if v, ok := m.Values[bodyField].(string); ok {
		return []byte(v)
	}
	return []byte{}
}

// Ack removes ids from the group's pending list (XACK). Unknown or already
// acknowledged ids are ignored.
func (s *Stream) Ack(ctx context.Context, topic, group string, ids ...string) error {
	if err := stream.CheckNames("topic", topic, "group", group); err != nil {
		return fmt.Errorf("redisstream: ack: %w", err)
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	for _, id := range ids {
		if _, err := parseID(id); err != nil {
			return fmt.Errorf("redisstream: ack: %w", invalidID(err))
		}
	}
	if err := s.client.XAck(ctx, s.key(topic), group, ids...).Err(); err != nil && !isNoGroup(err) {
		return fmt.Errorf("redisstream: ack %d ids on %q group %q: %w", len(ids), topic, group, err)
	}
	return nil
}

// Reclaim moves to consumer up to limit entries of the group that have been
// pending longer than minIdle (XAUTOCLAIM), with their delivery counts.
func (s *Stream) Reclaim(ctx context.Context, topic, group, consumer string, minIdle time.Duration, limit int) ([]stream.Message, error) {
	if err := stream.CheckNames("topic", topic, "group", group, "consumer", consumer); err != nil {
		return nil, fmt.Errorf("redisstream: reclaim: %w", err)
	}
	if err := stream.CheckMax(limit); err != nil {
		return nil, fmt.Errorf("redisstream: reclaim: %w", err)
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	msgs, err := s.reclaim(ctx, topic, group, consumer, max(minIdle, 0), limit)
	if isNoGroup(err) {
		// A recreated group has nothing pending: nothing to take over.
		return nil, s.recreate(ctx, topic, group)
	}
	if err != nil {
		return nil, fmt.Errorf("redisstream: reclaim %q group %q: %w", topic, group, err)
	}
	return msgs, nil
}

func (s *Stream) reclaim(ctx context.Context, topic, group, consumer string, minIdle time.Duration, limit int) ([]stream.Message, error) {
	key := s.key(topic)
	var out []stream.Message
	cursor := "0-0"
	for len(out) < limit {
		msgs, next, deleted, err := s.client.XAutoClaimWithDeleted(ctx, &redis.XAutoClaimArgs{
			Stream:   key,
			Group:    group,
			Consumer: consumer,
			MinIdle:  minIdle,
			Start:    cursor,
			Count:    int64(limit - len(out)),
		}).Result()
		if err != nil {
			return nil, err
		}
		if len(deleted) > 0 {
			// Entries gone from the stream (Redis 7 already dropped them
			// from the PEL); the ack makes sure of it on every version.
			if err := s.client.XAck(ctx, key, group, deleted...).Err(); err != nil {
				return nil, fmt.Errorf("ack deleted entries: %w", err)
			}
		}
		for _, m := range msgs {
			out = append(out, stream.Message{ID: m.ID, Body: body(m)})
		}
		if next == "0-0" || next == "" {
			break
		}
		cursor = next
	}
	if len(out) == 0 {
		return nil, nil
	}
	if err := s.fillDeliveries(ctx, key, group, out); err != nil {
		return nil, err
	}
	return out, nil
}

// fillDeliveries reads each claimed entry's delivery counter (XPENDING
// extended form, one id each, one round trip). XAUTOCLAIM has just bumped
// it, so it counts this delivery.
func (s *Stream) fillDeliveries(ctx context.Context, key, group string, msgs []stream.Message) error {
	cmds := make([]*redis.XPendingExtCmd, len(msgs))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range msgs {
			cmds[i] = p.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: key, Group: group, Start: m.ID, End: m.ID, Count: 1})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pending counts: %w", err)
	}
	for i, c := range cmds {
		// Acked meanwhile by a racing Ack: it was still delivered at
		// least twice.
		msgs[i].Deliveries = 2
		if p := c.Val(); len(p) == 1 && p[0].RetryCount > 0 {
			msgs[i].Deliveries = int(p[0].RetryCount)
		}
	}
	return nil
}

// Trim drops the entries every group of topic has acknowledged: everything
// below the smallest id that some group still has pending or has not yet
// been handed. A topic without groups is left alone, so a group created
// later still finds the entries.
func (s *Stream) Trim(ctx context.Context, topic string) (int64, error) {
	if err := stream.CheckName("topic", topic); err != nil {
		return 0, fmt.Errorf("redisstream: trim: %w", err)
	}
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	n, err := s.trim(ctx, s.key(topic))
	if err != nil {
		return 0, fmt.Errorf("redisstream: trim %q: %w", topic, err)
	}
	s.met.Trimmed.Add(float64(n))
	return n, nil
}

func (s *Stream) trim(ctx context.Context, key string) (int64, error) {
	groups, err := s.client.XInfoGroups(ctx, key).Result()
	if isNoKey(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("groups: %w", err)
	}
	if len(groups) == 0 {
		return 0, nil
	}
	// Summaries are read after XINFO GROUPS: a pending list only loses
	// entries (acks) or gains ids above last-delivered-id, so combining the
	// two never yields a bound above an entry someone still needs.
	summaries := make([]*redis.XPendingCmd, len(groups))
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, g := range groups {
			if g.Pending > 0 {
				summaries[i] = p.XPending(ctx, key, g.Name)
			}
		}
		return nil
	})
	if err != nil && !isNoGroup(err) {
		return 0, fmt.Errorf("pending summaries: %w", err)
	}
	var bound *entryID
	for i, g := range groups {
		last, err := parseID(g.LastDeliveredID)
		if err != nil {
			return 0, fmt.Errorf("group %q: %w", g.Name, err)
		}
		cand := last.next() // everything up to last-delivered is acked or pending
		if c := summaries[i]; c != nil {
			if err := c.Err(); isNoGroup(err) {
				// The group vanished meanwhile; its recreation starts
				// from 0, so keep everything this round.
				return 0, nil
			} else if err != nil {
				return 0, fmt.Errorf("pending summary of %q: %w", g.Name, err)
			}
			if p := c.Val(); p.Count > 0 {
				low, err := parseID(p.Lower)
				if err != nil {
					return 0, fmt.Errorf("group %q: %w", g.Name, err)
				}
				if low.less(cand) {
					cand = low
				}
			}
		}
		if bound == nil || cand.less(*bound) {
			bound = &cand
		}
	}
	n, err := s.client.XTrimMinID(ctx, key, bound.String()).Result()
	if err != nil {
		return 0, fmt.Errorf("xtrim minid %s: %w", bound, err)
	}
	return n, nil
}

// Ping reports whether Redis answers.
func (s *Stream) Ping(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstream: ping: %w", err)
	}
	return nil
}
