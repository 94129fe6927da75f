// Package listeners holds the reactions to business events, each a
// runner.Listener. Every effect is exactly-once: the listener records
// (listener, event id) in processed_events in the same transaction as its
// effect, so a redelivered event changes nothing.
package listeners
