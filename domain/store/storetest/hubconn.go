package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// requireInboxHead checks InboxHeads for one user against MaxSeq and
// UnreadCount, the two reads it replaces, and against the expected figures.
func requireInboxHead(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, user domain.UserID, wantSeq int64, wantUnread int) {
	t.Helper()
	ctx := ctxFor(t)
	seqs, unread, err := s.InboxHeads(ctx, []domain.TenantID{tenant}, []domain.UserID{user})
	require.NoError(t, err)
	require.Equal(t, []int64{wantSeq}, seqs, "max seq of %s/%s", tenant, user)
	require.Equal(t, []int{wantUnread}, unread, "unread count of %s/%s", tenant, user)
	maxSeq, err := s.MaxSeq(ctx, tenant, user)
	require.NoError(t, err)
	count, err := s.UnreadCount(ctx, tenant, user)
	require.NoError(t, err)
	require.Equal(t, []any{maxSeq, count}, []any{seqs[0], unread[0]}, "InboxHeads differs from MaxSeq and UnreadCount")
}

var hubconnTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"InboxHeadsAreMaxSeqAndUnreadCount": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		requireInboxHead(t, s, tenantA, userA, 0, 0) // unknown user
		ns := insertNotifications(t, s, tenantA, userA, 4)
		insertNotifications(t, s, tenantB, userA, 7) // same user id, other tenant
		insertNotifications(t, s, tenantA, userB, 2) // other user
		requireInboxHead(t, s, tenantA, userA, 4, 4)

		// Reading the newest and an older one lowers the count, not the seq.
		for _, n := range []*domain.Notification{ns[3], ns[1]} {
			changed, err := s.MarkRead(ctx, tenantA, userA, n.ID, time.Now())
			require.NoError(t, err)
			require.True(t, changed)
		}
		requireInboxHead(t, s, tenantA, userA, 4, 2)
		_, err := s.MarkAllRead(ctx, tenantA, userA, time.Now())
		require.NoError(t, err)
		requireInboxHead(t, s, tenantA, userA, 4, 0)
		insertNotifications(t, s, tenantA, userA, 1)
		requireInboxHead(t, s, tenantA, userA, 5, 1)
		requireInboxHead(t, s, tenantB, userA, 7, 7)
		requireInboxHead(t, s, tenantA, userB, 2, 2)

		// Several users of both tenants at once, aligned with the request:
		// a user twice, one unknown, one id known in both tenants, hostile
		// ids.
		tenants := []domain.TenantID{tenantA, tenantA, tenantA, tenantB, tenantA, tenantB}
		users := []domain.UserID{userB, "nobody", userA, userA, userB, userB}
		wantSeqs, wantUnread := []int64{2, 0, 5, 7, 2, 0}, []int{2, 0, 1, 7, 2, 0}
		for _, h := range hostile {
			tenants, users = append(tenants, domain.TenantID(h)), append(users, domain.UserID(h))
			wantSeqs, wantUnread = append(wantSeqs, 0), append(wantUnread, 0)
		}
		seqs, unread, err := s.InboxHeads(ctx, tenants, users)
		require.NoError(t, err)
		require.Equal(t, wantSeqs, seqs)
		require.Equal(t, wantUnread, unread)
		_, _, err = s.InboxHeads(ctx, tenants[:1], users)
		require.Error(t, err, "tenants and users must pair up")

		// More users than one statement takes.
		many := make([]domain.UserID, 1001)
		for i := range many {
			many[i] = domain.UserID(fmt.Sprintf("m%04d", i))
		}
		many[1000] = userA
		manyTenants := make([]domain.TenantID, len(many))
		for i := range manyTenants {
			manyTenants[i] = tenantA
		}
		seqs, unread, err = s.InboxHeads(ctx, manyTenants, many)
		require.NoError(t, err)
		require.Len(t, seqs, len(many))
		require.Equal(t, []any{int64(0), 0, int64(5), 1}, []any{seqs[0], unread[0], seqs[1000], unread[1000]})
		seqs, unread, err = s.InboxHeads(ctx, nil, nil)
		require.NoError(t, err)
		require.Empty(t, seqs)
		require.Empty(t, unread)
	},
	"UpsertUsersInOneCall": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		// tenant-a exists, "fresh" does not: the statement alone is refused
		// and the call must still record every user.
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: "old", Name: "Old"}))
		users := []domain.User{
			{TenantID: tenantA, ID: "old", Name: "Old"},   // unchanged
			{TenantID: tenantA, ID: userA, Name: "first"}, // given twice: the last wins
			{TenantID: "fresh", ID: userA, Name: "Fresh A", Perms: []string{"b", "a"}},
			{TenantID: tenantA, ID: userA, Name: "second", Email: "a@example.com"},
		}
		require.NoError(t, s.UpsertUsers(ctx, users))
		got, err := s.GetUser(ctx, tenantA, userA)
		require.NoError(t, err)
		require.Equal(t, domain.User{TenantID: tenantA, ID: userA, Name: "second", Email: "a@example.com", Perms: []string{}}, got)
		got, err = s.GetUser(ctx, "fresh", userA)
		require.NoError(t, err)
		require.Equal(t, domain.User{TenantID: "fresh", ID: userA, Name: "Fresh A", Perms: []string{"a", "b"}}, got)

		// More than one statement's worth, in a transaction that rolls
		// back: nothing of it stays.
		many := make([]domain.User, 1201)
		for i := range many {
			many[i] = domain.User{TenantID: "bulk", ID: domain.UserID(fmt.Sprintf("u%04d", i))}
		}
		err = s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, s.UpsertUsers(ctx, many))
			list, err := s.ListUsers(ctx, "bulk")
			require.NoError(t, err)
			require.Len(t, list, len(many))
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		list, err := s.ListUsers(ctx, "bulk")
		require.NoError(t, err)
		require.Empty(t, list)
		require.NoError(t, s.UpsertUsers(ctx, many))
		list, err = s.ListUsers(ctx, "bulk")
		require.NoError(t, err)
		require.Len(t, list, len(many))

		// One invalid user fails the call before anything is written.
		err = s.UpsertUsers(ctx, []domain.User{{TenantID: tenantB, ID: "ok"}, {TenantID: tenantB}})
		requireInvalid(t, err)
		_, err = s.GetUser(ctx, tenantB, "ok")
		requireNotFound(t, err)
	},

	"RecordInboxHeadsRecordsAndReadsInOneCall": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		ns := insertNotifications(t, s, tenantA, userA, 4)
		_, err := s.MarkRead(ctx, tenantA, userA, ns[0].ID, time.Now())
		require.NoError(t, err)
		insertNotifications(t, s, tenantB, userA, 7) // same user id, other tenant
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantB, ID: userA, Name: "B's"}))
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: userB, Name: "same"}))

		record := []domain.User{
			{TenantID: tenantA, ID: userA, Name: "changed", Perms: []string{"b", "a"}}, // has notifications
			{TenantID: tenantA, ID: userB, Name: "same"},                               // unchanged
			{TenantID: "fresh", ID: userA, Name: "first"},                              // tenant not there yet
			{TenantID: "fresh", ID: userA, Name: "last"},                               // given twice: the last wins
		}
		tenants := []domain.TenantID{tenantA, tenantB, tenantA, "fresh", tenantA, "nowhere"}
		users := []domain.UserID{userA, userA, userB, userA, userA, "nobody"}
		seqs, unread, err := s.RecordInboxHeads(ctx, record, tenants, users)
		require.NoError(t, err)
		require.Equal(t, []int64{4, 7, 0, 0, 4, 0}, seqs)
		require.Equal(t, []int{3, 7, 0, 0, 3, 0}, unread)
		for i := range tenants {
			requireInboxHead(t, s, tenants[i], users[i], seqs[i], unread[i])
		}

		got, err := s.GetUser(ctx, tenantA, userA)
		require.NoError(t, err)
		require.Equal(t, domain.User{TenantID: tenantA, ID: userA, Name: "changed", Perms: []string{"a", "b"}}, got)
		got, err = s.GetUser(ctx, "fresh", userA)
		require.NoError(t, err)
		require.Equal(t, "last", got.Name)
		got, err = s.GetUser(ctx, tenantB, userA)
		require.NoError(t, err)
		require.Equal(t, "B's", got.Name, "a record in tenant A leaves B's user of that id alone")

		// Recording again (unchanged) reads the figures as they are now.
		insertNotifications(t, s, tenantA, userA, 1)
		seqs, unread, err = s.RecordInboxHeads(ctx, record[:1], []domain.TenantID{tenantA}, []domain.UserID{userA})
		require.NoError(t, err)
		require.Equal(t, []any{int64(5), 4}, []any{seqs[0], unread[0]})

		// Hostile ids are values, recorded and read like any other.
		for _, h := range hostile {
			u := domain.User{TenantID: domain.TenantID(h), ID: domain.UserID(h), Name: h, Email: h, Perms: []string{h}}
			seqs, unread, err = s.RecordInboxHeads(ctx, []domain.User{u}, []domain.TenantID{u.TenantID}, []domain.UserID{u.ID})
			require.NoError(t, err)
			require.Equal(t, []any{int64(0), 0}, []any{seqs[0], unread[0]})
			got, err := s.GetUser(ctx, u.TenantID, u.ID)
			require.NoError(t, err)
			require.Equal(t, u, got)
		}

		// Bad input fails the call before anything is written.
		_, _, err = s.RecordInboxHeads(ctx, []domain.User{{TenantID: tenantB, ID: "ok"}, {TenantID: tenantB}},
			[]domain.TenantID{tenantB}, []domain.UserID{"ok"})
		requireInvalid(t, err)
		_, err = s.GetUser(ctx, tenantB, "ok")
		requireNotFound(t, err)
		_, _, err = s.RecordInboxHeads(ctx, record, tenants[:1], users)
		require.Error(t, err, "tenants and users must pair up")

		// More users than one statement takes: the two calls in turn.
		many := make([]domain.User, 1001)
		manyTenants, manyUsers := make([]domain.TenantID, len(many)), make([]domain.UserID, len(many))
		for i := range many {
			many[i] = domain.User{TenantID: "bulk", ID: domain.UserID(fmt.Sprintf("m%04d", i))}
			manyTenants[i], manyUsers[i] = many[i].TenantID, many[i].ID
		}
		manyTenants[1000], manyUsers[1000] = tenantA, userA
		seqs, unread, err = s.RecordInboxHeads(ctx, many, manyTenants, manyUsers)
		require.NoError(t, err)
		require.Len(t, seqs, len(many))
		require.Equal(t, []any{int64(0), 0, int64(5), 4}, []any{seqs[0], unread[0], seqs[1000], unread[1000]})
		list, err := s.ListUsers(ctx, "bulk")
		require.NoError(t, err)
		require.Len(t, list, len(many))

		// Nothing to record is InboxHeads.
		seqs, unread, err = s.RecordInboxHeads(ctx, nil, []domain.TenantID{tenantB}, []domain.UserID{userA})
		require.NoError(t, err)
		require.Equal(t, []any{int64(7), 7}, []any{seqs[0], unread[0]})
	},
}
