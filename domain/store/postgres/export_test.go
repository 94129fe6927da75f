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
	return open(ctx, url, logger)
}

// PID is the backend pid of the live LISTEN session, 0 while down.
func (l *listener) PID() uint32 { return l.pid.Load() }

// Sessions counts the LISTEN sessions established so far.
func (l *listener) Sessions() int64 { return l.sessions.Load() }

// Owns reports whether pid is one of the store's pooled connections.
func (l *listener) Owns(pid uint32) bool { return l.own.has(pid) }

// PoolConfig is the pool configuration Open would use for url.
var PoolConfig = poolConfig
