package gcheadroom

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercent(t *testing.T) {
	const MiB = 1 << 20
	cases := []struct {
		budget, base  uint64
		ceiling, want int
	}{
		{16 * MiB, 8 * MiB, 100, 100},  // a small heap keeps GOGC
		{16 * MiB, 16 * MiB, 100, 100}, // exactly the budget
		{16 * MiB, 64 * MiB, 100, 25},  // many connections: the budget binds
		{16 * MiB, 64 * MiB, 20, 20},   // never above the ceiling
		{16 * MiB, 4096 * MiB, 100, 1}, // at least 1
		{16 * MiB, 0, 100, 100},        // nothing measured yet
		{16 * MiB, 160 * MiB, 50, 10},  // GOGC=50 as the ceiling
	}
	for _, c := range cases {
		require.Equal(t, c.want, Percent(c.budget, c.base, c.ceiling), "%+v", c)
	}
}

// The tuner follows the heap after each collection, by itself, and gives
// GOGC back when stopped. Not parallel: the GC percentage is process-wide.
func TestTunerFollowsTheHeap(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	require.Nil(t, Start(0), "no budget, no tuner")

	tu := Start(1 << 20)
	require.NotNil(t, tu)
	defer tu.Stop()
	percent := func() int {
		runtime.GC() // the tuner adjusts after a collection
		cur := debug.SetGCPercent(-1)
		debug.SetGCPercent(cur)
		return cur
	}
	// Keep 64 MiB live: a 1 MiB budget is then under 2%.
	live := make([][]byte, 64)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	require.Eventually(t, func() bool { return percent() < 3 }, wait, pause)
	runtime.KeepAlive(live)

	live = nil
	require.Eventually(t, func() bool { return percent() == 100 }, wait, pause,
		"a small heap again: GOGC as it was")

	tu.Stop()
	require.Equal(t, 100, percent())
}

const (
	wait  = 5 * time.Second
	pause = 10 * time.Millisecond
)

func TestStartWithGCOff(t *testing.T) {
	prev := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(prev)
	require.Nil(t, Start(1<<20))
	require.Equal(t, -1, debug.SetGCPercent(-1))
}
