package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// bcastHostile are titles, bodies and data keys that break a batch which
// splices or array-encodes values carelessly: quotes, backslashes, array
// literal syntax, the word NULL, commas, unicode, empty.
var bcastHostile = []string{
	`it's "quoted"`, `back\slash \\ \N`, `{braces,"and",commas}`, `NULL`, ``, `é✓😀 ünï`, "tab\tnew\nline", `'); DROP TABLE users; --`,
}

// testBroadcastBatchStoresEveryValue inserts one batch of a tenant
// broadcast larger than any statement chunk (1,201 rows: known users with
// history, unknown ones, one user twice, some stored read), with hostile
// strings, while another tenant has the same user ids: every row reads back
// as inserted, seqs continue without gaps, the returned and stored unread
// counts are exact, and the other tenant is untouched.
func testBroadcastBatchStoresEveryValue(t *testing.T, s *sqlstore.Store) {
	ctx := ctxFor(t)
	const users = 1200
	uid := func(i int) domain.UserID { return domain.UserID(fmt.Sprintf("b-%04d", i)) }
	// Every third user has history in tenant A; every user has some in B.
	var history []*domain.Notification
	for i := 0; i < users; i += 3 {
		history = append(history, newNotification(tenantA, uid(i), "h1"), newNotification(tenantA, uid(i), "h2"))
	}
	require.NoError(t, s.InsertNotifications(ctx, history))
	other := make([]*domain.Notification, 0, users)
	for i := range users {
		other = append(other, newNotification(tenantB, uid(i), "b"))
	}
	require.NoError(t, s.InsertNotifications(ctx, other))

	batch := make([]*domain.Notification, 0, users+1)
	for i := range users {
		h := bcastHostile[i%len(bcastHostile)]
		data, err := json.Marshal(map[string]any{h: h, "i": i, "list": []string{h, "x"}})
		require.NoError(t, err)
		n := &domain.Notification{ID: domain.NewID(), TenantID: tenantA, UserID: uid(i), Type: "AnnouncementNotification",
			Severity: domain.SeverityInfo, Title: h, Body: bcastHostile[(i+3)%len(bcastHostile)], ActionURL: "/a?q=" + h,
			Data: data, CreatedAt: at(time.Duration(i) * time.Microsecond)}
		if i%5 == 0 {
			read := at(time.Hour)
			n.ReadAt = &read
		}
		batch = append(batch, n)
	}
	batch = append(batch, newNotification(tenantA, uid(7), "twice")) // uid(7) gets two
	unread, err := s.InsertNotificationsUnread(ctx, batch)
	require.NoError(t, err)

	for i := range users {
		u := uid(i)
		before := int64(0)
		if i%3 == 0 {
			before = 2
		}
		want := []*domain.Notification{batch[i]}
		if i == 7 {
			want = append(want, batch[users])
		}
		got, err := s.NotificationsAfter(ctx, tenantA, u, before, 10)
		require.NoError(t, err)
		require.Len(t, got, len(want), "user %s", u)
		wantUnread := int(before)
		for k, w := range want {
			require.Equal(t, before+int64(k)+1, w.Seq, "seq of %s continues without a gap", u)
			g := got[k]
			require.Equal(t, w.ID, g.ID)
			require.Equal(t, w.Seq, g.Seq)
			require.Equal(t, tenantA, g.TenantID)
			require.Equal(t, u, g.UserID)
			require.Equal(t, w.Type, g.Type)
			require.Equal(t, w.Severity, g.Severity)
			require.Equal(t, w.Title, g.Title)
			require.Equal(t, w.Body, g.Body)
			require.Equal(t, w.ActionURL, g.ActionURL)
			require.JSONEq(t, string(w.Data), string(g.Data))
			require.Equal(t, w.CreatedAt, g.CreatedAt)
			if w.ReadAt == nil {
				require.Nil(t, g.ReadAt)
				wantUnread++
			} else {
				require.NotNil(t, g.ReadAt)
				require.Equal(t, stored(*w.ReadAt), *g.ReadAt)
			}
		}
		require.Equal(t, wantUnread, unread[u], "returned unread count of %s", u)
		require.Equal(t, wantUnread, unreadCounts(t, s, tenantA, u)[u], "stored unread count of %s", u)
	}
	require.Len(t, unread, users)

	// Tenant B: one notification each, unread, as before.
	ids := make([]domain.UserID, users)
	for i := range ids {
		ids[i] = uid(i)
	}
	counts := unreadCounts(t, s, tenantB, ids...)
	for _, u := range ids {
		require.Equal(t, 1, counts[u], "tenant B count of %s", u)
		seq, err := s.MaxSeq(ctx, tenantB, u)
		require.NoError(t, err)
		require.Equal(t, int64(1), seq, "tenant B seq of %s", u)
	}
}
