package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// inboxModel is what every inbox must read like, kept by the tests next to
// the store: each user's notifications in position order (personal ones
// and the broadcasts they see, each with the user's own seq and read
// state), and each tenant's known users (those a broadcast reaches). Every
// write goes through one of its methods, which makes the store write, checks
// what the write returned against the model and then updates the model;
// check and checkAll read the store back through every read method.
type inboxModel struct {
	t          *testing.T
	s          *sqlstore.Store
	inbox      map[notification.InboxKey][]domain.Notification
	known      map[domain.TenantID]map[domain.UserID]bool
	bcast      map[string]bool // ids of stored broadcasts
	bcastOrder []string        // the same, in the order stored
}

func newInboxModel(t *testing.T, s *sqlstore.Store) *inboxModel {
	return &inboxModel{t: t, s: s, inbox: map[notification.InboxKey][]domain.Notification{},
		known: map[domain.TenantID]map[domain.UserID]bool{}, bcast: map[string]bool{}}
}

func (m *inboxModel) know(tenant domain.TenantID, user domain.UserID) {
	if m.known[tenant] == nil {
		m.known[tenant] = map[domain.UserID]bool{}
	}
	m.known[tenant][user] = true
}

// users are the tenant's known users in id order.
func (m *inboxModel) users(tenant domain.TenantID) []domain.UserID {
	var out []domain.UserID
	for u := range m.known[tenant] {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// keys are every known user of every tenant.
func (m *inboxModel) keys() []notification.InboxKey {
	var out []notification.InboxKey
	for tenant := range m.known {
		for _, u := range m.users(tenant) {
			out = append(out, key(tenant, u))
		}
	}
	return out
}

func (m *inboxModel) unread(k notification.InboxKey) int {
	n := 0
	for _, x := range m.inbox[k] {
		if x.ReadAt == nil {
			n++
		}
	}
	return n
}

// upsert creates (or updates) users through UpsertUser.
func (m *inboxModel) upsert(tenant domain.TenantID, users ...domain.UserID) {
	m.t.Helper()
	for _, u := range users {
		require.NoError(m.t, m.s.UpsertUser(ctxFor(m.t), domain.User{TenantID: tenant, ID: u, Name: "name of " + string(u)}))
		m.know(tenant, u)
	}
}

// record creates (or updates) a user through RecordInboxHeads and checks
// the figures it read.
func (m *inboxModel) record(tenant domain.TenantID, user domain.UserID, name string) {
	m.t.Helper()
	seqs, unread, err := m.s.RecordInboxHeads(ctxFor(m.t), []domain.User{{TenantID: tenant, ID: user, Name: name}},
		[]domain.TenantID{tenant}, []domain.UserID{user})
	require.NoError(m.t, err)
	m.know(tenant, user)
	k := key(tenant, user)
	require.Equal(m.t, []int64{int64(len(m.inbox[k]))}, seqs, "RecordInboxHeads max seq of %s/%s", tenant, user)
	require.Equal(m.t, []int{m.unread(k)}, unread, "RecordInboxHeads unread count of %s/%s", tenant, user)
}

// added adds personal notifications the store just wrote, in slice order,
// checking the seq each got.
func (m *inboxModel) added(ns ...*domain.Notification) {
	m.t.Helper()
	for _, n := range ns {
		k := key(n.TenantID, n.UserID)
		m.know(n.TenantID, n.UserID)
		require.Equal(m.t, int64(len(m.inbox[k])+1), n.Seq, "seq of personal %q of %s/%s", n.Title, n.TenantID, n.UserID)
		m.inbox[k] = append(m.inbox[k], *n)
	}
}

// requireUnreadAfter checks the unread counts a batch insert returned.
func (m *inboxModel) requireUnreadAfter(tenant domain.TenantID, got map[domain.UserID]int, ns []*domain.Notification) {
	m.t.Helper()
	want := map[domain.UserID]int{}
	for _, n := range ns {
		want[n.UserID] = m.unread(key(tenant, n.UserID))
	}
	require.Equal(m.t, want, got, "unread counts returned by the batch")
}

// personal stores one notification through InsertNotification.
func (m *inboxModel) personal(tenant domain.TenantID, user domain.UserID, title string) *domain.Notification {
	m.t.Helper()
	n := newNotification(tenant, user, title)
	require.NoError(m.t, m.s.InsertNotification(ctxFor(m.t), n))
	m.added(n)
	return n
}

// batch stores one notification per user (a user may repeat) through
// InsertNotificationsUnread.
func (m *inboxModel) batch(tenant domain.TenantID, title string, users ...domain.UserID) []*domain.Notification {
	m.t.Helper()
	ns := make([]*domain.Notification, len(users))
	for i, u := range users {
		ns[i] = newNotification(tenant, u, fmt.Sprintf("%s %d", title, i))
	}
	got, err := m.s.InsertNotificationsUnread(ctxFor(m.t), ns)
	require.NoError(m.t, err)
	m.added(ns...)
	m.requireUnreadAfter(tenant, got, ns)
	return ns
}

// direct stores one notification per key (known users only) through
// InsertDirect, with a completed bulk per tenant.
func (m *inboxModel) direct(title string, keys ...notification.InboxKey) []*domain.Notification {
	m.t.Helper()
	ns := make([]*domain.Notification, len(keys))
	byTenant := map[domain.TenantID][]domain.UserID{}
	var tenants []domain.TenantID
	for i, k := range keys {
		ns[i] = newNotification(k.TenantID, k.UserID, fmt.Sprintf("%s %d", title, i))
		if byTenant[k.TenantID] == nil {
			tenants = append(tenants, k.TenantID)
		}
		byTenant[k.TenantID] = append(byTenant[k.TenantID], k.UserID)
	}
	var bs []notification.Bulk
	for _, tenant := range tenants {
		bs = append(bs, completedBulk(tenant, byTenant[tenant]...))
	}
	got, err := m.s.InsertDirect(ctxFor(m.t), bs, ns)
	require.NoError(m.t, err)
	m.added(ns...)
	want := map[notification.InboxKey]int{}
	for _, k := range keys {
		want[k] = m.unread(k)
	}
	require.Equal(m.t, want, got, "unread counts returned by InsertDirect")
	return ns
}

// newBroadcast is a broadcast draft of tenant, as InsertBroadcast takes it.
func newBroadcast(tenant domain.TenantID, title string) *domain.Notification {
	return &domain.Notification{
		ID: domain.NewID(), TenantID: tenant, Type: "AnnouncementNotification", Severity: domain.SeverityInfo,
		Title: title, Body: "everyone: " + title, ActionURL: "/announcements",
		Data: []byte(`{"z": 1, "a": [true, null], "s": "it's \"x\""}`), CreatedAt: at(time.Minute),
	}
}

// broadcast stores a broadcast of tenant through InsertBroadcast.
func (m *inboxModel) broadcast(tenant domain.TenantID, title string) *domain.Notification {
	m.t.Helper()
	n := newBroadcast(tenant, title)
	rs, err := m.s.InsertBroadcast(ctxFor(m.t), n)
	require.NoError(m.t, err)
	m.broadcasted(n, rs)
	return n
}

// broadcasted adds a broadcast the store just wrote to the inbox of every
// known user of its tenant, checking the recipients it returned: every
// known user in id order, each with their next position and unread count.
func (m *inboxModel) broadcasted(n *domain.Notification, rs []notification.BroadcastRecipient) {
	m.t.Helper()
	require.Empty(m.t, n.UserID)
	require.Zero(m.t, n.Seq, "InsertBroadcast leaves n.Seq 0")
	require.Nil(m.t, n.ReadAt)
	m.bcast[n.ID] = true
	m.bcastOrder = append(m.bcastOrder, n.ID)
	users := m.users(n.TenantID)
	got := make([]domain.UserID, len(rs))
	for i, r := range rs {
		got[i] = r.UserID
	}
	require.Equal(m.t, users, got, "recipients of broadcast %q: every known user of %s, in id order", n.Title, n.TenantID)
	for _, r := range rs {
		k := key(n.TenantID, r.UserID)
		x := *n
		x.UserID = r.UserID
		x.Seq = int64(len(m.inbox[k]) + 1)
		m.inbox[k] = append(m.inbox[k], x)
		require.Equal(m.t, x.Seq, r.Seq, "position of broadcast %q for %s/%s", n.Title, n.TenantID, r.UserID)
		require.Equal(m.t, m.unread(k), r.Unread, "unread count of %s/%s after broadcast %q", n.TenantID, r.UserID, n.Title)
	}
}

// find returns the index of id in the user's inbox, -1 when not there.
func (m *inboxModel) find(k notification.InboxKey, id string) int {
	return slices.IndexFunc(m.inbox[k], func(n domain.Notification) bool { return n.ID == id })
}

// markRead marks id read for the user and checks changed (and ErrNotFound
// for an id the user does not see).
func (m *inboxModel) markRead(tenant domain.TenantID, user domain.UserID, id string, when time.Time) {
	m.t.Helper()
	k := key(tenant, user)
	changed, err := m.s.MarkRead(ctxFor(m.t), tenant, user, id, when)
	i := m.find(k, id)
	if i < 0 {
		requireNotFound(m.t, err, "mark read of %s by %s/%s, who does not see it", id, tenant, user)
		return
	}
	require.NoError(m.t, err)
	require.Equal(m.t, m.inbox[k][i].ReadAt == nil, changed, "mark read of %q by %s/%s: changed", m.inbox[k][i].Title, tenant, user)
	if changed {
		r := stored(when)
		m.inbox[k][i].ReadAt = &r
	}
}

// markUnread is markRead's opposite.
func (m *inboxModel) markUnread(tenant domain.TenantID, user domain.UserID, id string) {
	m.t.Helper()
	k := key(tenant, user)
	changed, err := m.s.MarkUnread(ctxFor(m.t), tenant, user, id)
	i := m.find(k, id)
	if i < 0 {
		requireNotFound(m.t, err, "mark unread of %s by %s/%s, who does not see it", id, tenant, user)
		return
	}
	require.NoError(m.t, err)
	require.Equal(m.t, m.inbox[k][i].ReadAt != nil, changed, "mark unread of %q by %s/%s: changed", m.inbox[k][i].Title, tenant, user)
	m.inbox[k][i].ReadAt = nil
}

// markAllRead marks the user's inbox read and checks the count returned.
func (m *inboxModel) markAllRead(tenant domain.TenantID, user domain.UserID, when time.Time) {
	m.t.Helper()
	k := key(tenant, user)
	n, err := m.s.MarkAllRead(ctxFor(m.t), tenant, user, when)
	require.NoError(m.t, err)
	require.Equal(m.t, int64(m.unread(k)), n, "mark all read of %s/%s: how many it marked", tenant, user)
	r := stored(when)
	for i := range m.inbox[k] {
		if m.inbox[k][i].ReadAt == nil {
			m.inbox[k][i].ReadAt = &r
		}
	}
}

// requireSameNotification compares a notification read back with the
// model's (data as JSON).
func requireSameNotification(t *testing.T, want, got domain.Notification, msgAndArgs ...any) {
	t.Helper()
	require.JSONEq(t, string(want.Data), string(got.Data), msgAndArgs...)
	want.Data, got.Data = nil, nil
	require.Equal(t, want, got, msgAndArgs...)
}

func requireSameNotifications(t *testing.T, want, got []domain.Notification, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, notificationIDs(want), notificationIDs(got), msgAndArgs...)
	for i := range want {
		requireSameNotification(t, want[i], got[i], msgAndArgs...)
	}
}

// checkHeads checks the cheap reads of one user: the whole inbox oldest
// first with seqs 1..N, MaxSeq, UnreadCount and InboxHeads.
func (m *inboxModel) checkHeads(tenant domain.TenantID, user domain.UserID) {
	m.t.Helper()
	ctx := ctxFor(m.t)
	k := key(tenant, user)
	want := m.inbox[k]
	if want == nil {
		want = []domain.Notification{}
	}
	got, err := m.s.NotificationsAfter(ctx, tenant, user, 0, 1000)
	require.NoError(m.t, err)
	for i, n := range got {
		require.Equal(m.t, int64(i+1), n.Seq, "seqs of %s/%s are 1..N", tenant, user)
	}
	requireSameNotifications(m.t, want, got, "inbox of %s/%s, oldest first", tenant, user)
	requireInboxHead(m.t, m.s, tenant, user, int64(len(want)), m.unread(k))
}

// check reads one user's inbox back through every read method: heads,
// NotificationsAfter from every position with small pages, NotificationSeq
// of every id, ListNotifications of every status from every cursor and
// paged by 1 and 2.
func (m *inboxModel) check(tenant domain.TenantID, user domain.UserID) {
	m.t.Helper()
	m.checkHeads(tenant, user)
	ctx := ctxFor(m.t)
	k := key(tenant, user)
	want := m.inbox[k]
	for after := 0; after <= len(want); after++ {
		for _, limit := range []int{1, 2} {
			got, err := m.s.NotificationsAfter(ctx, tenant, user, int64(after), limit)
			require.NoError(m.t, err)
			requireSameNotifications(m.t, want[after:min(after+limit, len(want))], got,
				"%s/%s: NotificationsAfter(%d, %d)", tenant, user, after, limit)
		}
	}
	for i, n := range want {
		seq, err := m.s.NotificationSeq(ctx, tenant, user, n.ID)
		require.NoError(m.t, err)
		require.Equal(m.t, int64(i+1), seq, "NotificationSeq of %q for %s/%s", n.Title, tenant, user)
	}
	for _, status := range []notification.Status{notification.StatusAll, notification.StatusUnread, notification.StatusRead} {
		// newest first, filtered; pos[i] is the position of filtered[i].
		var filtered []domain.Notification
		for i := len(want) - 1; i >= 0; i-- {
			read := want[i].ReadAt != nil
			if status == notification.StatusAll || read == (status == notification.StatusRead) {
				filtered = append(filtered, want[i])
			}
		}
		if filtered == nil {
			filtered = []domain.Notification{}
		}
		got, err := m.s.ListNotifications(ctx, tenant, user, notification.ListParams{Status: status, Limit: 200})
		require.NoError(m.t, err)
		requireSameNotifications(m.t, filtered, got, "%s/%s: list %s", tenant, user, status)
		limits := []int{2}
		if status == notification.StatusAll {
			limits = []int{1, 2}
		}
		for _, limit := range limits {
			var paged []domain.Notification
			before := ""
			for range len(filtered) + 1 {
				page, err := m.s.ListNotifications(ctx, tenant, user, notification.ListParams{Status: status, Before: before, Limit: limit})
				require.NoError(m.t, err)
				require.LessOrEqual(m.t, len(page), limit)
				paged = append(paged, page...)
				if len(page) < limit {
					break
				}
				before = page[len(page)-1].ID
			}
			requireSameNotifications(m.t, filtered, paged, "%s/%s: list %s paged by %d", tenant, user, status, limit)
		}
		// Every id the user sees is a cursor, whatever its read state: the
		// page (of 2) after it is the next older ones of the status.
		for _, cursor := range want {
			older := []domain.Notification{}
			for _, n := range filtered {
				if n.Seq < cursor.Seq && len(older) < 2 {
					older = append(older, n)
				}
			}
			got, err := m.s.ListNotifications(ctx, tenant, user, notification.ListParams{Status: status, Before: cursor.ID, Limit: 2})
			require.NoError(m.t, err)
			requireSameNotifications(m.t, older, got, "%s/%s: list %s before %q (seq %d)", tenant, user, status, cursor.Title, cursor.Seq)
		}
	}
}

// checkAll checks every known user (full: with check, else checkHeads),
// and that a broadcast id is a notification only of the users who see it.
func (m *inboxModel) checkAll(full bool) {
	m.t.Helper()
	m.checkUsers(full, m.keys()...)
}

// checkUsers is checkAll for some users: with full, for each also the
// broadcasts they do not see (a few, the newest first) are no id of theirs
// for any method taking one.
func (m *inboxModel) checkUsers(full bool, keys ...notification.InboxKey) {
	m.t.Helper()
	for _, k := range keys {
		if full {
			m.check(k.TenantID, k.UserID)
		} else {
			m.checkHeads(k.TenantID, k.UserID)
		}
	}
	if !full {
		return
	}
	ctx := ctxFor(m.t)
	for _, k := range keys {
		unseen := 0
		for i := len(m.bcastOrder) - 1; i >= 0 && unseen < 4; i-- {
			id := m.bcastOrder[i]
			if m.find(k, id) >= 0 {
				continue
			}
			unseen++
			_, err := m.s.NotificationSeq(ctx, k.TenantID, k.UserID, id)
			requireNotFound(m.t, err, "broadcast %s is not a notification of %s/%s", id, k.TenantID, k.UserID)
			_, err = m.s.ListNotifications(ctx, k.TenantID, k.UserID, notification.ListParams{Before: id})
			requireNotFound(m.t, err, "broadcast %s is no cursor of %s/%s", id, k.TenantID, k.UserID)
			_, err = m.s.MarkRead(ctx, k.TenantID, k.UserID, id, at(0))
			requireNotFound(m.t, err, "broadcast %s cannot be read by %s/%s", id, k.TenantID, k.UserID)
			_, err = m.s.MarkUnread(ctx, k.TenantID, k.UserID, id)
			requireNotFound(m.t, err, "broadcast %s cannot be unread by %s/%s", id, k.TenantID, k.UserID)
		}
	}
}
