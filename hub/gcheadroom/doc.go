// Package gcheadroom bounds the memory the garbage collector lets the heap
// grow by between collections.
//
// GOGC sizes that headroom as a percentage of what survived the last
// collection (plus stacks and globals). On a hub node most of that is the
// state of idle sockets, which grows with connections and makes no
// garbage: at GOGC=100 10,000 idle sockets carry as much again in headroom
// that only traffic, not connections, would need. Start caps the headroom
// at a byte budget: after every collection it lowers the GC percentage so
// that percentage × the scanned base stays within the budget, never
// raising it above what GOGC (or SetGCPercent) had set. A small heap keeps
// GOGC's behaviour; a heap of many connections gets a fixed headroom, so
// collections come once per budget of allocation whatever the number of
// connections, each marking them all: memory bounded by live + budget, at
// the CPU of more frequent collections while traffic allocates.
//
// GOMEMLIMIT still applies on top: the collector also runs when total
// memory nears it.
package gcheadroom
