package redisstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/stream"
)

var _ stream.Epocher = (*Stream)(nil)

// Epoch returns the id stored under <prefix>epoch, creating it on first
// use. Redis keeps it as long as it keeps the streams; when Redis comes back
// empty the next call creates a new one, which tells the relay to republish
// from the outbox.
func (s *Stream) Epoch(ctx context.Context) (string, error) {
	if err := s.checkOpen(); err != nil {
		return "", err
	}
	key := s.opts.Prefix + "epoch"
	fresh := domain.NewID()
	// SET NX GET: sets the key only if absent and answers the old value
	// (redis.Nil when there was none), in one atomic step.
	old, err := s.client.SetArgs(ctx, key, fresh, redis.SetArgs{Mode: "NX", Get: true}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return fresh, nil
	case err != nil:
		return "", fmt.Errorf("redisstream: epoch: %w", err)
	}
	return old, nil
}
