package hub

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Opcodes (RFC 6455 §5.2), for the raw client.
const (
	opContinuation = 0x0
	opText         = 0x1
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

const closeProtocolError CloseCode = 1002

// rawClient speaks RFC 6455 by hand, to send what a library client would
// not (unmasked, pipelined, interleaved frames), against the hub's
// WebSocket (coder/websocket behind the hijacker of sockio.go).
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

const testKey = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455 §1.3

// rawRequest is a handshake for tenant t1, user.
func rawRequest(e *env, user string, extra string) string {
	return "GET /ws HTTP/1.1\r\nHost: " + strings.TrimPrefix(e.srv.URL, "http://") + "\r\n" +
		"Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: " + testKey + "\r\nX-Tenant: t1\r\nX-User: " + user + "\r\n" + extra + "\r\n"
}

// rawDial sends the handshake followed by early (frames sent before the
// answer) and checks the 101.
func rawDial(t *testing.T, e *env, user string, early []byte) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(wait)))
	_, err = nc.Write(append([]byte(rawRequest(e, user, "")), early...))
	require.NoError(t, err)
	c := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	resp, err := http.ReadResponse(c.br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	require.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", resp.Header.Get("Sec-WebSocket-Accept"))
	return c
}

// clientFrame encodes a client frame; masked as the protocol requires
// unless told otherwise.
func clientFrame(fin bool, op byte, payload []byte, masked bool) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	mbit := byte(0)
	if masked {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, mbit|byte(n))
	case n <= 0xFFFF:
		b = append(b, mbit|126, byte(n>>8), byte(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, mbit|127), uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	key := []byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, key...)
	for i, c := range payload {
		b = append(b, c^key[i&3])
	}
	return b
}

// next reads one server frame.
func (c *rawClient) next() (op byte, payload []byte) {
	c.t.Helper()
	op, payload, err := c.tryNext()
	require.NoError(c.t, err)
	return op, payload
}

func (c *rawClient) tryNext() (op byte, payload []byte, err error) {
	c.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	require.NotZero(c.t, h[0]&0x80, "server frames are never fragmented")
	require.Zero(c.t, h[1]&0x80, "server frames are not masked")
	n := int(h[1] & 0x7F)
	switch n {
	case 126:
		var l [2]byte
		_, err = io.ReadFull(c.br, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, err = io.ReadFull(c.br, l[:])
		n = int(binary.BigEndian.Uint64(l[:]))
	}
	if err != nil {
		return 0, nil, err
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0F, payload, nil
}

// nextText skips control frames up to the next text frame's type.
func (c *rawClient) nextText() string {
	c.t.Helper()
	for {
		op, p := c.next()
		if op != opText {
			continue
		}
		var f frame
		require.NoError(c.t, json.Unmarshal(p, &f))
		return f.Type
	}
}

// closeCode reads up to the server's close frame and returns its code.
func (c *rawClient) closeCode() CloseCode {
	c.t.Helper()
	for {
		op, p := c.next()
		if op == opClose {
			require.GreaterOrEqual(c.t, len(p), 2)
			return CloseCode(binary.BigEndian.Uint16(p))
		}
	}
}

func (c *rawClient) send(b []byte) {
	c.t.Helper()
	_, err := c.nc.Write(b)
	require.NoError(c.t, err)
}

// A message in fragments, with a ping between them and frames sent before
// the handshake's answer arrived, is read whole: the ping is answered
// with its payload, the message with a pong frame.
func TestRawFramesFragmentedPipelinedAndInterleaved(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	early := clientFrame(false, opText, []byte(`{"type":`), true)
	c := rawDial(t, e, "u1", early)
	require.Equal(t, FrameUnreadCount, c.nextText())
	c.send(append(clientFrame(true, opPing, []byte("are you there"), true),
		clientFrame(true, opContinuation, []byte(`"ping"}`), true)...))
	op, p := c.next()
	require.Equal(t, byte(opPong), op)
	require.Equal(t, "are you there", string(p))
	require.Equal(t, FramePong, c.nextText())

	// A message split byte by byte across writes is read whole too.
	msg := clientFrame(true, opText, []byte(`{"type":"ping"}`), true)
	for i := range msg {
		c.send(msg[i : i+1])
	}
	require.Equal(t, FramePong, c.nextText())
}

// Frames that break the protocol close the socket with 1002.
func TestRawProtocolErrorsClose1002(t *testing.T) {
	t.Parallel()
	cases := map[string][]byte{
		"reserved bit":              append([]byte{0x80 | 0x40 | opText}, clientFrame(true, opText, []byte(`{}`), true)[1:]...),
		"unknown opcode":            clientFrame(true, 0x3, []byte(`{}`), true),
		"fragmented control frame":  clientFrame(false, opPing, []byte(`x`), true),
		"continuation without text": clientFrame(true, opContinuation, []byte(`{}`), true),
		"text inside a message":     append(clientFrame(false, opText, []byte(`{`), true), clientFrame(true, opText, []byte(`}`), true)...),
		"invalid close code":        clientFrame(true, opClose, []byte{0x03, 0xED}, true), // 1005 may not be sent
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, Config{})
			c := rawDial(t, e, "u1", nil)
			require.Equal(t, FrameUnreadCount, c.nextText())
			c.send(bad)
			require.Equal(t, closeProtocolError, c.closeCode())
			require.Eventually(t, func() bool { return metricNow(e.hub.metrics.connections) == 0 }, wait, 5*time.Millisecond)
		})
	}
}

