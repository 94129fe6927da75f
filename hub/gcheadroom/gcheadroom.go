package gcheadroom

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// The scanned base GOGC's percentage applies to (Go 1.18 and later).
var baseMetrics = []string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes"}

// Tuner keeps the GC percentage within a headroom budget; see Start.
type Tuner struct {
	budget  uint64
	ceiling int // the GC percentage before Start: never exceeded

	mu      sync.Mutex
	samples []metrics.Sample
	percent int // last set
	stopped atomic.Bool
}

// Start caps the GC headroom at budget bytes until Stop. It returns nil,
// and changes nothing, when budget is 0 or garbage collection is off
// (GOGC=off).
func Start(budget uint64) *Tuner {
	if budget == 0 {
		return nil
	}
	ceiling := debug.SetGCPercent(100)
	debug.SetGCPercent(ceiling)
	if ceiling < 0 {
		return nil
	}
	t := &Tuner{budget: budget, ceiling: ceiling, percent: ceiling}
	for _, name := range baseMetrics {
		t.samples = append(t.samples, metrics.Sample{Name: name})
	}
	t.Adjust()
	t.arm()
	return t
}

// arm runs Adjust after the next collection: the sentinel's cleanup runs
// once the collector has found it unreachable, and arms the next one.
func (t *Tuner) arm() {
	sentinel := new([16]byte) // not tiny-allocated: its cleanup runs
	runtime.AddCleanup(sentinel, func(t *Tuner) {
		if !t.stopped.Load() {
			t.Adjust()
			t.arm()
		}
	}, t)
}

// Adjust sets the GC percentage for the heap as the last collection left
// it, and returns it. It runs after every collection; calling it is only
// needed in tests.
func (t *Tuner) Adjust() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	metrics.Read(t.samples)
	var base uint64
	for _, s := range t.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			base += s.Value.Uint64()
		}
	}
	p := Percent(t.budget, base, t.ceiling)
	if p != t.percent {
		debug.SetGCPercent(p)
		t.percent = p
	}
	return p
}

// Percent is the GC percentage that keeps base's headroom within budget,
// at most ceiling and at least 1.
func Percent(budget, base uint64, ceiling int) int {
	if base == 0 {
		return ceiling
	}
	p := budget * 100 / base
	if p >= uint64(ceiling) {
		return ceiling
	}
	return max(int(p), 1)
}

// Stop gives the GC percentage back to what it was before Start.
func (t *Tuner) Stop() {
	if t == nil || t.stopped.Swap(true) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	debug.SetGCPercent(t.ceiling)
	t.percent = t.ceiling
}
