package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// broadcastBulkTests check InsertBroadcastBulk, a direct broadcast stored
// with the bulk it completes in one transaction (on PostgreSQL one round
// trip of two pipelined statements): it writes what InsertBroadcast and
// InsertBulk would have written together, or nothing.
var broadcastBulkTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"StoresTheBroadcastAndItsBulk":   testBroadcastBulkStoresBoth,
	"UnknownTenant":                  testBroadcastBulkUnknownTenant,
	"TakenIDsStoreNothing":           testBroadcastBulkTakenIDs,
	"JoinsASurroundingTransaction":   testBroadcastBulkJoinsTx,
	"RefusesAnotherTenantsBulk":      testBroadcastBulkOtherTenant,
	"RefusesMalformedInput":          testBroadcastBulkMalformed,
	"HostileValuesRoundTrip":         testBroadcastBulkHostile,
	"AfterOtherWritesKeepsPositions": testBroadcastBulkPositions,
}

// insertBroadcastEitherWay stores n through InsertBroadcast when i is even
// and through InsertBroadcastBulk when it is odd, so that concurrent tests
// check both.
func insertBroadcastEitherWay(ctx context.Context, s *sqlstore.Store, n *domain.Notification, i int) ([]notification.BroadcastRecipient, error) {
	if i%2 == 0 {
		return s.InsertBroadcast(ctx, n)
	}
	return s.InsertBroadcastBulk(ctx, n, broadcastBulk(n.TenantID))
}

// broadcastBulk is the completed bulk of an all audience, with counts and
// a resume point that InsertBroadcastBulk must replace.
func broadcastBulk(tenant domain.TenantID) notification.Bulk {
	b := newBulk(tenant)
	started := stored(at(0))
	b.Audience, b.CreatedAt = notification.Audience{All: true}, started
	b.Status, b.StartedAt, b.CompletedAt, b.Errors = notification.BulkCompleted, &started, &started, []notification.RecipientError{}
	b.Total, b.Sent, b.ResumeAfter = 99, 98, "stale"
	return b
}

// requireBulkOf reads bulk b back and checks it is b with the counts and
// resume point of recipients rs.
func requireBulkOf(t *testing.T, s *sqlstore.Store, b notification.Bulk, rs []notification.BroadcastRecipient) {
	t.Helper()
	got, err := s.GetBulk(ctxFor(t), b.TenantID, b.ID)
	require.NoError(t, err)
	want := b
	want.Total, want.Sent, want.ResumeAfter = int64(len(rs)), int64(len(rs)), ""
	if len(rs) > 0 {
		want.ResumeAfter = rs[len(rs)-1].UserID
	}
	require.Equal(t, want, got)
}

// Every known user of the tenant, and only those, gets the broadcast at
// their next position (the model checks it); the bulk is stored as given
// but for its counts and resume point, the recipients' number and the
// last id in byte order (which is not the database collation's order for
// these ids).
func testBroadcastBulkStoresBoth(t *testing.T, s *sqlstore.Store) {
	m := newInboxModel(t, s)
	m.upsert(tenantA, "b", "B", "a", "é", "Z", "z-1")
	m.upsert(tenantB, "a", "y")
	m.added(insertNotifications(t, s, tenantA, "a", 2)...)
	for round := range 3 {
		n := newBroadcast(tenantA, "with bulk")
		b := broadcastBulk(tenantA)
		rs, err := s.InsertBroadcastBulk(ctxFor(t), n, b)
		require.NoError(t, err)
		m.broadcasted(n, rs)
		require.True(t, slices.IsSortedFunc(rs, func(x, y notification.BroadcastRecipient) int {
			return compareBytes(string(x.UserID), string(y.UserID))
		}), "recipients in byte order")
		require.Equal(t, domain.UserID("é"), rs[len(rs)-1].UserID)
		requireBulkOf(t, s, b, rs)
		if round == 1 {
			m.upsert(tenantA, "late")
		}
	}
	m.checkAll(true)
	_, err := s.GetBulk(ctxFor(t), tenantB, broadcastBulk(tenantA).ID)
	requireNotFound(t, err)
}

