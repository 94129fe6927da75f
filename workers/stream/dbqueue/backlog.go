package dbqueue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/notifyhub/notifyhub/workers/stream"
)

var _ stream.Inspector = (*Stream)(nil)

// Backlog returns how many entries the group has not acknowledged (not yet
// handed out plus pending) and when the oldest of them was appended. It
// reads without locking: a metric may be a moment out of date.
func (s *Stream) Backlog(ctx context.Context, topic, group string) (int64, time.Time, error) {
	if err := stream.CheckNames("topic", topic, "group", group); err != nil {
		return 0, time.Time{}, fmt.Errorf("dbqueue: backlog: %w", err)
	}
	if err := s.usable(); err != nil {
		return 0, time.Time{}, err
	}
	n, oldest, err := s.backlog(ctx, topic, group)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("dbqueue: backlog of %q group %q: %w", topic, group, err)
	}
	return n, oldest, nil
}

func (s *Stream) backlog(ctx context.Context, topic, group string) (int64, time.Time, error) {
	var last int64
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT last_id FROM stream_groups WHERE topic = ? AND grp = ?`), topic, group).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, fmt.Errorf("group: %w", err)
	}
	// A missing group is recreated from the start: last stays 0, and its
	// leftover pending rows are dropped then, so they do not count.
	var waiting, pending int64
	var oldWaiting, oldPending sql.NullInt64
	err = s.db.QueryRowContext(ctx, s.d.q(`SELECT COUNT(*), MIN(created_at) FROM stream_entries WHERE topic = ? AND id > ?`),
		topic, last).Scan(&waiting, &oldWaiting)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("waiting entries: %w", err)
	}
	if last > 0 {
		err = s.db.QueryRowContext(ctx, s.d.q(`SELECT COUNT(*), MIN(e.created_at) FROM stream_pending p
			JOIN stream_entries e ON e.topic = p.topic AND e.id = p.entry_id
			WHERE p.topic = ? AND p.grp = ?`), topic, group).Scan(&pending, &oldPending)
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("pending entries: %w", err)
		}
	}
	var oldest time.Time
	for _, c := range []sql.NullInt64{oldWaiting, oldPending} {
		if c.Valid && (oldest.IsZero() || time.UnixMicro(c.Int64).Before(oldest)) {
			oldest = time.UnixMicro(c.Int64)
		}
	}
	return waiting + pending, oldest, nil
}
