// Package domain holds the primitives every other package shares: tenant and
// user ids, the Event envelope written to the outbox, the Notification
// record, permissions and the sentinel errors that the web layer maps to
// HTTP statuses.
//
// It imports nothing of ours and does no I/O. The business modules live in
// its sub-packages (product, inventory, notification, ...); persistence
// adapters live under domain/store.
package domain
