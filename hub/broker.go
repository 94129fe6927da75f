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
//     started, once. Updates published on one node arrive in that node's
//     publish order, and those of other nodes in one order shared by all
//     subscribers; but a backend may hand a node's own updates to that
//     node's subscriptions as it publishes them, ahead of other nodes'
//     updates published just before (the Redis broker does: one hop less
//     to a node's own sockets). The hub does not rely on the order across
//     nodes: it orders a user's notifications by seq, holding a gap until
//     History fills it, and trusts a carried unread count only when no
//     read change is recent. Updates published before Subscribe started
//     need not be seen.
//   - deliver and resync are called one at a time, never concurrently, and
//     must not block (Hub.Deliver does not).
//   - resync is called whenever the subscription may have missed updates
//     (lost connection, reconnect, dropped messages); the hub then refills
//     every connection from History, so nothing committed is lost. It is
//     also called once the subscription is live, before anything read from
//     the transport is delivered (a node's own updates may come earlier):
//     a socket that registered before that may have missed what
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
