package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// broadcastOnceTests check stored-once tenant broadcasts (InsertBroadcast,
// migration 00018): one row per broadcast, yet every inbox reads exactly
// as if each known user had been given their own row, with the per-user
// seq contiguous in commit order. The tests keep an inboxModel next to the
// store and read everything back through the notification.Store API.
var broadcastOnceTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"ReachesTheKnownUsersOfItsTenantOnly":    testBroadcastReachesKnownUsersOnly,
	"PositionsInterleaveWithEveryInsertPath": testBroadcastPositionsInterleave,
	"ListsPagesAndCursors":                   testBroadcastListsPagesAndCursors,
	"ReadStateIsPerUser":                     testBroadcastReadStateIsPerUser,
	"MarkAllReadCountsBroadcasts":            testBroadcastMarkAllRead,
	"RoundTripAndDefaults":                   testBroadcastRoundTrip,
	"ForeignAndMalformedInput":               testBroadcastForeignAndMalformed,
	"JoinsASurroundingTransaction":           testBroadcastJoinsTx,
	"PageSizesClamped":                       testBroadcastPageSizesClamped,
	"RandomOperationsMatchTheModel":          testBroadcastRandomOperations,
	"ConcurrentWithPersonalInserts":          testBroadcastConcurrentWithPersonal,
	"ConcurrentNewUsersSeeASuffix":           testBroadcastConcurrentNewUsers,
	"ConcurrentReadStateChanges":             testBroadcastConcurrentReadState,
	"HostileUserIDs":                         testBroadcastHostileUserIDs,
}

// Recipients whose ids hold anything a packed or delimited encoding could
// trip on (the PostgreSQL path reads them packed in one text value) come
// back whole, each with its own position and count. Compared as a set:
// their order is the database's collation, not Go's.
func testBroadcastHostileUserIDs(t *testing.T, s *sqlstore.Store) {
	ctx := ctxFor(t)
	ids := append([]string{"1:a;2,3;", "7:", ";", ",", ":", "0", "-1", "12:abcdefghijkl0,0;", "a b", "🚀;:"}, hostile...)
	for _, id := range ids {
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: domain.UserID(id)}))
	}
	require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantB, ID: "1:a;2,3;"}))
	// One of them has a personal notification first: seq and count 2.
	require.NoError(t, s.InsertNotification(ctx, newNotification(tenantA, domain.UserID(ids[0]), "personal")))
	for round := 1; round <= 2; round++ {
		rs, err := s.InsertBroadcast(ctx, newBroadcast(tenantA, fmt.Sprintf("round %d", round)))
		require.NoError(t, err)
		got := map[domain.UserID][2]int64{}
		for _, r := range rs {
			got[r.UserID] = [2]int64{r.Seq, int64(r.Unread)}
		}
		want := map[domain.UserID][2]int64{}
		for _, id := range ids {
			want[domain.UserID(id)] = [2]int64{int64(round), int64(round)}
		}
		want[domain.UserID(ids[0])] = [2]int64{int64(round + 1), int64(round + 1)}
		require.Len(t, rs, len(ids), "round %d", round)
		require.Equal(t, want, got, "round %d", round)
	}
}

