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

// PoolMaxConns is the pool size Open would use for url.
func PoolMaxConns(url string) (int32, error) {
	cfg, err := poolConfig(url)
	if err != nil {
		return 0, err
	}
	return cfg.MaxConns, nil
}

// RuntimeParams are the parameters Open would send with every connection
// for url.
func RuntimeParams(url string) (map[string]string, error) {
	cfg, err := poolConfig(url)
	if err != nil {
		return nil, err
	}
	return cfg.ConnConfig.RuntimeParams, nil
}
