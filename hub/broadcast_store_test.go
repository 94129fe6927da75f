package hub

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

// hubFanout is the fan-out of a single node: the notification service's
// committed updates go straight to the hub, as the broker delivers them.
type hubFanout struct{ h *Hub }

func (f hubFanout) Publish(_ context.Context, u domain.InboxUpdate) error {
	f.h.Deliver(u)
	return nil
}

func (f hubFanout) PublishBatch(_ context.Context, us []domain.InboxUpdate) error {
	f.h.DeliverBatch(us)
	return nil
}

// noJobs is the bulk service's job queue in these tests: an all audience
// is one broadcast sent directly, never a job.
type noJobs struct{}

func (noJobs) Dispatch(_ context.Context, _ domain.TenantID, job string, _ any) (string, error) {
	return "", fmt.Errorf("job %s queued: an all audience must be sent directly", job)
}

// storeEnv is a hub whose History is a real store, behind a real server,
// fed by the notification services as production feeds it (one node).
type storeEnv struct {
	*env
	st   *sqlstore.Store
	svc  *notification.Service
	bulk *notification.BulkService
}

func newStoreEnv(t *testing.T, st *sqlstore.Store) *storeEnv {
	t.Helper()
	e := setupHistory(t, Config{}, func(*fakeHistory) History { return st })
	svc := notification.NewService(st, hubFanout{e.hub}, nil, nil)
	return &storeEnv{env: e, st: st, svc: svc, bulk: notification.NewBulkService(st, svc, noJobs{}, nil)}
}

// send stores and pushes a personal notification through the service.
func (e *storeEnv) send(tenant domain.TenantID, user domain.UserID, title string) domain.Notification {
	e.t.Helper()
	n, err := e.trySend(tenant, user, title)
	require.NoError(e.t, err)
	return n
}

func (e *storeEnv) trySend(tenant domain.TenantID, user domain.UserID, title string) (domain.Notification, error) {
	ns, err := e.svc.SendToUsers(context.Background(), tenant, []domain.UserID{user}, notification.Draft{
		Type: "ReminderNotification", Severity: domain.SeverityWarning, Title: title, Body: "for " + string(user)})
	if err != nil {
		return domain.Notification{}, err
	}
	if len(ns) != 1 {
		return domain.Notification{}, fmt.Errorf("sent %d notifications, want 1", len(ns))
	}
	return ns[0], nil
}

// broadcast sends an announcement to all of the tenant's users through
// the bulk service (POST /api/v1/notifications with "all": true): one
// broadcast stored once, pushed to every recipient with their own seq and
// count. It returns the broadcast as reader sees it (its id is every
// recipient's).
func (e *storeEnv) broadcast(tenant domain.TenantID, title string, reader domain.UserID) domain.Notification {
	e.t.Helper()
	n, err := e.tryBroadcast(tenant, title, reader)
	require.NoError(e.t, err)
	return n
}

func (e *storeEnv) tryBroadcast(tenant domain.TenantID, title string, reader domain.UserID) (domain.Notification, error) {
	ctx := context.Background()
	b, err := e.bulk.Request(ctx, domain.Actor{TenantID: tenant, UserID: "sender", Perms: []string{domain.PermAdmin}},
		notification.BulkRequest{All: true, Title: title, Body: "to everyone", ActionURL: "/news", Data: []byte(`{"all": true}`)})
	if err != nil {
		return domain.Notification{}, err
	}
	if b.Status != notification.BulkCompleted {
		return domain.Notification{}, fmt.Errorf("bulk %s is %s, want completed at once", b.ID, b.Status)
	}
	// Sends are sequential here: the reader's newest is this broadcast.
	ns, err := e.st.ListNotifications(ctx, tenant, reader, notification.ListParams{Limit: 1})
	if err != nil {
		return domain.Notification{}, err
	}
	if len(ns) != 1 || ns[0].Title != title {
		return domain.Notification{}, fmt.Errorf("the newest of %s is %+v, want the broadcast %q", reader, ns, title)
	}
	return ns[0], nil
}

// got is a notification frame as a client saw it, with the count after it.
type got struct {
	ID     string
	Seq    int64
	Title  string
	Unread int
}

