package hub

import "encoding/binary"

// appendTextFrame appends payload to dst as one unfragmented WebSocket text
// frame from a server (RFC 6455 §5.2: FIN, opcode 1, no mask, the shortest
// length encoding). The hub frames its own messages: through the library,
// framing was about a sixth of the server's CPU per broadcast delivery
// (a lock, a message writer reset and buffered copies per frame).
func appendTextFrame(dst, payload []byte) []byte {
	const finText = 0x80 | 0x1
	n := len(payload)
	switch {
	case n <= 125:
		dst = append(dst, finText, byte(n))
	case n <= 0xffff:
		dst = append(dst, finText, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, finText, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// isCloseFrame reports whether p, a write of the library's, starts with a
// close frame (opcode 8). The library flushes each control frame in one
// write (a header and at most 125 bytes, within its 128-byte buffer).
func isCloseFrame(p []byte) bool { return len(p) > 0 && p[0]&0x0f == 0x8 }
