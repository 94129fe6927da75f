package redisstream

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts what only the backend sees. Publish/consume rates belong
// to the relay and the runner, which know topics and outcomes.
type metrics struct {
	recreated prometheus.Counter
	trimmed   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	labels := prometheus.Labels{"backend": "redis"}
	m := &metrics{
		recreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "notifyhub_stream_groups_recreated_total",
			Help:        "Consumer groups found missing (e.g. Redis restarted empty) and recreated from the start of their topic.",
			ConstLabels: labels,
		}),
		trimmed: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "notifyhub_stream_trimmed_entries_total",
			Help:        "Stream entries dropped by Trim once every group had acknowledged them.",
			ConstLabels: labels,
		}),
	}
	if reg != nil {
		m.recreated = register(reg, m.recreated, log)
		m.trimmed = register(reg, m.trimmed, log)
	}
	return m
}

// register adds c to reg; when a Stream on the same registry registered it
// already, the existing counter is shared.
func register(reg prometheus.Registerer, c prometheus.Counter, log *slog.Logger) prometheus.Counter {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(prometheus.Counter); ok {
			return existing
		}
	}
	log.Warn("stream metric not registered", slog.Any("error", err))
	return c
}
