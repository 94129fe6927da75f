package dbqueue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/notifyhub/notifyhub/workers/stream"
)

const (
	defaultPollInterval = 100 * time.Millisecond
	// maxBatch caps the entries one Read or Reclaim returns, keeping each
	// transaction short; callers loop.
	maxBatch = 1000
	// chunk bounds the values of one statement (SQLite allows 32766
	// parameters).
	chunk = 200
	// txAttempts bounds how often a transaction is retried on a transient
	// conflict (SQLITE_BUSY beyond busy_timeout, deadlock).
	txAttempts = 8
)

// Options configures a Stream. The zero value works.
type Options struct {
	// PollInterval is how often a blocked Read looks for entries published
	// by other processes (default 100ms). Publishes from this process wake
	// readers at once.
	PollInterval time.Duration
	// Registerer receives the stream's metrics (groups recreated, entries
	// trimmed). Nil: not exported.
	Registerer prometheus.Registerer
	// Logger receives warnings such as a recreated group. Default: discard.
	Logger *slog.Logger
}

// Stream is a stream.Stream on database tables. It is safe for concurrent
// use, and several processes may share the database.
type Stream struct {
	db   *sql.DB
	d    dialect
	err  error // set when New got an unknown dialect
	opts Options
	log  *slog.Logger
	met  *stream.Metrics

	life context.Context // done once Close is called
	stop context.CancelFunc

	mu      sync.Mutex
	waiters map[string]chan struct{} // per topic, closed by the next Publish
}

var _ stream.Stream = (*Stream)(nil)

// New returns a Stream on db, whose schema must include the migrations'
// stream tables. dialect is SQLite ("sqlite") or Postgres ("postgres"). An
// unknown dialect makes every call, Ping included, return an error.
// SQLite databases should be opened with WAL, a busy_timeout and
// _txlock=immediate, as the application's opener does.
func New(db *sql.DB, dialect string, opts Options) *Stream {
	if opts.PollInterval <= 0 {
		opts.PollInterval = defaultPollInterval
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(slog.String("component", "dbqueue"))
	s := &Stream{db: db, opts: opts, log: log, met: stream.NewMetrics(opts.Registerer, "database", "e.g. a group row deleted by hand", log), waiters: map[string]chan struct{}{}}
	switch dialect {
	case SQLite:
	case Postgres:
		s.d.pg = true
	default:
		s.err = fmt.Errorf("dbqueue: unknown dialect %q (want %q or %q)", dialect, SQLite, Postgres)
	}
	if db == nil && s.err == nil {
		s.err = errors.New("dbqueue: nil *sql.DB")
	}
	s.life, s.stop = context.WithCancel(context.Background())
	return s
}

// Close makes every later call return stream.ErrClosed and wakes blocked
// reads. It does not close the database.
func (s *Stream) Close() error {
	s.stop()
	return nil
}

func (s *Stream) usable() error {
	if s.err != nil {
		return s.err
	}
	if s.life.Err() != nil {
		return stream.ErrClosed
	}
	return nil
}

// Publish appends bodies to topic in order, in one transaction.
func (s *Stream) Publish(ctx context.Context, topic string, bodies ...[]byte) error {
	if err := stream.CheckName("topic", topic); err != nil {
		return fmt.Errorf("dbqueue: publish: %w", err)
	}
	if err := s.usable(); err != nil {
		return err
	}
	if len(bodies) == 0 {
		return nil
	}
	n := int64(len(bodies))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Taking the ids locks the topic row until commit: see the
		// migration on why ids must commit in order.
		var last int64
		err := tx.QueryRowContext(ctx, s.d.q(`INSERT INTO stream_topics (topic, last_id) VALUES (?, ?)
			ON CONFLICT (topic) DO UPDATE SET last_id = stream_topics.last_id + excluded.last_id
			RETURNING last_id`), topic, n).Scan(&last)
		if err != nil {
			return fmt.Errorf("allocate ids: %w", err)
		}
		id := last - n + 1
		created := time.Now().UnixMicro()
		for part := range slices.Chunk(bodies, chunk) {
			var q strings.Builder
			q.WriteString("INSERT INTO stream_entries (topic, id, body, created_at) VALUES ")
			args := make([]any, 0, 4*len(part))
			for i, b := range part {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?)")
				if b == nil {
					b = []byte{} // body is NOT NULL; nil and empty are the same
				}
				args = append(args, topic, id, b, created)
				id++
			}
			if _, err := tx.ExecContext(ctx, s.d.q(q.String()), args...); err != nil {
				return fmt.Errorf("insert entries: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dbqueue: publish %d entries to %q: %w", n, topic, err)
	}
	s.wake(topic)
	return nil
}

// EnsureGroup creates group at the start of topic (and the topic) unless it
// exists.
func (s *Stream) EnsureGroup(ctx context.Context, topic, group string) error {
	if err := stream.CheckNames("topic", topic, "group", group); err != nil {
		return fmt.Errorf("dbqueue: ensure group: %w", err)
	}
	if err := s.usable(); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := s.createGroup(ctx, tx, topic, group)
		return err
	})
	if err != nil {
		return fmt.Errorf("dbqueue: ensure group %q on %q: %w", group, topic, err)
	}
	return nil
}

