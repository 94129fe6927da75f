// Package stream declares the event stream seam: an append-only log per
// topic, read by consumer groups with at-least-once delivery. Backends live
// beside it: redis/ (Redis Streams, distributed mode) and dbqueue/ (tables in
// the database, embedded mode). streamtest/ is the conformance suite both
// pass. The package stores nothing itself.
package stream
