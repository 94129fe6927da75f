package notification_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

// recorder is the fan-out as the service sees it: it keeps what was
// published, so tests can check what would reach the hub.
type recorder struct {
	mu      sync.Mutex
	updates []domain.InboxUpdate
}

func (r *recorder) Publish(_ context.Context, u domain.InboxUpdate) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updates = append(r.updates, u)
	return nil
}

func (r *recorder) all() []domain.InboxUpdate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]domain.InboxUpdate(nil), r.updates...)
}

type fixture struct {
	store *sqlstore.Store
	svc   *notification.Service
	fan   *recorder
}

func each(t *testing.T, fn func(t *testing.T, f fixture)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{
		"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			fan := &recorder{}
			ctx := context.Background()
			for _, u := range []domain.User{
				{TenantID: "acme", ID: "bob", Perms: []string{domain.PermInventoryAlerts}},
				{TenantID: "acme", ID: "alice", Perms: []string{domain.PermAdmin}},
				{TenantID: "acme", ID: "carol", Perms: []string{domain.PermSalesManage}},
				{TenantID: "globex", ID: "bob", Perms: []string{domain.PermInventoryAlerts}},
			} {
				require.NoError(t, s.UpsertUser(ctx, u))
			}
			fn(t, fixture{store: s, svc: notification.NewService(s, fan, nil, nil), fan: fan})
		})
	}
}

func draft(title string) notification.Draft {
	return notification.Draft{Type: notification.TypeLowStock, Severity: domain.SeverityWarning, Title: title,
		ActionURL: "/products/1", Data: map[string]any{"sku": "A"}}
}

func TestSendToPermissionReachesHoldersOfThatTenantOnly(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		sent, err := f.svc.SendToPermission(ctx, "acme", domain.PermInventoryAlerts, draft("low"))
		require.NoError(t, err)
		var users []domain.UserID
		for _, n := range sent {
			users = append(users, n.UserID)
			require.Equal(t, domain.TenantID("acme"), n.TenantID)
		}
		require.ElementsMatch(t, []domain.UserID{"alice", "bob"}, users)
		ups := f.fan.all()
		require.Len(t, ups, 2)
		for _, u := range ups {
			require.Equal(t, domain.UpdateNotification, u.Kind)
			require.Equal(t, 1, u.UnreadCount)
			require.EqualValues(t, 1, u.Seq)
			require.False(t, u.CommittedAt.IsZero())
		}
		for _, who := range []struct {
			tenant domain.TenantID
			user   domain.UserID
		}{{"acme", "carol"}, {"globex", "bob"}} {
			page, err := f.svc.List(ctx, who.tenant, who.user, notification.ListParams{})
			require.NoError(t, err)
			require.Empty(t, page.Data, "%s/%s", who.tenant, who.user)
		}
	})
}

func TestRolledBackNotificationsAreNeverPushed(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		boom := errors.New("effect failed")
		err := f.store.InTx(ctx, func(ctx context.Context) error {
			if _, err := f.svc.SendToUsers(ctx, "acme", []domain.UserID{"bob"}, draft("x")); err != nil {
				return err
			}
			require.Empty(t, f.fan.all(), "nothing is pushed before commit")
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Empty(t, f.fan.all())
		n, err := f.svc.UnreadCount(ctx, "acme", "bob")
		require.NoError(t, err)
		require.Zero(t, n)
	})
}

func TestListPagesAndFilters(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		var ids []string
		for _, title := range []string{"1", "2", "3", "4", "5"} {
			sent, err := f.svc.SendToUsers(ctx, "acme", []domain.UserID{"bob"}, draft(title))
			require.NoError(t, err)
			ids = append(ids, sent[0].ID)
		}
		page, err := f.svc.List(ctx, "acme", "bob", notification.ListParams{Limit: 2})
		require.NoError(t, err)
		require.Equal(t, 5, page.UnreadCount)
		require.Equal(t, []string{ids[4], ids[3]}, []string{page.Data[0].ID, page.Data[1].ID})
		require.NotNil(t, page.NextBefore)
		page, err = f.svc.List(ctx, "acme", "bob", notification.ListParams{Limit: 2, Before: *page.NextBefore})
		require.NoError(t, err)
		require.Equal(t, []string{ids[2], ids[1]}, []string{page.Data[0].ID, page.Data[1].ID})
		page, err = f.svc.List(ctx, "acme", "bob", notification.ListParams{Limit: 2, Before: *page.NextBefore})
		require.NoError(t, err)
		require.Len(t, page.Data, 1)
		require.Nil(t, page.NextBefore)

		require.NoError(t, f.svc.MarkRead(ctx, "acme", "bob", ids[0]))
		read, err := f.svc.List(ctx, "acme", "bob", notification.ListParams{Status: notification.StatusRead})
		require.NoError(t, err)
		require.Len(t, read.Data, 1)
		require.NotNil(t, read.Data[0].ReadAt)
		unread, err := f.svc.List(ctx, "acme", "bob", notification.ListParams{Status: notification.StatusUnread})
		require.NoError(t, err)
		require.Len(t, unread.Data, 4)
		require.Equal(t, 4, unread.UnreadCount)

		for name, p := range map[string]notification.ListParams{
			"bad status": {Status: "deleted"}, "bad before": {Before: "x"}, "negative limit": {Limit: -1},
		} {
			_, err := f.svc.List(ctx, "acme", "bob", p)
			var v *domain.ValidationError
			require.ErrorAs(t, err, &v, name)
		}
		// Another user's id as a cursor is not found, not someone's data.
		_, err = f.svc.List(ctx, "acme", "carol", notification.ListParams{Before: ids[2]})
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
}

