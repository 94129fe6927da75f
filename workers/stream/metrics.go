package stream

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what only a backend sees. Publish and consume rates belong
// to the relay and the runner, which know topics and outcomes.
type Metrics struct {
	Recreated prometheus.Counter // groups found missing and recreated from the start
	Trimmed   prometheus.Counter // entries dropped by Trim
}

// NewMetrics registers a backend's counters on reg (nil: unregistered),
// labelled backend=<backend>. Streams of one backend on one registry share
// their counters. why says what typically makes a group go missing.
func NewMetrics(reg prometheus.Registerer, backend, why string, log *slog.Logger) *Metrics {
	labels := prometheus.Labels{"backend": backend}
	m := &Metrics{
		Recreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "notifyhub_stream_groups_recreated_total",
			Help:        "Consumer groups found missing (" + why + ") and recreated from the start of their topic.",
			ConstLabels: labels,
		}),
		Trimmed: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "notifyhub_stream_trimmed_entries_total",
			Help:        "Stream entries dropped by Trim once every group had acknowledged them.",
			ConstLabels: labels,
		}),
	}
	if reg != nil {
		m.Recreated = register(reg, m.Recreated, log)
		m.Trimmed = register(reg, m.Trimmed, log)
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
