package redisbroker

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
)

// A broadcast is one update per recipient, alike but for the user, the
// notification's id and seq and the unread count. PublishBatch writes such
// runs as few entries (field fieldV3): the shared part once per entry, then
// a few dozen bytes per recipient. Every node then reads one entry, not a
// thousand, and the hub gets a broadcast's updates together, which lets a
// socket receive several in one write.
//
// The v3 form is a uvarint count of records, then the records:
//
//	0 update          an update in the v2 form
//	1 user seq unread_count id
//	                  a notification update like the one before it in the
//	                  entry (which is one) but for these
//
// Decoding a record 1 gives exactly what decoding its update in the v2
// form gives.
const fieldV3 = "u3"

const (
	recordFull   = 0
	recordShared = 1
)

// Bounds of one v3 entry: every node holds a whole XREAD (readCount
// entries) in memory at once.
const (
	maxBatchUpdates = 1024
	maxBatchBytes   = 64 << 10
)

// batchEncoder builds v3 entries.
type batchEncoder struct {
	buf   []byte
	count int
	// last is the last update written, when it can be shared.
	last    domain.InboxUpdate
	hasLast bool
}

// full reports whether the entry has reached its bounds.
func (e *batchEncoder) full() bool {
	return e.count >= maxBatchUpdates || len(e.buf) >= maxBatchBytes
}

// add appends u to the entry.
func (e *batchEncoder) add(u domain.InboxUpdate) error {
	if u.Seq == 0 && u.Notification != nil {
		u.Seq = u.Notification.Seq
	}
	if e.hasLast && sharesContent(e.last, u) {
		e.buf = append(e.buf, recordShared)
		e.buf = appendString(e.buf, string(u.UserID))
		e.buf = binary.AppendVarint(e.buf, u.Seq)
		e.buf = binary.AppendVarint(e.buf, int64(u.UnreadCount))
		e.buf = appendString(e.buf, u.Notification.ID)
		e.count++
		return nil
	}
	at := len(e.buf)
	b, err := appendUpdate(append(e.buf, recordFull), u)
	if err != nil {
		e.buf = e.buf[:at]
		return fmt.Errorf("encode %s update: %w", u.Kind, err)
	}
	e.buf = b
	e.count++
	e.last, e.hasLast = u, u.Kind == domain.UpdateNotification && u.Notification != nil
	return nil
}

// entry returns the entry built so far and starts a new one.
func (e *batchEncoder) entry() []byte {
	out := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(e.buf)), uint64(e.count))
	out = append(out, e.buf...)
	e.buf, e.count, e.last, e.hasLast = e.buf[:0], 0, domain.InboxUpdate{}, false
	return out
}

// sharesContent reports whether u's v2 form differs from last's only in
// user, seq, unread count and notification id. The strings of one
// broadcast share their memory, which makes the comparisons cheap.
func sharesContent(last, u domain.InboxUpdate) bool {
	if u.Kind != domain.UpdateNotification || last.Kind != u.Kind || u.TenantID != last.TenantID ||
		u.CommittedAt != last.CommittedAt || len(u.IDs) != 0 || len(last.IDs) != 0 {
		return false
	}
	a, b := last.Notification, u.Notification
	if a == nil || b == nil {
		return false
	}
	if a.Type != b.Type || a.Severity != b.Severity || a.Title != b.Title || a.Body != b.Body ||
		a.ActionURL != b.ActionURL || a.CreatedAt != b.CreatedAt || (a.Data == nil) != (b.Data == nil) ||
		!bytes.Equal(a.Data, b.Data) {
		return false
	}
	if (a.ReadAt == nil) != (b.ReadAt == nil) {
		return false
	}
	return a.ReadAt == nil || *a.ReadAt == *b.ReadAt
}

// decodeV3 appends the updates of a v3 entry to us. Strings share raw's
// memory; the notifications of the entry share one allocation, and those
// of shared records share their template's read_at.
func decodeV3(us []domain.InboxUpdate, raw string) ([]domain.InboxUpdate, error) {
	r := reader{s: raw}
	count := r.uvarint()
	if r.err != nil {
		return us, r.err
	}
	// Every record takes at least one byte: a corrupt count cannot make a
	// huge allocation.
	if count > uint64(len(r.s)) {
		return us, errTruncated
	}
	start := len(us)
	us = append(us, make([]domain.InboxUpdate, count)...)
	notifications := make([]domain.Notification, count)
	var tmpl *domain.InboxUpdate
	for i := range int(count) {
		u := &us[start+i]
		switch tag := r.byte(); {
		case r.err != nil:
		case tag == recordFull:
			*u = r.update(&notifications[i])
			tmpl = nil
			if u.Kind == domain.UpdateNotification && u.Notification != nil {
				tmpl = u
			}
		case tag == recordShared:
			if tmpl == nil {
				r.fail(fmt.Errorf("record %d shares no notification update", i))
				break
			}
			*u = *tmpl
			u.UserID = domain.UserID(r.str())
			u.Seq = r.varint()
			u.UnreadCount = int(r.varint())
			n := &notifications[i]
			*n = *tmpl.Notification
			n.ID, n.UserID, n.Seq = r.str(), u.UserID, u.Seq
			u.Notification = n
		default:
			r.fail(fmt.Errorf("record %d: unknown tag %d", i, tag))
		}
		if r.err != nil {
			return us[:start], r.err
		}
	}
	if len(r.s) > 0 {
		return us[:start], fmt.Errorf("%d bytes after the updates", len(r.s))
	}
	return us, nil
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.s) == 0 {
		r.fail(errTruncated)
		return 0
	}
	c := r.s[0]
	r.s = r.s[1:]
	return c
}
