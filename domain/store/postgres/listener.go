package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// listener holds a dedicated connection in LISTEN and signals the store when
// events of its schema commit, in this process or any other.
type listener struct {
	cfg    *pgx.ConnConfig
	schema string
	own    *pidSet
	log    *slog.Logger
	signal func()

	pid      atomic.Uint32 // backend pid of the live LISTEN connection (0 while down)
	sessions atomic.Int64  // LISTEN sessions established so far
}

// run listens until ctx is done, reconnecting with jittered exponential
// backoff.
func (l *listener) run(ctx context.Context) {
	backoff := minBackoff
	for {
		err := l.listen(ctx, func() { backoff = minBackoff })
		l.pid.Store(0)
		if ctx.Err() != nil {
			return
		}
		wait := backoff/2 + rand.N(backoff)
		l.log.WarnContext(ctx, "event listener lost its connection, reconnecting",
			slog.Any("err", err), slog.Duration("in", wait))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

func (l *listener) listen(ctx context.Context, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	connected()
	l.pid.Store(conn.PgConn().PID())
	if l.sessions.Add(1) > 1 {
		// Commits while no one listened went unannounced.
		l.signal()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		if l.wakes(n) {
			l.signal()
		}
	}
}

// wakes reports whether a notification announces events the store has not
// signalled itself: of its schema, committed by another connection than its
// own pool's.
func (l *listener) wakes(n *pgconn.Notification) bool {
	return n.Channel == Channel && n.Payload == l.schema && !l.own.has(n.PID)
}

// pidSet holds the backend pids of the store's pooled connections.
type pidSet struct {
	mu   sync.Mutex
	pids map[uint32]struct{}
}

func (p *pidSet) add(pid uint32) {
	p.mu.Lock()
	p.pids[pid] = struct{}{}
	p.mu.Unlock()
}

func (p *pidSet) remove(pid uint32) {
	p.mu.Lock()
	delete(p.pids, pid)
	p.mu.Unlock()
}

func (p *pidSet) has(pid uint32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.pids[pid]
	return ok
}
