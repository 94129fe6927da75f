package postgres

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// announcer tells the relays of other processes that events committed: one
// NOTIFY on Channel, sent on a pooled connection after the commit, outside
// any transaction. A NOTIFY inside the writing transaction (the trigger of
// the first migrations) holds PostgreSQL's global notification lock from
// its commit until that commit is durable, which made every event-writing
// transaction wait for the previous one's fsync. Announcements coalesce:
// while one is in flight, any number of commits make one more. One that
// fails is logged; the relays' poll (PollInterval) still finds the events.
type announcer struct {
	db     *sql.DB
	schema string // the payload: listeners ignore other schemas' events
	log    *slog.Logger

	mu      sync.Mutex
	running bool // a goroutine is sending
	pending bool // a commit came after the send in flight began

	kicks atomic.Int64 // commits announced, for tests
}

// announceTimeout bounds one NOTIFY.
const announceTimeout = 5 * time.Second

// kick announces a commit: now, or right after the announcement in flight.
func (a *announcer) kick() {
	a.kicks.Add(1)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = true
	if !a.running {
		a.running = true
		go a.run()
	}
}

func (a *announcer) run() {
	for {
		a.mu.Lock()
		if !a.pending {
			a.running = false
			a.mu.Unlock()
			return
		}
		a.pending = false
		a.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), announceTimeout)
		_, err := a.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, Channel, a.schema)
		cancel()
		if err != nil {
			a.log.Warn("announcing committed events failed; other processes' relays find them at their next poll",
				slog.Any("err", err))
		}
	}
}
