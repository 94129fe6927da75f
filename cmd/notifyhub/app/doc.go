// Package app wires notifyhub together from a Config: it picks the
// embedded (SQLite, database queue, in-process fan-out) or distributed
// (PostgreSQL, Redis Streams, Redis fan-out) adapters, builds the services,
// hub, web handler, relay and runner, and runs the roles asked for until
// the context ends. It holds no business logic.
package app
