package main

import (
	"math"
	"slices"
	"time"
)

// receipt is one frame a client got that belongs to a phase: message n of
// phase, arrived at (Unix nanoseconds).
type receipt struct {
	phase int8
	n     int32
	at    int64
}

// ledger is what a phase sent and to whom, so that receipts can be
// accounted: which were expected, which are missing, which came twice.
type ledger struct {
	// sent[n] is when message n was sent (Unix nanoseconds), 0 when it was
	// not sent or the server refused it: nothing is expected for it.
	sent []int64
	// target[n] is the message's recipient: a client index (personal) or
	// a tenant index (broadcast, business), as member interprets it.
	target []int32
	// member reports whether client c is one of message n's recipients.
	member func(n int, c int) bool
	// recipients is how many clients message n is expected to reach.
	recipients func(n int) int
}

func newLedger(max int) *ledger {
	return &ledger{sent: make([]int64, max), target: make([]int32, max)}
}

// Tally is the accounting of one phase.
type Tally struct {
	Sent       int `json:"sent"`       // messages (or commands) the server accepted
	Expected   int `json:"expected"`   // deliveries they should cause to the connected clients
	Received   int `json:"received"`   // distinct expected deliveries that arrived
	Lost       int `json:"lost"`       // expected - received
	Duplicated int `json:"duplicated"` // extra copies of an expected delivery
	// Stray counts frames that claimed to belong to this phase but were
	// addressed to someone else: a routing (or tenant isolation) failure.
	Stray int `json:"stray"`
	// latencies of the distinct deliveries, in send order of arrival.
	latencies []time.Duration
	// first send and last distinct arrival, for the delivery rate.
	firstSent, lastArrival int64
}

// account matches the clients' receipts of phase against the ledger.
// byClient[c] are client c's receipts (of every phase; others are skipped).
func (l *ledger) account(phase int8, byClient [][]receipt) Tally {
	var t Tally
	for n, at := range l.sent {
		if at == 0 {
			continue
		}
		t.Sent++
		t.Expected += l.recipients(n)
		if t.firstSent == 0 || at < t.firstSent {
			t.firstSent = at
		}
	}
	seen := make(map[int32]struct{})
	for c, rs := range byClient {
		clear(seen)
		for _, r := range rs {
			if r.phase != phase {
				continue
			}
			n := int(r.n)
			if n < 0 || n >= len(l.sent) || l.sent[n] == 0 || !l.member(n, c) {
				t.Stray++
				continue
			}
			if _, dup := seen[r.n]; dup {
				t.Duplicated++
				continue
			}
			seen[r.n] = struct{}{}
			t.Received++
			t.latencies = append(t.latencies, time.Duration(r.at-l.sent[n]))
			t.lastArrival = max(t.lastArrival, r.at)
		}
	}
	t.Lost = t.Expected - t.Received
	return t
}

// Rate is distinct deliveries per second, from the first send to the last
// arrival.
func (t Tally) Rate() float64 {
	if t.Received == 0 || t.lastArrival <= t.firstSent {
		return 0
	}
	return float64(t.Received) / time.Duration(t.lastArrival-t.firstSent).Seconds()
}

// Latency summarises a set of durations.
type Latency struct {
	// Min is the quickest delivery: for a broadcast, the path from the
	// send to the first socket, without the fan-out's spread.
	Min time.Duration `json:"min_ns"`
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// summarize computes nearest-rank percentiles (the smallest sample with at
// least p% of the samples at or below it). It sorts ds.
func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	return Latency{
		Min: ds[0], P50: percentile(ds, 50), P95: percentile(ds, 95), P99: percentile(ds, 99),
		Max: ds[len(ds)-1],
	}
}

// percentile of sorted ds by nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
