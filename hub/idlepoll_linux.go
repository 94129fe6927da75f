//go:build linux

package hub

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// An idle socket needs no goroutine at all: instead of a reader parked on
// each socket (a 2 KiB stack and its goroutine, half the memory of an idle
// connection, and twice that once the garbage collector's headroom is
// counted), one epoll set of the process watches the idle sockets, and a
// reader goroutine is started for a socket only when it has something to
// read (a message, a control frame, the peer's close). The set's own
// descriptor is watched by Go's netpoller, so waiting for it blocks no
// thread.
//
// Each socket is in the set with EPOLLONESHOT: once reported, it stays
// silent until its reader is done and arms it again, so one reader at a
// time reads it. Level-triggered, arming a socket that already has bytes
// waiting reports it at once. A closed socket leaves the set by itself
// (the kernel drops it when its last descriptor closes); the slot that
// names it in the events is freed by the connection's cleanup, and the
// slot's generation makes a late event for a freed or reused slot harmless.

// idlePoller is the process's epoll set of idle sockets.
type idlePoller struct {
	epfd int
	file *os.File // epfd, for Go's netpoller

	mu    sync.Mutex
	slots []idleSlot
	free  []int32
}

type idleSlot struct {
	c   *conn
	gen uint32
}

var (
	pollerOnce sync.Once
	poller     *idlePoller
	pollerErr  error
)

// sharedPoller returns the process's poller, starting it on first use; nil
// when epoll cannot be used, and the reader then waits on its socket.
func sharedPoller() *idlePoller {
	pollerOnce.Do(func() {
		poller, pollerErr = newIdlePoller()
	})
	return poller
}

func newIdlePoller() (*idlePoller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("hub: epoll_create1: %w", err)
	}
	// Non-blocking, so that os.NewFile hands it to the netpoller.
	if err := syscall.SetNonblock(epfd, true); err != nil {
		_ = syscall.Close(epfd)
		return nil, fmt.Errorf("hub: epoll set non-blocking: %w", err)
	}
	p := &idlePoller{epfd: epfd, file: os.NewFile(uintptr(epfd), "hub-idle-epoll")}
	rc, err := p.file.SyscallConn()
	if err != nil {
		_ = p.file.Close()
		return nil, fmt.Errorf("hub: epoll raw conn: %w", err)
	}
	go p.run(rc)
	return p, nil
}

// run dispatches the ready sockets to fresh readers, for the life of the
// process.
func (p *idlePoller) run(rc syscall.RawConn) {
	events := make([]syscall.EpollEvent, 128)
	err := rc.Read(func(uintptr) bool {
		for {
			n, err := syscall.EpollWait(p.epfd, events, 0)
			if err == syscall.EINTR {
				continue
			}
			if err != nil || n == 0 {
				// Drained: wait for the set to become readable again.
				return false
			}
			for i := range events[:n] {
				p.dispatch(events[i].Fd, uint32(events[i].Pad))
			}
		}
	})
	// Only a closed epoll descriptor ends the wait, which nothing does.
	panic(fmt.Sprintf("hub: idle poller stopped: %v", err))
}

// dispatch starts the reader of the socket in slot, unless the event is
// stale (the slot was freed, or freed and reused, since it was armed).
func (p *idlePoller) dispatch(slot int32, gen uint32) {
	p.mu.Lock()
	var c *conn
	if slot >= 0 && int(slot) < len(p.slots) && p.slots[slot].gen == gen {
		c = p.slots[slot].c
	}
	p.mu.Unlock()
	if c != nil {
		t := c.t.(*wsTransport)
		go c.readSome(t.ws, t.ic)
	}
}

var errUnwatched = errors.New("hub: socket no longer watched")

// arm makes the poller start c's reader once its socket ic has something
// to read: the first time it adds the socket to the set, later it arms it
// again. An error means the socket is closed (or was unwatched).
func (p *idlePoller) arm(c *conn, ic *idleConn) error {
	p.mu.Lock()
	slot, gen, added := ic.pollSlot, uint32(0), ic.pollSlot >= 0
	if !added {
		if ic.unwatched {
			p.mu.Unlock()
			return errUnwatched
		}
		if n := len(p.free); n > 0 {
			slot = p.free[n-1]
			p.free = p.free[:n-1]
		} else {
			slot = int32(len(p.slots))
			p.slots = append(p.slots, idleSlot{})
		}
		p.slots[slot].c = c
		ic.pollSlot = slot
	}
	gen = p.slots[slot].gen
	p.mu.Unlock()

	op := syscall.EPOLL_CTL_MOD
	if !added {
		op = syscall.EPOLL_CTL_ADD
	}
	ev := syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd:     slot,
		Pad:    int32(gen),
	}
	var ctlErr error
	// Control holds the descriptor open meanwhile, so the number is the
	// socket's and not a reused one.
	err := ic.rc.Control(func(fd uintptr) {
		ctlErr = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if err == nil {
		err = ctlErr
	}
	if err != nil {
		return fmt.Errorf("hub: watch idle socket: %w", err)
	}
	return nil
}

// unwatch frees ic's slot once its connection has ended: late events for
// it are then ignored, and arm refuses it.
func (p *idlePoller) unwatch(ic *idleConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ic.unwatched = true
	slot := ic.pollSlot
	if slot < 0 {
		return
	}
	ic.pollSlot = -1
	p.slots[slot].c = nil
	p.slots[slot].gen++
	p.free = append(p.free, slot)
}

// watched is how many sockets have a slot (for tests).
func (p *idlePoller) watched() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.slots) - len(p.free)
}
