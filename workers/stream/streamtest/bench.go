package streamtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/workers/stream"
)

// BenchmarkPublishRead measures the round trip of no-op entries through s:
// publish in batches of 100, read them back, ack them. It reports entries/s.
func BenchmarkPublishRead(b *testing.B, s stream.Stream) {
	ctx := context.Background()
	const topic, group, batch = "bench", "g", 100
	require.NoError(b, s.EnsureGroup(ctx, topic, group))
	bodies := make([][]byte, batch)
	for i := range bodies {
		bodies[i] = []byte(`{"noop":true}`)
	}
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(batch, b.N-done)
		require.NoError(b, s.Publish(ctx, topic, bodies[:n]...))
		for got := 0; got < n; {
			msgs, err := s.Read(ctx, topic, group, "c", n-got, time.Second)
			require.NoError(b, err)
			require.NotEmpty(b, msgs, "published entries did not come back")
			require.NoError(b, s.Ack(ctx, topic, group, idsOf(msgs)...))
			got += len(msgs)
		}
		done += n
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
