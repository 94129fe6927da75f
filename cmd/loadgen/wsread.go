package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"time"
)

// frameReader reads the server's messages straight off the socket the
// handshake left (upgradedConn), instead of through the WebSocket
// library's reader: a context-aware lock per message, a header read byte
// by byte and a message reader copying into the caller's buffer cost about
// a fifth of the load generator's CPU per frame, CPU taken from the server
// it shares the two cores with. It answers pings itself (the server pings
// every client). dialSocket made the handshake.
//
// Only one goroutine reads; it is also the only one that writes (pongs).
type frameReader struct {
	conn  net.Conn
	br    *bufio.Reader
	limit int    // largest message accepted
	msg   []byte // the message being read, reused
	ctl   [125]byte
}

func newFrameReader(c net.Conn, limit int) *frameReader {
	return &frameReader{conn: c, br: bufio.NewReaderSize(c, 4<<10), limit: limit}
}

// close closes the socket at once, without a closing handshake (a client
// that goes away); a read in progress returns an error.
func (r *frameReader) close() { _ = r.conn.Close() }

// closeError is a close frame from the server.
type closeError struct {
	code   int
	reason string
}

func (e *closeError) Error() string {
	return fmt.Sprintf("websocket closed by the server: status %d, reason %q", e.code, e.reason)
}

var errProtocol = errors.New("websocket protocol error")

// next returns the next text or binary message; it is valid until the next
// call. Control frames are handled on the way: a ping is answered with a
// pong, a pong ignored, a close returned as a *closeError.
func (r *frameReader) next() ([]byte, error) {
	r.msg = r.msg[:0]
	inMessage := false
	for {
		fin, op, n, err := r.header()
		if err != nil {
			return nil, err
		}
		if op >= 0x8 { // control: at most 125 bytes, never fragmented
			if !fin || n > len(r.ctl) {
				return nil, fmt.Errorf("%w: control frame %#x of %d bytes, fin %t", errProtocol, op, n, fin)
			}
			p := r.ctl[:n]
			if _, err := io.ReadFull(r.br, p); err != nil {
				return nil, err
			}
			switch op {
			case 0x8:
				return nil, closeFrom(p)
			case 0x9:
				if err := r.pong(p); err != nil {
					return nil, fmt.Errorf("pong: %w", err)
				}
			case 0xA:
			default:
				return nil, fmt.Errorf("%w: unknown control opcode %#x", errProtocol, op)
			}
			continue
		}
		switch {
		case op == 0x0 && !inMessage:
			return nil, fmt.Errorf("%w: continuation outside a message", errProtocol)
		case (op == 0x1 || op == 0x2) && inMessage:
			return nil, fmt.Errorf("%w: a new message inside a fragmented one", errProtocol)
		case op > 0x2:
			return nil, fmt.Errorf("%w: unknown opcode %#x", errProtocol, op)
		}
		inMessage = true
		if len(r.msg)+n > r.limit {
			return nil, fmt.Errorf("message over %d bytes", r.limit)
		}
		start := len(r.msg)
		if cap(r.msg)-start < n {
			grown := make([]byte, start, start+n)
			copy(grown, r.msg)
			r.msg = grown
		}
		r.msg = r.msg[:start+n]
		if _, err := io.ReadFull(r.br, r.msg[start:]); err != nil {
			return nil, err
		}
		if fin {
			return r.msg, nil
		}
	}
}

// header reads one frame header: a server's frames are unmasked and carry
// no extension bits (compression is not negotiated).
func (r *frameReader) header() (fin bool, op byte, n int, err error) {
	var h [8]byte
	if _, err = io.ReadFull(r.br, h[:2]); err != nil {
		return false, 0, 0, err
	}
	fin, op = h[0]&0x80 != 0, h[0]&0x0f
	if h[0]&0x70 != 0 || h[1]&0x80 != 0 {
		return false, 0, 0, fmt.Errorf("%w: reserved bits or a mask on a server frame (%#x %#x)", errProtocol, h[0], h[1])
	}
	switch l := h[1] & 0x7f; l {
	case 126:
		if _, err = io.ReadFull(r.br, h[:2]); err != nil {
			return false, 0, 0, err
		}
		n = int(binary.BigEndian.Uint16(h[:2]))
	case 127:
		if _, err = io.ReadFull(r.br, h[:8]); err != nil {
			return false, 0, 0, err
		}
		u := binary.BigEndian.Uint64(h[:8])
		if u > uint64(r.limit) {
			return false, 0, 0, fmt.Errorf("frame of %d bytes over the %d-byte limit", u, r.limit)
		}
		n = int(u)
	default:
		n = int(l)
	}
	return fin, op, n, nil
}

// pong answers a ping with its payload, masked as a client's frames must be.
func (r *frameReader) pong(payload []byte) error {
	f := make([]byte, 0, 6+len(payload))
	f = append(f, 0x8A, 0x80|byte(len(payload)))
	key := rand.Uint32()
	f = binary.BigEndian.AppendUint32(f, key)
	var mask [4]byte
	binary.BigEndian.PutUint32(mask[:], key)
	for i, b := range payload {
		f = append(f, b^mask[i%4])
	}
	if err := r.conn.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	_, err := r.conn.Write(f)
	return err
}

// closeFrom reads a close frame's payload: a status code and a reason.
func closeFrom(p []byte) error {
	if len(p) < 2 {
		return &closeError{code: 1005} // no status received
	}
	return &closeError{code: int(binary.BigEndian.Uint16(p)), reason: string(p[2:])}
}
