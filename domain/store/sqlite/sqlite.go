package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	// The "sqlite" database/sql driver.
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/migrations"
)

// Memory is the path that asks Open for a throwaway database. A real
// ":memory:" database would be one per connection of the pool, so Open backs
// it with a file in a temporary directory removed by Close instead.
const Memory = ":memory:"

// busyTimeoutMS is how long a connection waits for another one's write lock
// before SQLITE_BUSY; InTx then retries the whole transaction.
const busyTimeoutMS = 10000

// Open opens (creating if needed) the SQLite database at path, applies the
// pending migrations and returns the store. Close the store to release it.
func Open(ctx context.Context, path string, logger *slog.Logger) (*sqlstore.Store, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if path == "" {
		return nil, errors.New("open sqlite: empty path")
	}
	var cleanup func() error
	if path == Memory {
		dir, err := os.MkdirTemp("", "notifyhub-sqlite-")
		if err != nil {
			return nil, fmt.Errorf("open sqlite: temp dir for %s: %w", Memory, err)
		}
		path = filepath.Join(dir, "notifyhub.db")
		cleanup = func() error { return os.RemoveAll(dir) }
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite %s: %w", path, err), runCleanup(cleanup))
	}
	// Idle connections are cheap to keep and spare reopening the file.
	db.SetMaxIdleConns(8)
	fail := func(err error) (*sqlstore.Store, error) {
		return nil, errors.Join(err, db.Close(), runCleanup(cleanup))
	}
	if err := db.PingContext(ctx); err != nil {
		return fail(fmt.Errorf("open sqlite %s: %w", path, err))
	}
	if _, err := migrations.Up(ctx, db, migrations.SQLite); err != nil {
		return fail(fmt.Errorf("open sqlite %s: %w", path, err))
	}
	s, err := sqlstore.New(sqlstore.Config{DB: db, Dialect: Dialect{}, Logger: logger, OnClose: cleanup})
	if err != nil {
		return fail(err)
	}
	return s, nil
}

func runCleanup(f func() error) error {
	if f == nil {
		return nil
	}
	return f()
}

// dsn builds a file: URI (so that any path is taken literally) with the
// settings every pooled connection gets.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// BEGIN IMMEDIATE: a write transaction takes the write lock up front
	// (waiting up to the busy timeout) rather than upgrading a read lock
	// later, which fails at once with SQLITE_BUSY when another writer won.
	q.Set("_txlock", "immediate")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Dialect is SQLite's side of sqlstore.Dialect.
type Dialect struct{}

var _ sqlstore.Dialect = Dialect{}

// Name is "sqlite".
func (Dialect) Name() string { return string(migrations.SQLite) }

// Placeholder is "?" for every parameter.
func (Dialect) Placeholder(int) string { return "?" }

// LockRows is empty: IMMEDIATE transactions already exclude other writers.
func (Dialect) LockRows(bool) string { return "" }

func (Dialect) ShareRows() string { return "" }

// Classify maps SQLite result codes (extended codes are on).
func (Dialect) Classify(err error) sqlstore.ErrorKind {
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return sqlstore.KindOther
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return sqlstore.KindUniqueViolation
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return sqlstore.KindForeignKeyViolation
	case sqlite3.SQLITE_CONSTRAINT_CHECK:
		return sqlstore.KindInvalidValue
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return sqlstore.KindRetryable
	}
	return sqlstore.KindOther
}
