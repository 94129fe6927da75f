// Package sqlstore is the one implementation of every domain Store interface
// over database/sql, shared by the PostgreSQL and SQLite backends. What
// differs between them (bind markers, row locks, JSON array functions, how
// driver errors are classified) is a small Dialect that each backend
// package supplies; the SQL itself is written once.
//
// Transactions travel in the context: InTx puts the transaction in the ctx
// it hands to fn, and every method runs on the transaction found in its ctx,
// or on the pool when there is none. A nested InTx joins the outer one.
//
// It owns the queries and the mapping of rows to domain types. It does not
// open connections, apply migrations or listen for cross-process wake-ups:
// the backend packages (domain/store/postgres, domain/store/sqlite) do.
package sqlstore
