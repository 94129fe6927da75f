package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/product"
)

// Compile-time checks: the store satisfies every consumer's interface.
var (
	_ product.Store      = (*Store)(nil)
	_ inventory.Store    = (*Store)(nil)
	_ notification.Store = (*Store)(nil)
)

// Dialect is what differs between the SQL backends. Queries are written once
// with "?" markers; the dialect supplies the few fragments and judgements
// that cannot be shared.
type Dialect interface {
	// Name is "postgres" or "sqlite".
	Name() string
	// Placeholder is the marker of the n-th (1-based) bind parameter:
	// "$n" on PostgreSQL, "?" on SQLite.
	Placeholder(n int) string
	// LockRows is appended to a SELECT to lock the returned rows until the
	// transaction ends, skipping rows locked by others when skipLocked is
	// set. It is "" where the backend serialises writers instead.
	LockRows(skipLocked bool) string
	// ShareRows is LockRows in shared mode: others may share the lock,
	// but nobody may change the rows until the transaction ends.
	ShareRows() string
	// Classify tells what a driver error means to the store.
	Classify(err error) ErrorKind
}

// ErrorKind is a backend-independent class of driver error.
type ErrorKind int

const (
	// KindOther is any error the store does not interpret.
	KindOther ErrorKind = iota
	// KindUniqueViolation: an insert or update hit a unique constraint.
	KindUniqueViolation
	// KindForeignKeyViolation: a row refers to a row that does not exist
	// (for this tenant: references always include tenant_id).
	KindForeignKeyViolation
	// KindRetryable: the transaction lost a race (SQLite busy or locked,
	// PostgreSQL serialization failure or deadlock) and may be rerun.
	KindRetryable
	// KindInvalidValue: the database rejected a value (bad encoding, out of
	// range): bad input rather than a fault.
	KindInvalidValue
)

// Config configures a Store.
type Config struct {
	// DB is the pool, already migrated. Required.
	DB *sql.DB
	// Dialect of DB. Required.
	Dialect Dialect
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// OnClose runs once, after Close has closed DB: the backend stops its
	// listeners and releases what it opened underneath DB.
	OnClose func() error
	// MaxTxAttempts bounds how often InTx runs a transaction that keeps
	// failing with a retryable error. Default 5.
	MaxTxAttempts int
	// EventsCommitted, when set, runs after every commit that appended
	// events (after EventSignal fires) while no relay of this process
	// drains the outbox (DrainLocally): the backend tells other processes.
	EventsCommitted func()
}

// Store implements the persistence interfaces of the domain over
// database/sql. It is safe for concurrent use.
type Store struct {
	db          *sql.DB
	d           Dialect
	log         *slog.Logger
	onClose     func() error
	maxAttempts int
	rebinds     bool
	rebound     rebindCache
	events      chan struct{}
	// eventsCommitted is Config.EventsCommitted.
	eventsCommitted func()
	// localDrains counts this process's relays draining the outbox
	// (DrainLocally).
	localDrains atomic.Int32

	closeOnce sync.Once
	closeErr  error
}

// New wraps a migrated pool. Backends call it from their Open.
func New(cfg Config) (*Store, error) {
	if cfg.DB == nil {
		return nil, errors.New("sqlstore: Config.DB is required")
	}
	if cfg.Dialect == nil {
		return nil, errors.New("sqlstore: Config.Dialect is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxTxAttempts <= 0 {
		cfg.MaxTxAttempts = 5
	}
	return &Store{
		db:              cfg.DB,
		d:               cfg.Dialect,
		log:             cfg.Logger.With(slog.String("component", "store"), slog.String("dialect", cfg.Dialect.Name())),
		onClose:         cfg.OnClose,
		maxAttempts:     cfg.MaxTxAttempts,
		eventsCommitted: cfg.EventsCommitted,
		rebinds:         cfg.Dialect.Placeholder(1) != "?",
		events:          make(chan struct{}, 1),
	}, nil
}

// Dialect is "postgres" or "sqlite".
func (s *Store) Dialect() string { return s.d.Name() }

// DB is the underlying pool, for adapters that keep their own tables in the
// same database (the dbqueue stream backend). Use Querier to take part in a
// transaction started by InTx.
func (s *Store) DB() *sql.DB { return s.db }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.d.Name(), err)
	}
	return nil
}

