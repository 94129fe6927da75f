package memory

import (
	"context"
	"errors"
	"fmt"
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
	ch     chan domain.InboxUpdate
	missed atomic.Bool
	wake   chan struct{} // capacity 1: a drop happened while the buffer was full
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
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		select {
		case s.ch <- u:
		default:
			s.missed.Store(true)
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	}
	return nil
}

// Subscribe calls deliver for every update published from now until ctx is
// done, in publish order, from this goroutine. If its backlog overflowed it
// calls resync. It returns nil when ctx is done.
func (b *Broker) Subscribe(ctx context.Context, deliver func(domain.InboxUpdate), resync func()) error {
	if deliver == nil || resync == nil {
		return errors.New("memory broker: subscribe: deliver and resync are required")
	}
	s := &subscription{ch: make(chan domain.InboxUpdate, b.buffer), wake: make(chan struct{}, 1)}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u := <-s.ch:
			deliver(u)
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