// A broadcast reaches every user of its tenant known when it commits,
// however they became known (UpsertUser, a personal notification,
// RecordInboxHeads), and nobody else: not the same user id in another
// tenant, not a user created later (who cannot read, unread, resolve or
// page from it either), not an unknown user. Updating a known user
// (UpsertUser, RecordInboxHeads) keeps the broadcasts they see.
func testBroadcastReachesKnownUsersOnly(t *testing.T, s *sqlstore.Store) {
	ctx := ctxFor(t)
	m := newInboxModel(t, s)
	m.upsert(tenantA, "u1")
	m.personal(tenantA, "u2", "u2 first") // becomes known by its first notification
	m.record(tenantA, "u3", "Three")      // becomes known by its socket's record
	m.personal(tenantB, "u1", "B's u1 first")
	m.upsert(tenantB, "u9")
	m.checkAll(false)

	b1 := m.broadcast(tenantA, "b1")
	m.checkAll(false)
	requireInboxHead(t, s, tenantB, "u1", 1, 1) // the same user id in tenant B: untouched

	// Users known after b1 do not see it.
	m.upsert(tenantA, "u4")
	m.personal(tenantA, "u5", "u5 first")
	m.record(tenantA, "u6", "Six")
	require.NoError(t, s.UpsertUsers(ctx, []domain.User{{TenantID: tenantA, ID: "u7"}, {TenantID: tenantA, ID: "u1", Name: "again"}}))
	m.know(tenantA, "u7")
	for _, u := range []domain.UserID{"u4", "u5", "u6", "u7", "nobody"} {
		_, err := s.MarkRead(ctx, tenantA, u, b1.ID, at(0))
		requireNotFound(t, err, "%s was not known when b1 committed", u)
		_, err = s.MarkUnread(ctx, tenantA, u, b1.ID)
		requireNotFound(t, err)
		_, err = s.NotificationSeq(ctx, tenantA, u, b1.ID)
		requireNotFound(t, err)
		_, err = s.ListNotifications(ctx, tenantA, u, notification.ListParams{Before: b1.ID})
		requireNotFound(t, err)
	}
	m.checkAll(false)
	// An unknown user reads an empty inbox whatever the tenant broadcast.
	requireInboxHead(t, s, tenantA, "nobody", 0, 0)
	none, err := s.NotificationsAfter(ctx, tenantA, "nobody", 0, 100)
	require.NoError(t, err)
	require.Empty(t, none)
	none, err = s.ListNotifications(ctx, tenantA, "nobody", notification.ListParams{})
	require.NoError(t, err)
	require.Empty(t, none)
	seqs, unread, err := s.InboxHeads(ctx, []domain.TenantID{tenantA, tenantA, tenantB}, []domain.UserID{"nobody", "u1", "u3"})
	require.NoError(t, err)
	require.Equal(t, []int64{0, 1, 0}, seqs, "u3 of tenant B is unknown")
	require.Equal(t, []int{0, 1, 0}, unread)

	m.broadcast(tenantA, "b2") // now u1..u7 of A
	m.broadcast(tenantB, "bB") // u1 and u9 of B only
	m.personal(tenantB, "u1", "B's u1 second")
	m.broadcast(tenantA, "b3")
	m.checkAll(false)

	// Known users updated after the broadcasts still see them all.
	m.upsert(tenantA, "u1", "u4")
	m.record(tenantA, "u3", "Three renamed")
	m.record(tenantA, "u2", "Two")
	m.checkAll(true)
}

// Personal notifications of every insert path (InsertNotification,
// InsertNotifications, InsertNotificationsUnread, InsertDirect, stored read
// or not) and broadcasts, interleaved for several users: each insert
// returns the position it took, every inbox reads 1..N in commit order.
func testBroadcastPositionsInterleave(t *testing.T, s *sqlstore.Store) {
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a", "b", "c")
	m.upsert(tenantB, "a")

	m.personal(tenantA, "a", "a1")
	m.broadcast(tenantA, "b1") // a:2 b:1 c:1
	m.checkAll(false)
	ns := []*domain.Notification{newNotification(tenantA, "b", "b-x"), newNotification(tenantA, "a", "a-x"), newNotification(tenantA, "b", "b-y")}
	require.NoError(t, s.InsertNotifications(ctxFor(t), ns))
	m.added(ns...)
	m.broadcast(tenantA, "b2")
	m.batch(tenantA, "unread batch", "c", "a", "c")
	m.direct("direct", key(tenantA, "a"), key(tenantA, "c"), key(tenantB, "a"), key(tenantA, "a"))
	m.broadcast(tenantA, "b3")
	m.broadcast(tenantA, "b4") // two in a row
	m.checkAll(false)

	read := newNotification(tenantA, "b", "stored read")
	r := at(time.Hour)
	read.ReadAt = &r
	require.NoError(t, s.InsertNotification(ctxFor(t), read))
	m.added(read)
	m.broadcast(tenantB, "B b1")
	m.direct("direct 2", key(tenantB, "a"), key(tenantA, "b"))
	m.broadcast(tenantA, "b5")
	m.personal(tenantA, "c", "c last")
	m.checkAll(true)
}

