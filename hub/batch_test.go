package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/hub/broker/memory"
)

// batchRecorder is a batchTransport that records each batch it is given.
type batchRecorder struct {
	*fakeTransport
	batches chan [][]byte
}

func newBatchRecorder() *batchRecorder {
	return &batchRecorder{fakeTransport: newFakeTransport(), batches: make(chan [][]byte, 1024)}
}

func (r *batchRecorder) WriteBatch(_ time.Time, frames [][]byte) error {
	cp := make([][]byte, len(frames))
	for i, f := range frames {
		cp[i] = append([]byte(nil), f...)
	}
	r.batches <- cp
	return nil
}

func (r *batchRecorder) next(t *testing.T) [][]byte {
	t.Helper()
	select {
	case b := <-r.batches:
		return b
	case <-time.After(wait):
		t.Fatalf("no write within %s", wait)
	}
	return nil
}

// live waits for the catch-up's unread_count: the connection is then idle.
func (r *batchRecorder) live(t *testing.T) {
	t.Helper()
	b := r.next(t)
	require.Len(t, b, 1)
	var f frame
	require.NoError(t, json.Unmarshal(b[0], &f))
	require.Equal(t, FrameUnreadCount, f.Type)
}

// broadcastUpdates commits one notification for each user, alike but for
// id and seq, and returns their updates (edit may give them one id, as a
// broadcast has). The notifications share their strings, as the
// service's do.
func broadcastUpdates(hist *fakeHistory, tenant domain.TenantID, users []domain.UserID, edit func(*domain.Notification)) []domain.InboxUpdate {
	created := time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)
	data := json.RawMessage(`{"html":"<b>&</b>","n":[1, 2]}`)
	var out []domain.InboxUpdate
	for _, u := range users {
		n := hist.insert(tenant, u, "Body shared by every recipient")
		n.Title, n.Data, n.CreatedAt = "Announcement", data, created
		if edit != nil {
			edit(&n)
		}
		out = append(out, domain.InboxUpdate{Kind: domain.UpdateNotification, TenantID: tenant, UserID: u,
			Notification: &n, Seq: n.Seq, UnreadCount: int(n.Seq), CommittedAt: created})
	}
	return out
}

// A run of a broadcast's updates gives each socket exactly the frames
// Deliver gives for each update alone, whatever the encoder shares
// between them, including across runs whose content differs in one field.
func TestDeliverBatchFramesMatchDeliver(t *testing.T) {
	t.Parallel()
	h, hist := newTestHub(t, Config{})
	users := []domain.UserID{"u1", "u2", "u3"}
	recs := map[domain.UserID]*batchRecorder{}
	for _, u := range users {
		recs[u] = newBatchRecorder()
		attach(t, h, Identity{TenantID: "t1", UserID: u}, recs[u])
		recs[u].live(t)
	}
	readAt := time.Date(2026, 5, 6, 7, 9, 0, 0, time.FixedZone("", 3600))
	edits := []func(*domain.Notification){
		nil,
		nil, // alike the run before: shared again
		func(n *domain.Notification) { n.Type = "ReminderNotification" },
		func(n *domain.Notification) { n.Severity = domain.SeverityCritical },
		func(n *domain.Notification) { n.Title = "Another <title>" },
		func(n *domain.Notification) { n.Body = "" },
		func(n *domain.Notification) { n.ActionURL = "/x?a=1&b=2" },
		func(n *domain.Notification) { n.Data = json.RawMessage(`{"n":[1, 3]}`) },
		func(n *domain.Notification) { n.Data = nil },
		func(n *domain.Notification) { n.ReadAt = &readAt },
		func(n *domain.Notification) { at := readAt.Add(time.Second); n.ReadAt = &at },
		func(n *domain.Notification) { n.CreatedAt = n.CreatedAt.Add(time.Microsecond) },
		func(n *domain.Notification) { n.ID = "id-with-\"quote\"" },
	}
	// Each edited run between two plain ones: it differs from its
	// neighbours in that one field.
	var batch []domain.InboxUpdate
	for _, edit := range edits {
		batch = append(batch, broadcastUpdates(hist, "t1", users, edit)...)
		batch = append(batch, broadcastUpdates(hist, "t1", users, nil)...)
	}
	// Broadcasts as the service publishes them, one id for every
	// recipient: two in a row, then one with the id of the one before
	// but another body (the head alike, not the tail), then one with its
	// own id again.
	for _, edit := range []func(*domain.Notification){
		func(n *domain.Notification) { n.ID = "broadcast-1" },
		func(n *domain.Notification) { n.ID = "broadcast-2" },
		func(n *domain.Notification) { n.ID, n.Body = "broadcast-2", "another body" },
		func(n *domain.Notification) { n.Body = "another body" },
	} {
		batch = append(batch, broadcastUpdates(hist, "t1", users, edit)...)
	}
	// A user without a socket here in the middle of a run.
	batch = append(batch[:4], append(broadcastUpdates(hist, "t1", []domain.UserID{"elsewhere"}, nil), batch[4:]...)...)

	want := map[domain.UserID][][]byte{}
	for _, u := range batch {
		if u.UserID == "elsewhere" {
			continue
		}
		ob, err := encodeUpdate(u)
		require.NoError(t, err)
		want[u.UserID] = append(want[u.UserID], ob.frame)
		if ob.seq != 0 {
			want[u.UserID] = append(want[u.UserID], ob.count)
		}
	}
	h.DeliverBatch(batch)
	for _, u := range users {
		var got [][]byte
		for len(got) < len(want[u]) {
			got = append(got, recs[u].next(t)...)
		}
		require.Len(t, got, len(want[u]))
		for i := range got {
			require.Equal(t, string(want[u][i]), string(got[i]), "user %s frame %d", u, i)
		}
	}
}

