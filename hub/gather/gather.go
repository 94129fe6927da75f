package gather

import "sync"

// Batcher runs the items given to Add in batches, one batch at a time, on
// a goroutine of its own that lives while there is work.
type Batcher[T any] struct {
	run func(batch []T)

	mu      sync.Mutex
	queue   []T
	running bool // a goroutine runs batches; it takes the queue when done
}

// New returns a Batcher calling run with each batch. run owns the batch
// and must answer every item in it (items carry their own way back).
func New[T any](run func(batch []T)) *Batcher[T] {
	return &Batcher[T]{run: run}
}

// Add queues item for the next batch and returns at once.
func (b *Batcher[T]) Add(item T) {
	b.mu.Lock()
	b.queue = append(b.queue, item)
	start := !b.running
	b.running = true
	b.mu.Unlock()
	if start {
		go b.drain()
	}
}

// Queued is how many items wait for the next batch.
func (b *Batcher[T]) Queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// Running reports whether a batch runs or is about to.
func (b *Batcher[T]) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running
}

func (b *Batcher[T]) drain() {
	for {
		b.mu.Lock()
		batch := b.queue
		b.queue = nil
		if len(batch) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.run(batch)
	}
}
