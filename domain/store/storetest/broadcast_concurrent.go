package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// sentBroadcast is a broadcast some goroutine stored, with the recipients
// InsertBroadcast returned.
type sentBroadcast struct {
	n  *domain.Notification
	rs []notification.BroadcastRecipient
}

// writes collects what concurrent writers stored.
type writes struct {
	mu         sync.Mutex
	personal   map[notification.InboxKey][]*domain.Notification
	broadcasts map[domain.TenantID][]sentBroadcast
}

func newWrites() *writes {
	return &writes{personal: map[notification.InboxKey][]*domain.Notification{}, broadcasts: map[domain.TenantID][]sentBroadcast{}}
}

func (w *writes) addPersonal(ns ...*domain.Notification) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range ns {
		k := key(n.TenantID, n.UserID)
		w.personal[k] = append(w.personal[k], n)
	}
}

func (w *writes) addBroadcast(n *domain.Notification, rs []notification.BroadcastRecipient) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.broadcasts[n.TenantID] = append(w.broadcasts[n.TenantID], sentBroadcast{n, rs})
}

// requireInboxOf reads one user's inbox after concurrent writes and checks
// it against what was written: seqs 1..N without duplicates, every personal
// notification of the user at the seq its insert returned, exactly the
// broadcasts of seen (ids) at the position each one's recipient entry for
// the user returned, none of the tenant's other broadcasts, and everything
// unread. It returns the ids of the broadcasts in inbox order.
func requireInboxOf(t *testing.T, s *sqlstore.Store, w *writes, tenant domain.TenantID, user domain.UserID, seen map[string]bool) []string {
	t.Helper()
	ctx := ctxFor(t)
	k := key(tenant, user)
	list, err := s.NotificationsAfter(ctx, tenant, user, 0, 1000)
	require.NoError(t, err)
	pos := map[string]int64{}
	var order []string
	for i, n := range list {
		require.Equal(t, int64(i+1), n.Seq, "seqs of %s/%s are 1..N in order", tenant, user)
		require.Equal(t, user, n.UserID)
		require.Nil(t, n.ReadAt)
		_, dup := pos[n.ID]
		require.False(t, dup, "%s/%s sees %s twice", tenant, user, n.ID)
		pos[n.ID] = n.Seq
		if seen[n.ID] {
			order = append(order, n.ID)
		}
	}
	for _, p := range w.personal[k] {
		require.Equal(t, p.Seq, pos[p.ID], "personal %q of %s/%s at the seq its insert returned", p.Title, tenant, user)
	}
	for _, b := range w.broadcasts[tenant] {
		i := slices.IndexFunc(b.rs, func(r notification.BroadcastRecipient) bool { return r.UserID == user })
		if !seen[b.n.ID] {
			require.Equal(t, -1, i, "%s/%s is a recipient of %q but must not be", tenant, user, b.n.Title)
			require.NotContains(t, pos, b.n.ID, "%s/%s sees %q but must not", tenant, user, b.n.Title)
			continue
		}
		require.GreaterOrEqual(t, i, 0, "%s/%s is no recipient of %q", tenant, user, b.n.Title)
		require.Equal(t, b.rs[i].Seq, pos[b.n.ID], "position of %q for %s/%s: as InsertBroadcast returned and as read", b.n.Title, tenant, user)
	}
	require.Len(t, list, len(w.personal[k])+len(order), "%s/%s: its personal notifications and its broadcasts, nothing else", tenant, user)
	requireInboxHead(t, s, tenant, user, int64(len(list)), len(list))
	return order
}

// allOf is the set of ids of a tenant's broadcasts.
func (w *writes) allOf(tenant domain.TenantID) map[string]bool {
	out := map[string]bool{}
	for _, b := range w.broadcasts[tenant] {
		out[b.n.ID] = true
	}
	return out
}