// Every update of a batch is queued before any socket writes: a socket
// that several are for gets them, in order, in one write.
func TestDeliverBatchOneWritePerSocket(t *testing.T) {
	t.Parallel()
	h, hist := newTestHub(t, Config{})
	users := []domain.UserID{"u1", "u2", "u3"}
	recs := map[domain.UserID]*batchRecorder{}
	for _, u := range users {
		recs[u] = newBatchRecorder()
		attach(t, h, Identity{TenantID: "t1", UserID: u}, recs[u])
		recs[u].live(t)
	}
	const broadcasts = 4
	var batch []domain.InboxUpdate
	for range broadcasts {
		batch = append(batch, broadcastUpdates(hist, "t1", users, nil)...)
	}
	h.DeliverBatch(batch)
	for _, u := range users {
		frames := recs[u].next(t)
		require.Len(t, frames, 2*broadcasts, "user %s: notification and count of each broadcast in one write", u)
		for i := range broadcasts {
			var n, c frame
			require.NoError(t, json.Unmarshal(frames[2*i], &n))
			require.NoError(t, json.Unmarshal(frames[2*i+1], &c))
			require.Equal(t, FrameNotification, n.Type)
			require.Equal(t, int64(i+1), n.Notification.Seq)
			require.Equal(t, FrameUnreadCount, c.Type)
			require.Equal(t, i+1, *c.UnreadCount)
		}
		select {
		case b := <-recs[u].batches:
			t.Fatalf("user %s: a second write of %d frames", u, len(b))
		default:
		}
	}
}

// The recipients of one broadcast (one update each, one notification id)
// start writing before the whole batch is queued: each still gets its own
// frame and count, once, in one write; a batch of several broadcasts keeps
// one write per socket for all of them.
func TestDeliverBatchOneBroadcastStartsEarly(t *testing.T) {
	t.Parallel()
	h, hist := newTestHub(t, Config{})
	var users []domain.UserID
	recs := map[domain.UserID]*batchRecorder{}
	for i := range 5 * fanOutWidth {
		u := domain.UserID(fmt.Sprintf("u%02d", i))
		users = append(users, u)
		recs[u] = newBatchRecorder()
		attach(t, h, Identity{TenantID: "t1", UserID: u}, recs[u])
		recs[u].live(t)
	}
	oneID := func(n *domain.Notification) { n.ID = "broadcast-1" }
	one := broadcastUpdates(hist, "t1", users, oneID)
	require.True(t, oneUpdateEach(one))
	two := append(broadcastUpdates(hist, "t1", users, func(n *domain.Notification) { n.ID = "broadcast-2" }),
		broadcastUpdates(hist, "t1", users, func(n *domain.Notification) { n.ID = "broadcast-3" })...)
	require.False(t, oneUpdateEach(two))
	require.False(t, oneUpdateEach(one[:fanOutWidth]), "too few to start early")

	h.DeliverBatch(one)
	firsts := map[domain.UserID][][]byte{}
	for _, u := range users {
		firsts[u] = recs[u].next(t)
		require.Len(t, firsts[u], 2, "user %s: the broadcast and its count in one write", u)
	}
	// Each socket's loop may still be winding down after its write: a
	// socket whose loop runs when the next batch arrives writes what it
	// finds queued, so the next batch is only asserted once all are idle.
	require.Eventually(t, func() bool {
		for _, u := range users {
			if runningLoops(h, "t1", u) {
				return false
			}
		}
		return true
	}, wait, time.Millisecond)
	h.DeliverBatch(two)
	for _, u := range users {
		rest := recs[u].next(t)
		require.Len(t, rest, 4, "user %s: two broadcasts of one batch in one write", u)
		for i, f := range append(firsts[u], rest...) {
			var got frame
			require.NoError(t, json.Unmarshal(f, &got))
			seq := int64(i/2 + 1)
			if i%2 == 0 {
				require.Equal(t, FrameNotification, got.Type)
				require.Equal(t, seq, got.Notification.Seq, "user %s", u)
				require.Equal(t, fmt.Sprintf("broadcast-%d", seq), got.Notification.ID)
			} else {
				require.Equal(t, FrameUnreadCount, got.Type)
				require.Equal(t, int(seq), *got.UnreadCount)
			}
		}
		select {
		case b := <-recs[u].batches:
			t.Fatalf("user %s: an extra write of %d frames", u, len(b))
		default:
		}
	}
}

