package web_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/hub"
	"github.com/notifyhub/notifyhub/static"
	"github.com/notifyhub/notifyhub/web"
)

func TestOperationsEndpoints(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		reg := prometheus.NewRegistry()
		var notReady error
		f := newFixture(t, open, func(c *web.Config, _ *web.Deps) {
			c.Registerer = reg
			c.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
			st := c.Ready
			c.Ready = func(ctx context.Context) error {
				if notReady != nil {
					return notReady
				}
				return st(ctx)
			}
		})

		rec := f.do(t, req{method: http.MethodGet, path: "/healthz"})
		require.Equal(t, http.StatusOK, rec.Code)
		require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
		require.NotEmpty(t, rec.Header().Get("X-Request-Id"))

		rec = f.do(t, req{method: http.MethodGet, path: "/readyz"})
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
		notReady = errors.New("redis: connection refused")
		requireError(t, f.do(t, req{method: http.MethodGet, path: "/readyz"}), http.StatusServiceUnavailable, "unavailable")

		rec = f.do(t, req{method: http.MethodGet, path: "/metrics"})
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Body.String(), `notifyhub_http_requests_total{method="GET",route="/readyz",status="503"} 1`)

		// Unknown routes and methods answer JSON too.
		requireError(t, f.do(t, req{method: http.MethodGet, path: "/api/v1/nope", token: token(t, "acme", "a")}), http.StatusNotFound, "not_found")
		requireError(t, f.do(t, req{method: http.MethodGet, path: "/nope"}), http.StatusNotFound, "not_found")
		requireError(t, f.do(t, req{method: http.MethodPut, path: "/healthz"}), http.StatusMethodNotAllowed, "method_not_allowed")

		// A client request id is echoed when sane, replaced when not.
		rec = f.do(t, req{method: http.MethodGet, path: "/healthz", header: map[string]string{"X-Request-Id": "abc-123"}})
		require.Equal(t, "abc-123", rec.Header().Get("X-Request-Id"))
		rec = f.do(t, req{method: http.MethodGet, path: "/healthz", header: map[string]string{"X-Request-Id": "bad id\n"}})
		require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{24}$`), rec.Header().Get("X-Request-Id"))
	})
}

func TestStaticAssets(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		for _, name := range []string{"center.js", "center.css"} {
			u := static.URL(name)
			require.Regexp(t, `^/static/center\.[0-9a-f]{12}\.(js|css)$`, u)
			rec := f.do(t, req{method: http.MethodGet, path: u})
			require.Equal(t, http.StatusOK, rec.Code)
			require.Contains(t, rec.Header().Get("Cache-Control"), "immutable")
			require.NotEmpty(t, rec.Body.String())
			etag := rec.Header().Get("ETag")

			rec = f.do(t, req{method: http.MethodGet, path: u, header: map[string]string{"If-None-Match": etag}})
			require.Equal(t, http.StatusNotModified, rec.Code)

			rec = f.do(t, req{method: http.MethodGet, path: "/static/" + name})
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, "no-cache", rec.Header().Get("Cache-Control"))
		}
		require.Contains(t, f.do(t, req{method: http.MethodGet, path: static.URL("center.js")}).Header().Get("Content-Type"), "javascript")
		require.Contains(t, f.do(t, req{method: http.MethodGet, path: static.URL("center.css")}).Header().Get("Content-Type"), "text/css")
		require.Equal(t, http.StatusNotFound, f.do(t, req{method: http.MethodGet, path: "/static/center.000000000000.js"}).Code)
		require.Equal(t, http.StatusNotFound, f.do(t, req{method: http.MethodGet, path: "/static/../web/router.go"}).Code)
	})
}

func TestPanicIsRecovered(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		f.socket.serve = func(http.ResponseWriter, *http.Request, hub.Identity) error { panic("boom") }
		rec := f.do(t, req{method: http.MethodGet, path: "/ws", token: token(t, "acme", "alice")})
		requireError(t, rec, http.StatusInternalServerError, "internal")
		require.NotContains(t, rec.Body.String(), "boom", "the cause stays in the log")
		require.Contains(t, f.logs.String(), "boom")
		// The server keeps serving.
		require.Equal(t, http.StatusOK, f.do(t, req{method: http.MethodGet, path: "/healthz"}).Code)
	})
}
