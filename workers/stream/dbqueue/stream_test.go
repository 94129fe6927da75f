package dbqueue_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/notifyhub/notifyhub/migrations"
	"github.com/notifyhub/notifyhub/workers/stream"
	"github.com/notifyhub/notifyhub/workers/stream/dbqueue"
	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

const databaseURLEnv = "NOTIFYHUB_TEST_DATABASE_URL"

// backend opens a fresh, migrated database for one test and returns a
// handle on it plus a way to open more handles on the same database (as
// another process would).
type backend struct {
	name    string
	dialect string
	open    func(t testing.TB) (db *sql.DB, another func() *sql.DB)
}

func backends() []backend {
	return []backend{
		{name: "sqlite", dialect: dbqueue.SQLite, open: openSQLite},
		{name: "postgres", dialect: dbqueue.Postgres, open: openPostgres},
	}
}

func openSQLite(t testing.TB) (*sql.DB, func() *sql.DB) {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "stream.db") +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", dsn)
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	db := open()
	_, err := migrations.Up(context.Background(), db, migrations.SQLite)
	require.NoError(t, err)
	return db, open
}

// openPostgres creates a schema of its own, points search_path at it,
// migrates it, and drops it afterwards.
func openPostgres(t testing.TB) (*sql.DB, func() *sql.DB) {
	t.Helper()
	base := os.Getenv(databaseURLEnv)
	if base == "" {
		t.Skip(databaseURLEnv + " is not set: skipping the PostgreSQL queue tests")
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	_, err = admin.ExecContext(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err, "PostgreSQL at "+databaseURLEnv+" must be reachable")
	t.Cleanup(func() {
		_, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	open := func() *sql.DB {
		db, err := sql.Open("pgx", u.String())
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() }) // runs before the schema drop
		return db
	}
	db := open()
	_, err = migrations.Up(ctx, db, migrations.Postgres)
	require.NoError(t, err)
	return db, open
}

func newStream(t testing.TB, be backend, opts dbqueue.Options) (*dbqueue.Stream, *sql.DB, func() *sql.DB) {
	t.Helper()
	db, another := be.open(t)
	s := dbqueue.New(db, be.dialect, opts)
	t.Cleanup(func() { _ = s.Close() })
	return s, db, another
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			if be.dialect == dbqueue.Postgres && os.Getenv(databaseURLEnv) == "" {
				t.Skip(databaseURLEnv + " is not set: skipping the PostgreSQL queue tests")
			}
			streamtest.Run(t, func(t *testing.T) stream.Stream {
				s, _, _ := newStream(t, be, dbqueue.Options{})
				return s
			})
		})
	}
}

// forEach runs fn once per backend, in parallel.
func forEach(t *testing.T, fn func(t *testing.T, be backend)) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			fn(t, be)
		})
	}
}

// Another process publishing: no in-process wake-up, the poll finds it.
func TestReadSeesOtherProcessByPolling(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, be backend) {
		ctx := t.Context()
		reader, _, another := newStream(t, be, dbqueue.Options{PollInterval: 20 * time.Millisecond})
		writer := dbqueue.New(another(), be.dialect, dbqueue.Options{})
		require.NoError(t, reader.EnsureGroup(ctx, "t", "g"))

		done := make(chan []stream.Message, 1)
		errc := make(chan error, 1)
		go func() {
			msgs, err := reader.Read(ctx, "t", "g", "c", 10, 10*time.Minute)
			if err != nil {
				errc <- err
				return
			}
			done <- msgs
		}()
		require.NoError(t, writer.Publish(ctx, "t", []byte("from elsewhere")))
		select {
		case msgs := <-done:
			require.Len(t, msgs, 1)
			require.Equal(t, "from elsewhere", string(msgs[0].Body))
		case err := <-errc:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("a reader never saw an entry published through another handle")
		}
	})
}

// A Publish in this process wakes a blocked Read at once: with polling
// effectively off, nothing else could.
func TestPublishWakesReaderInProcess(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, be backend) {
		ctx := t.Context()
		s, _, _ := newStream(t, be, dbqueue.Options{PollInterval: time.Hour})
		require.NoError(t, s.EnsureGroup(ctx, "t", "g"))
		for round := range 3 {
			done := make(chan []stream.Message, 1)
			errc := make(chan error, 1)
			go func() {
				msgs, err := s.Read(ctx, "t", "g", "c", 10, 10*time.Minute)
				if err != nil {
					errc <- err
					return
				}
				done <- msgs
			}()
			body := fmt.Sprint("round ", round)
			require.NoError(t, s.Publish(ctx, "t", []byte(body)))
			select {
			case msgs := <-done:
				require.Len(t, msgs, 1)
				require.Equal(t, body, string(msgs[0].Body))
			case err := <-errc:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Fatal("Publish did not wake the reader")
			}
		}
	})
}

