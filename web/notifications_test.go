package web_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

type notificationPage struct {
	Data        []map[string]any `json:"data"`
	UnreadCount int              `json:"unread_count"`
	NextBefore  *string          `json:"next_before"`
}

func ids(p notificationPage) []string {
	out := make([]string, len(p.Data))
	for i, n := range p.Data {
		out[i], _ = n["id"].(string)
	}
	return out
}

func TestNotificationsAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		alice := token(t, "acme", "alice")
		sent := f.send(t, "acme", "alice", "one", "two", "three")
		newest := []string{sent[2].ID, sent[1].ID, sent[0].ID}

		// Newest first, with the unread count and no next page.
		rec := f.call(t, http.MethodGet, "/api/v1/notifications", alice, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		page := decode[notificationPage](t, rec)
		require.Equal(t, newest, ids(page))
		require.Equal(t, 3, page.UnreadCount)
		require.Nil(t, page.NextBefore)
		n := page.Data[0]
		for _, k := range []string{"id", "type", "severity", "title", "body", "action_url", "data", "read_at", "created_at"} {
			require.Contains(t, n, k)
		}
		require.Equal(t, "three", n["title"])
		require.Nil(t, n["read_at"])

		// Paging with limit and before.
		page = decode[notificationPage](t, f.call(t, http.MethodGet, "/api/v1/notifications?limit=2", alice, ""))
		require.Equal(t, newest[:2], ids(page))
		require.NotNil(t, page.NextBefore)
		require.Equal(t, newest[1], *page.NextBefore)
		page = decode[notificationPage](t, f.call(t, http.MethodGet, "/api/v1/notifications?limit=2&before="+*page.NextBefore, alice, ""))
		require.Equal(t, newest[2:], ids(page))
		require.Nil(t, page.NextBefore)

		// Mark one read: 204, counts follow, the change is pushed.
		rec = f.call(t, http.MethodPost, "/api/v1/notifications/"+sent[0].ID+"/read", alice, "")
		require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
		require.Empty(t, rec.Body.String())
		count := decode[map[string]int](t, f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", alice, ""))
		require.Equal(t, map[string]int{"unread_count": 2}, count)
		page = decode[notificationPage](t, f.call(t, http.MethodGet, "/api/v1/notifications?status=unread", alice, ""))
		require.Equal(t, newest[:2], ids(page))
		page = decode[notificationPage](t, f.call(t, http.MethodGet, "/api/v1/notifications?status=read", alice, ""))
		require.Equal(t, []string{sent[0].ID}, ids(page))
		require.NotNil(t, page.Data[0]["read_at"])

		rec = f.call(t, http.MethodPost, "/api/v1/notifications/"+sent[0].ID+"/unread", alice, "")
		require.Equal(t, http.StatusNoContent, rec.Code)
		require.Equal(t, 3, decode[map[string]int](t, f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", alice, ""))["unread_count"])

		rec = f.call(t, http.MethodPost, "/api/v1/notifications/read-all", alice, "")
		require.Equal(t, http.StatusNoContent, rec.Code)
		require.Equal(t, 0, decode[map[string]int](t, f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", alice, ""))["unread_count"])
		require.Equal(t, []domain.UpdateKind{
			domain.UpdateNotification, domain.UpdateNotification, domain.UpdateNotification,
			domain.UpdateRead, domain.UpdateUnread, domain.UpdateReadAll,
		}, f.fanout.kinds("alice"))
	})
}

func TestNotificationsAPIBadInput(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		alice := token(t, "acme", "alice")
		f.send(t, "acme", "alice", "one")

		for _, c := range []struct{ method, path, field string }{
			{http.MethodGet, "/api/v1/notifications?limit=abc", "limit"},
			{http.MethodGet, "/api/v1/notifications?limit=-1", "limit"},
			{http.MethodGet, "/api/v1/notifications?limit=1e3", "limit"},
			{http.MethodGet, "/api/v1/notifications?limit=%201", "limit"},
			{http.MethodGet, "/api/v1/notifications?status=bogus", "status"},
			{http.MethodGet, "/api/v1/notifications?status='%20OR%201=1--", "status"},
			{http.MethodGet, "/api/v1/notifications?before=not-a-uuid", "before"},
			{http.MethodGet, "/api/v1/notifications?before=1%20OR%201%3D1", "before"},
			{http.MethodPost, "/api/v1/notifications/not-a-uuid/read", "id"},
			{http.MethodPost, "/api/v1/notifications/'%3B%20DROP--/unread", "id"},
		} {
			rec := f.call(t, c.method, c.path, alice, "")
			e := requireError(t, rec, http.StatusBadRequest, "invalid_input")
			require.Contains(t, e.Fields, c.field, c.path)
		}
		// Huge limits are clamped, not errors.
		for _, l := range []string{"201", "100000", "99999999999999999999999"} {
			rec := f.call(t, http.MethodGet, "/api/v1/notifications?limit="+l, alice, "")
			require.Equal(t, http.StatusOK, rec.Code, l)
			require.Len(t, decode[notificationPage](t, rec).Data, 1)
		}
		// A well-formed id that does not exist.
		requireError(t, f.call(t, http.MethodPost, "/api/v1/notifications/"+domain.NewID()+"/read", alice, ""), http.StatusNotFound, "not_found")
		// A before cursor that is not this user's.
		requireError(t, f.call(t, http.MethodGet, "/api/v1/notifications?before="+domain.NewID(), alice, ""), http.StatusNotFound, "not_found")
	})
}

func TestNotificationsIsolation(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		alice := token(t, "acme", "alice")
		sent := f.send(t, "acme", "alice", "for alice only")
		id := sent[0].ID

		others := map[string]string{
			"another user of the tenant":     token(t, "acme", "bob", "admin"),
			"same user id in another tenant": token(t, "globex", "alice", "admin"),
			"another tenant's admin":         token(t, "globex", "root", "admin"),
		}
		for name, tok := range others {
			page := decode[notificationPage](t, f.call(t, http.MethodGet, "/api/v1/notifications", tok, ""))
			require.Empty(t, page.Data, name)
			require.Zero(t, page.UnreadCount, name)
			require.Zero(t, decode[map[string]int](t, f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", tok, ""))["unread_count"], name)
			requireError(t, f.call(t, http.MethodPost, "/api/v1/notifications/"+id+"/read", tok, ""), http.StatusNotFound, "not_found")
			requireError(t, f.call(t, http.MethodPost, "/api/v1/notifications/"+id+"/unread", tok, ""), http.StatusNotFound, "not_found")
			requireError(t, f.call(t, http.MethodGet, "/api/v1/notifications?before="+id, tok, ""), http.StatusNotFound, "not_found")
			require.Equal(t, http.StatusNoContent, f.call(t, http.MethodPost, "/api/v1/notifications/read-all", tok, "").Code)
		}
		// Alice's notification is untouched by all of that.
		page := decode[notificationPage](t, f.call(t, http.MethodGet, "/api/v1/notifications", alice, ""))
		require.Equal(t, []string{id}, ids(page))
		require.Nil(t, page.Data[0]["read_at"])
		require.Equal(t, 1, page.UnreadCount)
		n, err := f.store.UnreadCount(context.Background(), "acme", "alice")
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
}

// TestNotificationTypesAPI: the registry is served as is, so clients and
// the center label types the same way; it needs a token.
func TestNotificationTypesAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(tb testing.TB) *sqlstore.Store { return storetest.OpenSQLite(tb) })
	rec := f.call(t, http.MethodGet, "/api/v1/notification-types", token(t, "acme", "viewer"), "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	body := decode[struct {
		Data []notification.Kind `json:"data"`
	}](t, rec)
	require.Equal(t, notification.Registry, body.Data)
	require.Len(t, body.Data, 11, "the ten of DESIGN.md §4.4 and ImportCompletedNotification")

	rec = f.call(t, http.MethodGet, "/api/v1/notification-types", "", "")
	require.Equal(t, http.StatusUnauthorized, rec.Code)
}
