package hub

import "time"

// A connection's loop runs only while it has work (an idle socket keeps
// no goroutine of its own), so a broadcast starts one loop per socket. A fresh goroutine starts on the small stack the idle
// readers keep the runtime's average at, and the write path grows it,
// copying it twice or so, every time: ~9% of the server's CPU at the
// highest broadcast rate went to growing stacks and starting goroutines.
// So a goroutine whose loop ended waits a little for the next loop to
// start, on the stack it has already grown.

// loopers runs loops on goroutines that wait for them.
type loopers struct {
	// handoff passes a loop to a waiting goroutine; unbuffered, so a send
	// succeeds only when one waits.
	handoff chan func()
	// idle is how long a goroutine waits for another loop before it ends.
	idle time.Duration
}

// connLoops runs the connections' loops. A second between loops spans
// the gap between broadcasts, and an idle node keeps none waiting.
var connLoops = &loopers{handoff: make(chan func()), idle: time.Second}

// startLoop runs c's loop on a waiting goroutine, or on a new one when
// none waits: it never blocks, and a loop never waits behind another.
func startLoop(c *conn) { connLoops.run(c.loop) }

func (l *loopers) run(loop func()) {
	select {
	case l.handoff <- loop:
	default:
		go l.serve(loop)
	}
}

// serve runs loop, then the loops handed to it, until none comes for
// l.idle.
func (l *loopers) serve(loop func()) {
	loop()
	t := time.NewTimer(l.idle)
	defer t.Stop()
	for {
		select {
		case loop = <-l.handoff:
			loop()
			t.Reset(l.idle)
		case <-t.C:
			return
		}
	}
}
