package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/notifyhub/notifyhub/domain"
)

// DefaultBuffer is the per-subscription backlog used when Config.Buffer is 0.
const DefaultBuffer = 4096

// Config tunes a Broker.
type Config struct {
	// Buffer bounds the updates waiting for one subscription. When it is
	// full the update is dropped for that subscription and its resync is
	// called, so a stalled subscriber never blocks Publish. Default 4096.
	Buffer int
}

// Broker fans updates out to the subscriptions of this process. It
// implements hub.Broker; the zero value is not usable, call New.
type Broker struct {
	buffer int

	mu   sync.Mutex // serialises Publish so every subscriber sees one order
	subs map[*subscription]struct{}
}

type subscription struct {
	ch      chan []domain.InboxUpdate // runs of updates, in publish order
	pending atomic.Int64              // updates in ch
	missed  atomic.Bool
	wake    chan struct{} // capacity 1: a drop happened while the buffer was full
}

// New returns an empty Broker.
func New(cfg Config) (*Broker, error) {
	if cfg.Buffer < 0 {
		return nil, fmt.Errorf("memory broker: buffer %d: must not be negative", cfg.Buffer)
	}
	if cfg.Buffer == 0 {
		cfg.Buffer = DefaultBuffer
	}
	return &Broker{buffer: cfg.Buffer, subs: make(map[*subscription]struct{})}, nil
}

// Publish hands u to every current subscription without blocking.
func (b *Broker) Publish(ctx context.Context, u domain.InboxUpdate) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory broker: publish: %w", err)
	}
	b.publish([]domain.InboxUpdate{u})
	return nil
}

// PublishBatch is Publish for many updates, in order: a subscription gets
// them together, or, past its buffer, misses them all and resyncs.
func (b *Broker) PublishBatch(ctx context.Context, us []domain.InboxUpdate) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory broker: publish: %w", err)
	}
	// In runs a buffer takes several of, so that a long batch is not
	// always over a subscription's buffer. Each run is shared read-only
	// by the subscriptions; the caller keeps us.
	step := max(1, min(maxRun, b.buffer/4))
	for start := 0; start < len(us); start += step {
		b.publish(slices.Clone(us[start:min(start+step, len(us))]))
	}
	return nil
}

func (b *Broker) publish(us []domain.InboxUpdate) {
	n := int64(len(us))
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if s.pending.Load()+n <= int64(b.buffer) {
			s.pending.Add(n)
			s.ch <- us // cannot block: each run holds at least one update
			continue
		}
		s.missed.Store(true)
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Subscribe calls deliver for every update published from now until ctx is
// done, in publish order, from this goroutine. If its backlog overflowed it
// calls resync. It returns nil when ctx is done.
func (b *Broker) Subscribe(ctx context.Context, deliver func(domain.InboxUpdate), resync func()) error {
	if deliver == nil || resync == nil {
		return errors.New("memory broker: subscribe: deliver and resync are required")
	}
	return b.subscribe(ctx, func(us []domain.InboxUpdate) {
		for _, u := range us {
			deliver(u)
		}
	}, resync, false)
}

// maxRun bounds the updates SubscribeBatch hands over at once when
// several publishes are waiting.
const maxRun = 4096

// SubscribeBatch is Subscribe delivering what waits (one publish or
// several) in one call (see hub.BatchBroker).
func (b *Broker) SubscribeBatch(ctx context.Context, deliver func([]domain.InboxUpdate), resync func()) error {
	if deliver == nil || resync == nil {
		return errors.New("memory broker: subscribe: deliver and resync are required")
	}
	return b.subscribe(ctx, deliver, resync, true)
}

// subscribe runs a subscription; with join, the runs waiting are joined
// (up to maxRun updates) and delivered together.
func (b *Broker) subscribe(ctx context.Context, deliver func([]domain.InboxUpdate), resync func(), join bool) error {
	s := &subscription{ch: make(chan []domain.InboxUpdate, b.buffer), wake: make(chan struct{}, 1)}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
	}()
	// Live from here: sockets that registered before may have missed what
	// was published until now (see hub.Broker).
	resync()
	var run []domain.InboxUpdate // reused by join
	for {
		select {
		case <-ctx.Done():
			return nil
		case us := <-s.ch:
			s.pending.Add(-int64(len(us)))
			if !join {
				deliver(us)
				break
			}
			joined := append(run[:0], us...)
		more:
			for len(joined) < maxRun {
				select {
				case us := <-s.ch:
					s.pending.Add(-int64(len(us)))
					joined = append(joined, us...)
				default:
					break more
				}
			}
			deliver(joined)
			clear(joined)
			run = joined[:0]
		case <-s.wake:
		}
		// A dropped update was committed before it was published, so a
		// resync from now on covers it; what is still buffered is either
		// new or recognised as a duplicate by the hub.
		if s.missed.Swap(false) {
			resync()
		}
	}
}