// Broadcasts of two tenants stored while other goroutines insert personal
// notifications (one by one, in batches, directly) for the same users:
// each inbox is 1..N, every insert's returned seq is where the
// notification is read, every user has every broadcast of their tenant in
// the same (commit) order, and counts add up.
func testBroadcastConcurrentWithPersonal(t *testing.T, s *sqlstore.Store) {
	ctx := ctxFor(t)
	users := []domain.UserID{"u1", "u2", "u3", "u4"}
	for _, u := range users {
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: u}))
	}
	require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantB, ID: "u1"}))
	w := newWrites()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	start := make(chan struct{})
	for p := range 4 {
		wg.Go(func() {
			<-start
			rng := rand.New(rand.NewPCG(uint64(p), 7))
			for i := range 12 {
				var ns []*domain.Notification
				var err error
				title := fmt.Sprintf("w%d #%d", p, i)
				switch i % 3 {
				case 0:
					ns = []*domain.Notification{newNotification(tenantA, users[rng.IntN(len(users))], title)}
					err = s.InsertNotification(ctx, ns[0])
				case 1:
					ns = []*domain.Notification{newNotification(tenantA, users[p], title), newNotification(tenantA, users[(p+1)%4], title),
						newNotification(tenantA, users[p], title+"'")}
					_, err = s.InsertNotificationsUnread(ctx, ns)
				default:
					ns = []*domain.Notification{newNotification(tenantA, users[(p+2)%4], title), newNotification(tenantB, "u1", title)}
					_, err = s.InsertDirect(ctx, []notification.Bulk{completedBulk(tenantA, users[(p+2)%4]), completedBulk(tenantB, "u1")}, ns)
				}
				if err != nil {
					errs <- fmt.Errorf("personal writer %d: %w", p, err)
					return
				}
				w.addPersonal(ns...)
			}
		})
	}
	for b := range 3 {
		wg.Go(func() {
			<-start
			for i := range 8 {
				tenant := tenantA
				if b == 2 && i%2 == 0 {
					tenant = tenantB
				}
				n := newBroadcast(tenant, fmt.Sprintf("bcast %d #%d", b, i))
				rs, err := insertBroadcastEitherWay(ctx, s, n, i)
				if err != nil {
					errs <- fmt.Errorf("broadcaster %d: %w", b, err)
					return
				}
				w.addBroadcast(n, rs)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, w.broadcasts[tenantA], 20)
	require.Len(t, w.broadcasts[tenantB], 4)
	var first []string
	for _, u := range users {
		order := requireInboxOf(t, s, w, tenantA, u, w.allOf(tenantA))
		require.Len(t, order, 20)
		if first == nil {
			first = order
		}
		require.Equal(t, first, order, "every user of a tenant has its broadcasts in the same order")
	}
	requireInboxOf(t, s, w, tenantB, "u1", w.allOf(tenantB))
	for _, b := range w.broadcasts[tenantA] {
		require.Len(t, b.rs, len(users))
	}
}

// Users created (every way there is) while broadcasts are stored: each
// sees exactly the broadcasts committed after it became known (a suffix of
// the tenant's broadcasts in commit order, shorter for a later user), and
// is a recipient of exactly those.
func testBroadcastConcurrentNewUsers(t *testing.T, s *sqlstore.Store) {
	ctx := ctxFor(t)
	for _, u := range []domain.UserID{"old1", "old2"} {
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: u}))
	}
	w := newWrites()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	start := make(chan struct{})
	for b := range 2 {
		wg.Go(func() {
			<-start
			for i := range 12 {
				n := newBroadcast(tenantA, fmt.Sprintf("bcast %d #%d", b, i))
				rs, err := insertBroadcastEitherWay(ctx, s, n, i)
				if err != nil {
					errs <- err
					return
				}
				w.addBroadcast(n, rs)
			}
		})
	}
	const fresh = 12
	wg.Go(func() {
		<-start
		for i := range fresh {
			u := domain.UserID(fmt.Sprintf("new%02d", i))
			var err error
			switch i % 3 {
			case 0:
				err = s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: u})
			case 1:
				n := newNotification(tenantA, u, "first")
				if err = s.InsertNotification(ctx, n); err == nil {
					w.addPersonal(n)
				}
			default:
				// A new user's figures are 0 and 0, whatever the
				// broadcasts committing meanwhile.
				var seqs []int64
				var unread []int
				seqs, unread, err = s.RecordInboxHeads(ctx, []domain.User{{TenantID: tenantA, ID: u}}, []domain.TenantID{tenantA}, []domain.UserID{u})
				if err == nil && (seqs[0] != 0 || unread[0] != 0) {
					err = fmt.Errorf("RecordInboxHeads of new user %s read seq %d, unread %d; want 0 and 0", u, seqs[0], unread[0])
				}
			}
			if err != nil {
				errs <- err
				return
			}
		}
	})
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	all := w.allOf(tenantA)
	order := requireInboxOf(t, s, w, tenantA, "old1", all)
	require.Len(t, order, 24)
	require.Equal(t, order, requireInboxOf(t, s, w, tenantA, "old2", all))
	prev := len(order)
	for i := range fresh {
		u := domain.UserID(fmt.Sprintf("new%02d", i))
		// The broadcasts u is a recipient of are the ones it must see.
		seen := map[string]bool{}
		for _, b := range w.broadcasts[tenantA] {
			if slices.ContainsFunc(b.rs, func(r notification.BroadcastRecipient) bool { return r.UserID == u }) {
				seen[b.n.ID] = true
			}
		}
		got := requireInboxOf(t, s, w, tenantA, u, seen)
		if len(got) > 0 {
			require.Equal(t, order[len(order)-len(got):], got, "%s sees the broadcasts committed after it was created", u)
		}
		require.LessOrEqual(t, len(got), prev, "%s was created after the users before it", u)
		prev = len(got)
	}
}

