package hub

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// Frame types sent to clients (DESIGN.md §4.5), one JSON object per text
// frame.
const (
	FrameNotification = "notification"
	FrameUnreadCount  = "unread_count"
	FrameRead         = "read"
	FrameUnread       = "unread"
	FrameReadAll      = "read_all"
	FramePong         = "pong"
)

type idsFrame struct {
	Type string   `json:"type"`
	IDs  []string `json:"ids"`
}

type bareFrame struct {
	Type string `json:"type"`
}

// readAllFrame says every notification up to UpToSeq is read; a newer one
// that reached the tab first stays unread.
type readAllFrame struct {
	Type    string `json:"type"`
	UpToSeq int64  `json:"up_to_seq,omitempty"`
}

// pongFrame answers a client's {"type":"ping"}; it never changes.
var pongFrame = mustJSON(bareFrame{Type: FramePong})

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("hub: encode constant frame: %v", err))
	}
	return b
}

func encodeNotification(n *domain.Notification) ([]byte, error) {
	b, err := appendNotificationFrame(make([]byte, 0, 256+len(n.Title)+len(n.Body)+len(n.Data)), n)
	if err != nil {
		return nil, fmt.Errorf("encode notification %s: %w", n.ID, err)
	}
	return b, nil
}

func encodeCount(n int) []byte {
	return appendCountFrame(make([]byte, 0, 48), n)
}

// outbound is one update encoded once and shared, read-only, by every
// connection of the user it is addressed to.
type outbound struct {
	kind        domain.UpdateKind
	seq         int64  // notification updates only
	frame       []byte // the notification / read / unread / read_all frame
	count       []byte // the unread_count frame that follows it
	committedAt time.Time
}

// encodeUpdate turns an update into frames. It rejects updates the hub
// cannot place: unknown kinds, notifications without body or seq.
func encodeUpdate(u domain.InboxUpdate) (*outbound, error) {
	var e frameEncoder
	return e.encode(&u)
}

// frameEncoder encodes the updates of one delivery. The recipients of a
// broadcast get frames that differ only in the notification's seq and in
// the count that follows: the head (the id) and the tail (the content) are
// encoded once for a run of alike updates and copied from the run's
// previous frame after. Notifications alike but for their ids (one stored
// per recipient) share the tail only.
type frameEncoder struct {
	last     *domain.Notification // of the last frame encoded; nil: none
	lastHead []byte               // that frame's head
	lastTail []byte               // that frame's tail
}

func (e *frameEncoder) encode(u *domain.InboxUpdate) (*outbound, error) {
	ob := &outbound{kind: u.Kind, committedAt: u.CommittedAt}
	var err error
	switch u.Kind {
	case domain.UpdateNotification:
		if u.Notification == nil {
			return nil, fmt.Errorf("notification update without notification")
		}
		ob.seq = u.Seq
		if ob.seq == 0 {
			ob.seq = u.Notification.Seq
		}
		if ob.seq <= 0 {
			return nil, fmt.Errorf("notification update %s without seq", u.Notification.ID)
		}
		if err := e.notification(ob, u.Notification, u.UnreadCount); err != nil {
			return nil, fmt.Errorf("encode %s update: encode notification %s: %w", u.Kind, u.Notification.ID, err)
		}
		return ob, nil
	case domain.UpdateRead, domain.UpdateUnread:
		ids := u.IDs
		if ids == nil {
			ids = []string{} // [] not null: clients iterate it
		}
		ob.frame, err = json.Marshal(idsFrame{Type: string(u.Kind), IDs: ids})
	case domain.UpdateReadAll:
		ob.frame, err = json.Marshal(readAllFrame{Type: FrameReadAll, UpToSeq: u.Seq})
	default:
		return nil, fmt.Errorf("unknown update kind %q", u.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("encode %s update: %w", u.Kind, err)
	}
	ob.count = encodeCount(u.UnreadCount)
	return ob, nil
}

// notification sets ob's frame and count, in one allocation.
func (e *frameEncoder) notification(ob *outbound, n *domain.Notification, count int) error {
	const headRoom = len(`{"type":"notification","notification":{"id":"","seq":`)
	const countRoom = len(`{"type":"unread_count","unread_count":}`) + 20
	var head, tail []byte
	if e.last != nil {
		if n.ID == e.last.ID {
			head = e.lastHead
		}
		if sameTail(e.last, n) {
			tail = e.lastTail
		}
	}
	size := 20 + countRoom // the seq, the count frame
	if head != nil {
		size += len(head)
	} else {
		size += headRoom + 2*len(n.ID)
	}
	if tail != nil {
		size += len(tail)
	} else {
		size += 200 + len(n.Type) + len(n.Title) + len(n.Body) + len(n.ActionURL) + len(n.Data)
	}
	b := make([]byte, 0, size)
	if head != nil {
		b = append(b, head...)
	} else {
		b = appendNotificationHead(b, n)
	}
	headEnd := len(b)
	b = strconv.AppendInt(b, n.Seq, 10)
	start := len(b)
	if tail != nil {
		b = append(b, tail...)
	} else {
		var err error
		if b, err = appendNotificationTail(b, n); err != nil {
			e.last = nil
			return err
		}
	}
	end := len(b)
	b = appendCountFrame(b, count)
	ob.frame, ob.count = b[:end:end], b[end:]
	e.last, e.lastHead, e.lastTail = n, b[:headEnd:headEnd], b[start:end:end]
	return nil
}

// sameTail reports whether a and b encode to the same tail
// (appendNotificationTail). The strings of one broadcast share their
// memory, which makes the comparisons cheap.
func sameTail(a, b *domain.Notification) bool {
	if a.Type != b.Type || a.Severity != b.Severity || a.Title != b.Title || a.Body != b.Body ||
		a.ActionURL != b.ActionURL || a.CreatedAt != b.CreatedAt ||
		(a.Data == nil) != (b.Data == nil) || string(a.Data) != string(b.Data) {
		return false
	}
	if a.ReadAt == nil || b.ReadAt == nil {
		return a.ReadAt == b.ReadAt
	}
	return *a.ReadAt == *b.ReadAt
}
