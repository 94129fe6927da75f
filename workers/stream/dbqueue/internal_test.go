package dbqueue

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/migrations"
)

func TestPlaceholders(t *testing.T) {
	t.Parallel()
	pg, lite := dialect{pg: true}, dialect{}
	q := "SELECT a FROM t WHERE x = ? AND y IN (" + placeholders(3) + ")"
	require.Equal(t, "SELECT a FROM t WHERE x = $1 AND y IN ($2, $3, $4)", pg.q(q))
	require.Equal(t, "SELECT a FROM t WHERE x = ? AND y IN (?, ?, ?)", lite.q(q))
	require.Equal(t, " FOR UPDATE", pg.forUpdate())
	require.Empty(t, lite.forUpdate())
}

// Publish closes the channel a waiting reader of that topic holds, and
// only that topic's; the next waiter gets a fresh one.
func TestWakeSignalsWaiters(t *testing.T) {
	t.Parallel()
	s := New(nil, SQLite, Options{})
	first := s.signal("a")
	other := s.signal("b")
	require.Equal(t, first, s.signal("a"), "waiters of one topic share a channel")
	s.wake("a")
	select {
	case <-first:
	default:
		t.Fatal("wake did not signal the waiter")
	}
	select {
	case <-other:
		t.Fatal("wake signalled another topic")
	default:
	}
	next := s.signal("a")
	select {
	case <-next:
		t.Fatal("a new waiter got an already closed channel")
	default:
	}
	s.wake("c") // nobody waiting: nothing to do
}

// A committed Publish wakes this process's readers of the topic: the
// channel a reader took before looking is closed.
func TestPublishSignalsWaiters(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "q.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = migrations.Up(t.Context(), db, migrations.SQLite)
	require.NoError(t, err)
	s := New(db, SQLite, Options{})
	waiting := s.signal("t")
	require.NoError(t, s.Publish(t.Context(), "t", []byte("x")))
	select {
	case <-waiting:
	default:
		t.Fatal("Publish did not wake the waiting reader")
	}
}
