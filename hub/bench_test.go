package hub

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

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

func benchNotification() *domain.Notification {
	return &domain.Notification{ID: domain.NewID(), Type: "AnnouncementNotification", Severity: domain.SeverityInfo,
		Title: "Stocktake on Friday", Body: "The warehouse closes at noon for the quarterly stocktake.",
		ActionURL: "/announcements/1", Data: []byte(`{"lg":"bench","p":4,"n":1,"t":1700000000000000000}`), CreatedAt: time.Now()}
}

// attachBench runs a connection on tr until ctx ends.
func attachBench(b *testing.B, ctx context.Context, h *Hub, running *sync.WaitGroup, id Identity, tr transport) {
	c := h.newConn(id, tr)
	if err := h.register(c); err != nil {
		b.Fatal(err)
	}
	running.Go(func() { c.run(ctx, 0, false) })
}

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
				attachBench(b, ctx, h, &running, id, countingTransport{&wg})
			}
			n := benchNotification()
			b.ReportAllocs()
			cpu0 := processCPU()
			b.ResetTimer()
			for i := range b.N {
				wg.Add(conns)
				h.Deliver(domain.InboxUpdate{Kind: domain.UpdateNotification, TenantID: "t1", UserID: "u1",
					Notification: n, Seq: int64(i + 1), UnreadCount: i + 1, CommittedAt: time.Now()})
				wg.Wait()
			}
			b.StopTimer()
			reportDeliveries(b, b.N*conns, cpu0)
			cancel()
			running.Wait()
		})
	}
}

// BenchmarkBroadcast measures a tenant broadcast as the hub sees it: one
// update for each of N users with one connection each (every user's
// notification has its own id and seq), through the transport seam. The
// reported deliveries/s is the hub's ceiling without sockets.
func BenchmarkBroadcast(b *testing.B) {
	for _, users := range []int{100, 1000} {
		b.Run(fmt.Sprint("users=", users), func(b *testing.B) {
			h, err := New(Config{}, newFakeHistory())
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg, running sync.WaitGroup
			for u := range users {
				attachBench(b, ctx, h, &running, Identity{TenantID: "t1", UserID: domain.UserID(fmt.Sprint("u", u))}, countingTransport{&wg})
			}
			ns := make([]domain.Notification, users)
			for u := range ns {
				ns[u] = *benchNotification()
			}
			b.ReportAllocs()
			cpu0 := processCPU()
			b.ResetTimer()
			for i := range b.N {
				wg.Add(users)
				now := time.Now()
				for u := range users {
					h.Deliver(domain.InboxUpdate{Kind: domain.UpdateNotification, TenantID: "t1", UserID: domain.UserID(fmt.Sprint("u", u)),
						Notification: &ns[u], Seq: int64(i + 1), UnreadCount: i + 1, CommittedAt: now})
				}
				wg.Wait()
			}
			b.StopTimer()
			reportDeliveries(b, b.N*users, cpu0)
			cancel()
			running.Wait()
		})
	}
}

// BenchmarkBroadcastSockets is BenchmarkBroadcast over real WebSockets on
// loopback: Serve, the WebSocket library, one write syscall per socket, and
// clients in the same process that read every frame (their CPU is part of
// the figure, as it is for the load generator on the same machine).
func BenchmarkBroadcastSockets(b *testing.B) {
	for _, users := range []int{100, 1000} {
		b.Run(fmt.Sprint("users=", users), func(b *testing.B) {
			sb := newSocketBench(b, users)
			h, got := sb.h, &sb.got
			ns := make([]domain.Notification, users)
			for u := range ns {
				ns[u] = *benchNotification()
			}
			b.ReportAllocs()
			cpu0 := processCPU()
			b.ResetTimer()
			for i := range b.N {
				got.Add(users)
				now := time.Now()
				for u := range users {
					h.Deliver(domain.InboxUpdate{Kind: domain.UpdateNotification, TenantID: "t1", UserID: domain.UserID(fmt.Sprint("u", u)),
						Notification: &ns[u], Seq: int64(i + 1), UnreadCount: i + 1, CommittedAt: now})
				}
				got.Wait()
			}
			b.StopTimer()
			reportDeliveries(b, b.N*users, cpu0)
			sb.close()
		})
	}
}