// ListNotifications with broadcasts read and unread among personal ones:
// newest first, every status, every id as cursor, small pages (checked by
// the model's full check), and the limit edges.
func testBroadcastListsPagesAndCursors(t *testing.T, s *sqlstore.Store) {
	ctx := ctxFor(t)
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a", "b")
	var bs []*domain.Notification
	var ps []*domain.Notification
	for i := range 4 {
		ps = append(ps, m.personal(tenantA, "a", fmt.Sprintf("p%d", i)))
		bs = append(bs, m.broadcast(tenantA, fmt.Sprintf("b%d", i)))
		if i%2 == 0 {
			bs = append(bs, m.broadcast(tenantA, fmt.Sprintf("b%d'", i)))
		}
	}
	m.markRead(tenantA, "a", bs[0].ID, at(time.Hour))
	m.markRead(tenantA, "a", bs[3].ID, at(2*time.Hour))
	m.markRead(tenantA, "a", ps[1].ID, at(3*time.Hour))
	m.markRead(tenantA, "b", bs[1].ID, at(4*time.Hour))
	m.check(tenantA, "a")
	m.check(tenantA, "b")

	// Limits: 1 is the newest (a broadcast), 0 the default.
	got, err := s.ListNotifications(ctx, tenantA, "a", notification.ListParams{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []string{bs[len(bs)-1].ID}, notificationIDs(got))
	got, err = s.ListNotifications(ctx, tenantA, "a", notification.ListParams{Status: notification.StatusRead, Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []string{bs[3].ID}, notificationIDs(got), "the newest read one")
	got, err = s.ListNotifications(ctx, tenantA, "a", notification.ListParams{Status: notification.StatusUnread, Before: bs[3].ID, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{ps[2].ID, bs[2].ID}, notificationIDs(got), "a read broadcast is a cursor of the unread list")
	got, err = s.ListNotifications(ctx, tenantA, "a", notification.ListParams{Before: ps[0].ID})
	require.NoError(t, err)
	require.Empty(t, got, "nothing is older than the first")
	got, err = s.ListNotifications(ctx, tenantA, "a", notification.ListParams{})
	require.NoError(t, err)
	require.Len(t, got, len(m.inbox[key(tenantA, "a")]))
	_, err = s.ListNotifications(ctx, tenantA, "a", notification.ListParams{Status: "bogus"})
	requireInvalid(t, err)
}

// Reading or unreading a broadcast changes only that user's state and
// count, once (changed is false the second time); another recipient's
// read_at and count stay as they were.
func testBroadcastReadStateIsPerUser(t *testing.T, s *sqlstore.Store) {
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a", "b")
	m.upsert(tenantB, "a")
	m.personal(tenantA, "a", "pa")
	m.personal(tenantA, "b", "pb")
	b1 := m.broadcast(tenantA, "b1")
	b2 := m.broadcast(tenantA, "b2")
	bB := m.broadcast(tenantB, "bB")
	m.checkAll(false)

	steps := []func(){
		func() { m.markRead(tenantA, "a", b1.ID, at(time.Hour)) },
		func() { m.markRead(tenantA, "a", b1.ID, at(2*time.Hour)) }, // already: unchanged, the first time kept
		func() { m.markUnread(tenantA, "b", b1.ID) },                // b's is unread: unchanged
		func() { m.markRead(tenantA, "b", b2.ID, at(3*time.Hour)) },
		func() { m.markRead(tenantB, "a", bB.ID, at(4*time.Hour)) },
		func() { m.markUnread(tenantA, "a", b1.ID) },
		func() { m.markUnread(tenantA, "a", b1.ID) }, // already
		func() { m.markRead(tenantA, "a", b2.ID, at(5*time.Hour)) },
		func() { m.markRead(tenantA, "a", b1.ID, at(6*time.Hour)) },
		func() { m.markUnread(tenantA, "b", b2.ID) },
		func() { m.markUnread(tenantA, "b", b2.ID) },
		func() { m.markRead(tenantA, "a", bB.ID, at(0)) }, // another tenant's: not found
		func() { m.markUnread(tenantB, "a", b1.ID) },      // likewise
	}
	for _, step := range steps {
		step()
		m.checkAll(false)
	}
	m.broadcast(tenantA, "b3")
	m.checkAll(true)
}

// MarkAllRead marks personal notifications and broadcasts and counts both;
// a broadcast after it is unread; read-all again marks just that one.
func testBroadcastMarkAllRead(t *testing.T, s *sqlstore.Store) {
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a", "b")
	m.personal(tenantA, "a", "p1")
	b1 := m.broadcast(tenantA, "b1")
	m.personal(tenantA, "a", "p2")
	m.broadcast(tenantA, "b2")
	m.broadcast(tenantA, "b3")
	m.markRead(tenantA, "a", b1.ID, at(time.Hour)) // already read ones are not counted again
	m.markAllRead(tenantA, "a", at(2*time.Hour))   // p1, p2, b2, b3
	m.checkAll(false)
	m.markAllRead(tenantA, "a", at(3*time.Hour)) // nothing
	b4 := m.broadcast(tenantA, "b4")
	m.checkAll(false)
	m.personal(tenantA, "a", "p3")
	m.markAllRead(tenantA, "a", at(4*time.Hour)) // b4, p3
	m.markUnread(tenantA, "a", b4.ID)
	m.markUnread(tenantA, "a", b1.ID)
	m.checkAll(false)
	m.markAllRead(tenantA, "b", at(5*time.Hour)) // b's own inbox: four broadcasts
	m.markAllRead(tenantA, "a", at(6*time.Hour))
	m.broadcast(tenantA, "b5")
	m.checkAll(true)
}

// What InsertBroadcast stores reads back as given (hostile text, data byte
// for byte like a personal notification's), with its defaults: a new
// UUID v7 for an empty id, the current time for a zero created_at, times
// normalised to UTC microseconds, seq left 0.
func testBroadcastRoundTrip(t *testing.T, s *sqlstore.Store) {
	ctx := ctxFor(t)
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a", "b")
	for i, h := range append(bcastHostile, hostile...) {
		data, err := json.Marshal(map[string]any{h: h, "i": i})
		require.NoError(t, err)
		n := &domain.Notification{TenantID: tenantA, Type: h, Severity: domain.SeverityCritical, Title: h,
			Body: h, ActionURL: "/x?" + h, Data: data, CreatedAt: at(time.Duration(i) * time.Second)}
		rs, err := s.InsertBroadcast(ctx, n)
		require.NoError(t, err, "hostile string %d", i)
		_, err = domain.ParseID("id", n.ID)
		require.NoError(t, err, "an empty id gets a new one")
		require.Equal(t, stored(at(time.Duration(i)*time.Second)), n.CreatedAt, "normalised to what is stored")
		m.broadcasted(n, rs)
	}
	m.checkAll(false)

	// Data byte for byte.
	n := newBroadcast(tenantA, "bytes")
	n.Data = []byte(`{"z":  1, "a" : [1,2], "dup": "keys order kept"}`)
	rs, err := s.InsertBroadcast(ctx, n)
	require.NoError(t, err)
	m.broadcasted(n, rs)
	got, err := s.ListNotifications(ctx, tenantA, "b", notification.ListParams{Limit: 1})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, string(n.Data), string(got[0].Data), "data byte for byte")
	want := *n
	want.UserID, want.Seq = "b", rs[1].Seq
	require.Equal(t, want, got[0], "what the caller holds after insert (with the user and its seq) is what is read back")

	// Missing data is an empty object; a zero created_at is now.
	bare := &domain.Notification{TenantID: tenantA, Type: "AlertNotification", Severity: domain.SeverityCritical, Title: "bare"}
	before := time.Now().Add(-time.Minute)
	rs, err = s.InsertBroadcast(ctx, bare)
	require.NoError(t, err)
	require.False(t, bare.CreatedAt.IsZero())
	require.True(t, bare.CreatedAt.After(before), "created_at defaults to now")
	after, err := s.NotificationsAfter(ctx, tenantA, "a", rs[0].Seq-1, 1)
	require.NoError(t, err)
	require.Len(t, after, 1)
	require.Equal(t, bare.ID, after[0].ID)
	require.JSONEq(t, "{}", string(after[0].Data))
	bare.Data = after[0].Data
	m.broadcasted(bare, rs)
	m.checkAll(true)
}

// Another tenant's broadcast id is not found for every method taking an
// id; a broadcast draft with a user, a read time, no tenant, bad data, a
// bad or taken id fails and writes nothing (the next broadcast takes the
// next position of every user); a tenant without users reaches nobody.
func testBroadcastForeignAndMalformed(t *testing.T, s *sqlstore.Store) {
	ctx := ctxFor(t)
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a", "b")
	m.upsert(tenantB, "a")
	m.personal(tenantA, "a", "pa")
	bA := m.broadcast(tenantA, "bA")
	bB := m.broadcast(tenantB, "bB")
	for _, c := range []struct {
		tenant domain.TenantID
		id     string
	}{{tenantA, bB.ID}, {tenantB, bA.ID}} {
		_, err := s.MarkRead(ctx, c.tenant, "a", c.id, at(0))
		requireNotFound(t, err)
		_, err = s.MarkUnread(ctx, c.tenant, "a", c.id)
		requireNotFound(t, err)
		_, err = s.NotificationSeq(ctx, c.tenant, "a", c.id)
		requireNotFound(t, err)
		_, err = s.ListNotifications(ctx, c.tenant, "a", notification.ListParams{Before: c.id})
		requireNotFound(t, err)
	}
	m.checkAll(false)

	bad := map[string]func(n *domain.Notification){
		"a user":         func(n *domain.Notification) { n.UserID = "a" },
		"an unknown one": func(n *domain.Notification) { n.UserID = "someone" },
		"read":           func(n *domain.Notification) { r := at(0); n.ReadAt = &r },
		"no tenant":      func(n *domain.Notification) { n.TenantID = "" },
		"bad data":       func(n *domain.Notification) { n.Data = []byte(`{"unterminated`) },
		"bad id":         func(n *domain.Notification) { n.ID = "not-a-uuid" },
		"broadcast id":   func(n *domain.Notification) { n.ID = bA.ID },
	}
	for name, spoil := range bad {
		n := newBroadcast(tenantA, "bad: "+name)
		spoil(n)
		rs, err := s.InsertBroadcast(ctx, n)
		require.Error(t, err, name)
		require.Empty(t, rs, name)
		if name == "broadcast id" {
			require.ErrorIs(t, err, domain.ErrConflict)
		}
		m.checkAll(false)
	}
	_, err := s.InsertBroadcast(ctx, nil)
	require.Error(t, err)
	// The failed ones took no position: the next broadcast is N+1 for
	// everyone (m.broadcast checks it).
	m.broadcast(tenantA, "after the failures")
	m.checkAll(true)

	// A tenant nobody is known in: no recipient.
	n := newBroadcast("empty-tenant", "to nobody")
	rs, err := s.InsertBroadcast(ctx, n)
	if err == nil {
		require.Empty(t, rs)
	}
	require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: "empty-tenant", ID: "late"}))
	requireInboxHead(t, s, "empty-tenant", "late", 0, 0)
}