// createGroup inserts the group at id 0 unless it exists and reports
// whether it did. Pending rows left by an earlier group of that name are
// dropped: a new group starts with nothing pending, as on Redis.
func (s *Stream) createGroup(ctx context.Context, tx *sql.Tx, topic, group string) (bool, error) {
	// The no-op update takes the topic row lock, which Trim also takes, so
	// Trim never deletes entries a group created meanwhile would need.
	_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO stream_topics (topic, last_id) VALUES (?, 0)
		ON CONFLICT (topic) DO UPDATE SET last_id = stream_topics.last_id`), topic)
	if err != nil {
		return false, fmt.Errorf("create topic: %w", err)
	}
	res, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO stream_groups (topic, grp, last_id) VALUES (?, ?, 0)
		ON CONFLICT (topic, grp) DO NOTHING`), topic, group)
	if err != nil {
		return false, fmt.Errorf("create group: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM stream_pending WHERE topic = ? AND grp = ?`), topic, group); err != nil {
		return false, fmt.Errorf("drop stale pending: %w", err)
	}
	return true, nil
}

// lockGroup returns the group's last id, locking its row on PostgreSQL so
// consumers of one group take turns. A missing group is recreated from the
// start of the topic.
func (s *Stream) lockGroup(ctx context.Context, tx *sql.Tx, topic, group string) (int64, error) {
	q := s.d.q(`SELECT last_id FROM stream_groups WHERE topic = ? AND grp = ?` + s.d.forUpdate())
	var last int64
	err := tx.QueryRowContext(ctx, q, topic, group).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		created, cerr := s.createGroup(ctx, tx, topic, group)
		if cerr != nil {
			return 0, cerr
		}
		if created {
			s.met.Recreated.Inc()
			s.log.WarnContext(ctx, "stream group missing; recreated it from the start of the topic",
				slog.String("topic", topic), slog.String("group", group))
		}
		err = tx.QueryRowContext(ctx, q, topic, group).Scan(&last)
	}
	if err != nil {
		return 0, fmt.Errorf("lock group: %w", err)
	}
	return last, nil
}

// DeleteGroup removes group and its pending entries. Use it when a listener
// is retired: a group nobody reads holds back Trim forever. Deleting a
// missing group is not an error.
func (s *Stream) DeleteGroup(ctx context.Context, topic, group string) error {
	if err := stream.CheckNames("topic", topic, "group", group); err != nil {
		return fmt.Errorf("dbqueue: delete group: %w", err)
	}
	if err := s.usable(); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM stream_groups WHERE topic = ? AND grp = ?`), topic, group); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM stream_pending WHERE topic = ? AND grp = ?`), topic, group)
		return err
	})
	if err != nil {
		return fmt.Errorf("dbqueue: delete group %q on %q: %w", group, topic, err)
	}
	return nil
}

