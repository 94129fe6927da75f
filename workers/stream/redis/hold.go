package redisstream

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/notifyhub/notifyhub/workers/stream"
)

// holdScript sets the idle time of the entries pending for one consumer,
// atomically with the ownership check (XCLAIM alone would take entries from
// whoever holds them). JUSTID keeps delivery counts as they are.
// KEYS[1] stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] idle ms,
// ARGV[4] change of the delivery count (0, or -1 to undo the count the next
// Reclaim adds: a released entry was never worked on), ARGV[5..] ids.
var holdScript = redis.NewScript(`
local held = {}
for i = 5, #ARGV do
  local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p.err then return held end -- no such group or stream: nothing is held
  if #p == 1 and p[1][2] == ARGV[2] then
    local count = math.max(p[1][4] + tonumber(ARGV[4]), 0)
    local got = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i],
      'IDLE', ARGV[3], 'RETRYCOUNT', count, 'JUSTID')
    -- An entry deleted from the stream is dropped from the pending list
    -- instead of claimed: it is not held.
    if #got == 1 then held[#held + 1] = ARGV[i] end
  end
end
return held
`)

// releasedIdle is the idle time given to released entries: older than any
// sensible minIdle, so the next Reclaim takes them.
const releasedIdle = 1 << 40 // ms, about 35 years

// Extend restarts the idle clock of ids still pending for consumer and
// returns those it extended.
func (s *Stream) Extend(ctx context.Context, topic, group, consumer string, ids ...string) ([]string, error) {
	return s.hold(ctx, "extend", topic, group, consumer, 0, 0, ids)
}

// Release makes ids pending for consumer reclaimable at once.
func (s *Stream) Release(ctx context.Context, topic, group, consumer string, ids ...string) error {
	_, err := s.hold(ctx, "release", topic, group, consumer, releasedIdle, -1, ids)
	return err
}

func (s *Stream) hold(ctx context.Context, op, topic, group, consumer string, idleMS, countDelta int64, ids []string) ([]string, error) {
	if err := stream.CheckNames("topic", topic, "group", group, "consumer", consumer); err != nil {
		return nil, fmt.Errorf("redisstream: %s: %w", op, err)
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 4+len(ids))
	args = append(args, group, consumer, strconv.FormatInt(idleMS, 10), strconv.FormatInt(countDelta, 10))
	for _, id := range ids {
		if _, err := parseID(id); err != nil {
			return nil, fmt.Errorf("redisstream: %s: %w", op, invalidID(err))
		}
		args = append(args, id)
	}
	held, err := holdScript.Run(ctx, s.client, []string{s.key(topic)}, args...).StringSlice()
	switch {
	case err == redis.Nil:
		return nil, nil // Lua's empty table
	case err != nil:
		return nil, fmt.Errorf("redisstream: %s %d ids on %q group %q: %w", op, len(ids), topic, group, err)
	}
	return held, nil
}