// expect reads exactly the frames of wants: each notification followed by
// its unread_count, nothing in between (a duplicate or a gap fails).
func (c *client) expect(wants ...got) {
	c.t.Helper()
	for _, w := range wants {
		f := c.next()
		require.Equal(c.t, FrameNotification, f.Type, "want %+v", w)
		count := c.next()
		require.Equal(c.t, FrameUnreadCount, count.Type, "want %+v", w)
		require.Equal(c.t, w, got{f.Notification.ID, f.Notification.Seq, f.Notification.Title, *count.UnreadCount})
	}
}

// catchUp opens a socket with since and returns the notifications of its
// catch-up (with seq 0 counts: catch-up frames carry no count each) and
// the unread count that ends it.
func (e *storeEnv) catchUp(tenant domain.TenantID, user domain.UserID, since string) ([]got, int) {
	e.t.Helper()
	c := e.dial(tenant, user, dialOpts{since: since})
	defer func() { _ = c.ws.CloseNow() }()
	var out []got
	for {
		f := c.next()
		switch f.Type {
		case FrameNotification:
			out = append(out, got{f.Notification.ID, f.Notification.Seq, f.Notification.Title, 0})
		case FrameUnreadCount:
			return out, *f.UnreadCount
		default:
			e.t.Fatalf("unexpected %q frame during catch-up", f.Type)
		}
	}
}

func storeBackends() map[string]func(testing.TB) *sqlstore.Store {
	return map[string]func(testing.TB) *sqlstore.Store{
		"sqlite":   func(tb testing.TB) *sqlstore.Store { return storetest.OpenSQLite(tb) },
		"postgres": func(tb testing.TB) *sqlstore.Store { return storetest.OpenPostgres(tb) },
	}
}

// A broadcast stored once reaches the open sockets of every user of its
// tenant with each user's own seq and count, in order with their personal
// notifications; a reconnect from a broadcast's id or a personal one gets
// exactly the newer ones; read state of a broadcast travels to its
// reader's sockets only; cursors the user does not see are refused.
func TestStoredOnceBroadcastReachesEverySocketInOrder(t *testing.T) {
	t.Parallel()
	for name, open := range storeBackends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newStoreEnv(t, open(t))
			ctx := context.Background()
			const acme, other = domain.TenantID("acme"), domain.TenantID("other")
			for _, u := range []domain.User{{TenantID: acme, ID: "alice"}, {TenantID: acme, ID: "bob"}, {TenantID: other, ID: "alice"}} {
				require.NoError(t, e.st.UpsertUser(ctx, u))
			}
			p1 := e.send(acme, "alice", "alice 1")

			alice := e.dial(acme, "alice", dialOpts{})
			_, unread := alice.ready()
			require.Equal(t, 1, unread)
			bob := e.dial(acme, "bob", dialOpts{})
			_, unread = bob.ready()
			require.Zero(t, unread)
			otherAlice := e.dial(other, "alice", dialOpts{})
			_, unread = otherAlice.ready()
			require.Zero(t, unread)

			b1 := e.broadcast(acme, "b1", "alice")
			p2 := e.send(acme, "bob", "bob 2")
			p3 := e.send(acme, "alice", "alice 3")
			b2 := e.broadcast(acme, "b2", "alice")
			sentinel := e.send(other, "alice", "other's alice 1")

			alice.expect(got{b1.ID, 2, "b1", 2}, got{p3.ID, 3, "alice 3", 3}, got{b2.ID, 4, "b2", 4})
			bob.expect(got{b1.ID, 1, "b1", 1}, got{p2.ID, 2, "bob 2", 2}, got{b2.ID, 3, "b2", 3})
			otherAlice.expect(got{sentinel.ID, 1, "other's alice 1", 1}) // and nothing of acme before it

			// Reconnects from a broadcast, a personal one, the newest.
			for _, c := range []struct {
				user   domain.UserID
				since  string
				want   []got
				unread int
			}{
				{"alice", b1.ID, []got{{p3.ID, 3, "alice 3", 0}, {b2.ID, 4, "b2", 0}}, 4},
				{"alice", p1.ID, []got{{b1.ID, 2, "b1", 0}, {p3.ID, 3, "alice 3", 0}, {b2.ID, 4, "b2", 0}}, 4},
				{"alice", p3.ID, []got{{b2.ID, 4, "b2", 0}}, 4},
				{"alice", b2.ID, nil, 4},
				{"bob", b1.ID, []got{{p2.ID, 2, "bob 2", 0}, {b2.ID, 3, "b2", 0}}, 3},
				{"bob", p2.ID, []got{{b2.ID, 3, "b2", 0}}, 3},
			} {
				notes, unread := e.catchUp(acme, c.user, c.since)
				require.Equal(t, c.want, notes, "%s since %s", c.user, c.since)
				require.Equal(t, c.unread, unread)
			}

			// Cursors the user does not see: another user's, another
			// tenant's user of the same id, a user created after it.
			require.NoError(t, e.st.UpsertUser(ctx, domain.User{TenantID: acme, ID: "carol"}))
			for _, c := range []struct {
				tenant domain.TenantID
				user   domain.UserID
				since  string
			}{{acme, "bob", p1.ID}, {other, "alice", b1.ID}, {acme, "carol", b2.ID}} {
				_, status, err := e.tryDial(c.tenant, c.user, dialOpts{since: c.since})
				require.Error(t, err)
				require.Equal(t, http.StatusBadRequest, status, "%s/%s since %s", c.tenant, c.user, c.since)
			}

			// Reading a broadcast tells the reader's sockets only.
			require.NoError(t, e.svc.MarkRead(ctx, acme, "alice", b1.ID))
			f := alice.next()
			require.Equal(t, FrameRead, f.Type)
			require.Equal(t, []string{b1.ID}, f.IDs)
			f = alice.next()
			require.Equal(t, FrameUnreadCount, f.Type)
			require.Equal(t, 3, *f.UnreadCount)
			b3 := e.broadcast(acme, "b3", "alice")
			alice.expect(got{b3.ID, 5, "b3", 4})
			bob.expect(got{b3.ID, 4, "b3", 4}) // no read frame before it, count untouched
		})
	}
}

