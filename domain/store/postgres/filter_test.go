package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

func TestListenerFiltersNotifications(t *testing.T) {
	t.Parallel()
	l := &listener{schema: "t_mine", own: &pidSet{pids: map[uint32]struct{}{}}}
	l.own.add(42)
	require.True(t, l.wakes(&pgconn.Notification{PID: 7, Channel: Channel, Payload: "t_mine"}))
	require.False(t, l.wakes(&pgconn.Notification{PID: 7, Channel: Channel, Payload: "t_other"}), "another schema's events")
	require.False(t, l.wakes(&pgconn.Notification{PID: 42, Channel: Channel, Payload: "t_mine"}), "own commits are signalled in-process")
	require.False(t, l.wakes(&pgconn.Notification{PID: 7, Channel: "other", Payload: "t_mine"}))
	l.own.remove(42)
	require.True(t, l.wakes(&pgconn.Notification{PID: 42, Channel: Channel, Payload: "t_mine"}), "a pid no longer ours")
}