// Concurrent marks of one broadcast by one user change it once; marks of
// two users, read-alls, broadcasts and personal inserts racing each other
// leave every inbox 1..N with its unread count (UnreadCount, InboxHeads,
// the unread list) equal to what it shows unread.
func testBroadcastConcurrentReadState(t *testing.T, s *sqlstore.Store) {
	ctx := ctxFor(t)
	for _, u := range []domain.UserID{"a", "b"} {
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: u}))
	}
	var ids []string
	for i := range 6 {
		ids = append(ids, insertNotifications(t, s, tenantA, "a", 1)[0].ID)
		n := newBroadcast(tenantA, fmt.Sprintf("b%d", i))
		_, err := s.InsertBroadcast(ctx, n)
		require.NoError(t, err)
		ids = append(ids, n.ID)
	}
	// Racing marks of the same id: exactly one changes it.
	for _, id := range ids {
		for _, read := range []bool{true, false} {
			var wg sync.WaitGroup
			start := make(chan struct{})
			changed := make(chan bool, 4)
			for range 4 {
				wg.Go(func() {
					<-start
					var c bool
					var err error
					if read {
						c, err = s.MarkRead(ctx, tenantA, "a", id, at(0))
					} else {
						c, err = s.MarkUnread(ctx, tenantA, "a", id)
					}
					if err != nil {
						t.Error(err)
					}
					changed <- c
				})
			}
			close(start)
			wg.Wait()
			close(changed)
			n := 0
			for c := range changed {
				if c {
					n++
				}
			}
			require.Equal(t, 1, n, "racing marks (read %v) of %s: exactly one changes it", read, id)
		}
		requireInboxHead(t, s, tenantA, "a", 12, 12)
	}

	// Everything at once.
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 6 {
		wg.Go(func() {
			<-start
			rng := rand.New(rand.NewPCG(uint64(g), 11))
			for range 20 {
				var err error
				id := ids[rng.IntN(len(ids))]
				switch rng.IntN(7) {
				case 0:
					_, err = s.MarkRead(ctx, tenantA, "a", id, at(1))
				case 1:
					_, err = s.MarkUnread(ctx, tenantA, "a", id)
				case 2:
					_, err = s.MarkAllRead(ctx, tenantA, "a", at(2))
				case 3:
					_, err = s.InsertBroadcast(ctx, newBroadcast(tenantA, "racing"))
				case 4:
					err = s.InsertNotification(ctx, newNotification(tenantA, "a", "racing"))
				case 5:
					_, err = s.MarkRead(ctx, tenantA, "b", ids[1+2*rng.IntN(6)], at(3)) // a broadcast of b's
				default:
					_, err = s.MarkUnread(ctx, tenantA, "b", ids[1+2*rng.IntN(6)])
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for _, u := range []domain.UserID{"a", "b"} {
		list, err := s.NotificationsAfter(ctx, tenantA, u, 0, 1000)
		require.NoError(t, err)
		unread := 0
		for i, n := range list {
			require.Equal(t, int64(i+1), n.Seq)
			if n.ReadAt == nil {
				unread++
			}
		}
		requireInboxHead(t, s, tenantA, u, int64(len(list)), unread)
		got, err := s.ListNotifications(ctx, tenantA, u, notification.ListParams{Status: notification.StatusUnread, Limit: 200})
		require.NoError(t, err)
		require.Len(t, got, unread, "the unread list of %s agrees with its count", u)
	}
}
