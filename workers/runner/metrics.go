package runner

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// listenerMetrics are the listeners' metrics.
type listenerMetrics struct {
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	failed   *prometheus.CounterVec
}

func newListenerMetrics(reg prometheus.Registerer) (*listenerMetrics, error) {
	m := &listenerMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifyhub_listener_runs_total",
			Help: "Listener attempts by result (success, error).",
		}, []string{"listener", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "notifyhub_listener_duration_seconds",
			Help:    "Duration of listener attempts.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"listener"}),
		failed: newFailedCounter(),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.runs, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("runner metrics: %w", err)
		}
	}
	var err error
	if m.failed, err = shared(reg, m.failed); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *listenerMetrics) attempt(t *Task, err error, _ bool, took time.Duration) {
	result := "success"
	if err != nil {
		result = "error"
	}
	m.runs.WithLabelValues(t.Name, result).Inc()
	m.duration.WithLabelValues(t.Name).Observe(took.Seconds())
}

func (m *listenerMetrics) gaveUp(t *Task) { m.failed.WithLabelValues(t.Name).Inc() }

// newFailedCounter is the failed-jobs counter listeners and jobs share.
func newFailedCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "notifyhub_failed_jobs_total",
		Help: "Listener runs and jobs that used up their tries and were recorded as failed jobs.",
	}, []string{"job"})
}

// shared registers c, or returns the identical collector registered
// before (the listener runner and the queue worker of one process share
// the failed-jobs counter).
func shared(reg prometheus.Registerer, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing, nil
		}
	}
	return nil, fmt.Errorf("runner metrics: %w", err)
}

// queueMetrics are the job worker's metrics, labelled by queue and job
// name (both bounded: queues come from the command line, names from the
// job registry).
type queueMetrics struct {
	processed *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	failed    *prometheus.CounterVec
	depth     *prometheus.GaugeVec
	oldest    *prometheus.GaugeVec
	stored    *prometheus.GaugeVec
}

func newQueueMetrics(reg prometheus.Registerer) (*queueMetrics, error) {
	m := &queueMetrics{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifyhub_jobs_processed_total",
			Help: "Job attempts by queue, job and result: success, retry (failed, another try follows) or failed (the last try failed; recorded in failed_jobs).",
		}, []string{"queue", "job", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "notifyhub_job_duration_seconds",
			Help:    "Duration of job attempts.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 10),
		}, []string{"queue", "job"}),
		failed: newFailedCounter(),
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "notifyhub_queue_depth",
			Help: "Jobs on the queue not yet finished (waiting plus running), sampled by the workers serving it.",
		}, []string{"queue"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "notifyhub_queue_oldest_job_age_seconds",
			Help: "Age of the oldest job on the queue not yet finished (0 when empty).",
		}, []string{"queue"}),
		stored: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "notifyhub_failed_jobs",
			Help: "Failed jobs kept in failed_jobs, by queue (\"events\" for listeners), waiting for retry or forget.",
		}, []string{"queue"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.processed, m.duration, m.depth, m.oldest, m.stored} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("queue metrics: %w", err)
		}
	}
	var err error
	if m.failed, err = shared(reg, m.failed); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *queueMetrics) attempt(t *Task, err error, retry bool, took time.Duration) {
	result := "success"
	switch {
	case err != nil && retry:
		result = "retry"
	case err != nil:
		result = "failed"
	}
	m.processed.WithLabelValues(t.Queue, t.Name, result).Inc()
	m.duration.WithLabelValues(t.Queue, t.Name).Observe(took.Seconds())
}

func (m *queueMetrics) gaveUp(t *Task) { m.failed.WithLabelValues(t.Name).Inc() }
