package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// serverFrame is a frame as a server sends it (unmasked).
func serverFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		f = append(f, byte(n))
	case n <= 0xffff:
		f = append(f, 126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	return append(f, payload...)
}

// readerOver returns a frameReader reading what the test writes to the
// other end of a connected pair, and that other end.
func readerOver(t *testing.T, limit int) (*frameReader, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	return newFrameReader(a, limit), b
}

func TestFrameReaderMessages(t *testing.T) {
	t.Parallel()
	r, peer := readerOver(t, 1<<20)
	big := bytes.Repeat([]byte("x"), 70000)
	mid := bytes.Repeat([]byte("y"), 300)
	go func() {
		var out []byte
		out = append(out, serverFrame(true, 0x1, []byte(`{"type":"unread_count","unread_count":0}`))...)
		out = append(out, serverFrame(true, 0x1, mid)...)
		out = append(out, serverFrame(true, 0x1, big)...)
		// A fragmented message with a pong between its fragments.
		out = append(out, serverFrame(false, 0x1, []byte("frag"))...)
		out = append(out, serverFrame(true, 0xA, []byte("p"))...)
		out = append(out, serverFrame(false, 0x0, []byte("men"))...)
		out = append(out, serverFrame(true, 0x0, []byte("ted"))...)
		out = append(out, serverFrame(true, 0x2, nil)...)
		out = append(out, serverFrame(true, 0x8, append([]byte{0x0f, 0xa8}, "too slow"...))...) // 4008
		_, _ = peer.Write(out)
	}()
	for _, want := range [][]byte{[]byte(`{"type":"unread_count","unread_count":0}`), mid, big, []byte("fragmented"), {}} {
		got, err := r.next()
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := r.next()
	var ce *closeError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, 4008, ce.code)
	require.Equal(t, "too slow", ce.reason)
}

// A ping is answered with a masked pong carrying its payload, and the
// message after it is read as usual.
func TestFrameReaderAnswersPings(t *testing.T) {
	t.Parallel()
	r, peer := readerOver(t, 1<<20)
	go func() {
		_, _ = peer.Write(append(serverFrame(true, 0x9, []byte("ping-42")), serverFrame(true, 0x1, []byte("after"))...))
	}()
	got := make(chan []byte, 1)
	go func() {
		f := make([]byte, 2+4+len("ping-42"))
		if _, err := io.ReadFull(peer, f); err == nil {
			got <- f
		}
	}()
	msg, err := r.next()
	require.NoError(t, err)
	require.Equal(t, "after", string(msg))
	var pong []byte
	select {
	case pong = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no pong")
	}
	require.Equal(t, byte(0x8A), pong[0], "fin, pong")
	require.Equal(t, byte(0x80|len("ping-42")), pong[1], "masked, length")
	mask, payload := pong[2:6], pong[6:]
	for i := range payload {
		payload[i] ^= mask[i%4]
	}
	require.Equal(t, "ping-42", string(payload))
}

// Whatever a server may not send, or the limit refuses, is an error, never
// a message.
func TestFrameReaderRefusesBadFrames(t *testing.T) {
	t.Parallel()
	for name, raw := range map[string][]byte{
		"masked server frame":     {0x81, 0x81, 1, 2, 3, 4, 'x'},
		"reserved bit":            {0xC1, 0x01, 'x'},
		"unknown opcode":          {0x83, 0x00},
		"unknown control opcode":  {0x8B, 0x00},
		"fragmented control":      {0x09, 0x00},
		"control over 125 bytes":  append([]byte{0x89, 126, 0, 126}, make([]byte, 126)...),
		"continuation first":      {0x80, 0x01, 'x'},
		"new message in fragment": {0x01, 0x01, 'a', 0x81, 0x01, 'b'},
		"over the limit":          serverFrame(true, 0x1, make([]byte, 2000)),
		"64-bit length too large": {0x81, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"cut short":               {0x81, 0x05, 'a', 'b'},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, peer := readerOver(t, 1024)
			go func() {
				_, _ = peer.Write(raw)
				_ = peer.Close()
			}()
			msg, err := r.next()
			require.Error(t, err)
			require.Nil(t, msg)
			if name != "cut short" && name != "over the limit" && name != "64-bit length too large" {
				require.True(t, errors.Is(err, errProtocol), "%v", err)
			}
		})
	}
}

// Against the WebSocket library's own server: the handshake through the
// upgrade transport hands the socket over, the frames read back intact, and
// the server's Ping gets its pong (so the hub's pinger never closes a load
// generator's socket).
func TestFrameReaderAgainstLibraryServer(t *testing.T) {
	t.Parallel()
	pinged := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := ws.CloseRead(r.Context()) // reads (and so sees pongs) until the client closes
		for _, m := range []string{"one", strings.Repeat("two", 30000)} {
			if ws.Write(ctx, websocket.MessageText, []byte(m)) != nil {
				return
			}
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		pinged <- ws.Ping(pctx)
		cancel()
		_ = ws.Write(ctx, websocket.MessageText, []byte("three"))
		<-ctx.Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := dialTest(ctx, srv)
	require.NoError(t, err)
	defer r.close()
	for _, want := range []string{"one", strings.Repeat("two", 30000), "three"} {
		got, err := r.next()
		require.NoError(t, err)
		require.Equal(t, want, string(got))
	}
	require.NoError(t, <-pinged, "the server's ping got its pong")
}