// Close closes the pool, then runs the backend's OnClose. Later calls return
// the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		err := s.db.Close()
		if s.onClose != nil {
			err = errors.Join(err, s.onClose())
		}
		if err != nil {
			s.closeErr = fmt.Errorf("close store: %w", err)
		}
	})
	return s.closeErr
}

// EventSignal is sent on (buffered, coalesced) when events may have been
// added to the outbox: after a commit that appended events in this process,
// and, on PostgreSQL, when another process did (or when the LISTEN
// connection came back, since commits may have gone unannounced). A
// receiver must then drain the outbox; one signal may stand for many
// commits. Nothing is sent for events that were there before the store was
// opened: a relay drains once when it starts.
func (s *Store) EventSignal() <-chan struct{} { return s.events }

// SignalEvents wakes EventSignal's receiver. Backends call it when they learn
// of events committed elsewhere (PostgreSQL LISTEN/NOTIFY).
func (s *Store) SignalEvents() {
	select {
	case s.events <- struct{}{}:
	default: // a wake-up is already pending; it covers this one too
	}
}

// DrainLocally tells the store that a relay in this process drains the
// outbox whenever EventSignal fires, until release is called. While one
// does, commits are not announced to other processes
// (Config.EventsCommitted): this process's relay publishes its own
// events, and waking the others' would only have them find nothing (on
// PostgreSQL a NOTIFY round trip, and a wake-up of every listener, for
// about every commit under load). Should the local relay fall behind,
// the others still find the events at their next poll.
func (s *Store) DrainLocally() (release func()) {
	s.localDrains.Add(1)
	var once sync.Once
	return func() { once.Do(func() { s.localDrains.Add(-1) }) }
}

// Querier is what *sql.DB and *sql.Tx have in common.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Querier returns the transaction carried by ctx (see InTx), or the pool when
// there is none. Adapters sharing the database use it to write in the
// caller's transaction: on SQLite a second connection could not write while
// that transaction holds the write lock. Queries given to it are not
// rebound: write them in the dialect's own markers.
func (s *Store) Querier(ctx context.Context) Querier {
	if st := s.txFrom(ctx); st != nil {
		return st.tx
	}
	return s.db
}

// txKey carries the store so that contexts may hold transactions of two
// stores without one being mistaken for the other.
type txKey struct{ s *Store }

type txState struct {
	tx     *sql.Tx
	done   atomic.Bool // committed or rolled back: ctx no longer carries a usable tx
	events atomic.Bool // the tx appended events: signal after commit

	mu    sync.Mutex
	after []func()
}

func (s *Store) txFrom(ctx context.Context) *txState {
	st, _ := ctx.Value(txKey{s}).(*txState)
	if st == nil || st.done.Load() {
		return nil
	}
	return st
}

// InTx runs fn in a transaction carried by the ctx it passes to fn: commit
// when fn returns nil, roll back otherwise (also when fn panics). Inside a
// transaction InTx joins it: fn runs in the outer transaction and the
// outermost InTx decides. A transaction that fails with a retryable error
// (SQLite busy, PostgreSQL serialization failure or deadlock) is run again
// from the start, a few times, after a jittered backoff: fn must therefore
// only touch the database through ctx, or be safe to repeat.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.txFrom(ctx) != nil {
		return fn(ctx)
	}
	return s.retrying(ctx, func() error { return s.runTx(ctx, fn) })
}

