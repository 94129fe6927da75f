package redisstream_test

import (
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/workers/stream"
	redisstream "github.com/notifyhub/notifyhub/workers/stream/redis"
	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

func skipWithoutRedis(t testing.TB) {
	t.Helper()
	if os.Getenv(streamtest.RedisURLEnv) == "" {
		t.Skip(streamtest.RedisURLEnv + " is not set: skipping the Redis stream tests")
	}
}

// open returns a Stream on its own key prefix, closed and cleaned up with t.
func open(t testing.TB, opts redisstream.Options) (*redisstream.Stream, string) {
	t.Helper()
	client, prefix := streamtest.OpenRedis(t)
	opts.Prefix = prefix
	s := redisstream.New(client, opts)
	t.Cleanup(func() { _ = s.Close() })
	return s, prefix
}

func TestConformance(t *testing.T) {
	t.Parallel()
	skipWithoutRedis(t)
	streamtest.Run(t, func(t *testing.T) stream.Stream {
		s, _ := open(t, redisstream.Options{})
		return s
	})
}

// TestConformanceSlicedBlocking runs the suite on the read path cluster and
// ring clients take: blocking cut into short XREADGROUP calls.
func TestConformanceSlicedBlocking(t *testing.T) {
	t.Parallel()
	skipWithoutRedis(t)
	streamtest.Run(t, func(t *testing.T) stream.Stream {
		s, _ := open(t, redisstream.Options{BlockSlice: 50 * time.Millisecond})
		return s
	})
}

func TestKeyLayout(t *testing.T) {
	t.Parallel()
	skipWithoutRedis(t)
	ctx := t.Context()
	client, prefix := streamtest.OpenRedis(t)
	s := redisstream.New(client, redisstream.Options{Prefix: prefix})
	require.NoError(t, s.Publish(ctx, "orders", []byte("x")))
	typ, err := client.Type(ctx, prefix+"stream:orders").Result()
	require.NoError(t, err)
	require.Equal(t, "stream", typ)
}

// Redis restarted empty: the key and its groups are gone. Read recreates
// the group (from the start) instead of failing, and Trim copes.
func TestStreamLostByRedis(t *testing.T) {
	t.Parallel()
	skipWithoutRedis(t)
	ctx := t.Context()
	client, prefix := streamtest.OpenRedis(t)
	reg := prometheus.NewRegistry()
	s := redisstream.New(client, redisstream.Options{Prefix: prefix, Registerer: reg})
	require.NoError(t, s.EnsureGroup(ctx, "t", "g"))
	require.NoError(t, s.Publish(ctx, "t", []byte("before")))
	got, err := s.Read(ctx, "t", "g", "c", 10, 0)
	require.NoError(t, err)
	require.Len(t, got, 1)

	require.NoError(t, client.Del(ctx, prefix+"stream:t").Err())
	n, err := s.Trim(ctx, "t")
	require.NoError(t, err)
	require.Zero(t, n)
	got, err = s.Read(ctx, "t", "g", "c", 10, 50*time.Millisecond)
	require.NoError(t, err)
	require.Empty(t, got)

	// The relay republishes; the recreated group gets it.
	require.NoError(t, s.Publish(ctx, "t", []byte("republished")))
	got, err = s.Read(ctx, "t", "g", "c", 10, 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "republished", string(got[0].Body))
	groups, err := client.XInfoGroups(ctx, prefix+"stream:t").Result()
	require.NoError(t, err)
	require.Len(t, groups, 1)
	require.Equal(t, 1.0, streamtest.CounterValue(t, reg, "notifyhub_stream_groups_recreated_total"))

	require.NoError(t, s.Ack(ctx, "t", "g", got[0].ID))
	n, err = s.Trim(ctx, "t")
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.Equal(t, 1.0, streamtest.CounterValue(t, reg, "notifyhub_stream_trimmed_entries_total"))
	// A second Stream on the same registry shares the counters.
	_ = redisstream.New(client, redisstream.Options{Prefix: prefix, Registerer: reg})
}

// An entry deleted from the stream while pending is acknowledged away by
// Reclaim rather than handed out empty.
func TestReclaimSkipsDeletedEntries(t *testing.T) {
	t.Parallel()
	skipWithoutRedis(t)
	ctx := t.Context()
	client, prefix := streamtest.OpenRedis(t)
	s := redisstream.New(client, redisstream.Options{Prefix: prefix})
	key := prefix + "stream:t"
	require.NoError(t, s.Publish(ctx, "t", []byte("gone"), []byte("kept")))
	got, err := s.Read(ctx, "t", "g", "c", 10, 0)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.NoError(t, client.XDel(ctx, key, got[0].ID).Err())

	claimed, err := s.Reclaim(ctx, "t", "g", "r", 0, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.Equal(t, "kept", string(claimed[0].Body))
	require.Equal(t, 2, claimed[0].Deliveries)
	pending, err := client.XPending(ctx, key, "g").Result()
	require.NoError(t, err)
	require.Equal(t, int64(1), pending.Count, "the deleted entry left the pending list")
}

func TestMaxLenCapsTopic(t *testing.T) {
	t.Parallel()
	skipWithoutRedis(t)
	ctx := t.Context()
	client, prefix := streamtest.OpenRedis(t)
	s := redisstream.New(client, redisstream.Options{Prefix: prefix, MaxLen: 10})
	batch := make([][]byte, 1000)
	for i := range batch {
		batch[i] = []byte("x")
	}
	require.NoError(t, s.Publish(ctx, "t", batch...))
	n, err := client.XLen(ctx, prefix+"stream:t").Result()
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, int64(10))
	require.Less(t, n, int64(1000), "MAXLEN ~ trims whole nodes past the cap")
}

func BenchmarkPublishRead(b *testing.B) {
	skipWithoutRedis(b)
	s, _ := open(b, redisstream.Options{})
	streamtest.BenchmarkPublishRead(b, s)
}
