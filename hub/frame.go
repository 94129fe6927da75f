package hub

import (
	"encoding/json"
	"fmt"
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
		ob.frame, err = encodeNotification(u.Notification)
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
