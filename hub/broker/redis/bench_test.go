package redisbroker

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notifyhub/notifyhub/domain"
)

// benchUpdate is a typical broadcast delivery: an announcement with a
// small data object.
func benchUpdate(i int) domain.InboxUpdate {
	now := time.Date(2026, 11, 28, 3, 40, 12, 123456789, time.UTC)
	return domain.InboxUpdate{
		Kind:     domain.UpdateNotification,
		TenantID: "tenant-0003",
		UserID:   domain.UserID(fmt.Sprintf("user-%05d", i)),
		Notification: &domain.Notification{
			ID:        "0193f1a2-7c4e-7b3a-9d1e-2f4a6b8c0d1e",
			Seq:       int64(1000 + i),
			Type:      "announcement",
			Severity:  domain.Severity("info"),
			Title:     "Scheduled maintenance tonight",
			Body:      "The ERP will be read-only from 22:00 to 22:30 while the database is upgraded.",
			ActionURL: "/announcements/42",
			Data:      json.RawMessage(`{"announcement_id":42,"sent_at":"2026-11-28T03:40:12.123456789Z","tags":["ops","maintenance"]}`),
			CreatedAt: now,
		},
		Seq:         int64(1000 + i),
		UnreadCount: 3,
		CommittedAt: now.Add(time.Millisecond),
	}
}

// benchEntry is the stream entry a hub node reads for benchUpdate(i).
func benchEntry(b *testing.B, i int) redis.XMessage {
	b.Helper()
	values, err := entryValues(benchUpdate(i))
	if err != nil {
		b.Fatal(err)
	}
	m := redis.XMessage{ID: "1764301212123-0", Values: map[string]any{}}
	for j := 0; j < len(values); j += 2 {
		m.Values[values[j].(string)] = string(values[j+1].([]byte))
	}
	return m
}

// BenchmarkDecode is the per-update cost every hub node pays for every
// entry of the stream.
func BenchmarkDecode(b *testing.B) {
	m := benchEntry(b, 7)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeOne(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode is the publisher's per-update encoding, without Redis.
func BenchmarkEncode(b *testing.B) {
	u := benchUpdate(7)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := entryValues(u); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishBatch publishes a 1,000-user broadcast per op; it needs
// NOTIFYHUB_TEST_REDIS_URL.
func BenchmarkPublishBatch(b *testing.B) {
	url := os.Getenv("NOTIFYHUB_TEST_REDIS_URL")
	if url == "" {
		b.Skip("NOTIFYHUB_TEST_REDIS_URL not set")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	broker, err := New(Config{Client: c, Prefix: "notifyhub-bench:" + domain.NewID() + ":", MaxLen: 10_000})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Del(b.Context(), broker.Key())
	us := make([]domain.InboxUpdate, 1000)
	for i := range us {
		us[i] = benchUpdate(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := broker.PublishBatch(b.Context(), us); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBatch is BenchmarkDecode for a 1,000-user broadcast read
// as PublishBatch writes it (one v3 entry); ns/op and allocs are per
// update.
func BenchmarkDecodeBatch(b *testing.B) {
	var enc batchEncoder
	for i := range 1000 {
		u := benchUpdate(i)
		u.Notification.ID = domain.NewID()
		if err := enc.add(u); err != nil {
			b.Fatal(err)
		}
	}
	m := redis.XMessage{ID: "1764301212123-0", Values: map[string]any{fieldV3: string(enc.entry())}}
	var us []domain.InboxUpdate
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if us, err = decode(us[:0], m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/update")
}

// BenchmarkEncodeBatch is the publisher's encoding of a 1,000-user
// broadcast into v3 entries, without Redis.
func BenchmarkEncodeBatch(b *testing.B) {
	us := make([]domain.InboxUpdate, 1000)
	shared := benchUpdate(0)
	for i := range us {
		n := *shared.Notification
		n.ID, n.Seq = domain.NewID(), int64(1000+i)
		us[i] = shared
		us[i].UserID, us[i].Seq, us[i].Notification = domain.UserID(fmt.Sprintf("user-%05d", i)), n.Seq, &n
	}
	b.ReportAllocs()
	for b.Loop() {
		var enc batchEncoder
		for _, u := range us {
			if err := enc.add(u); err != nil {
				b.Fatal(err)
			}
		}
		_ = enc.entry()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/update")
}
