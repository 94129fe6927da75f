package main

import (
	"bytes"
	"strconv"
)

// decodeFrameFast is decodeFrame without reflection, for the frames the
// load generator reads by the hundred thousand: encoding/json spent about
// a quarter of the load generator's CPU per frame scanning fields it then
// dropped, CPU taken from the server it shares the cores with.
//
// It walks the frame once, validating all of it, and keeps only what
// wireFrame keeps. Whenever its answer could differ from encoding/json's
// (a wanted field of another type, a key that matches only case-
// insensitively, an escaped or non-ASCII wanted string, a number that is
// not a small integer, a null or non-object notification or data, a
// wanted key given twice: encoding/json merges the second into the
// first), it declines (handled false) and decodeFrame answers instead; so
// the load generator's accounting never depends on which of the two ran.
func decodeFrameFast(frame []byte, f *wireFrame) (ok, dataOK, handled bool) {
	s := frameScanner{b: frame}
	var (
		typ string
		n   *frameNotification
	)
	clean := s.fields([]string{"type", "notification"}, func(i int) bool {
		var ok bool
		if i == 0 {
			typ, ok = s.plainString()
		} else {
			n, ok = s.notification()
		}
		return ok
	})
	s.ws()
	if !clean || s.bad || s.i != len(s.b) {
		return false, false, false
	}
	*f = wireFrame{Type: typ, Notification: n}
	return f.Type == "notification" && f.Notification != nil, true, true
}

// frameNotification is wireFrame's notification.
type frameNotification = struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data marker `json:"data"`
}

// frameScanner reads one JSON document; bad is set at the first syntax
// error, after which every method returns at once.
type frameScanner struct {
	b   []byte
	i   int
	bad bool
}

func (s *frameScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (s *frameScanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *frameScanner) fail() { s.bad = true; s.i = len(s.b) }

// object reads an object, calling member with each key (positioned at its
// value, which member must read); member returning false stops reading
// (the caller declines anyway).
func (s *frameScanner) object(member func(key []byte) bool) {
	if s.peek() != '{' {
		s.fail()
		return
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return
	}
	for !s.bad {
		if s.peek() != '"' {
			s.fail()
			return
		}
		key, escaped := s.str()
		if s.peek() != ':' {
			s.fail()
			return
		}
		s.i++
		if escaped {
			// An escaped key may spell a wanted one: leave it to
			// encoding/json.
			s.fail()
			return
		}
		if !member(key) || s.bad {
			return
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return
		default:
			s.fail()
			return
		}
	}
}

// str reads a string and returns its raw bytes (without the quotes) and
// whether it holds an escape or a byte outside ASCII (then its raw bytes
// are not its value).
func (s *frameScanner) str() (raw []byte, escaped bool) {
	s.i++ // the opening quote
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped
		case c == '\\':
			escaped = true
			s.i++
			if s.i >= len(s.b) {
				s.fail()
				return nil, true
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+4 >= len(s.b) {
					s.fail()
					return nil, true
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						s.fail()
						return nil, true
					}
				}
				s.i += 5
			default:
				s.fail()
				return nil, true
			}
		case c < 0x20:
			s.fail()
			return nil, true
		default:
			if c >= 0x80 {
				escaped = true // invalid UTF-8 would be replaced: not raw
			}
			s.i++
		}
	}
	s.fail()
	return nil, true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// plainString reads a wanted string value; clean is false when it is not a
// string of plain ASCII without escapes.
func (s *frameScanner) plainString() (v string, clean bool) {
	if s.peek() != '"' {
		return "", false
	}
	raw, escaped := s.str()
	if escaped || s.bad {
		return "", false
	}
	return string(raw), true
}

// smallInt reads a wanted integer of bits bits; clean is false when it is
// anything else (a fraction, an exponent, out of range, not a number).
func (s *frameScanner) smallInt(bits int) (v int64, clean bool) {
	c := s.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, false
	}
	start := s.i
	s.number()
	if s.bad {
		return 0, false
	}
	v, err := strconv.ParseInt(string(s.b[start:s.i]), 10, bits)
	return v, err == nil
}

// number reads a JSON number.
func (s *frameScanner) number() {
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		s.fail()
		return
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			s.fail()
			return
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			s.fail()
		}
	}
}

func (s *frameScanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// maxSkipDepth bounds the nesting skip follows (encoding/json allows
// 10,000; frames nest three deep).
const maxSkipDepth = 64

// skip reads any value.
func (s *frameScanner) skip() { s.skipDepth(0) }

func (s *frameScanner) skipDepth(depth int) {
	if depth > maxSkipDepth {
		s.fail()
		return
	}
	switch c := s.peek(); {
	case c == '"':
		s.str()
	case c == '{':
		s.object(func([]byte) bool { s.skipDepth(depth + 1); return true })
	case c == '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return
		}
		for !s.bad {
			s.skipDepth(depth + 1)
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return
			default:
				s.fail()
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		s.number()
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	default:
		s.fail()
	}
}

func (s *frameScanner) literal(word string) {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		s.fail()
		return
	}
	s.i += len(word)
}

// fields reads an object of which names (at most 8) are wanted: read(i)
// reads the value of names[i] and reports whether it was as the fast path
// reads it; other members are skipped. It reports false, the caller then
// declining, when read did, when a wanted key comes twice (encoding/json
// merges the second into the first) or when a key equals a wanted one
// but for case (encoding/json matches keys case-insensitively).
func (s *frameScanner) fields(names []string, read func(i int) bool) bool {
	clean := true
	var seen uint8
	s.object(func(key []byte) bool {
		for i, name := range names {
			switch {
			case string(key) == name:
				if seen&(1<<i) != 0 {
					clean = false
				} else {
					seen |= 1 << i
					clean = read(i)
				}
				return clean
			case len(key) == len(name) && bytes.EqualFold(key, []byte(name)):
				clean = false
				return false
			}
		}
		s.skip()
		return true
	})
	return clean
}

// notification reads the notification object; ok is false when any
// wanted field is not as the fast path reads it.
func (s *frameScanner) notification() (n *frameNotification, ok bool) {
	if s.peek() != '{' {
		return nil, false // null, or not an object: encoding/json's call
	}
	n = &frameNotification{}
	ok = s.fields([]string{"id", "type", "data"}, func(i int) (ok bool) {
		switch i {
		case 0:
			n.ID, ok = s.plainString()
		case 1:
			n.Type, ok = s.plainString()
		default:
			ok = s.marker(&n.Data)
		}
		return ok
	})
	return n, ok
}

// marker reads a notification's data into m.
func (s *frameScanner) marker(m *marker) bool {
	if s.peek() != '{' {
		return false
	}
	*m = marker{}
	return s.fields([]string{"lg", "product_id", "p", "n"}, func(i int) (ok bool) {
		var v int64
		switch i {
		case 0:
			m.Run, ok = s.plainString()
		case 1:
			m.ProductID, ok = s.plainString()
		case 2:
			v, ok = s.smallInt(8)
			m.Phase = int8(v)
		default:
			v, ok = s.smallInt(32)
			m.N = int32(v)
		}
		return ok
	})
}