// Read hands up to limit (at most 1000) new entries to consumer, waiting up
// to block for them. A block timeout, a done ctx or Close yield an empty
// result.
func (s *Stream) Read(ctx context.Context, topic, group, consumer string, limit int, block time.Duration) ([]stream.Message, error) {
	if err := stream.CheckNames("topic", topic, "group", group, "consumer", consumer); err != nil {
		return nil, fmt.Errorf("dbqueue: read: %w", err)
	}
	if err := stream.CheckMax(limit); err != nil {
		return nil, fmt.Errorf("dbqueue: read: %w", err)
	}
	if err := s.usable(); err != nil {
		return nil, err
	}
	limit = min(limit, maxBatch)
	var deadline <-chan time.Time
	if block > 0 {
		t := time.NewTimer(block)
		defer t.Stop()
		deadline = t.C
	}
	for {
		if ctx.Err() != nil {
			return nil, nil
		}
		// Subscribe before looking, so a Publish between the look and
		// the wait still wakes us.
		wake := s.signal(topic)
		msgs, err := s.readIfNew(ctx, topic, group, consumer, limit)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil
			}
			return nil, fmt.Errorf("dbqueue: read %q group %q: %w", topic, group, err)
		}
		if len(msgs) > 0 || deadline == nil {
			return msgs, nil
		}
		poll := time.NewTimer(s.opts.PollInterval)
		select {
		case <-ctx.Done():
			poll.Stop()
			return nil, nil
		case <-s.life.Done():
			poll.Stop()
			return nil, stream.ErrClosed
		case <-deadline:
			poll.Stop()
			return nil, nil
		case <-wake:
			poll.Stop()
		case <-poll.C:
		}
	}
}

