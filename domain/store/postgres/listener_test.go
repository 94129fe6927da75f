package postgres_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/postgres"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

// baseURL returns the test server's URL or skips.
func baseURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv(storetest.DatabaseURLEnv)
	if u == "" {
		t.Skipf("%s is not set: skipping PostgreSQL tests", storetest.DatabaseURLEnv)
	}
	return u
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openIn opens a store (and its listener) on schema; closed at cleanup.
func openIn(t *testing.T, base, schema string) (*sqlstore.Store, *postgres.Listener) {
	t.Helper()
	s, l, err := postgres.OpenWithListener(ctxFor(t), storetest.WithSearchPath(base, schema), nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s, l
}

func event(tenant domain.TenantID) domain.Event {
	return domain.Event{ID: domain.NewID(), TenantID: tenant, Type: "Ping", OccurredAt: time.Now(), Payload: []byte(`{}`)}
}

// waitSignal waits (bounded) for the store's EventSignal.
func waitSignal(t *testing.T, s *sqlstore.Store, why string) {
	t.Helper()
	select {
	case <-s.EventSignal():
	case <-time.After(30 * time.Second):
		t.Fatalf("no EventSignal: %s", why)
	}
}

// waitListening waits until the listener holds a LISTEN session.
func waitListening(t *testing.T, l *postgres.Listener) uint32 {
	t.Helper()
	require.Eventually(t, func() bool { return l.PID() != 0 }, 30*time.Second, 10*time.Millisecond)
	return l.PID()
}

func TestOtherProcessCommitWakesRelay(t *testing.T) {
	t.Parallel()
	base := baseURL(t)
	schema := storetest.NewSchema(t, base)
	relay, l := openIn(t, base, schema)
	writer, _ := openIn(t, base, schema) // another process on the same database
	waitListening(t, l)

	require.NoError(t, writer.AppendEvents(ctxFor(t), event("t1")))
	waitSignal(t, relay, "a commit by another process must wake the relay through LISTEN/NOTIFY")
}

func TestListenerReconnects(t *testing.T) {
	t.Parallel()
	base := baseURL(t)
	schema := storetest.NewSchema(t, base)
	relay, l := openIn(t, base, schema)
	writer, _ := openIn(t, base, schema)
	pid := waitListening(t, l)
	require.Equal(t, int64(1), l.Sessions())

	admin, err := pgx.Connect(ctxFor(t), base)
	require.NoError(t, err)
	defer admin.Close(context.Background())
	var killed bool
	require.NoError(t, admin.QueryRow(ctxFor(t), `SELECT pg_terminate_backend($1)`, int64(pid)).Scan(&killed))
	require.True(t, killed)

	require.Eventually(t, func() bool {
		now := l.PID()
		return now != 0 && now != pid
	}, 30*time.Second, 10*time.Millisecond, "the listener reconnects")
	// What committed while no one listened is announced on reconnect.
	waitSignal(t, relay, "reconnecting must signal once")

	require.NoError(t, writer.AppendEvents(ctxFor(t), event("t1")))
	waitSignal(t, relay, "the new session listens")
}

func TestOwnCommitsRecordPoolPIDs(t *testing.T) {
	t.Parallel()
	base := baseURL(t)
	s, l := openIn(t, base, storetest.NewSchema(t, base))
	var pid uint32
	require.NoError(t, s.DB().QueryRowContext(ctxFor(t), `SELECT pg_backend_pid()`).Scan(&pid))
	require.True(t, l.Owns(pid), "pooled connections are known as our own")
	require.False(t, l.Owns(waitListening(t, l)), "the listener's own session is not a writer")
}

func TestDeadlockIsRetried(t *testing.T) {
	t.Parallel()
	base := baseURL(t)
	s, _ := openIn(t, base, storetest.NewSchema(t, base))
	ctx := ctxFor(t)
	for _, k := range []string{"a", "b"} {
		_, err := s.PutSettingIfAbsent(ctx, k, "0")
		require.NoError(t, err)
	}
	// Two transactions lock a and b in opposite order: PostgreSQL aborts
	// one with a deadlock (40P01) and InTx reruns it.
	var (
		attempts atomic.Int32
		ready    sync.WaitGroup
		wg       sync.WaitGroup
		errs     [2]error
	)
	ready.Add(2)
	first := [2]sync.Once{}
	for i, order := range [2][2]string{{"a", "b"}, {"b", "a"}} {
		wg.Go(func() {
			errs[i] = s.InTx(ctx, func(ctx context.Context) error {
				attempts.Add(1)
				q := s.Querier(ctx)
				if _, err := q.ExecContext(ctx, `UPDATE settings SET value = value || $2 WHERE key = $1`, order[0], "x"); err != nil {
					return err
				}
				first[i].Do(func() { ready.Done(); ready.Wait() })
				_, err := q.ExecContext(ctx, `UPDATE settings SET value = value || $2 WHERE key = $1`, order[1], "x")
				return err
			})
		})
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.GreaterOrEqual(t, attempts.Load(), int32(3), "one transaction ran again")
	for _, k := range []string{"a", "b"} {
		v, err := s.Setting(ctx, k)
		require.NoError(t, err)
		require.Equal(t, "0xx", v, "both transactions committed exactly once")
	}
}

func TestConcurrentOpensMigrateOnce(t *testing.T) {
	t.Parallel()
	base := baseURL(t)
	schema := storetest.NewSchema(t, base)
	ctx := ctxFor(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]*sqlstore.Store, n)
	for i := range n {
		wg.Go(func() {
			stores[i], _, errs[i] = postgres.OpenWithListener(ctx, storetest.WithSearchPath(base, schema), nil)
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.NoError(t, stores[i].Close())
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	base := baseURL(t)
	ctx := ctxFor(t)
	_, err := postgres.Open(ctx, storetest.WithSearchPath(base, "no_such_schema_here"), nil)
	require.ErrorContains(t, err, "no existing schema")

	_, err = postgres.Open(ctx, "postgres://user:s3cret@localhost:notaport/db", nil)
	require.Error(t, err)
	require.False(t, strings.Contains(err.Error(), "s3cret"), "the password must not leak into errors: %v", err)
}

func TestRejectedValuesAreValidationErrors(t *testing.T) {
	t.Parallel()
	base := baseURL(t)
	s, _ := openIn(t, base, storetest.NewSchema(t, base))
	_, err := s.PutSettingIfAbsent(ctxFor(t), "k", "nul \x00 byte")
	var v *domain.ValidationError
	require.ErrorAs(t, err, &v, "PostgreSQL text cannot hold NUL: bad input, not a fault")
}

// The announcement is sent after the commit, outside the transaction: no
// trigger notifies inside it (that held PostgreSQL's global notification
// lock through every event-writing commit), and a burst of commits by one
// process still wakes the other's relay.
func TestEventsAreAnnouncedAfterCommit(t *testing.T) {
	t.Parallel()
	base := baseURL(t)
	schema := storetest.NewSchema(t, base)
	relay, l := openIn(t, base, schema)
	writer, _ := openIn(t, base, schema)
	waitListening(t, l)

	var triggers int
	require.NoError(t, writer.DB().QueryRowContext(ctxFor(t),
		`SELECT count(*) FROM pg_trigger WHERE tgrelid = 'events'::regclass AND NOT tgisinternal`).Scan(&triggers))
	require.Zero(t, triggers, "no trigger notifies inside the writing transaction")

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { require.NoError(t, writer.AppendEvents(ctxFor(t), event("t1"))) })
	}
	wg.Wait()
	waitSignal(t, relay, "a burst of commits by another process must wake the relay")
}

// A process whose relay drains its own outbox does not announce its
// commits to the other processes (one NOTIFY, and a wake-up of every
// listener, for about every commit); its own relay is still woken. Once
// the relay stops, commits are announced again.
func TestCommitsAreNotAnnouncedWhileTheirProcessDrainsThem(t *testing.T) {
	t.Parallel()
	base := baseURL(t)
	schema := storetest.NewSchema(t, base)
	s, a, err := postgres.OpenWithAnnouncer(ctxFor(t), storetest.WithSearchPath(base, schema), nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	release := s.DrainLocally()
	require.NoError(t, s.AppendEvents(ctxFor(t), event("t1")))
	waitSignal(t, s, "the process's own relay is woken")
	require.Zero(t, a.Kicks(), "its own relay publishes it: nobody else to wake")

	release()
	release() // a second release is the same release
	require.NoError(t, s.AppendEvents(ctxFor(t), event("t1")))
	require.EqualValues(t, 1, a.Kicks(), "no relay here any more: the others are told")
}
