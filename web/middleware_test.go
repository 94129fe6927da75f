package web_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/hub"
	"github.com/notifyhub/notifyhub/web"
)

// logLines are the JSON log lines with msg.
func logLines(t *testing.T, logs, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// At info level every request has its access line: the request id it
// answered with, the route, the status and, once authenticated, the
// caller. Handlers behind authentication get the caller's claims.
func TestAccessLogNamesRequestAndCaller(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		tok := token(t, "acme", "alice", domain.PermNotificationsSend)
		rec := f.do(t, req{method: http.MethodGet, path: "/api/v1/notifications/unread-count", token: tok,
			header: map[string]string{"X-Request-Id": "req-1"}})
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Equal(t, "req-1", rec.Header().Get("X-Request-Id"))
		rec = f.call(t, http.MethodPost, "/api/v1/notifications", tok,
			`{"user_ids":["alice"],"type":"alert","severity":"info","title":"hi"}`)
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
		sent := rec.Header().Get("X-Request-Id")
		require.Regexp(t, `^[0-9a-f]{24}$`, sent)
		requireError(t, f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", "", ""), http.StatusUnauthorized, "unauthenticated")

		lines := logLines(t, f.logs.String(), "http request")
		require.Len(t, lines, 3)
		require.Equal(t, "req-1", lines[0]["request_id"])
		require.Equal(t, "/api/v1/notifications/unread-count", lines[0]["route"])
		require.EqualValues(t, 200, lines[0]["status"])
		require.Equal(t, "acme", lines[0]["tenant"])
		require.Equal(t, "alice", lines[0]["user"])
		require.Equal(t, sent, lines[1]["request_id"])
		require.Equal(t, "POST", lines[1]["method"])
		require.EqualValues(t, 202, lines[1]["status"])
		require.Equal(t, "alice", lines[1]["user"])
		require.EqualValues(t, 401, lines[2]["status"])
		require.NotContains(t, lines[2], "tenant", "no caller before authentication")
		// The rejection is logged (debug) with the same request id.
		rejected := logLines(t, f.logs.String(), "request rejected")
		require.Len(t, rejected, 1)
		require.Equal(t, lines[2]["request_id"], rejected[0]["request_id"])
	})
}

// Above info level no access line is built, but server faults are still
// logged with their request id, and the request id is still answered.
func TestAccessLogOffStillLogsFaults(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		logs := &syncBuffer{}
		f := newFixture(t, open, func(c *web.Config, _ *web.Deps) {
			c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		})
		tok := token(t, "acme", "alice")
		rec := f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", tok, "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.NotEmpty(t, rec.Header().Get("X-Request-Id"))

		f.socket.serve = func(http.ResponseWriter, *http.Request, hub.Identity) error { panic("boom") }
		rec = f.do(t, req{method: http.MethodGet, path: "/ws", token: tok})
		requireError(t, rec, http.StatusInternalServerError, "internal")

		require.Empty(t, logLines(t, logs.String(), "http request"))
		panics := logLines(t, logs.String(), "panic serving request")
		require.Len(t, panics, 1)
		require.Equal(t, rec.Header().Get("X-Request-Id"), panics[0]["request_id"])
	})
}

// Every response carries the security headers; a handler that changes
// them on its response changes no other response (their values are
// shared between responses).
func TestSharedHeaderValuesStayIntact(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		f.socket.serve = func(w http.ResponseWriter, _ *http.Request, _ hub.Identity) error {
			h := w.Header()
			h.Add("X-Frame-Options", "SAMEORIGIN")
			h.Add("X-Content-Type-Options", "other")
			h.Set("Referrer-Policy", "no-referrer")
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		rec := f.do(t, req{method: http.MethodGet, path: "/ws", token: token(t, "acme", "alice")})
		require.Equal(t, http.StatusNoContent, rec.Code)
		require.Equal(t, []string{"DENY", "SAMEORIGIN"}, rec.Header().Values("X-Frame-Options"))
		require.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"))
		for range 2 {
			rec = f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", token(t, "acme", "alice"), "")
			require.Equal(t, http.StatusOK, rec.Code)
			h := rec.Header()
			require.Equal(t, []string{"DENY"}, h.Values("X-Frame-Options"))
			require.Equal(t, []string{"nosniff"}, h.Values("X-Content-Type-Options"))
			require.Equal(t, []string{"same-origin"}, h.Values("Referrer-Policy"))
			require.Equal(t, []string{"application/json; charset=utf-8"}, h.Values("Content-Type"))
			require.Equal(t, []string{"no-store"}, h.Values("Cache-Control"))
		}
	})
}
