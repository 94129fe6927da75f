package notification_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// pushedTitled are the notification updates published for title, in
// publish order.
func pushedTitled(f fixture, title string) []domain.InboxUpdate {
	var out []domain.InboxUpdate
	for _, u := range f.fan.all() {
		if u.Kind == domain.UpdateNotification && u.Notification.Title == title {
			out = append(out, u)
		}
	}
	return out
}

// requireBroadcast checks that title reached each of users (of tenant)
// exactly once, as one broadcast: one id for all of them, each with their
// own seq in their inbox, pushed once to each with that seq and their
// unread count; and that it reached nobody else.
func requireBroadcast(t *testing.T, f fixture, tenant domain.TenantID, title string, users []domain.UserID) {
	t.Helper()
	ctx := context.Background()
	var id string
	stored := map[domain.UserID]domain.Notification{}
	for _, u := range users {
		var mine []domain.Notification
		for _, n := range inbox(t, f, tenant, u) {
			if n.Title == title {
				mine = append(mine, n)
			}
		}
		require.Len(t, mine, 1, "%s/%s gets %q once", tenant, u, title)
		n := mine[0]
		if id == "" {
			id = n.ID
		}
		require.Equal(t, id, n.ID, "one broadcast: one id for every recipient")
		require.Equal(t, u, n.UserID)
		require.Equal(t, tenant, n.TenantID)
		require.Positive(t, n.Seq)
		seq, err := f.store.NotificationSeq(ctx, tenant, u, n.ID)
		require.NoError(t, err)
		require.Equal(t, n.Seq, seq)
		stored[u] = n
	}
	pushed := pushedTitled(f, title)
	require.Len(t, pushed, len(users), "pushed once to each recipient, to nobody else")
	for _, p := range pushed {
		n, ok := stored[p.UserID]
		require.True(t, ok, "pushed to %s/%s, not a recipient", p.TenantID, p.UserID)
		require.Equal(t, tenant, p.TenantID)
		require.Equal(t, n.Seq, p.Seq, "%s: the seq of their inbox", p.UserID)
		require.Equal(t, n, *p.Notification, "%s: the notification as stored for them", p.UserID)
		require.False(t, p.CommittedAt.IsZero())
		delete(stored, p.UserID)
	}
}

// An all audience is one broadcast whatever InlineMax (the tenant has more
// users than it): sent within the request, its bulk completed with the
// right counts, every known user of the tenant reached once with their
// own seq and unread count, another tenant's users not at all.
func TestBroadcastReachesEveryUserOnceWithTheirSeq(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		d := &dispatcher{}
		bulk := notification.NewBulkService(f.store, f.svc, d, nil)
		bulk.InlineMax = 1 // acme has three users: no bound for a broadcast
		// bob has a personal notification already, carol has read hers.
		_, err := f.svc.SendToUsers(ctx, "acme", []domain.UserID{"bob", "carol"}, draft("before"))
		require.NoError(t, err)
		require.NoError(t, f.svc.MarkAllRead(ctx, "acme", "carol"))

		b, err := bulk.Request(ctx, sender, notification.BulkRequest{All: true, Title: "Everyone", Body: "Hello"})
		require.NoError(t, err)
		require.Empty(t, d.jobs, "no job for a direct broadcast")
		require.Equal(t, notification.BulkCompleted, b.Status)
		require.EqualValues(t, []int64{3, 3, 0}, []int64{b.Total, b.Sent, b.Failed})
		require.NotNil(t, b.StartedAt)
		require.NotNil(t, b.CompletedAt)
		got, err := bulk.Get(ctx, "acme", b.ID)
		require.NoError(t, err)
		require.Equal(t, b, got, "the answer is what is stored")
		require.Equal(t, "all", got.View().Audience.Kind)

		requireBroadcast(t, f, "acme", "Everyone", []domain.UserID{"alice", "bob", "carol"})
		seqs, counts := map[domain.UserID]int64{}, map[domain.UserID]int{}
		for _, p := range pushedTitled(f, "Everyone") {
			seqs[p.UserID], counts[p.UserID] = p.Seq, p.UnreadCount
		}
		require.Equal(t, map[domain.UserID]int64{"alice": 1, "bob": 2, "carol": 2}, seqs, "after each one's own notifications")
		require.Equal(t, map[domain.UserID]int{"alice": 1, "bob": 2, "carol": 1}, counts, "each one's unread count right after it")
		for u, want := range counts {
			n, err := f.store.UnreadCount(ctx, "acme", u)
			require.NoError(t, err)
			require.Equal(t, want, n, u)
		}
		require.Empty(t, inbox(t, f, "globex", "bob"), "another tenant's bob")

		// A user who joins afterwards does not get it; the next broadcast
		// reaches them too.
		require.NoError(t, f.store.UpsertUser(ctx, domain.User{TenantID: "acme", ID: "dave"}))
		require.Empty(t, inbox(t, f, "acme", "dave"))
		b, err = bulk.Request(ctx, sender, notification.BulkRequest{All: true, Title: "Again"})
		require.NoError(t, err)
		require.EqualValues(t, 4, b.Sent)
		requireBroadcast(t, f, "acme", "Again", []domain.UserID{"alice", "bob", "carol", "dave"})

		// A stray run of a job for it finds it done.
		require.NoError(t, bulk.Send(ctx, "acme", b.ID))
		requireBroadcast(t, f, "acme", "Again", []domain.UserID{"alice", "bob", "carol", "dave"})
	})
}

