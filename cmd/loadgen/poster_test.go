package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// The hand-written encoding of a send is byte for byte json.Marshal's,
// escapes included.
func TestNotifyBodyAppendJSONIsMarshal(t *testing.T) {
	t.Parallel()
	bodies := []notifyBody{
		{Type: "alert", Severity: "info", Title: "loadgen personal #12", UserIDs: []string{"u00001"},
			Data: notifyData{Run: "ab12cd34", Phase: 1, N: 12, T: 1_765_000_000_123_456_789}},
		{Type: "announcement", Severity: "info", Title: "loadgen broadcast #0", All: true,
			Data: notifyData{Run: "00", Phase: 3, N: 0, T: 1}},
		{Type: `q"uo\te`, Severity: "<&>", Title: "tab\there é \u2028 \x01", UserIDs: []string{"a", "b\"c"},
			Data: notifyData{Run: "r\n", Phase: -1, N: -5, T: -7}},
		{},
	}
	for _, b := range bodies {
		want, err := json.Marshal(b)
		require.NoError(t, err)
		require.Equal(t, string(want), string(b.appendJSON(nil)))
	}
}

// A poster keeps one connection for its requests, reads each response
// whole (bodies of errors returned, others skipped) and redials when the
// server closes the connection.
func TestPosterKeepsAliveAndRedials(t *testing.T) {
	t.Parallel()
	var (
		conns atomic.Int32
		mu    sync.Mutex
		got   []string
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+r.Header.Get("Content-Type")+" "+string(b))
		mu.Unlock()
		switch string(b) {
		case `"bad"`:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":{"code":"invalid_input"}}`)
		case `"close"`:
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusAccepted)
		case `"big"`:
			w.WriteHeader(http.StatusAccepted) // a body larger than is kept, chunked
			_, _ = io.WriteString(w, strings.Repeat("x", 10_000))
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, strings.Repeat("y", 10_000))
		default:
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, `{"id":"1"}`)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	tg, err := resolveTarget(context.Background(), srv.URL)
	require.NoError(t, err)
	p := newPoster(tg)
	t.Cleanup(p.close)
	ctx := context.Background()

	for range 3 {
		status, out, err := p.post(ctx, "tok", "/api/v1/notifications", []byte(`"ok"`))
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, status)
		require.Empty(t, out)
	}
	status, _, err := p.post(ctx, "tok", "/api/v1/notifications", []byte(`"big"`))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
	status, out, err := p.post(ctx, "tok", "/api/v1/notifications", []byte(`"bad"`))
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, status)
	require.JSONEq(t, `{"error":{"code":"invalid_input"}}`, string(out))
	require.EqualValues(t, 1, conns.Load(), "one kept-alive connection")

	status, _, err = p.post(ctx, "tok", "/api/v1/notifications", []byte(`"close"`))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
	status, _, err = p.post(ctx, "tok", "/x", []byte(`"ok"`))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
	require.EqualValues(t, 2, conns.Load(), "a new connection after Connection: close")

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 7)
	require.Equal(t, `POST /api/v1/notifications Bearer tok application/json "ok"`, got[0])
	require.Equal(t, `POST /x Bearer tok application/json "ok"`, got[6])
}

// A request cancelled while the server holds it returns the context's
// error, and the poster works again afterwards on a new connection; a
// dead server is an error, not a hang.
func TestPosterCancelAndFailure(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			<-release
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	tg, err := resolveTarget(context.Background(), srv.URL)
	require.NoError(t, err)
	ps := newPosters(tg, 2)
	t.Cleanup(ps.closeAll)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := ps.post(ctx, "tok", "/hang", []byte("{}"))
		done <- err
	}()
	// The other poster still serves while one request hangs.
	status, _, err := ps.post(context.Background(), "tok", "/ok", []byte("{}"))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	for range 4 {
		status, _, err := ps.post(context.Background(), "tok", "/ok", []byte("{}"))
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, status)
	}

	// A listener that closes every connection at once: each post fails.
	addr := acceptLoop(t, func(c net.Conn) { _ = c.Close() })
	dead, err := resolveTarget(context.Background(), "http://"+addr)
	require.NoError(t, err)
	p := newPoster(dead)
	for range 2 {
		_, _, err := p.post(context.Background(), "tok", "/x", []byte("{}"))
		require.Error(t, err)
	}
}

// A notification frame decodes in one pass, marker included; a frame
// whose data is not a marker still yields its id (for ?since=) but no
// marker; anything else is not a notification.
func TestDecodeFrame(t *testing.T) {
	t.Parallel()
	cases := []struct {
		frame      string
		ok, dataOK bool
		id         string
		m          marker
	}{
		{`{"type":"notification","notification":{"id":"n1","type":"AlertNotification","data":{"lg":"r","p":2,"n":7,"t":5}}}`,
			true, true, "n1", marker{Run: "r", Phase: 2, N: 7}},
		{`{"type":"notification","notification":{"id":"n2","type":"LowStockNotification","data":{"product_id":"p1","sku":"S"}}}`,
			true, true, "n2", marker{ProductID: "p1"}},
		{`{"type":"notification","notification":{"id":"n3","type":"X","data":{"n":"seven"}}}`, true, false, "n3", marker{}},
		{`{"type":"notification","notification":{"id":"n4","type":"X","data":[1]}}`, true, false, "n4", marker{}},
		{`{"type":"notification","notification":{"id":5,"type":"X","data":{"n":1}}}`, false, false, "", marker{}},
		{`{"type":"notification","notification":{"id":"n6","type":"X","data":null}}`, true, true, "n6", marker{}},
		{`{"type":"unread_count","unread_count":3}`, false, false, "", marker{}},
		{`{"type":"notification"}`, false, false, "", marker{}},
		{`{"type":"notification","notification":{"id":"n7"`, false, false, "", marker{}},
	}
	for _, c := range cases {
		var f wireFrame
		ok, dataOK := decodeFrame([]byte(c.frame), &f)
		require.Equal(t, c.ok, ok, c.frame)
		if !ok {
			continue
		}
		require.Equal(t, c.dataOK, dataOK, c.frame)
		require.Equal(t, c.id, f.Notification.ID, c.frame)
		if dataOK {
			require.Equal(t, c.m, f.Notification.Data, c.frame)
		}
	}
}
