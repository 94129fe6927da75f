package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// completedBulk is a direct send's bulk record as it is written: already
// completed.
func completedBulk(tenant domain.TenantID, users ...domain.UserID) notification.Bulk {
	b := newBulk(tenant)
	started := stored(at(time.Second)) // as the service writes it
	b.Audience.UserIDs = users
	b.Status, b.StartedAt, b.CompletedAt = notification.BulkCompleted, &started, &started
	b.Total, b.Sent = int64(len(users)), int64(len(users))
	b.ResumeAfter = users[len(users)-1]
	return b
}

var directTests = map[string]func(t *testing.T, s *sqlstore.Store){
	// One write for a group of two tenants: seqs continue each user's
	// sequence in slice order, the counts are each inbox's own (bob of
	// tenant A is not bob of tenant B), and everything reads back as given.
	"WritesBulksAndNotificationsOfSeveralTenants": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for _, k := range []notification.InboxKey{key(tenantA, "alice"), key(tenantA, "bob"), key(tenantB, "bob")} {
			require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: k.TenantID, ID: k.UserID}))
		}
		insertNotifications(t, s, tenantA, "bob", 2) // seqs 1, 2; unread 2
		read := at(time.Minute)
		ns := []*domain.Notification{
			newNotification(tenantA, "bob", "b3"),
			newNotification(tenantB, "bob", "other bob 1"),
			newNotification(tenantA, "alice", "a1"),
			newNotification(tenantA, "bob", "b4"),
			newNotification(tenantB, "bob", "other bob 2"),
		}
		ns[2].ReadAt = &read // stored read: not counted
		bs := []notification.Bulk{completedBulk(tenantA, "alice", "bob"), completedBulk(tenantB, "bob")}
		unread, err := s.InsertDirect(ctx, bs, ns)
		require.NoError(t, err)
		require.Equal(t, map[notification.InboxKey]int{
			key(tenantA, "bob"): 4, key(tenantA, "alice"): 0, key(tenantB, "bob"): 2,
		}, unread)
		require.Equal(t, []int64{3, 1, 1, 4, 2}, []int64{ns[0].Seq, ns[1].Seq, ns[2].Seq, ns[3].Seq, ns[4].Seq})
		require.Equal(t, map[domain.UserID]int{"bob": 4, "alice": 0}, unreadCounts(t, s, tenantA, "bob", "alice"))
		require.Equal(t, map[domain.UserID]int{"bob": 2}, unreadCounts(t, s, tenantB, "bob"))

		for _, n := range ns {
			got, err := s.NotificationsAfter(ctx, n.TenantID, n.UserID, n.Seq-1, 1)
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.JSONEq(t, string(n.Data), string(got[0].Data))
			want := *n
			want.Data, got[0].Data = nil, nil
			require.Equal(t, want, got[0], "%s reads back as written", n.Title)
		}
		for _, b := range bs {
			got, err := s.GetBulk(ctx, b.TenantID, b.ID)
			require.NoError(t, err)
			require.JSONEq(t, string(b.Data), string(got.Data))
			want := b
			want.CreatedAt = stored(b.CreatedAt)
			want.Errors = []notification.RecipientError{}
			got.Data, want.Data = nil, nil
			require.Equal(t, want, got)
			_, err = s.GetBulk(ctx, otherTenant(b.TenantID), b.ID)
			requireNotFound(t, err, "another tenant's bulk")
		}
	},
	// Text that breaks naive quoting (of array literals too) comes back
	// byte for byte, in every column.
	"KeepsHostileText": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: userA}))
		texts := append([]string{"", "NULL", `{"a","b"}`, `{}`, `,`, `\"`, `"`, `\`, " spaced "}, hostile...)
		var ns []*domain.Notification
		for _, x := range texts {
			n := newNotification(tenantA, userA, "t"+x)
			n.Body, n.ActionURL, n.Type = x, x, "T"+x
			n.Data = []byte(fmt.Sprintf(`{"x": %q}`, x))
			ns = append(ns, n)
		}
		b := completedBulk(tenantA, userA)
		b.Title, b.Body, b.LastError = "t"+hostile[2], hostile[0], `NULL`
		b.Errors = []notification.RecipientError{{UserID: `u"\`, Message: hostile[4]}}
		b.Failed, b.Total = 1, 2
		_, err := s.InsertDirect(ctx, []notification.Bulk{b}, ns)
		require.NoError(t, err)
		got, err := s.NotificationsAfter(ctx, tenantA, userA, 0, 100)
		require.NoError(t, err)
		require.Len(t, got, len(texts))
		for i, x := range texts {
			require.Equal(t, "t"+x, got[i].Title)
			require.Equal(t, x, got[i].Body)
			require.Equal(t, x, got[i].ActionURL)
			require.Equal(t, "T"+x, got[i].Type)
			require.JSONEq(t, string(ns[i].Data), string(got[i].Data))
		}
		gb, err := s.GetBulk(ctx, tenantA, b.ID)
		require.NoError(t, err)
		require.Equal(t, b.Title, gb.Title)
		require.Equal(t, b.Body, gb.Body)
		require.Equal(t, b.LastError, gb.LastError)
		require.Equal(t, b.Errors, gb.Errors)
	},
	// An unknown recipient fails the whole write: no bulk, no
	// notification, no seq or count moved, and no user created.
	"UnknownRecipientFailsItAll": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: userA}))
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantB, ID: userB}))
		b := completedBulk(tenantA, userA, userB)
		_, err := s.InsertDirect(ctx, []notification.Bulk{b}, []*domain.Notification{
			newNotification(tenantA, userA, "known"),
			newNotification(tenantA, userB, "another tenant's user"),
		})
		require.Error(t, err)
		_, err = s.GetBulk(ctx, tenantA, b.ID)
		requireNotFound(t, err, "the bulk was not stored")
		for _, k := range []notification.InboxKey{key(tenantA, userA), key(tenantA, userB), key(tenantB, userB)} {
			got, err := s.NotificationsAfter(ctx, k.TenantID, k.UserID, 0, 10)
			require.NoError(t, err)
			require.Empty(t, got, k)
			seq, err := s.MaxSeq(ctx, k.TenantID, k.UserID)
			require.NoError(t, err)
			require.Zero(t, seq, k)
		}
		require.Equal(t, map[domain.UserID]int{userA: 0}, unreadCounts(t, s, tenantA, userA))
		_, err = s.GetUser(ctx, tenantA, userB)
		requireNotFound(t, err, "no user made up")
	},
	// A taken bulk id is domain.ErrConflict and stores nothing: the id is
	// what makes a direct send that landed but lost its answer not land
	// twice.
	"TakenBulkIDIsAConflict": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: userA}))
		b := completedBulk(tenantA, userA)
		_, err := s.InsertDirect(ctx, []notification.Bulk{b}, []*domain.Notification{newNotification(tenantA, userA, "first")})
		require.NoError(t, err)
		_, err = s.InsertDirect(ctx, []notification.Bulk{b}, []*domain.Notification{newNotification(tenantA, userA, "again")})
		require.ErrorIs(t, err, domain.ErrConflict)
		got, err := s.NotificationsAfter(ctx, tenantA, userA, 0, 10)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, "first", got[0].Title)
		require.Equal(t, map[domain.UserID]int{userA: 1}, unreadCounts(t, s, tenantA, userA))
	},
	// A group of bulks only (every recipient unknown) and an empty one.
	"BulksWithoutNotifications": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		b := completedBulk(tenantA, "ghost")
		b.Sent, b.Failed = 0, 1
		unread, err := s.InsertDirect(ctx, []notification.Bulk{b}, nil)
		require.NoError(t, err)
		require.Empty(t, unread)
		got, err := s.GetBulk(ctx, tenantA, b.ID)
		require.NoError(t, err)
		require.EqualValues(t, 1, got.Failed)
		unread, err = s.InsertDirect(ctx, nil, nil)
		require.NoError(t, err)
		require.Empty(t, unread)
	},
}

func otherTenant(t domain.TenantID) domain.TenantID {
	if t == tenantA {
		return tenantB
	}
	return tenantA
}

func key(t domain.TenantID, u domain.UserID) notification.InboxKey {
	return notification.InboxKey{TenantID: t, UserID: u}
}
