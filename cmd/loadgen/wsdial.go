package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// dialSocket opens a WebSocket the way a browser's would be, by hand: one
// TCP connection, the RFC 6455 upgrade request written in one write, the
// response's status line and headers read and checked (101, Upgrade,
// Connection, and Sec-WebSocket-Accept against the key sent), and the
// frameReader that then reads the socket from the same buffer, so that
// frames the server sent right behind its response are not lost. It
// replaces the WebSocket library's dial, whose HTTP client, request and
// connection objects made the load generator's CPU per connection as
// large as the server's, taken from the server it measures. ctx bounds
// the dial and the handshake, not the socket that follows. A refused
// handshake's error carries the status and the start of the body (the
// server's JSON error).
func dialSocket(ctx context.Context, d *net.Dialer, hostport, path, token string, limit int) (*frameReader, error) {
	conn, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	fr := newFrameReader(conn, limit)
	err = handshake(conn, fr.br, hostport, path, token)
	if !stop() {
		err = cmp.Or(ctx.Err(), err)
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return fr, nil
}

// websocketGUID is RFC 6455's, for Sec-WebSocket-Accept.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey is the Sec-WebSocket-Accept a server must answer key with.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// handshake writes the upgrade request on conn and reads its response
// through br.
func handshake(conn net.Conn, br *bufio.Reader, hostport, path, token string) error {
	var nonce [16]byte
	for i := range nonce {
		nonce[i] = byte(rand.Uint32())
	}
	key := base64.StdEncoding.EncodeToString(nonce[:])
	var req strings.Builder
	req.Grow(256 + len(path) + len(token))
	req.WriteString("GET ")
	req.WriteString(path)
	req.WriteString(" HTTP/1.1\r\nHost: ")
	req.WriteString(hostport)
	req.WriteString("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ")
	req.WriteString(key)
	req.WriteString("\r\nAuthorization: Bearer ")
	req.WriteString(token)
	req.WriteString("\r\n\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("websocket handshake: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_ = resp.Body.Close()
		return &refusedError{status: resp.StatusCode, body: strings.TrimSpace(string(body))}
	}
	switch {
	case !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket"):
		return fmt.Errorf("websocket handshake: 101 with Upgrade %q", resp.Header.Get("Upgrade"))
	case !httpguts.HeaderValuesContainsToken(resp.Header.Values("Connection"), "upgrade"):
		return fmt.Errorf("websocket handshake: 101 with Connection %q", resp.Header.Get("Connection"))
	case resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key):
		return errors.New("websocket handshake: 101 with a wrong Sec-WebSocket-Accept")
	}
	return nil
}

// refusedError is a handshake the server answered with another status
// than 101.
type refusedError struct {
	status int
	body   string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("websocket handshake refused: status %d: %s", e.status, e.body)
}