// InsertBroadcast joins a surrounding transaction: its position among the
// transaction's personal inserts is the order they were made in, a user
// created earlier in it is reached, and a rollback leaves no trace.
func testBroadcastJoinsTx(t *testing.T, s *sqlstore.Store) {
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a", "b")
	var (
		p1, p2 *domain.Notification
		b      = newBroadcast(tenantA, "in tx")
		rs     []notification.BroadcastRecipient
	)
	require.NoError(t, s.InTx(ctxFor(t), func(ctx context.Context) error {
		p1 = newNotification(tenantA, "a", "before")
		if err := s.InsertNotification(ctx, p1); err != nil {
			return err
		}
		if err := s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: "c"}); err != nil {
			return err
		}
		var err error
		if rs, err = s.InsertBroadcast(ctx, b); err != nil {
			return err
		}
		p2 = newNotification(tenantA, "a", "after")
		return s.InsertNotification(ctx, p2)
	}))
	m.added(p1)
	m.know(tenantA, "c")
	m.broadcasted(b, rs)
	m.added(p2)
	m.checkAll(false)

	rolledBack := newBroadcast(tenantA, "rolled back")
	err := s.InTx(ctxFor(t), func(ctx context.Context) error {
		if _, err := s.InsertBroadcast(ctx, rolledBack); err != nil {
			return err
		}
		if err := s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: "d"}); err != nil {
			return err
		}
		if _, err := s.InsertBroadcast(ctx, newBroadcast(tenantA, "rolled back too")); err != nil {
			return err
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	_, err = s.GetUser(ctxFor(t), tenantA, "d")
	requireNotFound(t, err)
	_, err = s.NotificationSeq(ctxFor(t), tenantA, "a", rolledBack.ID)
	requireNotFound(t, err)
	m.checkAll(false)
	m.broadcast(tenantA, "after the rollback")
	m.checkAll(true)
}