func compareBytes(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// A tenant with no row yet (no user ever seen) is created: the broadcast
// reaches nobody and the bulk is stored with no recipients.
func testBroadcastBulkUnknownTenant(t *testing.T, s *sqlstore.Store) {
	n := newBroadcast("t-unknown", "nobody here")
	b := broadcastBulk("t-unknown")
	rs, err := s.InsertBroadcastBulk(ctxFor(t), n, b)
	require.NoError(t, err)
	require.Empty(t, rs)
	requireBulkOf(t, s, b, rs)
	// The tenant's first user does not see it; the next broadcast reaches it.
	m := newInboxModel(t, s)
	m.upsert("t-unknown", "first")
	n2 := newBroadcast("t-unknown", "somebody")
	b2 := broadcastBulk("t-unknown")
	rs, err = s.InsertBroadcastBulk(ctxFor(t), n2, b2)
	require.NoError(t, err)
	m.broadcasted(n2, rs)
	requireBulkOf(t, s, b2, rs)
	m.checkAll(true)
}

// A bulk id or a broadcast id already taken fails the whole write with
// domain.ErrConflict: neither row is stored, and the positions the next
// broadcast takes show that the tenant's counter did not move.
func testBroadcastBulkTakenIDs(t *testing.T, s *sqlstore.Store) {
	ctx := ctxFor(t)
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a", "b")
	first := newBroadcast(tenantA, "first")
	firstBulk := broadcastBulk(tenantA)
	rs, err := s.InsertBroadcastBulk(ctx, first, firstBulk)
	require.NoError(t, err)
	m.broadcasted(first, rs)

	// The bulk's id is taken.
	n := newBroadcast(tenantA, "bulk id taken")
	b := broadcastBulk(tenantA)
	b.ID = firstBulk.ID
	_, err = s.InsertBroadcastBulk(ctx, n, b)
	require.ErrorIs(t, err, domain.ErrConflict)
	_, err = s.NotificationSeq(ctx, tenantA, "a", n.ID)
	requireNotFound(t, err)

	// The broadcast's id is taken.
	n = newBroadcast(tenantA, "broadcast id taken")
	n.ID = first.ID
	b = broadcastBulk(tenantA)
	_, err = s.InsertBroadcastBulk(ctx, n, b)
	require.ErrorIs(t, err, domain.ErrConflict)
	_, err = s.GetBulk(ctx, tenantA, b.ID)
	requireNotFound(t, err)
	requireBulkOf(t, s, firstBulk, rs) // untouched

	m.checkAll(false)
	m.broadcast(tenantA, "next") // at the position right after "first"
	m.checkAll(true)
}

// Inside a transaction it joins it: rolled back, nothing of it stays.
func testBroadcastBulkJoinsTx(t *testing.T, s *sqlstore.Store) {
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a")
	n := newBroadcast(tenantA, "rolled back")
	b := broadcastBulk(tenantA)
	err := s.InTx(ctxFor(t), func(ctx context.Context) error {
		rs, err := s.InsertBroadcastBulk(ctx, n, b)
		if err != nil {
			return err
		}
		if len(rs) != 1 {
			t.Errorf("recipients in the transaction: %v", rs)
		}
		if _, err := s.GetBulk(ctx, tenantA, b.ID); err != nil {
			t.Errorf("the bulk in the transaction: %v", err)
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	_, err = s.GetBulk(ctxFor(t), tenantA, b.ID)
	requireNotFound(t, err)
	m.checkAll(false)

	var rs []notification.BroadcastRecipient
	kept := newBroadcast(tenantA, "committed")
	require.NoError(t, s.InTx(ctxFor(t), func(ctx context.Context) error {
		rs, err = s.InsertBroadcastBulk(ctx, kept, b)
		return err
	}))
	m.broadcasted(kept, rs)
	requireBulkOf(t, s, b, rs)
	m.checkAll(true)
}

// A bulk of another tenant than the broadcast's is refused, and nothing
// is stored in either tenant.
func testBroadcastBulkOtherTenant(t *testing.T, s *sqlstore.Store) {
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a")
	m.upsert(tenantB, "a")
	n := newBroadcast(tenantA, "cross")
	b := broadcastBulk(tenantB)
	_, err := s.InsertBroadcastBulk(ctxFor(t), n, b)
	requireInvalid(t, err)
	_, err = s.GetBulk(ctxFor(t), tenantB, b.ID)
	requireNotFound(t, err)
	_, err = s.GetBulk(ctxFor(t), tenantA, b.ID)
	requireNotFound(t, err)
	m.checkAll(true)
}

// Malformed broadcasts and bulks are refused before anything is written.
func testBroadcastBulkMalformed(t *testing.T, s *sqlstore.Store) {
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a")
	for name, mutate := range map[string]func(n *domain.Notification, b *notification.Bulk){
		"a user":           func(n *domain.Notification, b *notification.Bulk) { n.UserID = "a" },
		"data not JSON":    func(n *domain.Notification, b *notification.Bulk) { n.Data = []byte(`{"a":`) },
		"no tenant":        func(n *domain.Notification, b *notification.Bulk) { n.TenantID, b.TenantID = "", "" },
		"bulk id not uuid": func(n *domain.Notification, b *notification.Bulk) { b.ID = "x'); DROP TABLE users; --" },
		"id not uuid":      func(n *domain.Notification, b *notification.Bulk) { n.ID = "not-a-uuid" },
	} {
		n := newBroadcast(tenantA, name)
		b := broadcastBulk(tenantA)
		mutate(n, &b)
		_, err := s.InsertBroadcastBulk(ctxFor(t), n, b)
		require.Error(t, err, name)
		requireInvalid(t, err)
	}
	_, err := s.InsertBroadcastBulk(ctxFor(t), nil, broadcastBulk(tenantA))
	require.Error(t, err)
	m.checkAll(true)
}

// Hostile text in every field of both rows reads back byte for byte.
func testBroadcastBulkHostile(t *testing.T, s *sqlstore.Store) {
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a")
	for _, h := range hostile {
		n := newBroadcast(tenantA, h)
		n.Body, n.ActionURL, n.Type = h, h, h
		b := broadcastBulk(tenantA)
		b.Title, b.Body, b.ActionURL, b.RequestedBy = h, h, h, domain.UserID(h)
		rs, err := s.InsertBroadcastBulk(ctxFor(t), n, b)
		require.NoError(t, err)
		m.broadcasted(n, rs)
		requireBulkOf(t, s, b, rs)
	}
	m.checkAll(true)
}

// Between personal inserts of every kind and InsertBroadcast's broadcasts,
// each broadcast takes the next position of each inbox.
func testBroadcastBulkPositions(t *testing.T, s *sqlstore.Store) {
	m := newInboxModel(t, s)
	m.upsert(tenantA, "a", "b")
	for i := range 6 {
		m.added(insertNotifications(t, s, tenantA, "a", 1)...)
		n := newBroadcast(tenantA, "either way")
		rs, err := insertBroadcastEitherWay(ctxFor(t), s, n, i)
		require.NoError(t, err)
		m.broadcasted(n, rs)
		if i == 3 {
			m.markAllRead(tenantA, "b", at(0))
		}
	}
	m.checkAll(true)
}
