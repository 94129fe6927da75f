package redisstream_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/workers/stream"
	redisstream "github.com/notifyhub/notifyhub/workers/stream/redis"
	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

// watchEvents runs WatchAppends on topics and sends what it reports:
// "armed", "broken" and the index of each topic appended to.
func watchEvents(t *testing.T, s *redisstream.Stream, topics ...string) (<-chan string, <-chan error) {
	t.Helper()
	events := make(chan string, 100)
	done := make(chan error, 1)
	go func() {
		done <- s.WatchAppends(t.Context(), topics,
			func(i int) { events <- fmt.Sprint(i) },
			func(on bool) {
				if on {
					events <- "armed"
				} else {
					events <- "broken"
				}
			})
	}()
	return events, done
}

func next(t *testing.T, events <-chan string) string {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(30 * time.Second):
		t.Fatal("the watch reported nothing")
		return ""
	}
}

// WatchAppends reports appends to each watched topic once armed, reads no
// entry for any group, and ends with Close.
func TestWatchAppends(t *testing.T) {
	t.Parallel()
	skipWithoutRedis(t)
	s, _ := open(t, redisstream.Options{})
	ctx := t.Context()
	require.NoError(t, s.EnsureGroup(ctx, "high", "g"))
	// Entries already there are not news.
	require.NoError(t, s.Publish(ctx, "high", []byte("old")))
	events, done := watchEvents(t, s, "high", "default")
	require.Equal(t, "armed", next(t, events))

	require.NoError(t, s.Publish(ctx, "default", []byte("a")))
	require.Equal(t, "1", next(t, events))
	// Two XADDs: reported once or twice, as the watch woke.
	require.NoError(t, s.Publish(ctx, "high", []byte("b"), []byte("c")))
	require.Equal(t, "0", next(t, events))
	require.NoError(t, s.Publish(ctx, "low", []byte("not watched")))
	require.NoError(t, s.Publish(ctx, "high", []byte("d")))
	require.Equal(t, "0", next(t, events))

	got, err := s.Read(ctx, "high", "g", "c", 10, 0)
	require.NoError(t, err)
	require.Len(t, got, 4, "the watch took nothing from the group")

	require.NoError(t, s.Close())
	select {
	case err := <-done:
		require.ErrorIs(t, err, stream.ErrClosed)
	case <-time.After(30 * time.Second):
		t.Fatal("WatchAppends did not return after Close")
	}
	for e := next(t, events); e != "broken"; e = next(t, events) {
		require.Equal(t, "0", e, "only the high topic had more")
	}
}

// A watch whose connection dies says so, and once armed again reports
// what comes next; anything appended while it was broken is for the caller
// to read after the new "armed".
func TestWatchAppendsSurvivesALostConnection(t *testing.T) {
	t.Parallel()
	skipWithoutRedis(t)
	opt, err := redis.ParseURL(os.Getenv(streamtest.RedisURLEnv))
	require.NoError(t, err)
	_, prefix := streamtest.OpenRedis(t) // for the cleanup of the keys
	name := "watchtest" + strings.NewReplacer(":", "", "nhtest", "").Replace(prefix)
	opt.ClientName = name
	client := redis.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	s := redisstream.New(client, redisstream.Options{Prefix: prefix})
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()

	events, _ := watchEvents(t, s, "high")
	require.Equal(t, "armed", next(t, events))
	killed := 0
	for attempt := 0; killed == 0 && attempt < 100; attempt++ {
		// The watch's connection is the one of this client blocked in XREAD.
		list, err := client.ClientList(ctx).Result()
		require.NoError(t, err)
		for line := range strings.SplitSeq(list, "\n") {
			if strings.Contains(line, " name="+name+" ") && strings.Contains(line, " cmd=xread") {
				var id int64
				for f := range strings.FieldsSeq(line) {
					if v, ok := strings.CutPrefix(f, "id="); ok {
						_, err := fmt.Sscan(v, &id)
						require.NoError(t, err)
					}
				}
				require.NoError(t, client.ClientKillByFilter(ctx, "ID", fmt.Sprint(id)).Err())
				killed++
			}
		}
		if killed == 0 {
			time.Sleep(10 * time.Millisecond) // the XREAD is on its way
		}
	}
	require.Equal(t, 1, killed, "found the watch's connection")
	require.Equal(t, "broken", next(t, events))
	require.Equal(t, "armed", next(t, events))
	require.NoError(t, s.Publish(ctx, "high", []byte("after")))
	require.Equal(t, "0", next(t, events))
}

// A client that cannot lend a connection for the watch says so at once.
func TestWatchAppendsUnsupported(t *testing.T) {
	t.Parallel()
	skipWithoutRedis(t)
	s, _ := open(t, redisstream.Options{BlockSlice: time.Second})
	err := s.WatchAppends(context.Background(), []string{"high"}, func(int) {}, func(bool) {})
	require.True(t, errors.Is(err, errors.ErrUnsupported), "%v", err)
}