// A group row removed behind the queue's back (its pending rows left
// behind) comes back from the start with nothing pending, and while it is
// gone its stale pending rows hold nothing back.
func TestGroupRowDeletedByHand(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, be backend) {
		ctx := t.Context()
		reg := prometheus.NewRegistry()
		s, db, _ := newStream(t, be, dbqueue.Options{Registerer: reg})
		require.NoError(t, s.Publish(ctx, "t", []byte("a"), []byte("b"), []byte("c")))
		require.NoError(t, s.EnsureGroup(ctx, "t", "g"))
		require.NoError(t, s.EnsureGroup(ctx, "t", "other"))
		recreated := func() float64 {
			return streamtest.CounterValue(t, reg, "notifyhub_stream_groups_recreated_total")
		}
		require.Zero(t, recreated(), "EnsureGroup creating a group is not a recreation")
		got, err := s.Read(ctx, "t", "g", "c", 10, 0)
		require.NoError(t, err)
		require.Len(t, got, 3)
		dropGroupRow := func() {
			_, err := db.ExecContext(ctx, "DELETE FROM stream_groups WHERE topic = 't' AND grp = 'g'")
			require.NoError(t, err)
		}

		dropGroupRow()
		claimed, err := s.Reclaim(ctx, "t", "g", "r", 0, 10)
		require.NoError(t, err)
		require.Empty(t, claimed, "a recreated group starts with nothing pending")
		require.Equal(t, 1.0, recreated())
		again, err := s.Read(ctx, "t", "g", "c", 10, 0)
		require.NoError(t, err)
		require.Equal(t, []string{"a", "b", "c"}, bodiesOf(again))
		for _, m := range again {
			require.Equal(t, 1, m.Deliveries)
		}

		other, err := s.Read(ctx, "t", "other", "c", 10, 0)
		require.NoError(t, err)
		require.NoError(t, s.Ack(ctx, "t", "other", idsOf(other)...))
		n, err := s.Trim(ctx, "t")
		require.NoError(t, err)
		require.Zero(t, n, "g still has everything pending")
		dropGroupRow()
		n, err = s.Trim(ctx, "t")
		require.NoError(t, err)
		require.Equal(t, int64(3), n, "pending rows of a missing group hold nothing back")
		require.Equal(t, 3.0, streamtest.CounterValue(t, reg, "notifyhub_stream_trimmed_entries_total"))

		require.NoError(t, s.Publish(ctx, "t", []byte("d")))
		got, err = s.Read(ctx, "t", "g", "c", 10, 0)
		require.NoError(t, err)
		require.Equal(t, []string{"d"}, bodiesOf(got))
	})
}

func bodiesOf(msgs []stream.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Body)
	}
	return out
}

func idsOf(msgs []stream.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// A pending entry whose row was deleted by hand is acknowledged away.
func TestReclaimSkipsDeletedEntries(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, be backend) {
		ctx := t.Context()
		s, db, _ := newStream(t, be, dbqueue.Options{})
		require.NoError(t, s.Publish(ctx, "t", []byte("gone"), []byte("kept")))
		got, err := s.Read(ctx, "t", "g", "c", 10, 0)
		require.NoError(t, err)
		require.Len(t, got, 2)
		_, err = db.ExecContext(ctx, "DELETE FROM stream_entries WHERE topic = 't' AND id = "+got[0].ID)
		require.NoError(t, err)

		claimed, err := s.Reclaim(ctx, "t", "g", "r", 0, 10)
		require.NoError(t, err)
		require.Len(t, claimed, 1)
		require.Equal(t, "kept", string(claimed[0].Body))
		var pending int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM stream_pending WHERE topic = 't'").Scan(&pending))
		require.Equal(t, 1, pending)
	})
}

func TestReadReturnsAtMostOneThousand(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, be backend) {
		ctx := t.Context()
		s, _, _ := newStream(t, be, dbqueue.Options{})
		batch := make([][]byte, 1100)
		for i := range batch {
			batch[i] = []byte(fmt.Sprint(i))
		}
		require.NoError(t, s.Publish(ctx, "t", batch...))
		got, err := s.Read(ctx, "t", "g", "c", 5000, 0)
		require.NoError(t, err)
		require.Len(t, got, 1000)
		rest, err := s.Read(ctx, "t", "g", "c", 5000, 0)
		require.NoError(t, err)
		require.Len(t, rest, 100)
		require.Equal(t, "1099", string(rest[99].Body))
	})
}

// Writers on separate handles contend for the SQLite file lock (and rows
// on PostgreSQL); every entry still arrives once.
func TestContendingHandles(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, be backend) {
		ctx := t.Context()
		s, _, another := newStream(t, be, dbqueue.Options{PollInterval: 10 * time.Millisecond})
		require.NoError(t, s.EnsureGroup(ctx, "t", "g"))
		const writers, each = 4, 50
		errc := make(chan error, writers)
		for w := range writers {
			ws := dbqueue.New(another(), be.dialect, dbqueue.Options{})
			go func() {
				for i := range each {
					if err := ws.Publish(ctx, "t", []byte(fmt.Sprintf("%d-%d", w, i))); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
		}
		seen := map[string]bool{}
		for range writers {
			require.NoError(t, <-errc)
		}
		deadline := time.Now().Add(30 * time.Second)
		for len(seen) < writers*each && time.Now().Before(deadline) {
			msgs, err := s.Read(ctx, "t", "g", "c", 100, 100*time.Millisecond)
			require.NoError(t, err)
			for _, m := range msgs {
				require.False(t, seen[string(m.Body)], "duplicate %s", m.Body)
				seen[string(m.Body)] = true
			}
		}
		require.Len(t, seen, writers*each)
	})
}

func TestUnknownDialect(t *testing.T) {
	t.Parallel()
	db, _ := openSQLite(t)
	s := dbqueue.New(db, "oracle", dbqueue.Options{})
	ctx := t.Context()
	require.ErrorContains(t, s.Ping(ctx), `unknown dialect "oracle"`)
	require.Error(t, s.Publish(ctx, "t", []byte("x")))
	_, err := s.Read(ctx, "t", "g", "c", 1, 0)
	require.Error(t, err)
	require.Error(t, dbqueue.New(nil, dbqueue.SQLite, dbqueue.Options{}).Ping(ctx))
}

func BenchmarkPublishRead(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			s, _, _ := newStream(b, be, dbqueue.Options{})
			streamtest.BenchmarkPublishRead(b, s)
		})
	}
}