// Each tenant's broadcast reaches its own users only, also when tenants
// broadcast at once; a job cannot send one tenant's bulk as another's.
func TestBroadcastStaysInItsTenant(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		require.NoError(t, f.store.UpsertUser(ctx, domain.User{TenantID: "globex", ID: "gus"}))
		bulk := notification.NewBulkService(f.store, f.svc, &dispatcher{}, nil)
		globex := domain.Actor{TenantID: "globex", UserID: "boss", Perms: []string{domain.PermAdmin}}
		errs := make(chan error, 2)
		go func() {
			_, err := bulk.Request(ctx, sender, notification.BulkRequest{All: true, Title: "acme news"})
			errs <- err
		}()
		go func() {
			_, err := bulk.Request(ctx, globex, notification.BulkRequest{All: true, Title: "globex news"})
			errs <- err
		}()
		require.NoError(t, <-errs)
		require.NoError(t, <-errs)
		requireBroadcast(t, f, "acme", "acme news", []domain.UserID{"alice", "bob", "carol"})
		requireBroadcast(t, f, "globex", "globex news", []domain.UserID{"bob", "gus"})

		queued := notification.NewBulkService(f.store, f.svc, &dispatcher{}, nil)
		queued.InlineMax = 0 // the queued job does the sending here
		b, err := queued.Request(ctx, sender, notification.BulkRequest{All: true, Title: "acme only"})
		require.NoError(t, err)
		require.Error(t, queued.Send(ctx, "globex", b.ID), "a job cannot reach across tenants")
		require.Empty(t, pushedTitled(f, "acme only"))
		require.NoError(t, queued.Send(ctx, "acme", b.ID))
		requireBroadcast(t, f, "acme", "acme only", []domain.UserID{"alice", "bob", "carol"})
	})
}

// The job sends an all audience as one broadcast in the transaction that
// completes the bulk, whatever its batch size: a run whose bulk update
// fails broadcasts nothing, and a redelivered job never broadcasts twice.
func TestBroadcastJobIsOneTransactionAndIdempotent(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		d := &dispatcher{}
		flaky := &flakyStore{Store: f.store, failAt: 1}
		bulk := notification.NewBulkService(flaky, f.svc, d, nil)
		bulk.InlineMax = 0 // the queued job does the sending here
		bulk.BatchSize = 1
		b, err := bulk.Request(ctx, sender, notification.BulkRequest{All: true, Type: "reminder", Title: "Timesheets"})
		require.NoError(t, err)
		require.Equal(t, notification.BulkPending, b.Status)
		require.Equal(t, []notification.BulkPayload{{BulkID: b.ID}}, d.jobs)

		require.Error(t, bulk.Send(ctx, "acme", b.ID), "the run dies completing the bulk")
		for _, u := range []domain.UserID{"alice", "bob", "carol"} {
			require.Empty(t, inbox(t, f, "acme", u), "rolled back with the bulk update")
		}
		require.Empty(t, pushedTitled(f, "Timesheets"), "a rolled-back broadcast is never pushed")
		got, err := bulk.Get(ctx, "acme", b.ID)
		require.NoError(t, err)
		require.Equal(t, notification.BulkPending, got.Status)

		for range 2 { // redelivered, then once more
			require.NoError(t, bulk.Send(ctx, "acme", b.ID))
			got, err = bulk.Get(ctx, "acme", b.ID)
			require.NoError(t, err)
			require.Equal(t, notification.BulkCompleted, got.Status)
			require.EqualValues(t, []int64{3, 3, 0}, []int64{got.Total, got.Sent, got.Failed})
			require.Empty(t, got.Errors)
			require.NotNil(t, got.StartedAt)
			require.NotNil(t, got.CompletedAt)
			requireBroadcast(t, f, "acme", "Timesheets", []domain.UserID{"alice", "bob", "carol"})
		}
		require.Equal(t, notification.TypeReminder, inbox(t, f, "acme", "bob")[0].Type)
		require.Equal(t, 2, flaky.updates, "one bulk update per run that sent, none for the run that found it done")
	})
}

