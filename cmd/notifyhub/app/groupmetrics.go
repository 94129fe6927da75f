package app

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/notifyhub/notifyhub/domain/notification"
)

// observeGroupCommits makes metrics of the bulk service's group commits.
// The POST of a direct send waits for its group: when
// notifyhub_http_request_duration_seconds grows, these tell a slow
// database (the commit's time) from a queue that builds up (the wait,
// and groups that grow with it).
func observeGroupCommits(bulk *notification.BulkService, reg prometheus.Registerer) error {
	requests := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "notifyhub_direct_group_requests",
		Help:    "Direct sends committed together in one group commit, by lane (personal: to one user; group: to several).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 8), // 1 to 128, the most a group takes
	}, []string{"lane"})
	waited := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "notifyhub_direct_group_wait_seconds",
		Help:    "How long the oldest request of a group commit of direct sends waited for it to start, by lane.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 10), // 0.5 ms to 256 ms
	}, []string{"lane"})
	took := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "notifyhub_direct_group_commit_seconds",
		Help:    "How long a group commit of direct sends took (the write, its commit and the push), by lane.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 10),
	}, []string{"lane"})
	if err := errors.Join(reg.Register(requests), reg.Register(waited), reg.Register(took)); err != nil {
		return err
	}
	// Every lane's series exist from the start, at zero; the observers
	// are looked up once, not per commit.
	type observers struct{ requests, waited, took prometheus.Observer }
	lanes := map[string]observers{}
	for _, lane := range notification.GroupCommitLanes {
		lanes[lane] = observers{requests.WithLabelValues(lane), waited.WithLabelValues(lane), took.WithLabelValues(lane)}
	}
	bulk.OnGroupCommit = func(c notification.GroupCommit) {
		o := lanes[c.Lane]
		o.requests.Observe(float64(c.Requests))
		o.waited.Observe(c.Waited.Seconds())
		o.took.Observe(c.Took.Seconds())
	}
	return nil
}
