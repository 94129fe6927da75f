package hub

import (
	"bytes"
	"net/http"
	"time"
)

// The 101 answer to the upgrade goes out in the same write as the first
// frames (the catch-up and unread_count, normally): one system call and
// one TCP segment per connect instead of two. The library writes the 101
// through net/http (WriteHeader, then Hijack flushes it); the hijacker
// keeps the 101 from net/http instead and renders the head itself into
// the socket writer, which sends it ahead of whatever it writes first.

// WriteHeader holds back the 101 of the upgrade (see Hijack); any other
// status (the library's refusals) goes to net/http as usual.
func (h *hijacker) WriteHeader(code int) {
	if code == http.StatusSwitchingProtocols && h.ResponseWriter != nil {
		h.switching = true
		return
	}
	h.ResponseWriter.WriteHeader(code)
}

// switchingHead renders the 101 response head as net/http would: status
// line, the header fields (sorted), a Date unless one is set.
func switchingHead(hdr http.Header) []byte {
	var b bytes.Buffer
	b.Grow(256)
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = hdr.Write(&b) // a bytes.Buffer does not fail
	if _, ok := hdr["Date"]; !ok {
		b.WriteString("Date: ")
		b.Write(time.Now().UTC().AppendFormat(make([]byte, 0, 29), http.TimeFormat))
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}
