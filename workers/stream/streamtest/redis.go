package streamtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// RedisURLEnv names the variable that points tests at a Redis server.
const RedisURLEnv = "NOTIFYHUB_TEST_REDIS_URL"

// OpenRedis connects to the Redis server named by NOTIFYHUB_TEST_REDIS_URL
// and returns a client and a key prefix unique to this test. It skips the
// test, with the reason, when the variable is unset, and fails it when the
// server does not answer. Cleanup deletes every key under the prefix and
// closes the client.
func OpenRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	url := os.Getenv(RedisURLEnv)
	if url == "" {
		t.Skip(RedisURLEnv + " is not set: skipping the test that needs Redis")
	}
	opt, err := redis.ParseURL(url)
	require.NoError(t, err, "parse "+RedisURLEnv)
	client := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		require.NoError(t, err, "Redis at "+RedisURLEnv+" does not answer")
	}
	prefix := "nhtest:" + randomHex(8) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The prefix is hex and colons only: no glob characters to escape.
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scan test keys %s*: %v", prefix, err)
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := client.Del(ctx, keys[:n]...).Err(); err != nil {
				t.Errorf("delete test keys: %v", err)
			}
			keys = keys[n:]
		}
		_ = client.Close()
	})
	return client, prefix
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
