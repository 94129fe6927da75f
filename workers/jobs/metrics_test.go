package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/jobs"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// metric returns the value of the sample of name with exactly these
// labels (a histogram's sample count), and whether there is one.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// TestQueueMetrics: jobs processed by queue, job and result, their
// durations, failed jobs, and the depth and oldest age of each queue.
func TestQueueMetrics(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		release := make(chan struct{})
		started := make(chan struct{}, 1)
		e := newEnv(t, b,
			jobs.Type{Name: "Block", Handle: func(context.Context, domain.TenantID, json.RawMessage) error {
				started <- struct{}{}
				<-release
				return nil
			}},
			jobs.Type{Name: "Good", Handle: func(context.Context, domain.TenantID, json.RawMessage) error { return nil }},
			jobs.Type{Name: "Bad", Tries: 2, Backoff: []time.Duration{time.Millisecond},
				Handle: func(context.Context, domain.TenantID, json.RawMessage) error { return errors.New("nope") }},
		)
		for _, job := range []string{"Block", "Good", "Good", "Bad"} {
			e.dispatch(t, "acme", job, nil)
		}
		reg := prometheus.NewRegistry()
		e.start(t, runner.QueueConfig{Queues: []string{runner.QueueDefault}, Registerer: reg, SampleEvery: 10 * time.Millisecond})
		<-started
		depth := map[string]string{"queue": "default"}
		eventually(t, func() bool {
			n, _ := metric(t, reg, "notifyhub_queue_depth", depth)
			age, _ := metric(t, reg, "notifyhub_queue_oldest_job_age_seconds", depth)
			return n == 4 && age > 0
		}, "one job running and three waiting")
		close(release)
		eventually(t, func() bool {
			n, ok := metric(t, reg, "notifyhub_failed_jobs", depth)
			return ok && n == 1
		}, "the bad job is a failed job")
		eventually(t, func() bool {
			n, _ := metric(t, reg, "notifyhub_queue_depth", depth)
			age, _ := metric(t, reg, "notifyhub_queue_oldest_job_age_seconds", depth)
			return n == 0 && age == 0
		}, "the queue is empty")
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"notifyhub_jobs_processed_total", map[string]string{"queue": "default", "job": "Good", "result": "success"}, 2},
			{"notifyhub_jobs_processed_total", map[string]string{"queue": "default", "job": "Block", "result": "success"}, 1},
			{"notifyhub_jobs_processed_total", map[string]string{"queue": "default", "job": "Bad", "result": "retry"}, 1},
			{"notifyhub_jobs_processed_total", map[string]string{"queue": "default", "job": "Bad", "result": "failed"}, 1},
			{"notifyhub_job_duration_seconds", map[string]string{"queue": "default", "job": "Good"}, 2},
			{"notifyhub_failed_jobs_total", map[string]string{"job": "Bad"}, 1},
		} {
			got, ok := metric(t, reg, c.name, c.labels)
			require.True(t, ok, "%s%v", c.name, c.labels)
			require.Equal(t, c.want, got, "%s%v", c.name, c.labels)
		}
	})
}
