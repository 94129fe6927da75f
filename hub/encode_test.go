package hub

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

// The reference shapes: the hand-written encoder must produce exactly what
// encoding/json makes of them.
type notificationFrame struct {
	Type         string               `json:"type"`
	Notification *domain.Notification `json:"notification"`
}

type countFrame struct {
	Type        string `json:"type"`
	UnreadCount int    `json:"unread_count"`
}

func requireSameAsEncodingJSON(t *testing.T, n *domain.Notification) {
	t.Helper()
	want, werr := json.Marshal(notificationFrame{Type: FrameNotification, Notification: n})
	got, gerr := appendNotificationFrame(nil, n)
	if werr != nil {
		require.Error(t, gerr, "encoding/json refused %+v: %v", n, werr)
		return
	}
	require.NoError(t, gerr)
	require.Equal(t, string(want), string(got))
}

var hostileStrings = []string{
	"", "plain", `quote " backslash \ slash /`, "<script>alert('x')</script> & co",
	"ctl \x00\x01\x07\b\f\n\r\t\x1f\x7f end", "line\u2028para\u2029sep", "emoji 🚀 ünïcödé 中文",
	"bad utf8 \xff\xfe \xc3\x28 \xe2\x82", "\xed\xa0\x80 surrogate", strings.Repeat("é<", 300),
}

func TestNotificationFrameMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 28, 10, 20, 30, 123456000, time.UTC)
	readAt := at.Add(time.Hour).In(time.FixedZone("x", 5*3600+1800))
	for _, s := range hostileStrings {
		for _, data := range []json.RawMessage{nil, json.RawMessage(`{}`), json.RawMessage(`{"a": [1, 2.5, "x<y"], "b" : null}`),
			json.RawMessage(" \n[true]\t"), json.RawMessage("{\"s\": \"a\u2028b&c>\", \"t\": \"\\u2029\"}")} {
			requireSameAsEncodingJSON(t, &domain.Notification{ID: s, Seq: 42, Type: s, Severity: domain.Severity(s), Title: s,
				Body: s, ActionURL: s, Data: data, CreatedAt: at})
			requireSameAsEncodingJSON(t, &domain.Notification{ID: domain.NewID(), Seq: -1, Title: s, Data: data,
				ReadAt: &readAt, CreatedAt: time.Time{}})
		}
	}
	// What encoding/json refuses, the encoder refuses.
	for _, n := range []*domain.Notification{
		{Data: json.RawMessage(`{broken`)},
		{Data: json.RawMessage(`{} {}`)},
		{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{ReadAt: &time.Time{}, CreatedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		requireSameAsEncodingJSON(t, n)
	}
}

func FuzzNotificationFrame(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s, `{"k":"v"}`, int64(7))
	}
	f.Fuzz(func(t *testing.T, s, data string, seq int64) {
		n := &domain.Notification{ID: s, Seq: seq, Type: s, Title: s, Body: s, ActionURL: s,
			Data: json.RawMessage(data), CreatedAt: time.Unix(seq%1e10, seq%1e9).UTC()}
		requireSameAsEncodingJSON(t, n)
	})
}

func TestCountFrameMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 42, 1 << 40, -3} {
		want, err := json.Marshal(countFrame{Type: FrameUnreadCount, UnreadCount: n})
		require.NoError(t, err)
		require.Equal(t, string(want), string(encodeCount(n)))
	}
}