func TestReadStateIsPerUserAndSyncsTabs(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		sent, err := f.svc.SendToUsers(ctx, "acme", []domain.UserID{"bob"}, draft("a"))
		require.NoError(t, err)
		id := sent[0].ID
		_, err = f.svc.SendToUsers(ctx, "acme", []domain.UserID{"bob"}, draft("b"))
		require.NoError(t, err)
		before := len(f.fan.all())

		// Others cannot touch it.
		require.ErrorIs(t, f.svc.MarkRead(ctx, "acme", "carol", id), domain.ErrNotFound)
		require.ErrorIs(t, f.svc.MarkRead(ctx, "globex", "bob", id), domain.ErrNotFound)
		var v *domain.ValidationError
		require.ErrorAs(t, f.svc.MarkRead(ctx, "acme", "bob", "1 OR 1=1"), &v)

		require.NoError(t, f.svc.MarkRead(ctx, "acme", "bob", id))
		require.NoError(t, f.svc.MarkRead(ctx, "acme", "bob", id)) // idempotent, no second push
		require.NoError(t, f.svc.MarkUnread(ctx, "acme", "bob", id))
		require.NoError(t, f.svc.MarkAllRead(ctx, "acme", "bob"))
		require.NoError(t, f.svc.MarkAllRead(ctx, "acme", "bob")) // nothing left: no push
		ups := f.fan.all()[before:]
		require.Len(t, ups, 3)
		require.Equal(t, domain.UpdateRead, ups[0].Kind)
		require.Equal(t, []string{id}, ups[0].IDs)
		require.Equal(t, 1, ups[0].UnreadCount)
		require.Equal(t, domain.UpdateUnread, ups[1].Kind)
		require.Equal(t, 2, ups[1].UnreadCount)
		require.Equal(t, domain.UpdateReadAll, ups[2].Kind)
		require.Equal(t, 0, ups[2].UnreadCount)
		require.EqualValues(t, 2, ups[2].Seq, "read_all says the newest seq it covered")
	})
}

func TestDraftValidation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		cases := map[string]notification.Draft{
			"no title":       {Type: "AlertNotification", Severity: domain.SeverityInfo},
			"bad severity":   {Type: "AlertNotification", Severity: "loud", Title: "x"},
			"javascript url": {Type: "AlertNotification", Severity: domain.SeverityInfo, Title: "x", ActionURL: "javascript:alert(1)"},
			"protocol rel":   {Type: "AlertNotification", Severity: domain.SeverityInfo, Title: "x", ActionURL: "//evil.example"},
			"huge body":      {Type: "AlertNotification", Severity: domain.SeverityInfo, Title: "x", Body: strings.Repeat("b", notification.MaxBodyLen+1)},
			"huge data":      {Type: "AlertNotification", Severity: domain.SeverityInfo, Title: "x", Data: strings.Repeat("d", 20000)},
			"bad data":       {Type: "AlertNotification", Severity: domain.SeverityInfo, Title: "x", Data: func() {}},
		}
		for name, d := range cases {
			_, err := f.svc.SendToUsers(ctx, "acme", []domain.UserID{"bob"}, d)
			var v *domain.ValidationError
			require.ErrorAs(t, err, &v, name)
		}
		require.Empty(t, f.fan.all())
		// Hostile text is stored verbatim; escaping is the renderer's job.
		hostile := `<script>alert("x")</script> ' OR 1=1 --`
		sent, err := f.svc.SendToUsers(ctx, "acme", []domain.UserID{"bob"},
			notification.Draft{Type: "AlertNotification", Severity: domain.SeverityCritical, Title: hostile, Body: hostile})
		require.NoError(t, err)
		page, err := f.svc.List(ctx, "acme", "bob", notification.ListParams{})
		require.NoError(t, err)
		require.Equal(t, sent[0].ID, page.Data[0].ID)
		require.Equal(t, hostile, page.Data[0].Title)
	})
}

// downFanout is a fan-out that is unreachable.
type downFanout struct{ calls int }

func (d *downFanout) Publish(context.Context, domain.InboxUpdate) error {
	d.calls++
	return errors.New("redis: connection refused")
}

func TestFanoutDownStillPersists(t *testing.T) {
	t.Parallel()
	s := storetest.OpenSQLite(t)
	ctx := context.Background()
	for _, u := range []domain.UserID{"a", "b"} {
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: "acme", ID: u, Perms: []string{domain.PermInventoryAlerts}}))
	}
	down := &downFanout{}
	svc := notification.NewService(s, down, nil, nil)
	sent, err := svc.SendToPermission(ctx, "acme", domain.PermInventoryAlerts, draft("persisted first"))
	require.NoError(t, err, "the push failing does not undo the notification")
	require.Len(t, sent, 2)
	require.Equal(t, 2, down.calls)
	n, err := svc.UnreadCount(ctx, "acme", "a")
	require.NoError(t, err)
	require.Equal(t, 1, n)
}