// BenchmarkBroadcastSocketsBatch is BenchmarkBroadcastSockets with the
// updates handed over as the Redis broker hands them (DeliverBatch): per
// op, n broadcasts to every user, together, as when one stream read
// carries several. A socket then gets its n notifications in one write.
// A broadcast is one stored notification: every recipient gets its id,
// with a seq of their own.
func BenchmarkBroadcastSocketsBatch(b *testing.B) {
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprint("users=1000/broadcasts=", n), func(b *testing.B) {
			const users = 1000
			sb := newSocketBench(b, users)
			h, got := sb.h, &sb.got
			// One broadcast's notifications share their text, as the
			// service's do.
			shared := benchNotification()
			ns := make([]domain.Notification, n*users)
			us := make([]domain.InboxUpdate, n*users)
			b.ReportAllocs()
			cpu0 := processCPU()
			b.ResetTimer()
			for i := range b.N {
				got.Add(n * users)
				now := time.Now()
				for k := range n {
					seq := int64(i*n + k + 1)
					id := domain.NewID()
					for u := range users {
						j := k*users + u
						ns[j] = *shared
						ns[j].ID, ns[j].Seq = id, seq
						us[j] = domain.InboxUpdate{Kind: domain.UpdateNotification, TenantID: "t1", UserID: domain.UserID(fmt.Sprint("u", u)),
							Notification: &ns[j], Seq: seq, UnreadCount: int(seq), CommittedAt: now}
					}
				}
				h.DeliverBatch(us)
				got.Wait()
			}
			b.StopTimer()
			reportDeliveries(b, b.N*n*users, cpu0)
			sb.close()
		})
	}
}

// socketBench is a hub serving users sockets of tenant t1 (u0, u1, ...)
// over loopback, each read by readFrames in this process.
type socketBench struct {
	h       *Hub
	srv     *httptest.Server
	socks   []*websocket.Conn
	got     sync.WaitGroup // one per notification frame still to arrive
	readers sync.WaitGroup
}

func newSocketBench(b *testing.B, users int) *socketBench {
	h, err := New(Config{PingInterval: -1}, newFakeHistory())
	if err != nil {
		b.Fatal(err)
	}
	sb := &socketBench{h: h, socks: make([]*websocket.Conn, users)}
	sb.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = h.Serve(w, r, Identity{TenantID: "t1", UserID: domain.UserID(r.URL.Query().Get("u"))})
	}))
	for u := range users {
		ws, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(sb.srv.URL, "http")+fmt.Sprint("/?u=u", u), nil)
		if err != nil {
			b.Fatal(err)
		}
		sb.socks[u] = ws
		ready := make(chan struct{})
		sb.readers.Go(func() { readFrames(ws, ready, &sb.got) })
		<-ready
	}
	return sb
}

func (sb *socketBench) close() {
	for _, ws := range sb.socks {
		_ = ws.CloseNow()
	}
	sb.readers.Wait()
	sb.h.Close()
	sb.srv.Close()
}

// readFrames reads a socket until it ends: ready closes at the first
// unread_count, and every notification frame counts got down.
func readFrames(ws *websocket.Conn, ready chan struct{}, got *sync.WaitGroup) {
	var buf bytes.Buffer
	first := true
	for {
		_, r, err := ws.Reader(context.Background())
		if err != nil {
			return
		}
		buf.Reset()
		if _, err := io.Copy(&buf, r); err != nil {
			return
		}
		if first {
			first = false
			close(ready)
			continue
		}
		if bytes.HasPrefix(buf.Bytes(), notificationPrefix) {
			got.Done()
		}
	}
}

// processCPU is this process's user + system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportDeliveries adds deliveries/s and the process's CPU-seconds per
// 100,000 deliveries since cpu0; the CPU figure holds up better than wall
// time on a shared machine.
func reportDeliveries(b *testing.B, deliveries int, cpu0 time.Duration) {
	b.ReportMetric(float64(deliveries)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric((processCPU()-cpu0).Seconds()/float64(deliveries)*100_000, "cpu-s/100k")
}

// BenchmarkEncodeBroadcast measures encoding a broadcast's updates as
// DeliverBatch does (one frameEncoder over the run): a notification for
// each of 1,000 users, one id and content, each with its own seq and
// unread count, as the service publishes a broadcast.
func BenchmarkEncodeBroadcast(b *testing.B) {
	const users = 1000
	shared := benchNotification()
	ns := make([]domain.Notification, users)
	us := make([]domain.InboxUpdate, users)
	for u := range users {
		ns[u] = *shared
		ns[u].UserID, ns[u].Seq = domain.UserID(fmt.Sprint("u", u)), int64(1+u%50)
		us[u] = domain.InboxUpdate{Kind: domain.UpdateNotification, TenantID: "t1", UserID: ns[u].UserID,
			Notification: &ns[u], Seq: ns[u].Seq, UnreadCount: u % 9, CommittedAt: shared.CreatedAt}
	}
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		var enc frameEncoder
		for i := range us {
			if _, err := enc.encode(&us[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	// CPU time (the garbage collector's included) holds up better than
	// wall time on a shared machine.
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N*users), "cpu-ns/recipient")
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
