package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/workers/jobs"
	"github.com/notifyhub/notifyhub/workers/runner"
	"github.com/notifyhub/notifyhub/workers/stream"
	"github.com/notifyhub/notifyhub/workers/stream/dbqueue"
	redisstream "github.com/notifyhub/notifyhub/workers/stream/redis"
)

// pingTenant is the tenant pings are queued for: they touch no tenant's
// data, but every job names one.
const pingTenant domain.TenantID = "ops"

// maxPings bounds --count: a health check, not a load test.
const maxPings = 100_000

// pingFlags are the flags of `notifyhub queue ping`.
type pingFlags struct {
	queue       string
	count       int
	wait        bool
	waitTimeout time.Duration
	poll        time.Duration
}

func (p *pingFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.queue, "queue", runner.QueueDefault, "queue to ping")
	fs.IntVar(&p.count, "count", 1, "how many pings to queue (1 to 100000)")
	fs.BoolVar(&p.wait, "wait", false, "wait until the pings were published and the queue's workers got past them")
	fs.DurationVar(&p.waitTimeout, "wait-timeout", 30*time.Second, "give up waiting after this long (exit status 1)")
	p.poll = 50 * time.Millisecond
}

func (p *pingFlags) check() error {
	if err := runner.CheckQueue(p.queue); err != nil {
		return fmt.Errorf("queue ping: --queue: %w", err)
	}
	if p.count < 1 || p.count > maxPings {
		return fmt.Errorf("queue ping: --count must be 1 to %d", maxPings)
	}
	if p.waitTimeout <= 0 {
		return errors.New("queue ping: --wait-timeout must be positive")
	}
	return nil
}

// run queues the pings through the outbox in one transaction and, with
// --wait, follows them: first until the relay has published every one
// (no unpublished event occurred at or before the last ping), then until
// the queue's workers group has nothing left that was appended before
// that moment (or nothing at all). The second step compares this host's
// clock with the stream's (Redis's, or the database's): keep them in sync.
func (p *pingFlags) run(ctx context.Context, cfg app.Config, store *sqlstore.Store, stdout io.Writer) error {
	reg, err := jobs.NewRegistry(jobs.Ping())
	if err != nil {
		return err
	}
	var last time.Time
	disp := jobs.NewDispatcher(store, reg, func() time.Time { last = time.Now(); return last })
	start := time.Now()
	err = store.InTx(ctx, func(ctx context.Context) error {
		for range p.count {
			if _, err := disp.DispatchTo(ctx, pingTenant, jobs.PingJob, p.queue, struct{}{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue ping: %w", err)
	}
	fmt.Fprintf(stdout, "queued %d ping(s) on queue %q\n", p.count, p.queue)
	if !p.wait {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, p.waitTimeout)
	defer cancel()
	published, err := p.until(wctx, func(ctx context.Context) (bool, error) {
		t, some, err := store.OldestUnpublished(ctx)
		return !some || t.After(last), err
	})
	if err != nil {
		return fmt.Errorf("queue ping: waiting for the relay to publish the pings (is a relay running?): %w", err)
	}
	fmt.Fprintf(stdout, "published after %s\n", published.Sub(start).Round(time.Millisecond))
	st, closeStream, err := openQueueStream(ctx, cfg, store)
	if err != nil {
		return fmt.Errorf("queue ping: %w", err)
	}
	defer closeStream()
	in, ok := st.(stream.Inspector)
	if !ok {
		return errors.New("queue ping: this queue backend cannot tell its backlog")
	}
	topic := runner.QueueTopic(p.queue)
	done, err := p.until(wctx, func(ctx context.Context) (bool, error) {
		n, oldest, err := in.Backlog(ctx, topic, runner.QueueGroup)
		return n == 0 || oldest.After(published), err
	})
	if err != nil {
		return fmt.Errorf("queue ping: waiting for a worker to run the pings (is a worker serving queue %q?): %w", p.queue, err)
	}
	fmt.Fprintf(stdout, "processed after %s: queue %q is healthy\n", done.Sub(start).Round(time.Millisecond), p.queue)
	return nil
}

// until polls cond until it holds, and returns when it did.
func (p *pingFlags) until(ctx context.Context, cond func(context.Context) (bool, error)) (time.Time, error) {
	t := time.NewTicker(p.poll)
	defer t.Stop()
	for {
		ok, err := cond(ctx)
		if err != nil && ctx.Err() == nil {
			return time.Time{}, err
		}
		if ok && err == nil {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-t.C:
		}
	}
}

// openQueueStream opens the queue backend the workers use: Redis Streams
// when --redis-url is set, else the database queue.
func openQueueStream(ctx context.Context, cfg app.Config, store *sqlstore.Store) (stream.Stream, func(), error) {
	if cfg.RedisURL == "" {
		s := dbqueue.New(store.DB(), store.Dialect(), dbqueue.Options{})
		return s, func() { _ = s.Close() }, nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("redis at %s: %w", opts.Addr, err)
	}
	s := redisstream.New(client, redisstream.Options{Prefix: cfg.RedisPrefix})
	return s, func() { _ = s.Close(); _ = client.Close() }, nil
}
