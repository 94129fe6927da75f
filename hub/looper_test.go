package hub

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// goroutineID is the current goroutine's number, from its stack header.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	return string(bytes.Fields(buf)[1])
}

// A loop started after another ended runs on the goroutine that ran the
// first (it waits for the next), and that goroutine ends once none comes
// for the idle time.
func TestLoopersReuseTheirGoroutine(t *testing.T) {
	l := &loopers{handoff: make(chan func()), idle: 20 * time.Millisecond}
	ran := make(chan string, 1)
	report := func() { ran <- goroutineID() }

	l.run(report)
	first := <-ran
	// The send succeeds only once that goroutine waits for a loop.
	require.Eventually(t, func() bool {
		select {
		case l.handoff <- report:
			return true
		default:
			return false
		}
	}, 5*time.Second, time.Millisecond)
	require.Equal(t, first, <-ran, "the second loop ran where the first did")

	// Checked less often than the idle time: every handoff that still
	// succeeds restarts it, and then the goroutine ends before the next.
	require.Eventually(t, func() bool {
		select {
		case l.handoff <- func() {}:
			return false
		default:
			return true
		}
	}, 5*time.Second, 100*time.Millisecond, "the goroutine ends when idle")

	// With none waiting, run starts a goroutine instead of blocking.
	l.run(report)
	require.NotEmpty(t, <-ran)
}
