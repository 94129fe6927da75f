package hub

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server := <-accepted
	require.NotNil(t, server)
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return server.(*net.TCPConn), client.(*net.TCPConn)
}

// trySockWriter is a sockWriter on c that can write without waiting; the
// test is skipped where it cannot.
func trySockWriter(t *testing.T, c *net.TCPConn) *sockWriter {
	t.Helper()
	w := &sockWriter{conn: c, timeout: time.Minute, raw: rawConnOf(c)}
	if w.raw == nil {
		t.Skip("no writes without waiting on this system")
	}
	return w
}

// A write without waiting sends what the socket takes and keeps the rest;
// whatever is written next, through any path (the library's own pong, a
// corked batch, flushPending), goes out after it, so the stream stays
// whole and in order.
func TestSockWriterTryUncorkKeepsOrder(t *testing.T) {
	t.Parallel()
	server, client := tcpPair(t)
	w := trySockWriter(t, server)
	require.True(t, w.canTry())

	// A small batch goes out whole.
	require.True(t, w.cork())
	_, _ = w.Write([]byte("hello "))
	sent, err := w.tryUncork(time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.True(t, sent)
	require.Empty(t, w.pending)

	// A batch larger than any socket buffer does not: the rest is kept.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	require.True(t, w.cork())
	_, _ = w.Write(big)
	sent, err = w.tryUncork(time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.False(t, sent)
	require.NotEmpty(t, w.pending)

	// Another batch tried meanwhile queues behind it, unsent.
	require.True(t, w.cork())
	_, _ = w.Write([]byte(" batch"))
	sent, err = w.tryUncork(time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.False(t, sent)

	// The library's own write (a pong) waits for room, behind both.
	pong := make(chan error, 1)
	go func() {
		_, err := w.Write([]byte(" pong"))
		pong <- err
	}()
	want := append(append([]byte("hello "), big...), " batch pong"...)
	got := make([]byte, len(want))
	_, err = io.ReadFull(client, got)
	require.NoError(t, err)
	require.NoError(t, <-pong)
	require.True(t, bytes.Equal(want, got), "the stream arrived whole and in order")
	require.Empty(t, w.pending, "nothing kept once written")
	require.NoError(t, w.flushPending(time.Now().Add(time.Minute)))
}

// A write without waiting on a socket the peer closed reports the error
// (the loop then ends the connection) instead of keeping bytes forever.
func TestSockWriterTryUncorkBrokenSocket(t *testing.T) {
	t.Parallel()
	server, client := tcpPair(t)
	w := trySockWriter(t, server)
	require.NoError(t, client.SetLinger(0))
	require.NoError(t, client.Close()) // a reset, not a polite close
	var err error
	for range 100 {
		require.True(t, w.cork())
		_, _ = w.Write([]byte("frame"))
		if _, err = w.tryUncork(time.Now().Add(time.Minute)); err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	require.Error(t, err)
}