// downBroadcasts is a store whose broadcasts fail while down is positive
// (each failure counts it down).
type downBroadcasts struct {
	*sqlstore.Store
	down atomic.Int32
}

func (s *downBroadcasts) InsertBroadcast(ctx context.Context, n *domain.Notification) ([]notification.BroadcastRecipient, error) {
	if s.down.Add(-1) >= 0 {
		return nil, errors.New("connection refused")
	}
	return s.Store.InsertBroadcast(ctx, n)
}

// InsertBroadcastBulk fails as InsertBroadcast does: the direct write of
// a broadcast with its bulk (one transaction of its own).
func (s *downBroadcasts) InsertBroadcastBulk(ctx context.Context, n *domain.Notification, b notification.Bulk) ([]notification.BroadcastRecipient, error) {
	if s.down.Add(-1) >= 0 {
		return nil, errors.New("connection refused")
	}
	return s.Store.InsertBroadcastBulk(ctx, n, b)
}

// A direct broadcast whose write fails falls back to the queued job:
// the request still answers with the bulk, and the job sends it once.
func TestBroadcastFallsBackToTheJob(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		st := &downBroadcasts{Store: f.store}
		d := &dispatcher{}
		bulk := notification.NewBulkService(st, notification.NewService(st, f.fan, nil, nil), d, nil)

		// Down for the direct write and the inline run after it: the job
		// is left to send it.
		st.down.Store(2)
		b, err := bulk.Request(ctx, sender, notification.BulkRequest{All: true, Title: "Later"})
		require.NoError(t, err)
		require.Equal(t, notification.BulkPending, b.Status)
		require.Equal(t, []notification.BulkPayload{{BulkID: b.ID}}, d.jobs, "queued")
		require.Empty(t, inbox(t, f, "acme", "bob"))
		require.Empty(t, pushedTitled(f, "Later"))
		stored, err := bulk.Get(ctx, "acme", b.ID)
		require.NoError(t, err)
		require.Equal(t, notification.BulkPending, stored.Status, "the direct write stored no bulk")
		for range 2 {
			require.NoError(t, bulk.Send(ctx, "acme", b.ID))
			requireBroadcast(t, f, "acme", "Later", []domain.UserID{"alice", "bob", "carol"})
		}
		got, err := bulk.Get(ctx, "acme", b.ID)
		require.NoError(t, err)
		require.Equal(t, notification.BulkCompleted, got.Status)
		require.EqualValues(t, 3, got.Sent)

		// Down for the direct write only: the bulk is queued and the
		// request's inline run of the job sends it.
		st.down.Store(1)
		d.jobs = nil
		b, err = bulk.Request(ctx, sender, notification.BulkRequest{All: true, Title: "Soon"})
		require.NoError(t, err)
		require.Equal(t, notification.BulkCompleted, b.Status, "sent by the inline run")
		require.EqualValues(t, 3, b.Sent)
		require.Len(t, d.jobs, 1, "the job stays the guarantee")
		require.NoError(t, bulk.Send(ctx, "acme", b.ID), "and finds it done")
		requireBroadcast(t, f, "acme", "Soon", []domain.UserID{"alice", "bob", "carol"})
	})
}

// lostCommit is a store whose next transaction commits but reports a
// failure, as when the answer is lost to a timeout after the commit.
type lostCommit struct {
	notification.BulkStore
	lose atomic.Bool
}

