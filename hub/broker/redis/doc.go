// Package redisbroker is the hub.Broker of the distributed mode: every
// committed inbox update is appended (XADD, approximately capped) to one
// Redis stream, and every hub node reads that stream from its own last id
// (XREAD, no consumer group), so every node sees every update in one order.
//
// When the read connection fails the subscriber backs off, reconnects on a
// fresh connection, continues from its last id (from the start of the
// stream if Redis came back with an older or empty stream) and calls resync,
// so the hub refills its sockets from the database: Redis is transport, the
// database is the truth.
//
// It owns the key Prefix+"inbox" and nothing else. It does not own the Redis
// client (the caller creates and closes it) and stores nothing else.
package redisbroker
