package notification_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

// discardFanout drops pushes: these benchmarks measure persistence.
type discardFanout struct{}

func (discardFanout) Publish(context.Context, domain.InboxUpdate) error { return nil }

var benchDraft = notification.Draft{Type: "AnnouncementNotification", Severity: domain.SeverityInfo,
	Title: "Stocktake on Friday", Body: "The warehouse closes at noon for the quarterly stocktake.",
	ActionURL: "/announcements/1", Data: map[string]any{"lg": "bench", "n": 1}}

// BenchmarkSendToUsers measures the notification insert batch: one
// SendToUsers call (one transaction) storing a notification for each of N
// users, as a tenant broadcast or a bulk send does, on each backend.
func BenchmarkSendToUsers(b *testing.B) {
	for name, open := range storetest.Backends(b) {
		for _, users := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("backend=%s/users=%d", name, users), func(b *testing.B) {
				s := open(b)
				svc := notification.NewService(s, discardFanout{}, nil, nil)
				ids := make([]domain.UserID, users)
				for i := range ids {
					ids[i] = domain.UserID(fmt.Sprint("u", i))
				}
				ctx := context.Background()
				// The recipients are known users, as in production (the
				// first send creates their rows).
				if _, err := svc.SendToUsers(ctx, "t1", ids, benchDraft); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := svc.SendToUsers(ctx, "t1", ids, benchDraft); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*users)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

// BenchmarkCatchUp measures the catch-up query: one page of
// NotificationsAfter (what a reconnecting socket reads per page) from an
// inbox of 2,000 notifications, on each backend.
func BenchmarkCatchUp(b *testing.B) {
	for name, open := range storetest.Backends(b) {
		for _, page := range []int{50, 500} {
			b.Run(fmt.Sprintf("backend=%s/page=%d", name, page), func(b *testing.B) {
				s := open(b)
				svc := notification.NewService(s, discardFanout{}, nil, nil)
				ctx := context.Background()
				for range 20 {
					ids := make([]domain.UserID, 100)
					for i := range ids {
						ids[i] = "reader"
					}
					if _, err := svc.SendToUsers(ctx, "t1", ids, benchDraft); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					after := int64(i*page) % (2000 - int64(page))
					got, err := s.NotificationsAfter(ctx, "t1", "reader", after, page)
					if err != nil {
						b.Fatal(err)
					}
					if len(got) != page {
						b.Fatalf("page of %d, want %d", len(got), page)
					}
				}
				b.ReportMetric(float64(b.N*page)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}
