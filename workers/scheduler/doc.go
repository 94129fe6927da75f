// Package scheduler runs periodic jobs, such as the stock-expiry and
// invoice-overdue detectors: each on its own fixed interval, the first run
// soon after start, never overlapping itself, stopping promptly when its
// context ends. It counts runs, results and raised events in Prometheus and
// logs failures; a failed run is simply tried again at the next tick.
//
// It does not elect a leader: every process running the scheduler role runs
// every job. Jobs must therefore be safe to run concurrently and repeatedly;
// the detectors are (each raise is keyed in detector_alerts, inserted in
// the same transaction as its event). It stores nothing itself.
package scheduler
