// Package relay publishes committed outbox events on the event stream and
// marks them published. It selects unpublished rows (never "last id seen"),
// so events whose transactions commit out of id order are not skipped, and
// several relays can run at once (rows are claimed with SKIP LOCKED). It is
// woken by the store's event signal (LISTEN/NOTIFY on PostgreSQL, in-process
// on SQLite) and polls as a fallback. It owns no tables of its own.
package relay
