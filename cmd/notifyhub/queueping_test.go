package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

// TestQueuePingWaitsForTheRelay: without a relay running, --wait gives up
// at its timeout and says where the pings are stuck.
func TestQueuePingWaitsForTheRelay(t *testing.T) {
	t.Parallel()
	db, _ := queueDB(t)
	out, _, err := runCLI(t, "queue", "ping", "--database-url", db, "--count", "3", "--wait", "--wait-timeout", "300ms")
	require.ErrorContains(t, err, "waiting for the relay to publish the pings")
	require.Contains(t, out, `queued 3 ping(s) on queue "default"`)

	_, _, err = runCLI(t, "queue", "ping", "--database-url", db, "--count", "0")
	require.ErrorContains(t, err, "--count")
	_, _, err = runCLI(t, "queue", "ping", "--database-url", db, "--queue", "events")
	require.ErrorContains(t, err, "reserved")
}

// TestQueuePingEndToEnd: with the processes running, pings go through the
// outbox, the relay, the queue and a worker, in both modes; a queue no
// worker serves is reported as such.
func TestQueuePingEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		db := filepath.Join(t.TempDir(), "nh.db")
		startProcess(t, []string{"DATABASE_URL=" + db, "NOTIFYHUB_LOG_LEVEL=warn"}, "serve", "--sleep", "50ms")
		out, _, err := runCLI(t, "queue", "ping", "--database-url", db, "--count", "20", "--wait")
		require.NoError(t, err)
		require.Contains(t, out, `queue "default" is healthy`)
	})
	t.Run("distributed", func(t *testing.T) {
		t.Parallel()
		base := os.Getenv(storetest.DatabaseURLEnv)
		if base == "" || os.Getenv(streamtest.RedisURLEnv) == "" {
			t.Skip("NOTIFYHUB_TEST_DATABASE_URL and NOTIFYHUB_TEST_REDIS_URL are needed for the distributed mode")
		}
		_, prefix := streamtest.OpenRedis(t)
		dbURL := storetest.WithSearchPath(base, storetest.NewSchema(t, base))
		env := []string{
			"DATABASE_URL=" + dbURL, "REDIS_URL=" + os.Getenv(streamtest.RedisURLEnv), "NOTIFYHUB_REDIS_PREFIX=" + prefix,
			"NOTIFYHUB_JWT_SECRET=" + strings.Repeat("s3cret-", 6), "NOTIFYHUB_LOG_LEVEL=warn",
		}
		startProcess(t, env, "serve", "--roles", "http,hub,relay")
		startProcess(t, env, "worker", "--queue", "high,default", "--sleep", "50ms")
		cli := []string{"queue", "ping", "--database-url", dbURL, "--redis-url", os.Getenv(streamtest.RedisURLEnv), "--redis-prefix", prefix}
		out, _, err := runCLI(t, append(cli, "--queue", "high", "--count", "200", "--wait")...)
		require.NoError(t, err)
		require.Contains(t, out, `queue "high" is healthy`)
		out, _, err = runCLI(t, append(cli, "--queue", "low", "--wait", "--wait-timeout", "2s")...)
		require.ErrorContains(t, err, `is a worker serving queue "low"?`)
		require.Contains(t, out, "published after")
	})
}
