// Package sqlite opens the embedded-mode store: a SQLite file through
// modernc.org/sqlite (pure Go), in WAL mode with foreign keys on, a busy
// timeout, and write transactions begun IMMEDIATE so that concurrent writers
// queue for the lock instead of failing half-way. It applies the SQLite
// migrations and hands back the shared *sqlstore.Store with the SQLite
// Dialect.
//
// It owns the connection settings and the dialect; the queries live in
// sqlstore. There is no cross-process wake-up: one process owns the file,
// and the store signals its relay in-process after each commit.
package sqlite
