//go:build unix && !linux

package hub

import "syscall"

// sendFD writes p to the socket fd.
func sendFD(fd int, p []byte) (int, error) { return syscall.Write(fd, p) }
