package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/hub"
	"github.com/notifyhub/notifyhub/web"
	"github.com/notifyhub/notifyhub/web/auth"
)

// withHub puts a real hub over the fixture's store behind /ws, into *h.
func withHub(t testing.TB, h **hub.Hub) option {
	return func(_ *web.Config, d *web.Deps) {
		var err error
		*h, err = hub.New(hub.Config{}, d.Events.(*sqlstore.Store))
		require.NoError(t, err)
		d.Hub = *h
		t.Cleanup((*h).Close)
	}
}

// A socket's first connect records its user in the hub's catch-up read
// (not through the web layer's UserStore), with the claims' fields; the
// unread_count it gets is its own tenant's, also for a user id known in
// another tenant; a connect with the same claims records nothing, one with
// changed claims records them; a socket the hub refuses before the upgrade
// still records its user, as every authenticated request does.
func TestSocketRecordsItsUserInTheCatchUpRead(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		var h *hub.Hub
		f := newFixture(t, open, withHub(t, &h))
		require.True(t, h.RecordsUsers())
		srv := httptest.NewServer(f.h)
		t.Cleanup(srv.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()

		// connect returns the first unread_count of a socket of u.
		connect := func(u domain.User, query string) int {
			t.Helper()
			tok, err := auth.Issue(testSecret, u, time.Hour, time.Now())
			require.NoError(t, err)
			wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws?token=" + url.QueryEscape(tok) + query
			c, resp, err := websocket.Dial(ctx, wsURL, nil)
			require.NoError(t, err)
			if resp != nil && resp.Body != nil {
				_ = resp.Body.Close()
			}
			defer c.CloseNow()
			for {
				_, data, err := c.Read(ctx)
				require.NoError(t, err)
				var fr struct {
					Type        string `json:"type"`
					UnreadCount *int   `json:"unread_count"`
				}
				require.NoError(t, json.Unmarshal(data, &fr))
				if fr.Type == "unread_count" {
					return *fr.UnreadCount
				}
			}
		}
		requireUser := func(want domain.User) {
			t.Helper()
			got, err := f.store.GetUser(ctx, want.TenantID, want.ID)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}

		// alice of globex has two notifications (her row exists, unnamed);
		// alice of acme none.
		f.send(t, "globex", "alice", "g1", "g2")
		acme := domain.User{TenantID: "acme", ID: "alice", Name: "Alice", Email: "alice@acme.test", Perms: []string{"a", "b"}}
		require.Equal(t, 0, connect(acme, ""))
		requireUser(acme)
		globex := domain.User{TenantID: "globex", ID: "alice", Name: "Alice G", Perms: []string{}}
		require.Equal(t, 2, connect(globex, ""))
		requireUser(globex)
		requireUser(acme) // untouched by globex's alice
		require.Zero(t, f.users.upserts.Load(), "recorded by the hub, not the web layer's store")

		// The same claims again: nothing to record (the row is left as
		// is, even when changed behind the cache's back).
		f.send(t, "acme", "alice", "a1")
		require.NoError(t, f.store.UpsertUser(ctx, domain.User{TenantID: "acme", ID: "alice", Name: "elsewhere", Perms: []string{}}))
		require.Equal(t, 1, connect(acme, ""))
		requireUser(domain.User{TenantID: "acme", ID: "alice", Name: "elsewhere", Perms: []string{}})

		// Changed claims are recorded, with since too.
		acme.Name = "Alice Renamed"
		ns := f.send(t, "acme", "alice", "a2")
		require.Equal(t, 2, connect(acme, "&since="+ns[0].ID))
		requireUser(acme)

		// Refused before the upgrade (a since of another tenant's user):
		// the 400 as before, and the user recorded all the same.
		bob := domain.User{TenantID: "acme", ID: "bob", Name: "Bob", Perms: []string{}}
		tok, err := auth.Issue(testSecret, bob, time.Hour, time.Now())
		require.NoError(t, err)
		other := f.send(t, "globex", "alice", "g3")[0]
		_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws?since="+other.ID+"&token="+url.QueryEscape(tok), nil)
		require.Error(t, err)
		require.NotNil(t, resp)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		requireUser(bob)
		require.Equal(t, int64(1), f.users.upserts.Load(), "recorded by the web layer")
		require.Equal(t, 0, connect(bob, ""))
		require.Equal(t, int64(1), f.users.upserts.Load(), "and then known")
	})
}
