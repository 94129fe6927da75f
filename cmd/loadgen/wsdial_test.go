package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

func dialTest(ctx context.Context, srv *httptest.Server) (*frameReader, error) {
	return dialSocket(ctx, &net.Dialer{}, strings.TrimPrefix(srv.URL, "http://"), "/ws?since=x%20y", "tok", 1<<20)
}

// The handshake is one a WebSocket library accepts, with the path and
// the bearer token; frames the server writes right behind its 101 arrive
// in the same read as the response and none is lost.
func TestDialSocketKeepsFramesSentWithTheResponse(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.URL.RequestURI() + " " + r.Header.Get("Authorization")
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for _, m := range []string{"one", "two", "three"} {
			if ws.Write(r.Context(), websocket.MessageText, []byte(m)) != nil {
				return
			}
		}
		_, _, _ = ws.Read(r.Context()) // until the client closes
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fr, err := dialTest(ctx, srv)
	require.NoError(t, err)
	defer fr.close()
	require.Equal(t, "/ws?since=x%20y Bearer tok", <-seen)
	for _, want := range []string{"one", "two", "three"} {
		got, err := fr.next()
		require.NoError(t, err)
		require.Equal(t, want, string(got))
	}
}

// A refused handshake gives the status and the body (the server's JSON
// error, which the load generator reports).
func TestDialSocketRefusedHandshake(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":"unauthenticated"}}`))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := dialTest(ctx, srv)
	var refused *refusedError
	require.ErrorAs(t, err, &refused)
	require.Equal(t, http.StatusUnauthorized, refused.status)
	require.JSONEq(t, `{"error":{"code":"unauthenticated"}}`, refused.body)
}

// rawServer answers every connection with reply (nothing when empty) and
// keeps it open until the test ends.
func rawServer(t *testing.T, reply func(key string) string) string {
	t.Helper()
	return acceptLoop(t, func(c net.Conn) {
		t.Cleanup(func() { _ = c.Close() })
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		if r := reply(req.Header.Get("Sec-WebSocket-Key")); r != "" {
			_, _ = c.Write([]byte(r))
		}
	})
}

// acceptLoop listens on loopback until the test ends, handing each
// connection to handle in a goroutine of its own; it returns the address.
func acceptLoop(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln.Addr().String()
}

// A 101 that does not prove the server read the key, or is not an
// upgrade to WebSocket, is refused.
func TestDialSocketChecksTheUpgrade(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		reply func(key string) string
		want  string
	}{
		"wrong accept": {func(string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey("other") + "\r\n\r\n"
		}, "Sec-WebSocket-Accept"},
		"no upgrade": {func(key string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n\r\n"
		}, "Upgrade"},
		"no connection upgrade": {func(key string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n\r\n"
		}, "Connection"},
		"not http": {func(string) string { return "\x00\x01garbage\r\n\r\n" }, "handshake"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addr := rawServer(t, tc.reply)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := dialSocket(ctx, &net.Dialer{}, addr, "/ws", "tok", 1<<20)
			require.ErrorContains(t, err, tc.want)
		})
	}
	// The same server with the right accept is fine (the cases above fail
	// for what they change).
	addr := rawServer(t, func(key string) string {
		return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n\r\n"
	})
	fr, err := dialSocket(context.Background(), &net.Dialer{}, addr, "/ws", "tok", 1<<20)
	require.NoError(t, err)
	fr.close()
}

// A server that accepts the connection and never answers cannot hold the
// dial past its context.
func TestDialSocketIsBoundedByItsContext(t *testing.T) {
	t.Parallel()
	addr := rawServer(t, func(string) string { return "" })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := dialSocket(ctx, &net.Dialer{}, addr, "/ws", "tok", 1<<20)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
}

// acceptKey is RFC 6455's example.
func TestAcceptKey(t *testing.T) {
	require.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", acceptKey("dGhlIHNhbXBsZSBub25jZQ=="))
}
