package hub

import (
	"errors"
	"syscall"
	"testing"
)

// sendFD writes what a socket takes, reports a full socket as EAGAIN with
// nothing written, and a closed peer as EPIPE (without a SIGPIPE, which
// would end the test binary).
func TestSendFDOnASocketPair(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	w, r := fds[0], fds[1]
	defer syscall.Close(w)
	if err := syscall.SetNonblock(w, true); err != nil {
		t.Fatal(err)
	}
	if n, err := sendFD(w, nil); n != 0 || err != nil {
		t.Fatalf("empty write: %d, %v", n, err)
	}
	frame := []byte("\x81\x05hello")
	if n, err := sendFD(w, frame); n != len(frame) || err != nil {
		t.Fatalf("write: %d, %v; want %d, nil", n, err, len(frame))
	}
	got := make([]byte, 64)
	n, err := syscall.Read(r, got)
	if err != nil || string(got[:n]) != string(frame) {
		t.Fatalf("read %q, %v; want %q", got[:n], err, frame)
	}

	big := make([]byte, 1<<20)
	total := 0
	for {
		n, err := sendFD(w, big)
		if errors.Is(err, syscall.EAGAIN) {
			if n != 0 {
				t.Fatalf("EAGAIN with %d bytes written", n)
			}
			break
		}
		if err != nil {
			t.Fatalf("filling the socket: %v", err)
		}
		if n <= 0 || n > len(big) {
			t.Fatalf("wrote %d of %d", n, len(big))
		}
		total += n
	}
	if total == 0 {
		t.Fatal("the socket took nothing before it was full")
	}

	syscall.Close(r)
	if _, err := sendFD(w, frame); !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("write to a closed peer: %v; want EPIPE", err)
	}
}
