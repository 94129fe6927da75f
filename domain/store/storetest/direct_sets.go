package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func init() {
	directTests["SharedValuesKeepEveryRow"] = testDirectSharedValues
}

// testDirectSharedValues writes one group in which runs of rows share
// their content, as broadcasts do (on PostgreSQL each run's values are
// bound once and joined to its rows): two broadcasts of hostile text and
// large data, the same content again for another tenant (the tenant is
// part of what rows share), a run broken by a personal send and resumed,
// a row alike but for read_at and one alike but for created_at, empty
// strings throughout. Every row reads back exactly as given, in its own
// inbox, with exact seqs and unread counts.
func testDirectSharedValues(t *testing.T, s *sqlstore.Store) {
	ctx := ctxFor(t)
	const users = 40
	uid := func(i int) domain.UserID { return domain.UserID(fmt.Sprintf("s-%02d", i)) }
	for _, tenant := range []domain.TenantID{tenantA, tenantB} {
		for i := range users {
			require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenant, ID: uid(i)}))
		}
	}
	texts := append([]string{`it's "quoted"`, `back\slash \\ \N`, `{braces,"and",commas}`, `NULL`, ``,
		`é✓😀 ünï`, "tab\tnew\nline", `}`, `{`, `\`, `"`}, hostile...)
	big, err := json.Marshal(map[string]any{"blob": strings.Repeat(`{"x": "\\"}, `, 20000), "texts": texts})
	require.NoError(t, err)
	created := at(0)
	draft := func(tenant domain.TenantID, user domain.UserID, i int) *domain.Notification {
		x := texts[i%len(texts)]
		data, err := json.Marshal(map[string]any{x: x, "i": i})
		require.NoError(t, err)
		return &domain.Notification{ID: domain.NewID(), TenantID: tenant, UserID: user, Type: "T" + x,
			Severity: domain.SeverityInfo, Title: x, Body: texts[(i+1)%len(texts)], ActionURL: "/a?" + x,
			Data: data, CreatedAt: created}
	}
	var ns []*domain.Notification
	// Broadcast 1: hostile title, big data, shared by every user of A.
	b1 := draft(tenantA, "", 2)
	b1.Data, b1.Body = big, ""
	for i := range users {
		n := *b1
		n.ID, n.UserID = domain.NewID(), uid(i)
		ns = append(ns, &n)
	}
	// The same content for tenant B: not tenant A's rows.
	for i := range users / 2 {
		n := *b1
		n.ID, n.TenantID, n.UserID = domain.NewID(), tenantB, uid(i)
		ns = append(ns, &n)
	}
	// Broadcast 2, broken by a personal send and resumed; one row alike
	// but read, one alike but created a microsecond later.
	b2 := draft(tenantA, "", 0)
	read := at(time.Hour)
	for i := range users {
		n := *b2
		n.ID, n.UserID = domain.NewID(), uid(i)
		switch i {
		case 10:
			ns = append(ns, draft(tenantA, uid(3), 7))
		case 20:
			n.ReadAt = &read
		case 21:
			n.CreatedAt = created.Add(time.Microsecond)
		}
		ns = append(ns, &n)
	}
	// Personal sends, each its own content, empty strings included.
	for i := range len(texts) {
		n := draft(tenantB, uid(i%users), i)
		if i%3 == 0 {
			n.Title, n.Body, n.ActionURL, n.Data = "", "", "", nil
		}
		ns = append(ns, n)
	}

	wantSeqs := map[notification.InboxKey]int64{}
	wantUnread := map[notification.InboxKey]int{}
	for _, n := range ns {
		k := key(n.TenantID, n.UserID)
		wantSeqs[k]++
		if n.ReadAt == nil {
			wantUnread[k]++
		}
	}
	bs := []notification.Bulk{completedBulk(tenantA, uid(0)), completedBulk(tenantB, uid(0))}
	unread, err := s.InsertDirect(ctx, bs, ns)
	require.NoError(t, err)
	require.Equal(t, wantUnread, unread)

	got := map[notification.InboxKey][]domain.Notification{}
	for k, seqs := range wantSeqs {
		page, err := s.NotificationsAfter(ctx, k.TenantID, k.UserID, 0, 1000)
		require.NoError(t, err)
		require.Len(t, page, int(seqs), "inbox of %v", k)
		got[k] = page
		require.Equal(t, wantUnread[k], unreadCounts(t, s, k.TenantID, k.UserID)[k.UserID], "stored unread count of %v", k)
	}
	next := map[notification.InboxKey]int64{}
	for _, n := range ns {
		k := key(n.TenantID, n.UserID)
		next[k]++
		require.Equal(t, next[k], n.Seq, "seqs of %v follow the slice order", k)
		g := got[k][n.Seq-1]
		want := *n
		if len(want.Data) == 0 {
			want.Data = []byte(`{}`)
		}
		require.JSONEq(t, string(want.Data), string(g.Data), "data of %s", n.ID)
		want.Data, g.Data = nil, nil
		want.CreatedAt = stored(want.CreatedAt)
		if want.ReadAt != nil {
			r := stored(*want.ReadAt)
			want.ReadAt = &r
		}
		require.Equal(t, want, g, "row %s reads back as written", n.ID)
	}
}
