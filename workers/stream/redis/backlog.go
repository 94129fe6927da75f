package redisstream

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notifyhub/notifyhub/workers/stream"
)

var _ stream.Inspector = (*Stream)(nil)

// maxCounted bounds the fallback count of undelivered entries when Redis
// cannot report a group's lag: a metric needs no exact figure past it.
const maxCounted = 100_000

// Backlog returns how many entries the group has not acknowledged (lag plus
// pending) and when the oldest of them was appended, read from its entry
// id. It needs Redis 7 (XINFO GROUPS reports lag).
func (s *Stream) Backlog(ctx context.Context, topic, group string) (int64, time.Time, error) {
	if err := stream.CheckNames("topic", topic, "group", group); err != nil {
		return 0, time.Time{}, fmt.Errorf("redisstream: backlog: %w", err)
	}
	if err := s.checkOpen(); err != nil {
		return 0, time.Time{}, err
	}
	n, oldest, err := s.backlog(ctx, s.key(topic), group)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("redisstream: backlog of %q group %q: %w", topic, group, err)
	}
	return n, oldest, nil
}

func (s *Stream) backlog(ctx context.Context, key, group string) (int64, time.Time, error) {
	groups, err := s.client.XInfoGroups(ctx, key).Result()
	if isNoKey(err) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("groups: %w", err)
	}
	var g *redis.XInfoGroup
	for i := range groups {
		if groups[i].Name == group {
			g = &groups[i]
		}
	}
	if g == nil {
		// Recreated from the start on its next read: all of it is backlog.
		n, err := s.client.XLen(ctx, key).Result()
		if err != nil || n == 0 {
			return 0, time.Time{}, err
		}
		first, err := s.firstAfter(ctx, key, "-")
		return n, first, err
	}
	waiting := g.Lag
	if waiting < 0 {
		// Entries were deleted inside the range: count what is left.
		if waiting, err = s.countAfter(ctx, key, g.LastDeliveredID); err != nil {
			return 0, time.Time{}, err
		}
	}
	var oldest time.Time
	if g.Pending > 0 {
		p, err := s.client.XPending(ctx, key, group).Result()
		if err != nil && !isNoGroup(err) {
			return 0, time.Time{}, fmt.Errorf("pending summary: %w", err)
		}
		if p != nil && p.Count > 0 {
			if oldest, err = idTime(p.Lower); err != nil {
				return 0, time.Time{}, err
			}
		}
	}
	if waiting > 0 && oldest.IsZero() {
		// Pending entries are older than undelivered ones (ids grow), so
		// the first undelivered entry matters only without pending ones.
		if oldest, err = s.firstAfter(ctx, key, "("+g.LastDeliveredID); err != nil {
			return 0, time.Time{}, err
		}
	}
	return waiting + g.Pending, oldest, nil
}

// firstAfter is the append time of the first entry from start (an XRANGE
// bound), zero when there is none.
func (s *Stream) firstAfter(ctx context.Context, key, start string) (time.Time, error) {
	msgs, err := s.client.XRangeN(ctx, key, start, "+", 1).Result()
	if err != nil {
		return time.Time{}, fmt.Errorf("first entry: %w", err)
	}
	if len(msgs) == 0 {
		return time.Time{}, nil
	}
	return idTime(msgs[0].ID)
}

// countAfter counts the entries after id, up to maxCounted.
func (s *Stream) countAfter(ctx context.Context, key, id string) (int64, error) {
	var n int64
	for n < maxCounted {
		msgs, err := s.client.XRangeN(ctx, key, "("+id, "+", 1000).Result()
		if err != nil {
			return 0, fmt.Errorf("count entries: %w", err)
		}
		n += int64(len(msgs))
		if len(msgs) < 1000 {
			break
		}
		id = msgs[len(msgs)-1].ID
	}
	return n, nil
}

// idTime is when an entry was appended: Redis ids start with the unix
// time in milliseconds.
func idTime(id string) (time.Time, error) {
	e, err := parseID(id)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(int64(e.ms)), nil
}
