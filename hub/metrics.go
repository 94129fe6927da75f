package hub

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a connection attempt (label of notifyhub_ws_connections_total).
const (
	resultAccepted        = "accepted"
	resultOriginRefused   = "origin_refused"
	resultInvalid         = "invalid"
	resultUnauthenticated = "unauthenticated"
	resultUnavailable     = "unavailable"
	resultHandshakeFailed = "handshake_failed"
	resultError           = "error"
)

type metrics struct {
	connections      prometheus.Gauge
	connectionsTotal *prometheus.CounterVec
	delivered        prometheus.Counter
	writes           prometheus.Counter
	latency          prometheus.Histogram
	slowCloses       prometheus.Counter
	fanOutHandoffs   prometheus.Counter
	historyInFlight  prometheus.Gauge
	historyWaiting   prometheus.Gauge
	resyncsPending   prometheus.Gauge
	refills          *prometheus.CounterVec
}

// Reasons of a refill from History (label of notifyhub_ws_refills_total).
const (
	refillCatchUp = "catchup" // ?since= on connect
	refillGap     = "gap"     // a live seq skipped ahead
	refillResync  = "resync"  // the broker may have lost updates
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "notifyhub_ws_connections",
			Help: "WebSocket connections currently open on this node.",
		}),
		connectionsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifyhub_ws_connections_total",
			Help: "WebSocket connection attempts by result.",
		}, []string{"result"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "notifyhub_notifications_delivered_total",
			Help: "Notification frames written to sockets (live and catch-up).",
		}),
		writes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "notifyhub_ws_writes_total",
			Help: "Batches of frames written to sockets, each in one write: live frames queued together share one.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "notifyhub_delivery_latency_seconds",
			Help:    "Time from an inbox change's commit to its write on a socket (live updates).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		fanOutHandoffs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "notifyhub_ws_fanout_handoffs_total",
			Help: "Broadcast writes that found a socket without room: the rest waits on the connection's own goroutine instead of the fan-out worker (a client reading slowly).",
		}),
		slowCloses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "notifyhub_ws_slow_closes_total",
			Help: "Connections closed (4008) because their queue overflowed.",
		}),
		historyInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "notifyhub_ws_history_reads_in_flight",
			Help: "History reads of this node's connections holding one of the MaxConcurrentRefills slots.",
		}),
		historyWaiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "notifyhub_ws_history_reads_waiting",
			Help: "Connections (or connects) waiting for a free History slot.",
		}),
		resyncsPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "notifyhub_ws_resyncs_pending",
			Help: "Connections asked to resync whose refill has not started yet (in their jitter or waiting for a slot).",
		}),
		refills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifyhub_ws_refills_total",
			Help: "Refills of a connection from History started, by reason (catchup, gap, resync).",
		}, []string{"reason"}),
	}
	for _, r := range []string{refillCatchUp, refillGap, refillResync} {
		m.refills.WithLabelValues(r)
	}
	for _, r := range []string{resultAccepted, resultOriginRefused, resultInvalid, resultUnauthenticated,
		resultUnavailable, resultHandshakeFailed, resultError} {
		m.connectionsTotal.WithLabelValues(r) // export every result from 0
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.connections, m.connectionsTotal, m.delivered, m.writes, m.latency, m.slowCloses, m.fanOutHandoffs,
		m.historyInFlight, m.historyWaiting, m.resyncsPending, m.refills} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register hub metrics: %w", err)
		}
	}
	return m, nil
}