// runningLoops reports whether a loop runs for any connection of the user.
func runningLoops(h *Hub, tenant domain.TenantID, user domain.UserID) bool {
	k := userKey{tenant: tenant, user: user}
	s := h.shard(k)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range s.users[k] {
		c.mu.Lock()
		running := c.running
		c.mu.Unlock()
		if running {
			return true
		}
	}
	return false
}

// A batch that overflows one socket's queue closes that socket with 4008;
// the others get all of theirs.
func TestDeliverBatchOverflowClosesOnlyThatSocket(t *testing.T) {
	t.Parallel()
	h, hist := newTestHub(t, Config{QueueSize: 3})
	slow, fine := newBatchRecorder(), newBatchRecorder()
	slowDone := attach(t, h, Identity{TenantID: "t1", UserID: "slow"}, slow)
	attach(t, h, Identity{TenantID: "t1", UserID: "fine"}, fine)
	slow.live(t)
	fine.live(t)
	var batch []domain.InboxUpdate
	for i := range 4 {
		batch = append(batch, broadcastUpdates(hist, "t1", []domain.UserID{"slow"}, nil)...)
		if i < 3 {
			batch = append(batch, broadcastUpdates(hist, "t1", []domain.UserID{"fine"}, nil)...)
		}
	}
	h.DeliverBatch(batch)
	require.Equal(t, CloseSlow, slow.closeCode(t))
	<-slowDone
	frames := fine.next(t)
	require.Len(t, frames, 6)
	require.Equal(t, 1.0, value(t, h.metrics.slowCloses))
}

// In embedded mode the hub takes the memory broker's batches: a batch
// published at once reaches each socket in one write, in order, after
// updates published singly before it.
func TestRunWithMemoryBrokerBatches(t *testing.T) {
	t.Parallel()
	h, hist := newTestHub(t, Config{})
	b, err := memory.New(memory.Config{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, b) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	rec := newBatchRecorder()
	attach(t, h, Identity{TenantID: "t1", UserID: "u1"}, rec)
	rec.live(t)
	// Until the subscription is live, what is published is not seen:
	// publish singles until one arrives. Those published before are
	// refilled from History as a gap.
	var seqs []int64
	collect := func(frames [][]byte) {
		for _, p := range frames {
			var f frame
			require.NoError(t, json.Unmarshal(p, &f))
			if f.Type == FrameNotification {
				seqs = append(seqs, f.Notification.Seq)
			}
		}
	}
	for len(seqs) == 0 {
		require.NoError(t, b.Publish(ctx, notificationUpdate(hist, "t1", "u1")))
		select {
		case frames := <-rec.batches:
			collect(frames)
		case <-time.After(20 * time.Millisecond):
		}
	}
	var batch []domain.InboxUpdate
	for range 3 {
		batch = append(batch, broadcastUpdates(hist, "t1", []domain.UserID{"u1"}, nil)...)
	}
	require.NoError(t, b.PublishBatch(ctx, batch))
	want := batch[len(batch)-1].Seq
	for seqs[len(seqs)-1] < want {
		collect(rec.next(t))
	}
	for i, s := range seqs {
		require.Equal(t, int64(i+1), s, fmt.Sprintf("seqs %v", seqs))
	}
}
