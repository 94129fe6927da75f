package redisbroker

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/notifyhub/notifyhub/domain"
)

// Every hub node decodes every entry of the stream, so an entry carries its
// update in a compact binary form (field fieldV2) rather than JSON, whose
// reflective decoding cost more than writing the update to the sockets.
// The field name is the version: entries written by older nodes (field
// "update", JSON) still decode during a rolling deploy.
//
// The v2 form is a sequence of varint-prefixed strings and zigzag varints:
//
//	kind tenant user seq unread_count committed_at len(ids) ids...
//	0 | 1 id type severity title body action_url data (0 | 1 read_at) created_at
//
// Times are their RFC 3339 text (time.Time.AppendText), so they decode to
// the same location as they did from JSON.
//
// What a node receives is what the JSON round trip gave it: appendUpdate
// normalises as encoding/json does (invalid UTF-8 becomes U+FFFD, data is
// validated, compacted and HTML-escaped, nil data becomes null) and fails
// where json.Marshal failed (invalid data, years outside 0-9999).
const fieldV2 = "u2"

var errTruncated = errors.New("truncated entry")

// appendUpdate appends the v2 form of u to b.
func appendUpdate(b []byte, u domain.InboxUpdate) ([]byte, error) {
	var err error
	b = appendString(b, string(u.Kind))
	b = appendString(b, string(u.TenantID))
	b = appendString(b, string(u.UserID))
	b = binary.AppendVarint(b, u.Seq)
	b = binary.AppendVarint(b, int64(u.UnreadCount))
	if b, err = appendTime(b, u.CommittedAt); err != nil {
		return nil, fmt.Errorf("committed_at: %w", err)
	}
	b = binary.AppendUvarint(b, uint64(len(u.IDs)))
	for _, id := range u.IDs {
		b = appendString(b, id)
	}
	n := u.Notification
	if n == nil {
		return append(b, 0), nil
	}
	b = append(b, 1)
	b = appendString(b, n.ID)
	b = appendString(b, n.Type)
	b = appendString(b, string(n.Severity))
	b = appendString(b, n.Title)
	b = appendString(b, n.Body)
	b = appendString(b, n.ActionURL)
	if b, err = appendData(b, n.Data); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if n.ReadAt == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		if b, err = appendTime(b, *n.ReadAt); err != nil {
			return nil, fmt.Errorf("read_at: %w", err)
		}
	}
	if b, err = appendTime(b, n.CreatedAt); err != nil {
		return nil, fmt.Errorf("created_at: %w", err)
	}
	return b, nil
}

// appendString appends s as encoding/json would deliver it: each byte of
// an invalid UTF-8 sequence is replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	if utf8.ValidString(s) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...)
	}
	var v strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			v.WriteRune(utf8.RuneError)
		} else {
			v.WriteString(s[i : i+size])
		}
		i += size
	}
	return appendString(b, v.String())
}

// appendData appends data as json.Marshal writes a json.RawMessage.
func appendData(b []byte, data json.RawMessage) ([]byte, error) {
	if data == nil {
		return appendString(b, "null"), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, err
	}
	if bytes.ContainsAny(buf.Bytes(), "<>&\u2028\u2029") {
		var esc bytes.Buffer
		json.HTMLEscape(&esc, buf.Bytes())
		buf = esc
	}
	b = binary.AppendUvarint(b, uint64(buf.Len()))
	return append(b, buf.Bytes()...), nil
}

func appendTime(b []byte, t time.Time) ([]byte, error) {
	// AppendText fails where MarshalJSON fails; the length prefix is one
	// byte as RFC 3339 text is at most 35 bytes.
	at := len(b)
	b, err := t.AppendText(append(b, 0))
	if err != nil {
		return nil, err
	}
	b[at] = byte(len(b) - at - 1)
	return b, nil
}

// decodeV2 decodes the v2 form. Its strings share raw's memory: no copies.
func decodeV2(raw string) (domain.InboxUpdate, error) {
	r := reader{s: raw}
	u := r.update(nil)
	if r.err == nil && len(r.s) > 0 {
		r.err = fmt.Errorf("%d bytes after the update", len(r.s))
	}
	if r.err != nil {
		return domain.InboxUpdate{}, r.err
	}
	return u, nil
}

// update reads one update in the v2 form; its notification, if any, is n
// (nil: a new one).
func (r *reader) update(n *domain.Notification) domain.InboxUpdate {
	var u domain.InboxUpdate
	u.Kind = domain.UpdateKind(r.str())
	u.TenantID = domain.TenantID(r.str())
	u.UserID = domain.UserID(r.str())
	u.Seq = r.varint()
	u.UnreadCount = int(r.varint())
	u.CommittedAt = r.time()
	if k := r.uvarint(); k > 0 && r.err == nil {
		// Every id takes at least one byte: a corrupt count cannot make
		// a huge allocation.
		if k > uint64(len(r.s)) {
			r.fail(errTruncated)
			return u
		}
		u.IDs = make([]string, k)
		for i := range u.IDs {
			u.IDs[i] = r.str()
		}
	}
	if r.flag() {
		if n == nil {
			n = new(domain.Notification)
		}
		*n = domain.Notification{
			ID:        r.str(),
			TenantID:  u.TenantID,
			UserID:    u.UserID,
			Seq:       u.Seq,
			Type:      r.str(),
			Severity:  domain.Severity(r.str()),
			Title:     r.str(),
			Body:      r.str(),
			ActionURL: r.str(),
			Data:      json.RawMessage(r.str()),
		}
		if r.flag() {
			t := r.time()
			n.ReadAt = &t
		}
		n.CreatedAt = r.time()
		u.Notification = n
	}
	return u
}

// reader consumes the v2 form; after the first error it reads zeros and
// keeps that error.
type reader struct {
	s   string
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.s = ""
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := uvarintString(r.s)
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	r.s = r.s[n:]
	return v
}

func (r *reader) varint() int64 {
	ux := r.uvarint()
	// Zigzag, as binary.AppendVarint.
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.s)) {
		r.fail(errTruncated)
		return ""
	}
	s := r.s[:n]
	r.s = r.s[n:]
	return s
}

func (r *reader) flag() bool {
	if r.err != nil {
		return false
	}
	if len(r.s) == 0 {
		r.fail(errTruncated)
		return false
	}
	f := r.s[0]
	r.s = r.s[1:]
	if f > 1 {
		r.fail(fmt.Errorf("flag %d: want 0 or 1", f))
	}
	return f == 1
}

func (r *reader) time() time.Time {
	s := r.str()
	var t time.Time
	if r.err == nil {
		if err := t.UnmarshalText([]byte(s)); err != nil {
			r.fail(err)
		}
	}
	return t
}

// uvarintString is binary.Uvarint on a string, sparing a copy.
func uvarintString(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -(i + 1) // overflow
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

// decode decodes an entry of any form, appending its updates to us.
func decode(us []domain.InboxUpdate, m redis.XMessage) ([]domain.InboxUpdate, error) {
	if raw, ok := m.Values[fieldV3].(string); ok {
		out, err := decodeV3(us, raw)
		if err != nil {
			return us, fmt.Errorf("entry %s: %w", m.ID, err)
		}
		return out, nil
	}
	if raw, ok := m.Values[fieldV2].(string); ok {
		u, err := decodeV2(raw)
		if err != nil {
			return us, fmt.Errorf("entry %s: %w", m.ID, err)
		}
		return append(us, u), nil
	}
	u, err := decodeV1(m)
	if err != nil {
		return us, err
	}
	return append(us, u), nil
}
