package redisstream

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

func TestEntryID(t *testing.T) {
	t.Parallel()
	id, err := parseID("1719835200000-7")
	require.NoError(t, err)
	require.Equal(t, entryID{ms: 1719835200000, seq: 7}, id)
	require.Equal(t, "1719835200000-8", id.next().String())
	require.Equal(t, entryID{ms: 6}, entryID{ms: 5, seq: math.MaxUint64}.next())
	require.True(t, entryID{1, 9}.less(entryID{2, 0}))
	require.True(t, entryID{1, 1}.less(entryID{1, 2}))
	require.False(t, entryID{1, 2}.less(entryID{1, 2}))
	for _, bad := range []string{"", "12", "a-1", "1-b", "-1", "1-", "1-2-3"} {
		_, err := parseID(bad)
		require.Error(t, err, "%q", bad)
	}
}

// A dedicated blocking connection that died while idle (server restart,
// idle timeout) is replaced transparently on the next read.
func TestStaleBlockingConnection(t *testing.T) {
	t.Parallel()
	client, prefix := streamtest.OpenRedis(t)
	s := New(client, Options{Prefix: prefix})
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	require.NoError(t, s.EnsureGroup(ctx, "t", "g"))
	_, err := s.Read(ctx, "t", "g", "c", 1, 5*time.Millisecond)
	require.NoError(t, err)
	s.mu.Lock()
	require.Len(t, s.idle, 1, "the blocking connection waits for the next read")
	id := s.idle[0].id
	s.mu.Unlock()
	require.NoError(t, client.ClientKillByFilter(ctx, "ID", strconv.FormatInt(id, 10)).Err())

	require.NoError(t, s.Publish(ctx, "t", []byte("x")))
	got, err := s.Read(ctx, "t", "g", "c", 1, time.Second)
	require.NoError(t, err)
	require.Len(t, got, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Len(t, s.idle, 1)
	require.NotEqual(t, id, s.idle[0].id, "the dead connection was dropped")
}
