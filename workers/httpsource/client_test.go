package httpsource_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/extsync"
	"github.com/notifyhub/notifyhub/workers/httpsource"
)

func client(t *testing.T, allow ...string) *httpsource.Client {
	t.Helper()
	p, err := extsync.ParseHostPolicy(allow)
	require.NoError(t, err)
	c, err := httpsource.New(httpsource.Config{Policy: &p})
	require.NoError(t, err)
	return c
}

func fetch(c *httpsource.Client, url string, timeout time.Duration, maxBytes int64) ([]byte, *extsync.FetchError) {
	body, err := c.Fetch(context.Background(), extsync.Request{URL: url, AuthHeader: "Bearer k", Timeout: timeout, MaxBytes: maxBytes})
	if err == nil {
		return body, nil
	}
	var fe *extsync.FetchError
	if !errors.As(err, &fe) {
		panic(fmt.Sprintf("not a FetchError: %v", err))
	}
	return body, fe
}

func TestFetchReadsTheBodyWithTheAuthHeader(t *testing.T) {
	t.Parallel()
	var auth, accept atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		accept.Store(r.Header.Get("Accept"))
		fmt.Fprint(w, `{"data": []}`)
	}))
	defer srv.Close()
	body, fe := fetch(client(t, "127.0.0.1"), srv.URL+"/p", time.Second, 1024)
	require.Nil(t, fe)
	require.JSONEq(t, `{"data": []}`, string(body))
	require.Equal(t, "Bearer k", auth.Load())
	require.Equal(t, "application/json", accept.Load())
}

func TestFetchClassifiesFailures(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/500":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "/429":
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case "/401":
			http.Error(w, "who", http.StatusUnauthorized)
		case "/hang":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/slow-body":
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/big":
			fmt.Fprint(w, strings.Repeat("x", 5000))
		case "/big-chunked":
			for range 10 {
				fmt.Fprint(w, strings.Repeat("x", 600))
				w.(http.Flusher).Flush()
			}
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(release)
	c := client(t, "127.0.0.1")

	for path, want := range map[string]struct {
		permanent bool
		status    int
		msg       string
	}{
		"/500":         {false, 500, "answered 500 Internal Server Error"},
		"/429":         {false, 429, "answered 429 Too Many Requests"},
		"/401":         {true, 401, "answered 401 Unauthorized"},
		"/missing":     {true, 404, "answered 404 Not Found"},
		"/hang":        {false, 0, "no complete response within 300ms"},
		"/slow-body":   {false, 0, "no complete response within 300ms"},
		"/big":         {true, 200, "larger than the limit of 1024 bytes"},
		"/big-chunked": {true, 200, "larger than the limit of 1024 bytes"},
		"/loop":        {true, 0, "stopped after the most redirects"},
	} {
		start := time.Now()
		_, fe := fetch(c, srv.URL+path, 300*time.Millisecond, 1024)
		require.NotNil(t, fe, path)
		require.Equal(t, want.permanent, fe.Permanent, path)
		require.Equal(t, want.permanent, domain.Permanent(fe), path)
		require.Equal(t, want.status, fe.Status, path)
		require.False(t, fe.Refused, path)
		require.Contains(t, fe.Error(), want.msg, path)
		require.Less(t, time.Since(start), 5*time.Second, "%s: the timeout bounds every request", path)
	}
}

func TestFetchRefusesForbiddenDestinations(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/to-other-loopback":
			http.Redirect(w, r, strings.Replace(srv.URL, "127.0.0.1", "127.0.0.2", 1)+"/x", http.StatusTemporaryRedirect)
		case "/to-localhost":
			// localhost resolves to 127.0.0.1, which is listed: the dial
			// check judges the resolved address, so this is allowed.
			http.Redirect(w, r, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/ok", http.StatusFound)
		case "/ok":
			fmt.Fprint(w, `{"data": []}`)
		}
	}))
	defer srv.Close()
	c := client(t, "127.0.0.1")

	for path, want := range map[string]string{
		"/to-metadata":       "169.254.169.254",
		"/to-other-loopback": "127.0.0.2",
	} {
		_, fe := fetch(c, srv.URL+path, time.Second, 1024)
		require.NotNil(t, fe, path)
		require.True(t, fe.Refused, path)
		require.True(t, domain.Permanent(fe), path)
		require.Contains(t, fe.Error(), want, path)
	}
	_, fe := fetch(c, srv.URL+"/to-localhost", time.Second, 1024)
	require.Nil(t, fe)
	require.EqualValues(t, 4, hits.Load(), "no request ever reached a refused destination")

	// With the default policy loopback is refused before any request.
	_, fe = fetch(client(t), srv.URL+"/ok", time.Second, 1024)
	require.NotNil(t, fe)
	require.True(t, fe.Refused)
	require.Contains(t, fe.Error(), "loopback")
	// A name that resolves to loopback is refused at dial time.
	_, fe = fetch(client(t), strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/ok", time.Second, 1024)
	require.NotNil(t, fe)
	require.True(t, fe.Refused)
	require.EqualValues(t, 4, hits.Load())
}

func TestFetchHonoursTheCallersContext(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := client(t, "127.0.0.1").Fetch(ctx, extsync.Request{URL: srv.URL, Timeout: time.Minute, MaxBytes: 10})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "cancelled")
	require.False(t, domain.Permanent(err))
}

func TestNewNeedsAPolicy(t *testing.T) {
	t.Parallel()
	_, err := httpsource.New(httpsource.Config{})
	require.Error(t, err)
}
