package hub

import (
	"container/heap"
	"sync"
	"time"
)

// expiries closes connections with 4001 at their token's expiry, with one
// timer for all of the hub's connections rather than one each (a timer and
// its closure are about 150 bytes, live for as long as the socket): a heap
// ordered by expiry, and the timer set for its earliest.
type expiries struct {
	mu sync.Mutex
	q  expiryQueue
	t  *time.Timer // nil until the first connection that expires
	at time.Time   // when t is due; zero while it is stopped
}

// add watches c's expiry; c.expiresAt must be set.
func (e *expiries) add(c *conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	heap.Push(&e.q, c)
	e.schedule()
}

// remove stops watching c (its connection has ended), if it was watched.
func (e *expiries) remove(c *conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.expiryIdx < 0 {
		return
	}
	heap.Remove(&e.q, int(c.expiryIdx))
	e.schedule()
}

// schedule sets the timer for the earliest expiry. Under mu.
func (e *expiries) schedule() {
	if len(e.q) == 0 {
		if e.t != nil && !e.at.IsZero() {
			e.t.Stop()
			e.at = time.Time{}
		}
		return
	}
	next := e.q[0].expiresAt
	if next.Equal(e.at) {
		return
	}
	e.at = next
	if e.t == nil {
		e.t = time.AfterFunc(time.Until(next), e.fire)
		return
	}
	e.t.Reset(time.Until(next))
}

// fire halts every connection whose token has expired, then sets the
// timer for the next.
func (e *expiries) fire() {
	var due []*conn
	e.mu.Lock()
	now := time.Now()
	for len(e.q) > 0 && !now.Before(e.q[0].expiresAt) {
		due = append(due, heap.Pop(&e.q).(*conn))
	}
	e.at = time.Time{}
	e.schedule()
	e.mu.Unlock()
	for _, c := range due {
		c.halt(CloseTokenExpired, "token expired", nil)
	}
}

// expiryQueue is a min-heap of connections by token expiry; each knows
// its index (-1: not in it).
type expiryQueue []*conn

func (q expiryQueue) Len() int { return len(q) }
func (q expiryQueue) Less(i, j int) bool {
	return q[i].expiresAt.Before(q[j].expiresAt)
}

func (q expiryQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].expiryIdx = int32(i)
	q[j].expiryIdx = int32(j)
}

func (q *expiryQueue) Push(x any) {
	c := x.(*conn)
	c.expiryIdx = int32(len(*q))
	*q = append(*q, c)
}

func (q *expiryQueue) Pop() any {
	old := *q
	n := len(old)
	c := old[n-1]
	old[n-1] = nil
	c.expiryIdx = -1
	*q = old[:n-1]
	// Give back the memory of a queue that has shrunk a lot (after a
	// crowd of sockets has left).
	if cap(*q) > 1024 && n-1 < cap(*q)/4 {
		*q = append(expiryQueue(nil), *q...)
	}
	return c
}
