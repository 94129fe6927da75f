//go:build !unix

package hub

import (
	"errors"
	"net"
)

// Reading a socket without waiting needs the Unix read and recv calls, so
// elsewhere (Windows) newIdleConn wraps nothing and every socket's reader
// waits inside the WebSocket library, as over TLS.
func newIdleConn(net.Conn) *idleConn { return nil }

// The methods below are never reached (no idleConn exists here); they keep
// the callers portable.

func (c *idleConn) Read([]byte) (int, error) { return 0, errors.ErrUnsupported }
func (c *idleConn) waitReadable() error      { return errors.ErrUnsupported }