// Reconnecting while broadcasts and personal notifications are committed
// and pushed: from its cursor on, the socket gets every seq once, in
// order, each the notification the store has at that seq.
func TestStoredOnceBroadcastsReconnectWithoutGapOrDuplicate(t *testing.T) {
	t.Parallel()
	for name, open := range storeBackends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newStoreEnv(t, open(t))
			ctx := context.Background()
			const acme = domain.TenantID("acme")
			for _, u := range []domain.UserID{"alice", "bob"} {
				require.NoError(t, e.st.UpsertUser(ctx, domain.User{TenantID: acme, ID: u}))
			}
			var cursors []domain.Notification // alice's, to reconnect from
			for i := range 4 {
				cursors = append(cursors, e.send(acme, "alice", fmt.Sprintf("before %d", i)), e.broadcast(acme, fmt.Sprintf("b before %d", i), "alice"))
			}
			// Each round adds one to alice's inbox: two of three are
			// broadcasts, the third a personal one (and one for bob).
			const rounds = 40
			published := make(chan error, 1)
			go func() {
				for i := range rounds {
					var err error
					switch i % 3 {
					case 0, 1:
						_, err = e.tryBroadcast(acme, fmt.Sprintf("b %d", i), "alice")
					default:
						if _, err = e.trySend(acme, "alice", fmt.Sprintf("p %d", i)); err == nil {
							_, err = e.trySend(acme, "bob", fmt.Sprintf("bob %d", i))
						}
					}
					if err != nil {
						published <- err
						return
					}
				}
				published <- nil
			}()
			// Sockets opened meanwhile, each from another cursor (personal
			// and broadcast ones in turn).
			type sock struct {
				c     *client
				after int64
			}
			var socks []sock
			for i, n := range cursors {
				socks = append(socks, sock{e.dial(acme, "alice", dialOpts{since: n.ID}), int64(i + 1)})
			}
			require.NoError(t, <-published)
			final, err := e.st.MaxSeq(ctx, acme, "alice")
			require.NoError(t, err)
			require.Equal(t, int64(len(cursors)+rounds), final)
			stored, err := e.st.NotificationsAfter(ctx, acme, "alice", 0, 1000)
			require.NoError(t, err)
			require.Len(t, stored, int(final))
			for _, s := range socks {
				last := s.after
				for last < final {
					f := s.c.next()
					if f.Type != FrameNotification {
						continue
					}
					require.Equal(t, last+1, f.Notification.Seq, "socket from seq %d: no gap, no duplicate", s.after)
					require.Equal(t, stored[last].ID, f.Notification.ID, "seq %d is the stored one", last+1)
					last = f.Notification.Seq
				}
			}
		})
	}
}