func (s *lostCommit) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := s.BulkStore.InTx(ctx, fn); err != nil || !s.lose.CompareAndSwap(true, false) {
		return err
	}
	return errors.New("connection reset after the commit")
}

// lostBroadcastAnswer is a store whose next broadcast with its bulk
// commits but reports a failure.
type lostBroadcastAnswer struct {
	*sqlstore.Store
	lose atomic.Bool
}

func (s *lostBroadcastAnswer) InsertBroadcastBulk(ctx context.Context, n *domain.Notification, b notification.Bulk) ([]notification.BroadcastRecipient, error) {
	rs, err := s.Store.InsertBroadcastBulk(ctx, n, b)
	if err != nil || !s.lose.CompareAndSwap(true, false) {
		return rs, err
	}
	return nil, errors.New("connection reset after the commit")
}

// A direct broadcast that committed though its answer was lost is not
// sent again: the fallback finds the bulk id taken and answers with it.
// Both ways of storing it: a transaction through InTx (whose answer this
// test loses after its commit hooks ran, so the pushes went out), and the
// broadcast with its bulk in one call (one round trip on PostgreSQL),
// whose lost answer leaves the recipients and their seqs unknown: nothing
// is pushed, and sockets find the broadcast in the database at their next
// gap or reconnect.
func TestBroadcastWithALostAnswerIsNotSentTwice(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		for name, lossy := range map[string]func() (notification.BulkStore, *atomic.Bool){
			"transaction": func() (notification.BulkStore, *atomic.Bool) {
				st := &lostCommit{BulkStore: f.store}
				return st, &st.lose
			},
			"broadcast with bulk": func() (notification.BulkStore, *atomic.Bool) {
				st := &lostBroadcastAnswer{Store: f.store}
				return st, &st.lose
			},
		} {
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				st, lose := lossy()
				lose.Store(true)
				d := &dispatcher{}
				bulk := notification.NewBulkService(st, f.svc, d, nil)
				title := "once by " + name
				b, err := bulk.Request(ctx, sender, notification.BulkRequest{All: true, Title: title})
				require.NoError(t, err)
				require.False(t, lose.Load(), "the answer was lost")
				require.Equal(t, notification.BulkCompleted, b.Status)
				require.EqualValues(t, 3, b.Sent)
				require.Empty(t, d.jobs, "no job queued")
				if name == "transaction" {
					requireBroadcast(t, f, "acme", title, []domain.UserID{"alice", "bob", "carol"})
					return
				}
				for _, u := range []domain.UserID{"alice", "bob", "carol"} {
					got := slices.DeleteFunc(inbox(t, f, "acme", u), func(n domain.Notification) bool { return n.Title != title })
					require.Len(t, got, 1, "%s gets it once", u)
				}
				require.Empty(t, pushedTitled(f, title), "the recipients were never learnt")
			})
		}
	})
}

// An all audience that a version before broadcasts began sending user by
// user is finished that way: those it reached are not notified again.
func TestBulkToAllStartedUserByUserFinishesThatWay(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		started := time.Now().UTC().Truncate(time.Microsecond)
		old := notification.Bulk{
			ID: domain.NewID(), TenantID: "acme", RequestedBy: "alice", Audience: notification.Audience{All: true},
			Type: notification.TypeAnnouncement, Severity: domain.SeverityInfo, Title: "Old", Data: []byte("{}"),
			Status: notification.BulkProcessing, Total: 3, Sent: 1, ResumeAfter: "alice",
			CreatedAt: started, StartedAt: &started,
		}
		require.NoError(t, f.store.InsertBulk(ctx, old))
		bulk := notification.NewBulkService(f.store, f.svc, &dispatcher{}, nil)
		require.NoError(t, bulk.Send(ctx, "acme", old.ID))
		got, err := bulk.Get(ctx, "acme", old.ID)
		require.NoError(t, err)
		require.Equal(t, notification.BulkCompleted, got.Status)
		require.EqualValues(t, []int64{3, 3, 0}, []int64{got.Total, got.Sent, got.Failed})
		require.Empty(t, inbox(t, f, "acme", "alice"), "reached before")
		bob, carol := inbox(t, f, "acme", "bob"), inbox(t, f, "acme", "carol")
		require.Len(t, bob, 1)
		require.Len(t, carol, 1)
		require.NotEqual(t, bob[0].ID, carol[0].ID, "one row each, as it began")
	})
}