// A client frame without a mask ends the connection.
func TestRawUnmaskedFrameEndsConnection(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	c := rawDial(t, e, "u1", nil)
	require.Equal(t, FrameUnreadCount, c.nextText())
	c.send(clientFrame(true, opText, []byte(`{"type":"ping"}`), false))
	require.Eventually(t, func() bool { return metricNow(e.hub.metrics.connections) == 0 }, wait, 5*time.Millisecond)
	for {
		op, _, err := c.tryNext()
		if err != nil {
			require.ErrorIs(t, err, io.EOF, "the server closed the connection")
			return
		}
		require.NotEqual(t, byte(opText), op, "the unmasked message was not taken")
	}
}

// The read limit counts a message across its fragments: small fragments
// adding up to too much close the socket with 1009.
func TestRawFragmentsOverReadLimitClose1009(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{ReadLimit: 100})
	c := rawDial(t, e, "u1", nil)
	require.Equal(t, FrameUnreadCount, c.nextText())
	part := []byte(strings.Repeat("x", 60))
	c.send(clientFrame(false, opText, part, true))
	c.send(clientFrame(true, opContinuation, part, true))
	require.Equal(t, CloseMessageTooBig, c.closeCode())
}

// A peer's close is answered with its own code and ends the connection.
func TestRawPeerCloseEchoed(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	c := rawDial(t, e, "u1", nil)
	require.Equal(t, FrameUnreadCount, c.nextText())
	c.send(clientFrame(true, opClose, append(binary.BigEndian.AppendUint16(nil, 4321), "bye"...), true))
	op, p := c.next()
	require.Equal(t, byte(opClose), op)
	require.Equal(t, uint16(4321), binary.BigEndian.Uint16(p))
	require.Eventually(t, func() bool { return metricNow(e.hub.metrics.connections) == 0 }, wait, 5*time.Millisecond)
	_, err := c.br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the server closed the connection")
}

// The hub's close handshake waits for the peer's answer, then closes.
func TestRawServerCloseHandshake(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	c := rawDial(t, e, "u1", nil)
	require.Equal(t, FrameUnreadCount, c.nextText())
	closed := make(chan struct{})
	go func() { e.hub.Close(); close(closed) }()
	require.Equal(t, CloseGoingAway, c.closeCode())
	select {
	case <-closed:
		t.Fatal("Close returned before the peer answered the close handshake")
	default:
	}
	c.send(clientFrame(true, opClose, binary.BigEndian.AppendUint16(nil, uint16(CloseGoingAway)), true))
	<-closed
	_, err := c.br.ReadByte()
	require.ErrorIs(t, err, io.EOF)
}

// Handshakes that are not WebSocket version 13 upgrades are refused
// before any upgrade, as handshake errors.
func TestRawHandshakeRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	good := rawRequest(e, "u1", "")
	cases := map[string]struct {
		req    string
		status int
	}{
		"version 8":       {strings.Replace(good, "Version: 13", "Version: 8", 1), http.StatusBadRequest},
		"short key":       {strings.Replace(good, testKey, "c2hvcnQ=", 1), http.StatusBadRequest},
		"two keys":        {rawRequest(e, "u1", "Sec-WebSocket-Key: "+testKey+"\r\n"), http.StatusBadRequest},
		"POST":            {strings.Replace(good, "GET", "POST", 1), http.StatusMethodNotAllowed},
		"no upgrade":      {strings.Replace(good, "Upgrade: websocket\r\n", "", 1), http.StatusUpgradeRequired},
		"no conn upgrade": {strings.Replace(good, "keep-alive, Upgrade", "keep-alive", 1), http.StatusUpgradeRequired},
	}
	for name, tc := range cases {
		nc, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
		require.NoError(t, err, name)
		require.NoError(t, nc.SetDeadline(time.Now().Add(wait)))
		_, err = nc.Write([]byte(tc.req))
		require.NoError(t, err, name)
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		require.NoError(t, err, name)
		require.Equal(t, tc.status, resp.StatusCode, name)
		require.ErrorIs(t, e.serveErr(), ErrHandshake, name)
		_ = nc.Close()
	}
	require.Equal(t, float64(len(cases)), value(t, e.hub.metrics.connectionsTotal.WithLabelValues(resultHandshakeFailed)))
}

// A ping of the hub is answered by the peer's pong, which the reader
// hands over; a peer that closed makes it fail at once rather than at its
// timeout.
func TestRawPingSeesPongAndEnd(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{PingInterval: -1})
	c := rawDial(t, e, "u1", nil)
	require.Equal(t, FrameUnreadCount, c.nextText())
	var ws pingTransport
	require.Eventually(t, func() bool {
		s := e.hub.shard(userKey{"t1", "u1"})
		s.mu.RLock()
		defer s.mu.RUnlock()
		if cs := s.users[userKey{"t1", "u1"}]; len(cs) == 1 {
			ws = cs[0].t.(pingTransport)
		}
		return ws != nil
	}, wait, time.Millisecond)

	pinged := make(chan error, 1)
	go func() { pinged <- ws.Ping(t.Context()) }()
	op, p := c.next()
	require.Equal(t, byte(opPing), op)
	c.send(clientFrame(true, opPong, []byte("not this one"), true))
	c.send(clientFrame(true, opPong, p, true))
	require.NoError(t, <-pinged)

	go func() { pinged <- ws.Ping(t.Context()) }()
	op, _ = c.next()
	require.Equal(t, byte(opPing), op)
	require.NoError(t, c.nc.Close())
	require.ErrorIs(t, <-pinged, net.ErrClosed)
}
