package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

// BenchmarkInsertDirect measures a group commit of direct sends on
// PostgreSQL, as the service writes it: a 1,000-user broadcast (one bulk,
// 1,000 rows sharing their content) and 64 personal sends (64 bulks, one
// row each, each its own content).
func BenchmarkInsertDirect(b *testing.B) {
	for _, tc := range []struct {
		name          string
		bulks, rowsPB int
	}{{"broadcast=1000", 1, 1000}, {"personal=64", 64, 1}} {
		b.Run(tc.name, func(b *testing.B) {
			s := storetest.OpenPostgres(b)
			ctx := context.Background()
			users := make([]domain.UserID, tc.bulks*tc.rowsPB)
			for i := range users {
				users[i] = domain.UserID(fmt.Sprintf("u%05d", i))
				if err := s.UpsertUser(ctx, domain.User{TenantID: "t1", ID: users[i]}); err != nil {
					b.Fatal(err)
				}
			}
			group := func(round int) ([]notification.Bulk, []*domain.Notification) {
				now := time.Now().UTC()
				var (
					bs []notification.Bulk
					ns []*domain.Notification
				)
				for k := range tc.bulks {
					to := users[k*tc.rowsPB : (k+1)*tc.rowsPB]
					bk := notification.Bulk{TenantID: "t1", ID: domain.NewID(), RequestedBy: "admin",
						Type: "AnnouncementNotification", Severity: domain.SeverityInfo,
						Title: fmt.Sprintf("Stocktake %d/%d", round, k), Body: "The warehouse closes at noon for the quarterly stocktake.",
						ActionURL: "/announcements/1", Data: []byte(fmt.Sprintf(`{"lg":"bench","n":%d}`, k)),
						Status: notification.BulkCompleted, StartedAt: &now, CompletedAt: &now,
						Total: int64(len(to)), Sent: int64(len(to)), ResumeAfter: to[len(to)-1]}
					bk.Audience.UserIDs = to
					bs = append(bs, bk)
					for _, u := range to {
						ns = append(ns, &domain.Notification{TenantID: "t1", UserID: u, Type: bk.Type,
							Severity: bk.Severity, Title: bk.Title, Body: bk.Body, ActionURL: bk.ActionURL,
							Data: bk.Data, CreatedAt: now})
					}
				}
				return bs, ns
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				bs, ns := group(i)
				if _, err := s.InsertDirect(ctx, bs, ns); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(users))/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkInsertBroadcast measures a tenant broadcast stored once on
// PostgreSQL (InsertBroadcast: the tenant's counter, one row, the
// recipients read back) for tenants of 1,000 and 10,000 users; compare
// BenchmarkInsertDirect/broadcast=1000, the same announcement as one row
// per user.
//
// with-bulk=true is a direct broadcast as the API sends it: the broadcast
// and the bulk it completes, pipelined in one round trip
// (InsertBroadcastBulk); with-bulk=false is InsertBroadcast alone, in a
// transaction of its own.
func BenchmarkInsertBroadcast(b *testing.B) {
	for _, c := range []struct {
		users    int
		withBulk bool
	}{{1000, false}, {1000, true}, {10000, false}, {10000, true}} {
		users := c.users
		b.Run(fmt.Sprintf("users=%d/with-bulk=%t", users, c.withBulk), func(b *testing.B) {
			s := storetest.OpenPostgres(b)
			ctx := context.Background()
			batch := make([]domain.User, 0, 500)
			for i := range users {
				batch = append(batch, domain.User{TenantID: "t1", ID: domain.UserID(fmt.Sprintf("u%05d", i))})
				if len(batch) == cap(batch) || i == users-1 {
					if err := s.UpsertUsers(ctx, batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				n := &domain.Notification{TenantID: "t1", Type: "AnnouncementNotification",
					Severity: domain.SeverityInfo, Title: fmt.Sprintf("Stocktake %d", i),
					Body: "The warehouse closes at noon for the quarterly stocktake.", ActionURL: "/announcements/1",
					Data: []byte(`{"lg":"bench"}`)}
				var (
					got []notification.BroadcastRecipient
					err error
				)
				if c.withBulk {
					got, err = s.InsertBroadcastBulk(ctx, n, broadcastBulk(n))
				} else {
					got, err = s.InsertBroadcast(ctx, n)
				}
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != users {
					b.Fatalf("%d recipients, want %d", len(got), users)
				}
			}
			b.ReportMetric(float64(b.N*users)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkInsertNotificationsInTx is a listener's group commit: in a
// transaction of its own, one batch of alerts to the same two holders of
// a permission, as the low-stock consumers send them; contended=4 runs
// four such writers at once, all of them queuing on the holders' rows.
func BenchmarkInsertNotificationsInTx(b *testing.B) {
	for _, writers := range []int{1, 4} {
		b.Run(fmt.Sprintf("alerts=8/writers=%d", writers), func(b *testing.B) {
			s := storetest.OpenPostgres(b)
			ctx := context.Background()
			holders := []domain.UserID{"alice", "bob"}
			for _, u := range holders {
				if err := s.UpsertUser(ctx, domain.User{TenantID: "t1", ID: u}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			run := func() {
				var ns []*domain.Notification
				for a := range 8 {
					for _, u := range holders {
						ns = append(ns, &domain.Notification{TenantID: "t1", UserID: u, Type: "LowStockNotification",
							Severity: domain.SeverityWarning, Title: fmt.Sprintf("Low stock: product %d", a),
							Body:      "Oak chair (SKU-1) is down to 3 on hand, below its reorder level of 5.",
							ActionURL: "/products/1", Data: []byte(`{"lg":"bench"}`)})
					}
				}
				err := s.InTx(ctx, func(ctx context.Context) error {
					_, err := s.InsertNotificationsUnread(ctx, ns)
					return err
				})
				if err != nil {
					b.Error(err)
				}
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						run()
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
		})
	}
}

// broadcastBulk is the completed bulk of broadcast n, as the API stores it.
func broadcastBulk(n *domain.Notification) notification.Bulk {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return notification.Bulk{ID: domain.NewID(), TenantID: n.TenantID, RequestedBy: "admin",
		Audience: notification.Audience{All: true}, Type: n.Type, Severity: n.Severity, Title: n.Title,
		Body: n.Body, ActionURL: n.ActionURL, Data: n.Data, Status: notification.BulkCompleted,
		Errors: []notification.RecipientError{}, CreatedAt: now, StartedAt: &now, CompletedAt: &now}
}
