//go:build !unix

package hub

import (
	"errors"
	"net"
	"syscall"
)

// rawConnOf: writes that never wait are not used on this system; every
// connection's loop writes from a goroutine of its own.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

func writeNow(syscall.RawConn, []byte) (int, error) {
	return 0, errors.New("hub: writes without waiting are not supported here")
}
