package postgres

import (
	"context"
	"log/slog"

	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// Listener lets the external tests watch the LISTEN loop.
type Listener = listener

// OpenWithListener is Open that also returns the listener.
func OpenWithListener(ctx context.Context, url string, logger *slog.Logger) (*sqlstore.Store, *Listener, error) {
	s, l, _, err := open(ctx, url, logger)
	return s, l, err
}

// Announcer lets the external tests count the commits announced.
type Announcer = announcer

// OpenWithAnnouncer is Open that also returns the announcer.
func OpenWithAnnouncer(ctx context.Context, url string, logger *slog.Logger) (*sqlstore.Store, *Announcer, error) {
	s, _, a, err := open(ctx, url, logger)
	return s, a, err
}

// Kicks counts the commits announced so far.
func (a *announcer) Kicks() int64 { return a.kicks.Load() }

// PID is the backend pid of the live LISTEN session, 0 while down.
func (l *listener) PID() uint32 { return l.pid.Load() }

// Sessions counts the LISTEN sessions established so far.
func (l *listener) Sessions() int64 { return l.sessions.Load() }

// Owns reports whether pid is one of the store's pooled connections.
func (l *listener) Owns(pid uint32) bool { return l.own.has(pid) }

// PoolConfig is the pool configuration Open would use for url.
var PoolConfig = poolConfig
