package gather

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Items added while a batch runs go together into the next one, and every
// item runs exactly once.
func TestItemsAddedDuringARunFormTheNextBatch(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var (
		mu      sync.Mutex
		batches [][]int
		done    sync.WaitGroup
	)
	b := New(func(batch []int) {
		if slices.Contains(batch, 0) {
			<-release
		}
		mu.Lock()
		batches = append(batches, slices.Clone(batch))
		mu.Unlock()
		for range batch {
			done.Done()
		}
	})
	done.Add(1)
	b.Add(0)
	require.Eventually(t, func() bool { return b.Running() && b.Queued() == 0 }, 10*time.Second, time.Millisecond,
		"the first batch did not start")
	var adders sync.WaitGroup
	for i := 1; i <= 50; i++ {
		done.Add(1)
		adders.Go(func() { b.Add(i) })
	}
	adders.Wait()
	require.Equal(t, 50, b.Queued())
	close(release)
	done.Wait()
	require.Eventually(t, func() bool { return !b.Running() }, 10*time.Second, time.Millisecond)

	mu.Lock()
	require.Len(t, batches, 2)
	require.Equal(t, []int{0}, batches[0])
	second := slices.Sorted(slices.Values(batches[1]))
	want := make([]int, 50)
	for i := range want {
		want[i] = i + 1
	}
	require.Equal(t, want, second)
	mu.Unlock()

	// Idle again: the next item runs at once, alone.
	done.Add(1)
	b.Add(99)
	done.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int{99}, batches[2])
}
