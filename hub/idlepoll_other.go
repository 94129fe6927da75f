//go:build !linux

package hub

import (
	"errors"
	"sync"
)

// The idle poller needs epoll, so it exists on Linux only
// (idlepoll_linux.go). Elsewhere sharedPoller returns nil and every idle
// socket waits on its own reader goroutine (idleread.go), as over TLS.
type idlePoller struct {
	mu sync.Mutex
}

var errUnwatched = errors.New("hub: socket no longer watched")

func sharedPoller() *idlePoller { return nil }

// The methods below are never reached (the hub holds a nil poller); they
// keep the callers portable.

func (p *idlePoller) arm(*conn, *idleConn) error { return errors.ErrUnsupported }
func (p *idlePoller) unwatch(*idleConn)          {}
func (p *idlePoller) watched() int               { return 0 }