// retrying runs run, a whole transaction, until it succeeds, fails with
// an error that is not retryable, or has failed a few times; between runs
// it waits a jittered, growing backoff.
func (s *Store) retrying(ctx context.Context, run func() error) error {
	backoff := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := run()
		if err == nil {
			return nil
		}
		if attempt >= s.maxAttempts || s.d.Classify(err) != KindRetryable || ctx.Err() != nil {
			return err
		}
		s.log.DebugContext(ctx, "transaction lost a race, retrying",
			slog.Int("attempt", attempt), slog.Any("err", err))
		wait := backoff/2 + rand.N(backoff)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

func (s *Store) runTx(ctx context.Context, fn func(ctx context.Context) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	st := &txState{tx: tx}
	committed := false
	defer func() {
		if committed {
			return
		}
		st.done.Store(true)
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) && !errors.Is(rbErr, context.Canceled) {
			s.log.WarnContext(ctx, "rollback failed", slog.Any("err", rbErr))
		}
	}()
	if err := fn(context.WithValue(ctx, txKey{s}, st)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	committed = true
	st.done.Store(true)
	if st.events.Load() {
		s.SignalEvents()
		if s.eventsCommitted != nil && s.localDrains.Load() == 0 {
			s.eventsCommitted()
		}
	}
	st.mu.Lock()
	after := st.after
	st.after = nil
	st.mu.Unlock()
	for _, f := range after {
		f()
	}
	return nil
}

// AfterCommit runs fn after the transaction carried by ctx commits, in
// registration order, and never if it rolls back. Outside a transaction it
// runs fn at once.
func (s *Store) AfterCommit(ctx context.Context, fn func()) {
	st := s.txFrom(ctx)
	if st == nil {
		fn()
		return
	}
	st.mu.Lock()
	st.after = append(st.after, fn)
	st.mu.Unlock()
}

// inTx reports whether ctx carries a live transaction of this store.
func (s *Store) inTx(ctx context.Context) bool { return s.txFrom(ctx) != nil }

// rebind turns "?" markers into the dialect's. Queries never put "?" inside
// string literals other than quoted ones, which are skipped.
func (s *Store) rebind(q string) string {
	if !s.rebinds {
		return q
	}
	if r, ok := s.rebound.get(q); ok {
		return r
	}
	r := rebindQuery(s.d, q)
	s.rebound.put(q, r)
	return r
}

// rebindQuery is rebind without the cache.
func rebindQuery(d Dialect, q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	quoted := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
			b.WriteByte(c)
		case c == '?' && !quoted:
			n++
			b.WriteString(d.Placeholder(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// rebindCache keeps the rebound text of the queries the store runs, so a
// hot query is not rewritten byte by byte on every call (a few percent of
// a personal notification's CPU). Most queries are constants; those built
// for a batch's size come in a bounded number of shapes, and the cache
// stops growing at rebindCacheMax entries (concurrent misses may add a
// few past it); long ones, a bulk import's multi-row statements, are not
// kept at all.
type rebindCache struct {
	m sync.Map // query → rebound query
	n atomic.Int64
}

const (
	rebindCacheMax      = 2048
	rebindCacheMaxBytes = 16 << 10
)

func (c *rebindCache) get(q string) (string, bool) {
	r, ok := c.m.Load(q)
	if !ok {
		return "", false
	}
	return r.(string), true
}

func (c *rebindCache) put(q, r string) {
	if len(q) > rebindCacheMaxBytes || c.n.Load() >= rebindCacheMax {
		return
	}
	if _, loaded := c.m.LoadOrStore(q, r); !loaded {
		c.n.Add(1)
	}
}

func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.Querier(ctx).ExecContext(ctx, s.rebind(query), args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.Querier(ctx).QueryContext(ctx, s.rebind(query), args...)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.Querier(ctx).QueryRowContext(ctx, s.rebind(query), args...)
}

// kind classifies err with the dialect.
func (s *Store) kind(err error) ErrorKind {
	if err == nil {
		return KindOther
	}
	return s.d.Classify(err)
}

// wrap adds op to err, turning the driver errors that mean bad input into
// the domain's sentinels: a dangling reference is ErrNotFound (references
// carry tenant_id, so this is also what pointing at another tenant's row
// gives), a rejected value is a ValidationError.
func (s *Store) wrap(op string, err error) error {
	switch s.kind(err) {
	case KindForeignKeyViolation:
		return fmt.Errorf("%s: referenced row: %w", op, domain.ErrNotFound)
	case KindInvalidValue:
		return fmt.Errorf("%s: %w", op, invalidValue(err))
	}
	return fmt.Errorf("%s: %w", op, err)
}

// affected returns RowsAffected, wrapped with op on error.
func affected(op string, res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: rows affected: %w", op, err)
	}
	return n, nil
}
