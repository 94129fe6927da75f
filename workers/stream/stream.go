package stream

import (
	"context"
	"errors"
	"time"
)

// Message is one stream entry as delivered to a consumer.
type Message struct {
	// ID is the backend's entry id ("1719835200000-0" on Redis, a decimal
	// sequence in dbqueue). IDs increase in append order within a topic.
	ID string
	// Body is the payload exactly as published.
	Body []byte
	// Deliveries counts how many times this entry has been handed to a
	// consumer of this group, this delivery included (1 on first read).
	Deliveries int
}

// ErrClosed is returned by a stream that has been closed.
var ErrClosed = errors.New("stream closed")

// Stream is an append-only log per topic with consumer groups.
//
// Contract, which streamtest checks for every backend:
//   - Publish appends all bodies in order, or returns an error; on error
//     some may have been appended (the caller retries; consumers dedupe).
//   - Every group sees every entry appended after the group was created,
//     and, because groups are created from the start of the topic, every
//     entry still in the topic when it was created.
//   - Read hands each new entry to exactly one consumer of the group and
//     marks it pending for that consumer until Ack. It blocks up to block
//     for new entries and returns an empty slice (no error) on timeout or
//     when ctx is done.
//   - An entry not acknowledged within minIdle of its last delivery can be
//     taken over by another consumer with Reclaim; its Deliveries grows.
//   - Ack of an unknown or already acknowledged id is not an error.
//   - A missing group (deleted, or Redis restarted empty) is recreated
//     from the start of the topic by Read and Reclaim, never from the end.
type Stream interface {
	Publish(ctx context.Context, topic string, bodies ...[]byte) error
	// EnsureGroup creates the group at the start of the topic if it does
	// not exist (creating the topic too). Existing groups are untouched.
	EnsureGroup(ctx context.Context, topic, group string) error
	Read(ctx context.Context, topic, group, consumer string, max int, block time.Duration) ([]Message, error)
	Ack(ctx context.Context, topic, group string, ids ...string) error
	Reclaim(ctx context.Context, topic, group, consumer string, minIdle time.Duration, max int) ([]Message, error)
	// Extend restarts the idle clock of the entries still pending for
	// consumer, so that a consumer busy with a long batch keeps them, and
	// returns the ids it extended. Entries acknowledged or taken over by
	// another consumer are left out: the caller must not run those.
	Extend(ctx context.Context, topic, group, consumer string, ids ...string) ([]string, error)
	// Release hands entries pending for consumer back at once: they stay
	// pending but any consumer's next Reclaim takes them, whatever its
	// minIdle. A consumer shutting down releases what it has not started.
	Release(ctx context.Context, topic, group, consumer string, ids ...string) error
	// Trim drops entries that every group of the topic has acknowledged
	// (delivered and not pending). It returns how many it dropped.
	Trim(ctx context.Context, topic string) (int64, error)
	// Ping reports whether the backend is reachable (for /readyz).
	Ping(ctx context.Context) error
}

// Epocher is implemented by backends that can lose their data while the
// database keeps it (Redis without persistence, or a failover to an empty
// replica). Epoch returns an identifier that stays the same while the
// backend keeps its data and changes when it comes back empty, so the relay
// can republish from the outbox what the stream lost.
type Epocher interface {
	Epoch(ctx context.Context) (string, error)
}

// Inspector is implemented by backends that can tell how far behind a
// consumer group is, for the queue depth and oldest-job-age metrics.
type Inspector interface {
	// Backlog returns how many entries of topic the group has not
	// acknowledged yet (not yet handed out plus pending) and when the
	// oldest of them was appended (zero when there is none). A missing
	// group counts every entry of the topic, as it would be recreated from
	// the start; a missing topic has no backlog.
	Backlog(ctx context.Context, topic, group string) (count int64, oldest time.Time, err error)
}
