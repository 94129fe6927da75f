package hub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

// The store production wires in records a socket's user in its catch-up
// read; without this the web layer would record it on its own, in turn.
var _ InboxHeadsRecorder = (*sqlstore.Store)(nil)

// recordEnv serves sockets whose Identity records the user named by the
// request's headers, and keeps each Done's outcome.
type recordEnv struct {
	hub *Hub
	srv *httptest.Server

	mu    sync.Mutex
	dones map[string][]error // by "tenant/user"
}

func newRecordEnv(t *testing.T, history History) *recordEnv {
	t.Helper()
	h, err := New(Config{Registerer: prometheus.NewRegistry()}, history)
	require.NoError(t, err)
	e := &recordEnv{hub: h, dones: map[string][]error{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := Identity{TenantID: domain.TenantID(r.Header.Get("X-Tenant")), UserID: domain.UserID(r.Header.Get("X-User"))}
		if name := r.Header.Get("X-Name"); name != "" {
			key := string(id.TenantID) + "/" + string(id.UserID)
			u := domain.User{TenantID: id.TenantID, ID: id.UserID, Name: name, Perms: []string{}}
			if other := r.Header.Get("X-Record-User"); other != "" {
				u.ID = domain.UserID(other)
			}
			id.Record = &Registration{User: u, Done: func(err error) {
				e.mu.Lock()
				e.dones[key] = append(e.dones[key], err)
				e.mu.Unlock()
			}}
		}
		if err := h.Serve(w, r, id); err != nil && !errors.Is(err, ErrHandshake) {
			status := http.StatusInternalServerError
			var verr *domain.ValidationError
			switch {
			case errors.As(err, &verr):
				status = http.StatusBadRequest
			case errors.Is(err, domain.ErrUnauthenticated):
				status = http.StatusUnauthorized
			}
			http.Error(w, err.Error(), status)
		}
	}))
	t.Cleanup(e.srv.Close)
	t.Cleanup(h.Close)
	return e
}

func (e *recordEnv) outcomes(tenant, user string) []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.dones[tenant+"/"+user]...)
}

// connect opens a socket and returns its frames up to the first
// unread_count (titles of notifications, then the count), or the status
// of a refused handshake, or the close status of a socket that ended.
func (e *recordEnv) connect(t *testing.T, hdr http.Header, since string) (titles []string, unread, status int, closed websocket.StatusCode) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws"
	if since != "" {
		u += "?since=" + url.QueryEscape(since)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		require.NotNil(t, resp, "dial: %v", err)
		return nil, 0, resp.StatusCode, 0
	}
	defer ws.CloseNow()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return titles, 0, 0, websocket.CloseStatus(err)
		}
		var f frame
		require.NoError(t, json.Unmarshal(data, &f))
		switch f.Type {
		case FrameNotification:
			titles = append(titles, f.Notification.Title)
		case FrameUnreadCount:
			return titles, *f.UnreadCount, 0, 0
		}
	}
}

func who(tenant, user, name string) http.Header {
	hdr := http.Header{"X-Tenant": {tenant}, "X-User": {user}}
	if name != "" {
		hdr.Set("X-Name", name)
	}
	return hdr
}

// Sockets that record their users do so in their catch-up read against the
// real stores: each gets its own tenant's figures (the same user id in two
// tenants included), with since too, and each Done learns the success. A
// Record for another user than the identity's is refused before the
// upgrade, without a Done.
func TestSocketsRecordTheirUsersInTheCatchUpRead(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{
		"sqlite":   func(tb testing.TB) *sqlstore.Store { return storetest.OpenSQLite(tb) },
		"postgres": func(tb testing.TB) *sqlstore.Store { return storetest.OpenPostgres(tb) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			ctx := context.Background()
			e := newRecordEnv(t, st)
			require.True(t, e.hub.RecordsUsers())
			var ns []*domain.Notification
			for range 3 {
				n := &domain.Notification{TenantID: "t2", UserID: "u1", Type: "AnnouncementNotification",
					Severity: domain.SeverityInfo, Title: "t2 note", Data: json.RawMessage(`{}`), CreatedAt: time.Now()}
				require.NoError(t, st.InsertNotification(ctx, n))
				ns = append(ns, n)
			}

			// Several at once, two tenants, one user id.
			type want struct {
				tenant, user, name string
				unread             int
			}
			wants := []want{{"t1", "u1", "One", 0}, {"t2", "u1", "Two", 3}, {"t1", "u2", "Three", 0}, {"t2", "u2", "", 0}}
			var wg sync.WaitGroup
			for _, w := range wants {
				wg.Go(func() {
					_, unread, status, closed := e.connect(t, who(w.tenant, w.user, w.name), "")
					require.Zero(t, status)
					require.Zero(t, closed)
					require.Equal(t, w.unread, unread, w)
				})
			}
			wg.Wait()
			for _, w := range wants {
				got, err := st.GetUser(ctx, domain.TenantID(w.tenant), domain.UserID(w.user))
				if w.name == "" {
					require.ErrorIs(t, err, domain.ErrNotFound, "not asked to record")
					require.Empty(t, e.outcomes(w.tenant, w.user))
					continue
				}
				require.NoError(t, err)
				require.Equal(t, w.name, got.Name)
				require.Equal(t, []error{nil}, e.outcomes(w.tenant, w.user))
			}

			// With since: recorded, then the catch-up from there.
			titles, unread, _, _ := e.connect(t, who("t2", "u1", "Two again"), ns[0].ID)
			require.Equal(t, []string{"t2 note", "t2 note"}, titles)
			require.Equal(t, 3, unread)
			got, err := st.GetUser(ctx, "t2", "u1")
			require.NoError(t, err)
			require.Equal(t, "Two again", got.Name)
			got, err = st.GetUser(ctx, "t1", "u1")
			require.NoError(t, err)
			require.Equal(t, "One", got.Name, "t2's record leaves t1's user of that id alone")

			// A Record that is not the identity's user: refused, not recorded.
			hdr := who("t1", "u3", "Mallory")
			hdr.Set("X-Record-User", "u1")
			_, _, status, _ := e.connect(t, hdr, "")
			require.Equal(t, http.StatusUnauthorized, status)
			require.Empty(t, e.outcomes("t1", "u3"))
			got, err = st.GetUser(ctx, "t1", "u1")
			require.NoError(t, err)
			require.Equal(t, "One", got.Name)
		})
	}
}

