package hub

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// countingTransport discards frames, counting down wg for each
// notification frame.
type countingTransport struct{ wg *sync.WaitGroup }

var notificationPrefix = []byte(`{"type":"notification"`)

func (c countingTransport) Write(_ context.Context, p []byte) error {
	if bytes.HasPrefix(p, notificationPrefix) {
		c.wg.Done()
	}
	return nil
}

func (countingTransport) Close(CloseCode, string) error { return nil }

// BenchmarkDeliverFanout measures one update reaching every one of N local
// connections of a user (Deliver, queueing and each connection's write
// path), through the transport seam.
func BenchmarkDeliverFanout(b *testing.B) {
	for _, conns := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint("conns=", conns), func(b *testing.B) {
			h, err := New(Config{}, newFakeHistory())
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg, running sync.WaitGroup
			id := Identity{TenantID: "t1", UserID: "u1"}
			for range conns {
				c := h.newConn(id, countingTransport{&wg})
				if err := h.register(c); err != nil {
					b.Fatal(err)
				}
				running.Go(func() {
					defer h.unregister(c)
					c.run(ctx, 0, false)
				})
			}
			n := &domain.Notification{ID: domain.NewID(), Type: "LowStockNotification", Severity: domain.SeverityWarning,
				Title: "Low stock: SKU-1", Body: "3 left", ActionURL: "/products/1", Data: []byte(`{"on_hand":3}`), CreatedAt: time.Now()}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				wg.Add(conns)
				h.Deliver(domain.InboxUpdate{Kind: domain.UpdateNotification, TenantID: "t1", UserID: "u1",
					Notification: n, Seq: int64(i + 1), UnreadCount: i + 1, CommittedAt: time.Now()})
				wg.Wait()
			}
			b.StopTimer()
			cancel()
			running.Wait()
		})
	}
}

// BenchmarkEncodeFrame measures encoding one notification update into its
// frames, done once per update whatever the number of sockets.
func BenchmarkEncodeFrame(b *testing.B) {
	u := domain.InboxUpdate{Kind: domain.UpdateNotification, TenantID: "t1", UserID: "u1", Seq: 42, UnreadCount: 7,
		Notification: &domain.Notification{ID: domain.NewID(), Type: "InvoiceGeneratedNotification", Severity: domain.SeverityInfo,
			Title: "Invoice INV-0042 generated", Body: "Order 1234 was invoiced for 1250.00", ActionURL: "/invoices/42",
			Data: []byte(`{"invoice_id":"42","total":"1250.00"}`), CreatedAt: time.Now()}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeUpdate(u); err != nil {
			b.Fatal(err)
		}
	}
}
