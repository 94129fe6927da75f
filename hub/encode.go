package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/notifyhub/notifyhub/domain"
)

// appendNotificationFrame appends {"type":"notification","notification":n}
// to dst, byte for byte what encoding/json produces for it (frame_test.go
// checks), without reflection: every live delivery and every catch-up row
// is encoded here.
func appendNotificationFrame(dst []byte, n *domain.Notification) ([]byte, error) {
	b := appendNotificationHead(dst, n)
	b = strconv.AppendInt(b, n.Seq, 10)
	b, err := appendNotificationTail(b, n)
	if err != nil {
		return dst, err
	}
	return b, nil
}

// A notification frame is its head, its seq and its tail. The recipients
// of a broadcast get the same notification (one id, one content) with a
// seq of their own: their frames differ in the seq alone (the browser
// orders its list by it), so the encoder shares the head and the tail
// between them (frameEncoder).

// appendNotificationHead appends the frame up to the notification's seq:
// its id.
func appendNotificationHead(b []byte, n *domain.Notification) []byte {
	b = append(b, `{"type":"notification","notification":{"id":`...)
	b = appendJSONString(b, n.ID)
	return append(b, `,"seq":`...)
}

// appendNotificationTail appends the rest of the frame, from the type on
// (see sameTail).
func appendNotificationTail(b []byte, n *domain.Notification) ([]byte, error) {
	dst := b
	b = append(b, `,"type":`...)
	b = appendJSONString(b, n.Type)
	b = append(b, `,"severity":`...)
	b = appendJSONString(b, string(n.Severity))
	b = append(b, `,"title":`...)
	b = appendJSONString(b, n.Title)
	b = append(b, `,"body":`...)
	b = appendJSONString(b, n.Body)
	b = append(b, `,"action_url":`...)
	b = appendJSONString(b, n.ActionURL)
	b = append(b, `,"data":`...)
	if n.Data == nil {
		b = append(b, "null"...)
	} else {
		// As json.Marshal does with a RawMessage: validate (broken data
		// fails the frame), compact, escape HTML-sensitive characters.
		start := len(b)
		buf := bytes.NewBuffer(b)
		if err := json.Compact(buf, n.Data); err != nil {
			return dst, err
		}
		b = buf.Bytes()
		if bytes.ContainsAny(b[start:], "<>&\u2028\u2029") {
			raw := bytes.Clone(b[start:])
			buf := bytes.NewBuffer(b[:start])
			json.HTMLEscape(buf, raw)
			b = buf.Bytes()
		}
	}
	b = append(b, `,"read_at":`...)
	var err error
	if n.ReadAt == nil {
		b = append(b, "null"...)
	} else if b, err = appendJSONTime(b, *n.ReadAt); err != nil {
		return dst, err
	}
	b = append(b, `,"created_at":`...)
	if b, err = appendJSONTime(b, n.CreatedAt); err != nil {
		return dst, err
	}
	return append(b, "}}"...), nil
}

var errYearRange = errors.New("time outside the years 0-9999 cannot be encoded")

// appendJSONTime is time.Time's MarshalJSON, appended.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y >= 10000 {
		return b, errYearRange
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendCountFrame appends {"type":"unread_count","unread_count":n}.
func appendCountFrame(b []byte, n int) []byte {
	b = append(b, `{"type":"unread_count","unread_count":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way encoding/json does:
// HTML-safe (<, >, & escaped), U+2028 and U+2029 escaped, invalid UTF-8
// replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