// readIfNew takes entries only when a cheap lock-free probe finds some (or
// the group missing): idle polls must not take the write lock, which on
// SQLite is the whole file's.
func (s *Stream) readIfNew(ctx context.Context, topic, group, consumer string, limit int) ([]stream.Message, error) {
	var last, top int64
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT
		COALESCE((SELECT last_id FROM stream_groups WHERE topic = ? AND grp = ?), -1),
		COALESCE((SELECT MAX(id) FROM stream_entries WHERE topic = ?), 0)`), topic, group, topic).Scan(&last, &top)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	if last >= 0 && top <= last {
		return nil, nil
	}
	return s.readOnce(ctx, topic, group, consumer, limit)
}

func (s *Stream) readOnce(ctx context.Context, topic, group, consumer string, limit int) ([]stream.Message, error) {
	var out []stream.Message
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		last, err := s.lockGroup(ctx, tx, topic, group)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, s.d.q(`SELECT id, body FROM stream_entries
			WHERE topic = ? AND id > ? ORDER BY id LIMIT ?`), topic, last, limit)
		if err != nil {
			return fmt.Errorf("select entries: %w", err)
		}
		var top int64
		for rows.Next() {
			var m stream.Message
			var id int64
			if err := rows.Scan(&id, &m.Body); err != nil {
				rows.Close()
				return fmt.Errorf("scan entry: %w", err)
			}
			m.ID, m.Deliveries, top = strconv.FormatInt(id, 10), 1, id
			out = append(out, m)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("select entries: %w", err)
		}
		if len(out) == 0 {
			return nil
		}
		// Ids of a topic commit in order, so (last, top] is exactly what
		// was just selected.
		res, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO stream_pending (topic, grp, entry_id, consumer, delivered_at, deliveries)
			SELECT topic, ?, id, ?, `+s.d.now()+`, 1 FROM stream_entries
			WHERE topic = ? AND id > ? AND id <= ?`), group, consumer, topic, last, top)
		if err != nil {
			return fmt.Errorf("mark pending: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != int64(len(out)) {
			return fmt.Errorf("mark pending: %d rows for %d entries (%v)", n, len(out), err)
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`UPDATE stream_groups SET last_id = ? WHERE topic = ? AND grp = ?`), top, topic, group); err != nil {
			return fmt.Errorf("advance group: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// signal returns a channel closed by the next Publish to topic in this
// process.
func (s *Stream) signal(topic string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.waiters[topic]
	if !ok {
		ch = make(chan struct{})
		s.waiters[topic] = ch
	}
	return ch
}

func (s *Stream) wake(topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.waiters[topic]; ok {
		delete(s.waiters, topic)
		close(ch)
	}
}

// Ack removes ids from the group's pending entries. Unknown or already
// acknowledged ids are ignored; malformed ones are a validation error.
func (s *Stream) Ack(ctx context.Context, topic, group string, ids ...string) error {
	if err := stream.CheckNames("topic", topic, "group", group); err != nil {
		return fmt.Errorf("dbqueue: ack: %w", err)
	}
	if err := s.usable(); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	nums := make([]int64, len(ids))
	for i, id := range ids {
		n, err := parseID(id)
		if err != nil {
			return fmt.Errorf("dbqueue: ack: %w", err)
		}
		nums[i] = n
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for part := range slices.Chunk(nums, chunk) {
			args := make([]any, 0, 2+len(part))
			args = append(args, topic, group)
			for _, n := range part {
				args = append(args, n)
			}
			_, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM stream_pending WHERE topic = ? AND grp = ? AND entry_id IN (`+placeholders(len(part))+`)`), args...)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dbqueue: ack %d ids on %q group %q: %w", len(ids), topic, group, err)
	}
	return nil
}

// Reclaim moves to consumer up to limit (at most 1000) entries of the group
// pending for longer than minIdle, oldest id first, counting the delivery.
func (s *Stream) Reclaim(ctx context.Context, topic, group, consumer string, minIdle time.Duration, limit int) ([]stream.Message, error) {
	if err := stream.CheckNames("topic", topic, "group", group, "consumer", consumer); err != nil {
		return nil, fmt.Errorf("dbqueue: reclaim: %w", err)
	}
	if err := stream.CheckMax(limit); err != nil {
		return nil, fmt.Errorf("dbqueue: reclaim: %w", err)
	}
	if err := s.usable(); err != nil {
		return nil, err
	}
	limit = min(limit, maxBatch)
	idle := max(minIdle, 0).Microseconds()
	var out []stream.Message
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		if _, err := s.lockGroup(ctx, tx, topic, group); err != nil {
			return err
		}
		now := s.d.now()
		rows, err := tx.QueryContext(ctx, s.d.q(`UPDATE stream_pending
			SET consumer = ?, delivered_at = `+now+`, deliveries = deliveries + 1
			WHERE topic = ? AND grp = ? AND delivered_at <= `+now+` - ? AND entry_id IN (
				SELECT entry_id FROM stream_pending
				WHERE topic = ? AND grp = ? AND delivered_at <= `+now+` - ?
				ORDER BY entry_id LIMIT ?)
			RETURNING entry_id, deliveries`),
			consumer, topic, group, idle, topic, group, idle, limit)
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		deliveries := map[int64]int{}
		for rows.Next() {
			var id int64
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return fmt.Errorf("scan claim: %w", err)
			}
			deliveries[id] = n
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		if len(deliveries) == 0 {
			return nil
		}
		out, err = s.bodies(ctx, tx, topic, deliveries)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dbqueue: reclaim %q group %q: %w", topic, group, err)
	}
	return out, nil
}

// bodies loads the claimed entries in id order. A claimed entry whose row is
// gone (deleted by hand; Trim never does it) is acknowledged away.
func (s *Stream) bodies(ctx context.Context, tx *sql.Tx, topic string, deliveries map[int64]int) ([]stream.Message, error) {
	ids := make([]int64, 0, len(deliveries))
	for id := range deliveries {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]stream.Message, 0, len(ids))
	found := map[int64]bool{}
	for part := range slices.Chunk(ids, chunk) {
		args := make([]any, 0, 1+len(part))
		args = append(args, topic)
		for _, id := range part {
			args = append(args, id)
		}
		rows, err := tx.QueryContext(ctx, s.d.q(`SELECT id, body FROM stream_entries WHERE topic = ? AND id IN (`+placeholders(len(part))+`) ORDER BY id`), args...)
		if err != nil {
			return nil, fmt.Errorf("load bodies: %w", err)
		}
		for rows.Next() {
			var id int64
			var b []byte
			if err := rows.Scan(&id, &b); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan body: %w", err)
			}
			found[id] = true
			out = append(out, stream.Message{ID: strconv.FormatInt(id, 10), Body: b, Deliveries: deliveries[id]})
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("load bodies: %w", err)
		}
	}
	for _, id := range ids {
		if found[id] {
			continue
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM stream_pending WHERE topic = ? AND entry_id = ?`), topic, id); err != nil {
			return nil, fmt.Errorf("drop pending of deleted entry %d: %w", id, err)
		}
	}
	return out, nil
}

// Trim deletes the entries of topic every group has passed and none has
// pending. A topic without groups is left alone, so a group created later
// still finds its entries.
func (s *Stream) Trim(ctx context.Context, topic string) (int64, error) {
	if err := stream.CheckName("topic", topic); err != nil {
		return 0, fmt.Errorf("dbqueue: trim: %w", err)
	}
	if err := s.usable(); err != nil {
		return 0, err
	}
	var dropped int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		dropped = 0
		// The topic row lock keeps groups from being created meanwhile.
		var last int64
		err := tx.QueryRowContext(ctx, s.d.q(`SELECT last_id FROM stream_topics WHERE topic = ?`+s.d.forUpdate()), topic).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("lock topic: %w", err)
		}
		var groups int64
		var low sql.NullInt64
		err = tx.QueryRowContext(ctx, s.d.q(`SELECT COUNT(*), MIN(last_id) FROM stream_groups WHERE topic = ?`), topic).Scan(&groups, &low)
		if err != nil {
			return fmt.Errorf("groups: %w", err)
		}
		if groups == 0 || !low.Valid || low.Int64 == 0 {
			return nil
		}
		// Pending rows of a group that no longer exists hold nothing
		// back: they go when that group is recreated.
		res, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM stream_entries
			WHERE topic = ? AND id <= ? AND NOT EXISTS (
				SELECT 1 FROM stream_pending p
				JOIN stream_groups g ON g.topic = p.topic AND g.grp = p.grp
				WHERE p.topic = stream_entries.topic AND p.entry_id = stream_entries.id)`), topic, low.Int64)
		if err != nil {
			return fmt.Errorf("delete entries: %w", err)
		}
		dropped, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("dbqueue: trim %q: %w", topic, err)
	}
	s.met.Trimmed.Add(float64(dropped))
	return dropped, nil
}

// Ping reports whether the database answers.
func (s *Stream) Ping(ctx context.Context) error {
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("dbqueue: ping: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction, again on a transient conflict. fn must
// reset whatever it collects, since it may run more than once.
func (s *Stream) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	backoff := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.tx(ctx, fn)
		if err == nil || attempt == txAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(backoff + rand.N(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

func (s *Stream) tx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Extend restarts the idle clock of ids still pending for consumer and
// returns those it extended.
func (s *Stream) Extend(ctx context.Context, topic, group, consumer string, ids ...string) ([]string, error) {
	return s.hold(ctx, "extend", topic, group, consumer, "delivered_at = "+s.d.now(), ids)
}

// Release makes ids pending for consumer reclaimable at once by setting
// their delivery time to the epoch. It takes back the delivery they
// counted: the next Reclaim counts it again, and they were never worked on.
func (s *Stream) Release(ctx context.Context, topic, group, consumer string, ids ...string) error {
	_, err := s.hold(ctx, "release", topic, group, consumer,
		"delivered_at = 0, deliveries = CASE WHEN deliveries > 0 THEN deliveries - 1 ELSE 0 END", ids)
	return err
}

// hold applies set (SQL assignments) to the ids still pending for consumer
// and returns them in the order given.
func (s *Stream) hold(ctx context.Context, op, topic, group, consumer, set string, ids []string) ([]string, error) {
	if err := stream.CheckNames("topic", topic, "group", group, "consumer", consumer); err != nil {
		return nil, fmt.Errorf("dbqueue: %s: %w", op, err)
	}
	if err := s.usable(); err != nil {
		return nil, err
	}
	nums := make([]int64, len(ids))
	for i, id := range ids {
		n, err := parseID(id)
		if err != nil {
			return nil, fmt.Errorf("dbqueue: %s: %w", op, err)
		}
		nums[i] = n
	}
	held := map[int64]bool{}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		clear(held)
		for part := range slices.Chunk(nums, chunk) {
			args := make([]any, 0, 3+len(part))
			args = append(args, topic, group, consumer)
			for _, n := range part {
				args = append(args, n)
			}
			rows, err := tx.QueryContext(ctx, s.d.q(`UPDATE stream_pending SET `+set+`
				WHERE topic = ? AND grp = ? AND consumer = ? AND entry_id IN (`+placeholders(len(part))+`)
				RETURNING entry_id`), args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var n int64
				if err := rows.Scan(&n); err != nil {
					rows.Close()
					return err
				}
				held[n] = true
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dbqueue: %s %d ids on %q group %q: %w", op, len(ids), topic, group, err)
	}
	out := make([]string, 0, len(held))
	for i, n := range nums {
		if held[n] {
			out = append(out, ids[i])
			delete(held, n) // an id given twice is returned once
		}
	}
	return out, nil
}