// recordingHistory is a fakeHistory that records users, or fails to; with
// gate set, a record waits for it (calls counts those that started).
type recordingHistory struct {
	*fakeHistory
	mu       sync.Mutex
	recorded []domain.User
	fail     error
	gate     chan struct{}
	calls    int
}

func (r *recordingHistory) RecordInboxHeads(ctx context.Context, record []domain.User, tenants []domain.TenantID, users []domain.UserID) ([]int64, []int, error) {
	r.mu.Lock()
	r.calls++
	gate := r.gate
	r.mu.Unlock()
	if gate != nil {
		<-gate
	}
	r.mu.Lock()
	fail := r.fail
	if fail == nil {
		r.recorded = append(r.recorded, record...)
	}
	r.mu.Unlock()
	if fail != nil {
		return nil, nil, fail
	}
	return r.fakeHistory.InboxHeads(ctx, tenants, users)
}

// A record that fails fails the catch-up read like any History error (the
// socket is closed 1013, to reconnect) and Done learns it; a hub whose
// History cannot record says so and calls no Done (the caller records).
func TestSocketRecordFailsOrIsLeftToTheCaller(t *testing.T) {
	t.Parallel()
	errDown := errors.New("database down")
	rh := &recordingHistory{fakeHistory: newFakeHistory(), fail: errDown}
	e := newRecordEnv(t, rh)
	_, _, _, closed := e.connect(t, who("t1", "u1", "One"), "")
	require.Equal(t, websocket.StatusCode(CloseTryAgainLater), closed)
	outs := e.outcomes("t1", "u1")
	require.Len(t, outs, 1)
	require.ErrorIs(t, outs[0], errDown)

	rh.mu.Lock()
	rh.fail = nil
	rh.mu.Unlock()
	_, unread, _, closed := e.connect(t, who("t1", "u1", "One"), "")
	require.Zero(t, closed)
	require.Zero(t, unread)
	require.Equal(t, []domain.User{{TenantID: "t1", ID: "u1", Name: "One", Perms: []string{}}}, rh.recorded)

	plain := newRecordEnv(t, newFakeHistory())
	require.False(t, plain.hub.RecordsUsers())
	_, _, _, closed = plain.connect(t, who("t1", "u1", "One"), "")
	require.Zero(t, closed)
	require.Empty(t, plain.outcomes("t1", "u1"))
}

// A socket that ends while its record is in History leaves Done untold:
// the batch may or may not record the user, so the caller records it.
func TestSocketEndedBeforeItsRecordLeavesItToTheCaller(t *testing.T) {
	t.Parallel()
	rh := &recordingHistory{fakeHistory: newFakeHistory(), gate: make(chan struct{})}
	e := newRecordEnv(t, rh)
	ctx, cancel := context.WithCancel(context.Background())
	dialed := make(chan error, 1)
	go func() {
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/ws",
			&websocket.DialOptions{HTTPHeader: who("t1", "u1", "One")})
		if err == nil {
			_ = ws.CloseNow()
		}
		dialed <- err
	}()
	require.Eventually(t, func() bool {
		rh.mu.Lock()
		defer rh.mu.Unlock()
		return rh.calls == 1 && len(e.hub.connsOf("t1", "u1")) == 1
	}, wait, time.Millisecond, "the record did not reach History")
	cancel() // the client gives up: its connection closes
	require.Error(t, <-dialed)
	require.Eventually(t, func() bool { return len(e.hub.connsOf("t1", "u1")) == 0 }, wait, time.Millisecond,
		"the socket did not end")
	require.Empty(t, e.outcomes("t1", "u1"))
	close(rh.gate)
}
