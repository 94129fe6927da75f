package dbqueue

import (
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names accepted by New.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// dialect holds the few SQL differences between SQLite and PostgreSQL.
type dialect struct{ pg bool }

// q rewrites "?" placeholders to "$n" on PostgreSQL. The queries of this
// package have no "?" anywhere else.
func (d dialect) q(query string) string {
	if !d.pg {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// forUpdate locks the selected row on PostgreSQL. SQLite transactions are
// opened IMMEDIATE (one writer at a time), which already serialises them.
func (d dialect) forUpdate() string {
	if d.pg {
		return " FOR UPDATE"
	}
	return ""
}

// now is the database clock in unix microseconds. Every node compares
// delivered_at against the same clock this way.
func (d dialect) now() string {
	if d.pg {
		return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)"
	}
	return "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)"
}

// retryable reports transient conflicts worth running the transaction
// again for: SQLite busy/locked, PostgreSQL serialization failure/deadlock.
func retryable(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // primary code of an extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return false
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
