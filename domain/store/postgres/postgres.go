package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/migrations"
)

// Channel is the NOTIFY channel a process announces its committed events
// on (announce.go); the payload is the schema of the events table.
const Channel = "notifyhub_events"

// DefaultMaxConns is the pool size when the URL sets no pool_max_conns:
// four connections per CPU, at least 16. pgx's own default (the number of
// CPUs, at least 4) starves a process whose relay, hub catch-ups, requests
// and every listener's transactions share the pool: measured here, 4 → 24
// connections raised WebSocket connects from ~800/s to ~1,200/s and cut
// personal-notification p50 at 1,000/s from 924 ms to under 10 ms. Sixteen
// per process leaves room for five processes under PostgreSQL's default
// max_connections of 100; set pool_max_conns for more.
func DefaultMaxConns() int32 {
	return int32(max(16, 4*runtime.NumCPU()))
}

// plannerDefaults are the planner settings every connection of the store
// sets unless the URL sets them itself (a parameter of that name, as
// random_page_cost=4).
//
// random_page_cost: PostgreSQL's default of 4 prices a random page read
// as four sequential ones, a spinning disk's ratio. The rows the hot
// statements touch are cached, and at 4 the planner preferred hashing a
// sequential scan of the users table over probing its primary key for
// the few recipients of each batch of notifications (a tenant of 1,000
// users; larger tables flip the choice back): 50,000 personal
// notifications at 5,000/s cost PostgreSQL 6.3–6.5 CPU-seconds at 4,
// 5.5–5.7 at 1.1. 1.1 is the value PostgreSQL's documentation suggests
// for storage with cheap random reads; it prices those probes as what
// they cost here.
var plannerDefaults = map[string]string{"random_page_cost": "1.1"}

// poolConfig parses url, with DefaultMaxConns unless the URL sizes the
// pool itself, and plannerDefaults where the URL does not set them.
func poolConfig(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The error may quote the URL, password included: keep only its kind.
		return nil, errors.New("open postgres: invalid database url")
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns()
	}
	for name, value := range plannerDefaults {
		if _, ok := cfg.ConnConfig.RuntimeParams[name]; !ok {
			cfg.ConnConfig.RuntimeParams[name] = value
		}
	}
	return cfg, nil
}

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN; pool_* settings are honoured, and any other parameter such as
// search_path is sent to the server for every connection), applies the
// pending migrations to the current schema and returns the store with its
// LISTEN loop running. Close the store to stop both.
func Open(ctx context.Context, url string, logger *slog.Logger) (*sqlstore.Store, error) {
	s, _, _, err := open(ctx, url, logger)
	return s, err
}

