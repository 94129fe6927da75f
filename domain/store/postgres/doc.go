// Package postgres opens the distributed-mode store: PostgreSQL through
// pgx/v5 (a pgxpool behind database/sql), migrated under an advisory lock so
// that nodes starting together do not race, and handed back as the shared
// *sqlstore.Store with the PostgreSQL Dialect.
//
// It also wakes relays across processes: a trigger on the events table
// NOTIFYs channel notifyhub_events when a transaction that appended events
// commits, and a listener goroutine on a dedicated connection (reconnecting
// with backoff) turns those into the store's EventSignal.
//
// It owns connection setup, migration locking, the dialect and the listener;
// the queries live in sqlstore.
package postgres