// With more notifications than a page, broadcasts among them: List takes
// at most 200 (50 by default), NotificationsAfter at most 1000 (200 by
// default), both cut at the right position.
func testBroadcastPageSizesClamped(t *testing.T, s *sqlstore.Store) {
	ctx := ctxFor(t)
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a", "b")
	for i := range 130 {
		m.personal(tenantA, "a", fmt.Sprintf("p%d", i))
		if i%3 == 0 {
			m.broadcast(tenantA, fmt.Sprintf("b%d", i))
		}
	}
	want := m.inbox[key(tenantA, "a")] // 130 + 44
	require.Len(t, want, 174)
	newest := func(n int) []string { return reversed(notificationIDs(want))[:n] }
	got, err := s.ListNotifications(ctx, tenantA, "a", notification.ListParams{Limit: 1000})
	require.NoError(t, err)
	require.Equal(t, newest(174), notificationIDs(got))
	got, err = s.ListNotifications(ctx, tenantA, "a", notification.ListParams{})
	require.NoError(t, err)
	require.Equal(t, newest(50), notificationIDs(got), "50 by default")
	for range 30 {
		m.broadcast(tenantA, "more")
	}
	want = m.inbox[key(tenantA, "a")]
	got, err = s.ListNotifications(ctx, tenantA, "a", notification.ListParams{Limit: 1000})
	require.NoError(t, err)
	require.Equal(t, newest(200), notificationIDs(got), "at most 200")
	got, err = s.NotificationsAfter(ctx, tenantA, "a", 0, 0)
	require.NoError(t, err)
	requireSameNotifications(t, want[:200], got, "200 by default")
	got, err = s.NotificationsAfter(ctx, tenantA, "a", 3, 5000)
	require.NoError(t, err)
	requireSameNotifications(t, want[3:], got)
	got, err = s.NotificationsAfter(ctx, tenantA, "b", 0, 1000)
	require.NoError(t, err)
	require.Len(t, got, 74, "b sees the broadcasts only")
	m.checkAll(false)
}

