//go:build unix

package hub

import (
	"errors"
	"net"
	"syscall"
)

// rawConnOf returns c's raw connection when c is a plain TCP or Unix
// socket (not TLS), for writes that never wait.
func rawConnOf(c net.Conn) syscall.RawConn {
	switch c := c.(type) {
	case *net.TCPConn:
		rc, err := c.SyscallConn()
		if err == nil {
			return rc
		}
	case *net.UnixConn:
		rc, err := c.SyscallConn()
		if err == nil {
			return rc
		}
	}
	return nil
}

// writeNow writes what the socket takes of p at once, without waiting for
// room: n < len(p) with a nil error when it took less (or nothing).
func writeNow(rc syscall.RawConn, p []byte) (int, error) {
	var n int
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		n, werr = sendFD(int(fd), p)
		return true // never wait: the caller keeps the rest
	}); err != nil {
		return 0, err
	}
	if errors.Is(werr, syscall.EAGAIN) || errors.Is(werr, syscall.EINTR) {
		return 0, nil
	}
	if werr != nil {
		return 0, werr
	}
	return n, nil
}
