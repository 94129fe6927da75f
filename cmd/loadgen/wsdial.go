package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"time"
)

// upgradeTransport is the http.RoundTripper of the WebSocket dials: one
// TCP connection per request, the upgrade request written and its response
// read right on it. net/http's Transport would add its connection pool
// and two goroutines with their buffers per connection, for connections
// that are never reused: most of the load generator's own CPU while
// connecting, taken from the server it measures.
type upgradeTransport struct {
	dialer net.Dialer
}

// RoundTrip returns the response with a body that, for a 101, is the
// connection itself (what the WebSocket library takes over) and otherwise
// the response's body, closing the connection with it.
func (t *upgradeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	conn, err := t.dialer.DialContext(ctx, "tcp", req.URL.Host)
	if err != nil {
		return nil, err
	}
	// The handshake is bounded by the request's context; the socket that
	// follows is not.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	br := bufio.NewReaderSize(conn, 512)
	err = req.Write(conn)
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(br, req)
	}
	if !stop() {
		err = ctx.Err()
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// Frames the server sent right after its response may already
		// be in br.
		uc := &upgradedConn{r: br, Conn: conn}
		resp.Body = uc
		if slot, ok := ctx.Value(rawConnKey{}).(*rawConnSlot); ok {
			slot.conn = uc
		}
	} else {
		resp.Body = &closeBoth{ReadCloser: resp.Body, conn: conn}
	}
	return resp, nil
}

// upgradedConn is the connection after the handshake, read through the
// reader that read the response.
type upgradedConn struct {
	r io.Reader
	net.Conn
}

func (c *upgradedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// closeBoth closes a refused handshake's connection with its body.
type closeBoth struct {
	io.ReadCloser
	conn net.Conn
}

func (c *closeBoth) Close() error {
	err := c.ReadCloser.Close()
	_ = c.conn.Close()
	return err
}
