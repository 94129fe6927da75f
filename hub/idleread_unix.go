//go:build unix

package hub

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// newIdleConn wraps c, or returns nil when c is not a socket of its own
// (a TLS connection: its bytes on the wire are not the frames), which the
// reader then reads through the library alone, waiting inside it.
func newIdleConn(c net.Conn) *idleConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return &idleConn{Conn: c, rc: rc, pollSlot: -1}
}

// Read reads like the connection, except that between messages it does
// not wait: with nothing to read it returns errIdle.
func (c *idleConn) Read(p []byte) (int, error) {
	if len(p) == 0 || !c.betweenMessages() || c.closing.Load() {
		n, err := c.Conn.Read(p)
		c.track(p[:n])
		return n, err
	}
	var (
		n    int
		rerr error
	)
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Read(int(fd), p)
			if rerr != syscall.EINTR {
				return true // never wait here
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case rerr == syscall.EAGAIN:
		return 0, errIdle
	case rerr != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: rerr}
	case n == 0:
		return 0, io.EOF
	}
	c.track(p[:n])
	return n, nil
}

// waitReadable waits until the socket has something to read (or has
// ended), without reading it. An error means the connection is closed.
func (c *idleConn) waitReadable() error {
	return c.rc.Read(func(fd uintptr) bool {
		var b byte
		_, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b)), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		return e != syscall.EAGAIN && e != syscall.EINTR
	})
}
