package web_test

import (
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/notifyhub/notifyhub/web/auth"
)

func TestSocketAuthAndPreUpgradeErrors(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		tok := token(t, "acme", "alice")
		claims, err := auth.Verify(testSecret, tok, time.Now())
		require.NoError(t, err)
		want := hub.Identity{TenantID: "acme", UserID: "alice", ExpiresAt: claims.Expiry()}

		// Every way to carry the token reaches the hub with the identity.
		for name, r := range map[string]req{
			"bearer": {token: tok},
			"cookie": {cookie: tok},
			"query":  {path: "/ws?since=x&token=" + url.QueryEscape(tok)},
		} {
			r.method = http.MethodGet
			if r.path == "" {
				r.path = "/ws"
			}
			rec := f.do(t, r)
			require.Equal(t, http.StatusSwitchingProtocols, rec.Code, name)
		}
		require.Equal(t, []hub.Identity{want, want, want}, f.socket.identities())

		// The hub gets the request without the token, other parameters kept.
		f.socket.serve = func(w http.ResponseWriter, r *http.Request, _ hub.Identity) error {
			require.False(t, r.URL.Query().Has("token"))
			require.NotContains(t, r.RequestURI, "token")
			require.Equal(t, "abc", r.URL.Query().Get("since"))
			w.WriteHeader(http.StatusSwitchingProtocols)
			return nil
		}
		rec := f.do(t, req{method: http.MethodGet, path: "/ws?token=" + url.QueryEscape(tok) + "&since=abc"})
		require.Equal(t, http.StatusSwitchingProtocols, rec.Code)
		f.socket.serve = nil

		// Without a valid token the hub is never asked.
		requireError(t, f.do(t, req{method: http.MethodGet, path: "/ws"}), http.StatusUnauthorized, "unauthenticated")
		requireError(t, f.do(t, req{method: http.MethodGet, path: "/ws?token=forged"}), http.StatusUnauthorized, "unauthenticated")
		require.Len(t, f.socket.identities(), 4)

		// The hub's refusals before the upgrade become JSON errors.
		f.socket.serve = func(http.ResponseWriter, *http.Request, hub.Identity) error {
			return fmt.Errorf("hub: origin https://evil.example: %w", domain.ErrForbidden)
		}
		requireError(t, f.do(t, req{method: http.MethodGet, path: "/ws", token: tok}), http.StatusForbidden, "forbidden")
		f.socket.serve = func(http.ResponseWriter, *http.Request, hub.Identity) error {
			return domain.Invalid("since", "must be a notification id")
		}
		e := requireError(t, f.do(t, req{method: http.MethodGet, path: "/ws?since=bad", token: tok}), http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields, "since")
		f.socket.serve = func(http.ResponseWriter, *http.Request, hub.Identity) error {
			return fmt.Errorf("hub: %w", hub.ErrClosed)
		}
		requireError(t, f.do(t, req{method: http.MethodGet, path: "/ws", token: tok}), http.StatusServiceUnavailable, "unavailable")
		// A failed handshake was already answered by the hub: nothing added.
		f.socket.serve = func(w http.ResponseWriter, _ *http.Request, _ hub.Identity) error {
			http.Error(w, "bad handshake", http.StatusBadRequest)
			return fmt.Errorf("accept: %w", hub.ErrHandshake)
		}
		rec = f.do(t, req{method: http.MethodGet, path: "/ws", token: tok})
		require.Equal(t, http.StatusBadRequest, rec.Code)
		require.Equal(t, "bad handshake\n", rec.Body.String())

		// The token never reaches the log, wherever it was carried.
		f.do(t, req{method: http.MethodGet, path: "/login?token=" + url.QueryEscape(tok)})
		logs := f.logs.String()
		require.Contains(t, logs, `"path":"/ws"`)
		require.Contains(t, logs, `"tenant":"acme","user":"alice"`, "the access log names the caller")
		require.NotContains(t, logs, tok)
		require.NotContains(t, logs, "token=")
	})
}

// TestSocketEndToEnd runs the real hub behind the real router: the socket
// authenticated by ?token= receives the unread count, then live changes made
// through the REST API.
func TestSocketEndToEnd(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		var h *hub.Hub
		f := newFixture(t, open, withHub(t, &h))
		f.fanout.mu.Lock()
		f.fanout.deliver = h.Deliver
		f.fanout.mu.Unlock()

		srv := httptest.NewServer(f.h)
		t.Cleanup(srv.Close)
		tok := token(t, "acme", "alice")
		first := f.send(t, "acme", "alice", "before connect")[0]

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws?token=" + url.QueryEscape(tok)
		c, resp, err := websocket.Dial(ctx, wsURL, nil)
		require.NoError(t, err)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		defer c.CloseNow()

		next := func() map[string]any {
			t.Helper()
			_, data, err := c.Read(ctx)
			require.NoError(t, err)
			var frame map[string]any
			require.NoError(t, json.Unmarshal(data, &frame))
			return frame
		}
		// Frames until the wanted type, skipping none silently: each
		// skipped frame must be one the contract allows here.
		waitFor := func(typ string) map[string]any {
			t.Helper()
			for {
				fr := next()
				if fr["type"] == typ {
					return fr
				}
				require.Contains(t, []any{"unread_count", "notification"}, fr["type"])
			}
		}
		require.EqualValues(t, 1, waitFor("unread_count")["unread_count"])
		// The hub writes the 101 itself, with the first frame: it carries
		// the headers every response does, and the access log records it.
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		require.NotEmpty(t, resp.Header.Get("X-Request-Id"))
		require.Eventually(t, func() bool {
			return strings.Contains(f.logs.String(), `"path":"/ws","route":"/ws","status":101,`)
		}, 10*time.Second, time.Millisecond)

		second := f.send(t, "acme", "alice", "live one")[0]
		fr := waitFor("notification")
		require.Equal(t, second.ID, fr["notification"].(map[string]any)["id"])

		rec := f.call(t, http.MethodPost, "/api/v1/notifications/"+first.ID+"/read", tok, "")
		require.Equal(t, http.StatusNoContent, rec.Code)
		fr = waitFor("read")
		require.Equal(t, []any{first.ID}, fr["ids"])

		rec = f.call(t, http.MethodPost, "/api/v1/notifications/read-all", tok, "")
		require.Equal(t, http.StatusNoContent, rec.Code)
		waitFor("read_all")

		// A foreign browser origin is refused before the upgrade, as JSON.
		hdr := http.Header{"Origin": []string{"https://evil.example"}}
		_, resp, err = websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: hdr})
		require.Error(t, err)
		require.NotNil(t, resp)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.NotContains(t, f.logs.String(), tok)
	})
}
