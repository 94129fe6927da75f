// Package listeners holds the reactions to business events, each a
// runner.Listener. Every effect is exactly-once: the listener records
// (listener, event id) in processed_events in the same transaction as its
// effect, so a redelivered event changes nothing. The alerts sent to the
// holders of a permission (low stock, stock expiry, overdue invoices) also
// handle the events of one read together, each with its own key, in one
// transaction: they all lock the same few recipients' rows to number their
// notifications, so a transaction each would run one after another.
package listeners
