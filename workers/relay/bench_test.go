package relay_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/relay"
	"github.com/notifyhub/notifyhub/workers/stream"
	"github.com/notifyhub/notifyhub/workers/stream/dbqueue"
	redisstream "github.com/notifyhub/notifyhub/workers/stream/redis"
	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

// BenchmarkRelayFlush measures the relay's batch publish: claiming a batch
// of committed events from the outbox, publishing it to the stream and
// marking it published, on each deployment's pair of backends. Appending
// the events is not timed.
func BenchmarkRelayFlush(b *testing.B) {
	pairs := map[string]func(b *testing.B) (*sqlstore.Store, stream.Stream, bool){
		"sqlite+dbqueue": func(b *testing.B) (*sqlstore.Store, stream.Stream, bool) {
			s := storetest.OpenSQLite(b)
			return s, dbqueue.New(s.DB(), s.Dialect(), dbqueue.Options{PollInterval: 10 * time.Millisecond}), true
		},
		"postgres+redis": func(b *testing.B) (*sqlstore.Store, stream.Stream, bool) {
			s := storetest.OpenPostgres(b)
			client, prefix := streamtest.OpenRedis(b)
			return s, redisstream.New(client, redisstream.Options{Prefix: prefix}), false
		},
	}
	for name, open := range pairs {
		for _, batch := range []int{100, 500} {
			b.Run(fmt.Sprintf("backend=%s/batch=%d", name, batch), func(b *testing.B) {
				s, st, outside := open(b)
				r, err := relay.New(relay.Config{BatchSize: batch, PublishOutsideTx: outside, Logger: slog.New(slog.DiscardHandler)}, s, st)
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				events := make([]domain.Event, batch)
				b.ReportAllocs()
				b.ResetTimer()
				for done := 0; done < b.N; done += batch {
					b.StopTimer()
					for i := range events {
						if events[i], err = domain.NewEvent("t1", "u", time.Now(), tick{N: done + i}); err != nil {
							b.Fatal(err)
						}
					}
					if err := s.AppendEvents(ctx, events...); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					n, err := r.Flush(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if n != batch {
						b.Fatalf("flushed %d events, want %d", n, batch)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(((b.N+batch-1)/batch)*batch)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
