package redisstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notifyhub/notifyhub/workers/pause"
	"github.com/notifyhub/notifyhub/workers/stream"
)

const (
	// watchBlock bounds each blocking XREAD of a watch, so that a
	// connection that hangs without failing is noticed (go-redis gives a
	// blocking command its block time plus 10s to answer).
	watchBlock = 10 * time.Second
	// watchCount is how many new entries one wake-up reads: only their ids
	// matter, the last one of each topic.
	watchCount = 64
	// watchRetry spaces attempts to put a broken watch back in place.
	watchRetry = 100 * time.Millisecond
)

// ErrWatchUnsupported: WatchAppends needs a plain *redis.Client (one XREAD
// over several keys, woken with CLIENT UNBLOCK); cluster and ring clients
// cannot lend it.
var ErrWatchUnsupported = fmt.Errorf("redisstream: watching appends needs a *redis.Client: %w", errors.ErrUnsupported)

// WatchAppends follows topics until ctx is done or the Stream is closed,
// reading no entry for any group: it only learns that some were appended.
// armed(true) is called once the watch is in place: from then on every
// entry appended to topics[i] leads to a call of appended(i), soon after
// Redis took it. armed(false) is called when the watch broke (connection
// lost, Redis restarted): appends may then go unreported until the next
// armed(true), which is called after the watch is back in place, so a
// caller that looks at the topics after it misses nothing. Calls are made
// from one goroutine, in order. It returns ErrWatchUnsupported at once on a
// client that cannot hold the watch, else ctx's error (or
// stream.ErrClosed).
func (s *Stream) WatchAppends(ctx context.Context, topics []string, appended func(i int), armed func(bool)) error {
	for _, t := range topics {
		if err := stream.CheckName("topic", t); err != nil {
			return fmt.Errorf("redisstream: watch: %w", err)
		}
	}
	if s.direct == nil || s.opts.BlockSlice > 0 {
		return ErrWatchUnsupported
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	ctx, cancel := s.bind(ctx)
	defer cancel()
	keys := make(map[string]int, len(topics))
	args := make([]string, 2*len(topics))
	for i, t := range topics {
		keys[s.key(t)] = i
		args[i] = s.key(t)
	}
	for ctx.Err() == nil {
		if err := s.lastIDs(ctx, args); err != nil {
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "watch appends: read last ids failed, will retry", slog.Any("error", err))
			}
			if !pause.For(ctx, watchRetry) {
				break
			}
			continue
		}
		// Anything appended from here on has an id above the ones just
		// read, so the XREADs below report it.
		armed(true)
		err := s.follow(ctx, keys, args, appended)
		armed(false)
		if ctx.Err() != nil {
			break
		}
		s.log.WarnContext(ctx, "watch appends broke, will put it back", slog.Any("error", err))
		if !pause.For(ctx, watchRetry) {
			break
		}
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	return ctx.Err()
}

// lastIDs fills the id half of args (keys first, then ids, as XREAD wants
// them) with each topic's last entry id, "0-0" for an empty or missing one.
func (s *Stream) lastIDs(ctx context.Context, args []string) error {
	n := len(args) / 2
	cmds := make([]*redis.XMessageSliceCmd, n)
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			cmds[i] = p.XRevRangeN(ctx, args[i], "+", "-", 1)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	for i, c := range cmds {
		args[n+i] = "0-0"
		if m := c.Val(); len(m) == 1 {
			args[n+i] = m[0].ID
		}
	}
	return nil
}

// follow blocks on XREAD after the ids in args until it fails or ctx is
// done, reporting each topic that got entries and moving its id on.
func (s *Stream) follow(ctx context.Context, keys map[string]int, args []string, appended func(int)) error {
	n := len(args) / 2
	for ctx.Err() == nil {
		res, err := unblockableRead(ctx, s, func(ctx context.Context, c redis.Cmdable) ([]redis.XStream, error) {
			return c.XRead(ctx, &redis.XReadArgs{Streams: args, Count: watchCount, Block: watchBlock}).Result()
		})
		if errors.Is(err, redis.Nil) {
			continue // block timeout, or woken for shutdown
		}
		if err != nil {
			return err
		}
		for _, st := range res {
			i, ok := keys[st.Stream]
			if !ok || len(st.Messages) == 0 {
				continue
			}
			args[n+i] = st.Messages[len(st.Messages)-1].ID
			appended(i)
		}
	}
	return ctx.Err()
}
