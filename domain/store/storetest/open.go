package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain/store/postgres"
	"github.com/notifyhub/notifyhub/domain/store/sqlite"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// DatabaseURLEnv names the PostgreSQL server tests use; unset skips them.
const DatabaseURLEnv = "NOTIFYHUB_TEST_DATABASE_URL"

// Opener opens a fresh, empty, migrated store that is closed (and its
// database removed) when the test ends.
type Opener func(t testing.TB) *sqlstore.Store

// Backends returns an Opener per backend, by dialect name: "sqlite" always
// works, "postgres" skips the calling test when DatabaseURLEnv is unset.
//
//	for name, open := range storetest.Backends(t) {
//		t.Run(name, func(t *testing.T) { s := open(t); ... })
//	}
func Backends(t testing.TB) map[string]Opener {
	t.Helper()
	return map[string]Opener{
		"sqlite":   OpenSQLite,
		"postgres": OpenPostgres,
	}
}

// testLogger keeps store logs out of test output.
func testLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// OpenSQLite opens a store on a new SQLite file in t's temp dir.
func OpenSQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "notifyhub.db"), testLogger())
	require.NoError(t, err, "open sqlite store")
	t.Cleanup(func() { require.NoError(t, s.Close(), "close sqlite store") })
	return s
}

// OpenPostgres opens a store on a new schema t_<random> of the database in
// NOTIFYHUB_TEST_DATABASE_URL and drops the schema when the test ends. It
// skips the test, saying why, when the variable is unset.
func OpenPostgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	base := os.Getenv(DatabaseURLEnv)
	if base == "" {
		t.Skipf("%s is not set: skipping the PostgreSQL store", DatabaseURLEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema := NewSchema(t, base)
	s, err := postgres.Open(ctx, WithSearchPath(base, schema), testLogger())
	require.NoError(t, err, "open postgres store in schema %s", schema)
	// Registered after NewSchema's cleanup, so it runs before the drop.
	t.Cleanup(func() { require.NoError(t, s.Close(), "close postgres store") })
	return s
}

// NewSchema creates an empty schema t_<random> in the database at base and
// drops it (with everything in it) when the test ends.
func NewSchema(t testing.TB, base string) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { admin(t, base, "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
	return schema
}

func admin(t testing.TB, base, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	require.NoError(t, err, "connect to %s", DatabaseURLEnv)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	require.NoError(t, err, stmt)
}

// WithSearchPath returns the database URL (or key=value DSN) base with its
// search_path set to schema.
func WithSearchPath(base, schema string) string {
	return WithParam(base, "search_path", schema)
}

// WithParam returns the database URL (or key=value DSN) base with the
// connection parameter key set to value (a plain word).
func WithParam(base, key, value string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err == nil {
			q := u.Query()
			q.Set(key, value)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return base + " " + key + "=" + value
}
