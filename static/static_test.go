package static_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/static"
)

func TestFingerprintedAssets(t *testing.T) {
	t.Parallel()
	h := static.Handler()
	require.ElementsMatch(t, []string{"center.css", "center.js", "dashboard.js"}, static.Names())
	for _, name := range static.Names() {
		u := static.URL(name)
		require.NotEqual(t, static.Prefix+name, u, "fingerprinted")

		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u, nil))
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "public, max-age=31536000, immutable", rec.Header().Get("Cache-Control"))
		require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
		require.NotEmpty(t, rec.Body.Bytes())
		hash := strings.Split(strings.TrimPrefix(u, static.Prefix), ".")[1]
		require.Equal(t, `"`+hash+`"`, rec.Header().Get("ETag"))

		rec = httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, u, nil)
		r.Header.Set("If-None-Match", `"`+hash+`"`)
		h.ServeHTTP(rec, r)
		require.Equal(t, http.StatusNotModified, rec.Code)
		require.Empty(t, rec.Body.Bytes())

		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, u, nil))
		require.Equal(t, http.StatusOK, rec.Code)
		require.Empty(t, rec.Body.Bytes())
	}
	for _, bad := range []string{"/static/nope.js", "/static/", "/other/center.js", "/static/center.js/x"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, bad, nil))
		require.Equal(t, http.StatusNotFound, rec.Code, bad)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, static.URL("center.js"), nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

// The scripts must never build markup from strings: server data is only
// ever set as text.
func TestScriptsAvoidHTMLSinks(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"center.js", "dashboard.js"} {
		rec := httptest.NewRecorder()
		static.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, static.URL(name), nil))
		require.Equal(t, http.StatusOK, rec.Code, name)
		js := rec.Body.String()
		for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			require.NotContains(t, js, sink, name)
		}
	}
}