// open is Open that also returns the listener and the announcer, for
// tests.
func open(ctx context.Context, url string, logger *slog.Logger) (*sqlstore.Store, *listener, *announcer, error) {
	if logger == nil {
		logger = slog.Default()
	}
	cfg, err := poolConfig(url)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "notifyhub"
	}
	// The store signals its own commits in-process; the listener ignores
	// notifications sent by this pool's connections, so that each commit
	// wakes the local relay once.
	own := &pidSet{pids: map[uint32]struct{}{}}
	afterConnect := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		own.add(c.PgConn().PID())
		if afterConnect != nil {
			return afterConnect(ctx, c)
		}
		return nil
	}
	beforeClose := cfg.BeforeClose
	cfg.BeforeClose = func(c *pgx.Conn) {
		own.remove(c.PgConn().PID())
		if beforeClose != nil {
			beforeClose(c)
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open postgres: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	fail := func(err error) (*sqlstore.Store, *listener, *announcer, error) {
		err = errors.Join(err, db.Close())
		pool.Close()
		return nil, nil, nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		return fail(fmt.Errorf("open postgres: %w", err))
	}
	schema, err := migrate(ctx, db)
	if err != nil {
		return fail(err)
	}

	lcfg := cfg.ConnConfig.Copy()
	lcfg.RuntimeParams["application_name"] = cfg.ConnConfig.RuntimeParams["application_name"] + "-listener"
	l := &listener{cfg: lcfg, schema: schema, own: own, log: logger.With(slog.String("component", "store-listener"))}
	lctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	a := &announcer{db: db, schema: schema, log: logger.With(slog.String("component", "store-announcer"))}
	s, err := sqlstore.New(sqlstore.Config{
		DB:              db,
		Dialect:         Dialect{},
		Logger:          logger,
		EventsCommitted: a.kick,
		OnClose: func() error {
			stop()
			<-done
			pool.Close()
			return nil
		},
	})
	if err != nil {
		stop()
		return fail(err)
	}
	l.signal = s.SignalEvents
	go func() {
		defer close(done)
		l.run(lctx)
	}()
	return s, l, a, nil
}

// migrate applies the migrations to the current schema while holding an
// advisory lock keyed by that schema, and returns the schema's name.
func migrate(ctx context.Context, db *sql.DB) (string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", fmt.Errorf("migrate postgres: %w", err)
	}
	defer conn.Close()
	var schema sql.NullString
	if err := conn.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return "", fmt.Errorf("migrate postgres: current schema: %w", err)
	}
	if !schema.Valid {
		return "", errors.New("migrate postgres: search_path names no existing schema")
	}
	key := "notifyhub:migrate:" + schema.String
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext($1))`, key); err != nil {
		return "", fmt.Errorf("migrate postgres: lock: %w", err)
	}
	defer func() {
		// Unlock even when ctx is done; closing the session would release it too.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext($1))`, key)
	}()
	if _, err := migrations.Up(ctx, db, migrations.Postgres); err != nil {
		return "", fmt.Errorf("migrate postgres schema %s: %w", schema.String, err)
	}
	return schema.String, nil
}

// Dialect is PostgreSQL's side of sqlstore.Dialect.
type Dialect struct{}

var _ sqlstore.Dialect = Dialect{}

// Name is "postgres".
func (Dialect) Name() string { return string(migrations.Postgres) }

// Placeholder is "$n".
func (Dialect) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

// LockRows locks the selected rows until the transaction ends.
func (Dialect) ShareRows() string { return " FOR SHARE" }

func (Dialect) LockRows(skipLocked bool) string {
	if skipLocked {
		return " FOR UPDATE SKIP LOCKED"
	}
	return " FOR UPDATE"
}

// Classify maps SQLSTATE codes.
func (Dialect) Classify(err error) sqlstore.ErrorKind {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return sqlstore.KindOther
	}
	switch e.Code {
	case "23505": // unique_violation
		return sqlstore.KindUniqueViolation
	case "23503": // foreign_key_violation
		return sqlstore.KindForeignKeyViolation
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return sqlstore.KindRetryable
	case "23514": // check_violation
		return sqlstore.KindInvalidValue
	}
	if len(e.Code) == 5 && e.Code[:2] == "22" { // data_exception: bad encoding, out of range, ...
		return sqlstore.KindInvalidValue
	}
	return sqlstore.KindOther
}

var _ sqlstore.Pipeliner = Dialect{}

// Pipeline sends stmts on one connection in one round trip, as a pgx
// batch: one Sync after the last, so PostgreSQL runs them as one implicit
// transaction (sqlstore.Pipeliner). A missing row is sql.ErrNoRows, as
// database/sql reports it.
func (Dialect) Pipeline(ctx context.Context, db *sql.DB, stmts []sqlstore.PipelinedStatement) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		dc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("pipeline: a %T is not a pgx connection", driverConn)
		}
		var b pgx.Batch
		for _, st := range stmts {
			b.Queue(st.Query, st.Args...)
		}
		results := dc.Conn().SendBatch(ctx, &b)
		var first error
		for _, st := range stmts {
			err := results.QueryRow().Scan(st.Dest...)
			if errors.Is(err, pgx.ErrNoRows) {
				err = sql.ErrNoRows
			}
			if first == nil {
				first = err
			}
		}
		// Close reads up to the Sync: only then has the transaction ended.
		// After a failed statement it reports that statement's error again.
		if err := results.Close(); first == nil {
			first = err
		}
		return first
	})
}
