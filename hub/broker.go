package hub

import (
	"context"

	"github.com/notifyhub/notifyhub/domain"
)

// Broker carries committed inbox updates from the node that committed them
// to every hub node.
//
// Contract (hub/broker/brokertest checks it for every backend):
//   - Publish is called only after the change has committed. It returns once
//     the update is handed to the transport, or an error (ctx done, backend
//     down); a failed publish is not retried by the broker.
//   - Every Subscribe, on every node, sees every update published after it
//     started, in publish order (one total order shared by all subscribers).
//     Updates published before Subscribe started need not be seen.
//   - deliver is called from one goroutine, one update at a time, and must
//     not block (Hub.Deliver does not).
//   - resync is called whenever the subscription may have missed updates
//     (lost connection, reconnect, dropped messages); the hub then refills
//     every connection from History, so nothing committed is lost. It is
//     also called once the subscription is live, before anything is
//     delivered: a socket that registered before that may have missed what
//     was published meanwhile.
//   - Subscribe blocks until ctx is done and then returns nil promptly; it
//     retries transport errors itself rather than returning them.
type Broker interface {
	Publish(ctx context.Context, u domain.InboxUpdate) error
	Subscribe(ctx context.Context, deliver func(domain.InboxUpdate), resync func()) error
}

// BatchBroker is a Broker that can hand over several updates at once (what
// one read of its transport brought, a broadcast's updates together). The
// hub queues them all before any socket writes, so a socket that several
// of them are for gets them in one write.
//
// SubscribeBatch is Subscribe (same contract) with deliver taking a run of
// updates in publish order. The slice stays the broker's: it is valid only
// during the call.
type BatchBroker interface {
	Broker
	SubscribeBatch(ctx context.Context, deliver func([]domain.InboxUpdate), resync func()) error
}

// Run subscribes the hub to b until ctx is done: every update b carries is
// delivered to this node's sockets, and every possible loss triggers Resync.
// It subscribes in batches when b can.
func (h *Hub) Run(ctx context.Context, b Broker) error {
	if bb, ok := b.(BatchBroker); ok {
		return bb.SubscribeBatch(ctx, h.DeliverBatch, h.Resync)
	}
	return b.Subscribe(ctx, h.Deliver, h.Resync)
}
