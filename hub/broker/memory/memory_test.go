package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/hub"
	"github.com/notifyhub/notifyhub/hub/broker/brokertest"
	"github.com/notifyhub/notifyhub/hub/broker/memory"
)

var _ hub.Broker = (*memory.Broker)(nil)

func TestConformance(t *testing.T) {
	t.Parallel()
	brokertest.Run(t, func(t *testing.T, n int) []hub.Broker {
		b, err := memory.New(memory.Config{})
		require.NoError(t, err)
		nodes := make([]hub.Broker, n)
		for i := range nodes {
			nodes[i] = b // one process: every "node" is the same bus
		}
		return nodes
	})
}

func TestNewRejectsNegativeBuffer(t *testing.T) {
	t.Parallel()
	_, err := memory.New(memory.Config{Buffer: -1})
	require.Error(t, err)
}

// A subscriber that stalls loses updates beyond its buffer instead of
// blocking publishers, and is told to resync.
func TestOverflowTriggersResync(t *testing.T) {
	t.Parallel()
	b, err := memory.New(memory.Config{Buffer: 2})
	require.NoError(t, err)

	entered := make(chan struct{})
	gate := make(chan struct{})
	probed := make(chan struct{}, 1)
	barrier := make(chan struct{}, 1)
	got := make(chan int64, 16)
	resynced := make(chan struct{}, 16)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- b.Subscribe(ctx, func(u domain.InboxUpdate) {
			switch {
			case u.UserID == "probe":
				select {
				case probed <- struct{}{}:
				default:
				}
				return
			case u.UserID == "barrier":
				barrier <- struct{}{}
				return
			case u.Seq == 1:
				entered <- struct{}{}
				<-gate // stall while the publisher overflows the buffer
			}
			got <- u.Seq
		}, func() { resynced <- struct{}{} })
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	// Subscribe registers asynchronously: probe until it is live, then let
	// a barrier through so that every probe has been consumed, and forget
	// any resync the probes themselves caused.
	require.Eventually(t, func() bool {
		if err := b.Publish(t.Context(), domain.InboxUpdate{Kind: domain.UpdateReadAll, TenantID: "t", UserID: "probe"}); err != nil {
			return false
		}
		select {
		case <-probed:
			return true
		case <-time.After(10 * time.Millisecond):
			return false
		}
	}, 10*time.Second, time.Millisecond)
	require.NoError(t, b.Publish(t.Context(), domain.InboxUpdate{Kind: domain.UpdateReadAll, TenantID: "t", UserID: "barrier"}))
	select {
	case <-barrier:
	case <-time.After(10 * time.Second):
		t.Fatal("barrier not delivered")
	}
	for len(resynced) > 0 {
		<-resynced
	}

	publish := func(seq int64) {
		require.NoError(t, b.Publish(t.Context(), domain.InboxUpdate{Kind: domain.UpdateNotification, TenantID: "t", UserID: "u", Seq: seq, Notification: &domain.Notification{Seq: seq}}))
	}
	publish(1)
	<-entered // the subscriber holds 1 and is stalled
	publish(2)
	publish(3) // buffer (2) now full
	publish(4) // dropped: Publish must not block
	close(gate)

	for _, want := range []int64{1, 2, 3} {
		select {
		case seq := <-got:
			require.Equal(t, want, seq)
		case <-time.After(10 * time.Second):
			t.Fatalf("update %d not delivered", want)
		}
	}
	select {
	case <-resynced:
	case <-time.After(10 * time.Second):
		t.Fatal("no resync after an overflow")
	}
	publish(5)
	select {
	case seq := <-got:
		require.Equal(t, int64(5), seq, "the dropped update must not surface late")
	case <-time.After(10 * time.Second):
		t.Fatal("update 5 not delivered")
	}
}