// A random mix of every write, on two tenants with users joining along the
// way, matches the model (heads of everyone every 20 steps, every read of
// some users at the end).
func testBroadcastRandomOperations(t *testing.T, s *sqlstore.Store) {
	rng := rand.New(rand.NewPCG(12, 18))
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a")
	m.upsert(tenantB, "a")
	tenants := []domain.TenantID{tenantA, tenantB}
	next := 0
	pickUser := func(tenant domain.TenantID) domain.UserID {
		users := m.users(tenant)
		return users[rng.IntN(len(users))]
	}
	// pickID is one of the user's ids, or now and then one they cannot see.
	pickID := func(tenant domain.TenantID, user domain.UserID) string {
		inbox := m.inbox[key(tenant, user)]
		if len(inbox) == 0 || rng.IntN(8) == 0 {
			for id := range m.bcast {
				return id
			}
			return domain.NewID()
		}
		return inbox[rng.IntN(len(inbox))].ID
	}
	for step := range 160 {
		tenant := tenants[rng.IntN(len(tenants))]
		user := pickUser(tenant)
		when := at(time.Duration(step) * time.Second)
		switch op := rng.IntN(20); {
		case op < 2:
			next++
			u := domain.UserID(fmt.Sprintf("n%d", next))
			switch rng.IntN(3) {
			case 0:
				m.upsert(tenant, u)
			case 1:
				m.personal(tenant, u, "first of "+string(u))
			default:
				m.record(tenant, u, "recorded "+string(u))
			}
		case op < 5:
			m.broadcast(tenant, fmt.Sprintf("b%d", step))
		case op < 7:
			m.personal(tenant, user, fmt.Sprintf("p%d", step))
		case op < 8:
			m.batch(tenant, fmt.Sprintf("batch%d", step), user, pickUser(tenant), user)
		case op < 9:
			m.direct(fmt.Sprintf("direct%d", step), key(tenant, user), key(tenantA, pickUser(tenantA)))
		case op < 13:
			m.markRead(tenant, user, pickID(tenant, user), when)
		case op < 17:
			m.markUnread(tenant, user, pickID(tenant, user))
		case op < 18:
			m.markAllRead(tenant, user, when)
		default:
			m.record(tenant, user, fmt.Sprintf("renamed %d", step))
		}
		if step%20 == 0 {
			m.checkAll(false)
		}
	}
	m.checkAll(false)
	// Every read, for the first users and two that joined on the way.
	m.checkUsers(true, key(tenantA, "a"), key(tenantB, "a"), key(tenantA, pickUser(tenantA)), key(tenantB, pickUser(tenantB)))
}
