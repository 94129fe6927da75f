// Package redisstream implements stream.Stream on Redis Streams (go-redis/v9)
// for the distributed mode: one stream key per topic, one Redis consumer
// group per stream group, XREADGROUP for new entries, XAUTOCLAIM to take
// over entries a dead consumer left pending, XACK, and XTRIM MINID only past
// what every group has acknowledged.
//
// It owns the keys under Options.Prefix+"stream:" and nothing else. It does
// not own the Redis client (the caller creates and closes it), does not
// decode bodies, and keeps no state a Redis restart could lose: a missing
// group is recreated from the start of its topic, and the relay republishes
// from the outbox whatever the stream lost.
package redisstream
