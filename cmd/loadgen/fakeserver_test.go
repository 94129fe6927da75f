package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/notifyhub/notifyhub/web/auth"
)

const testSecret = "loadgen-test-secret-0123456789abcdef"

// fault is what the fake server does to one message: deliver it normally,
// drop it, deliver it twice, or deliver it to the wrong user.
type fault int

const (
	deliver fault = iota
	drop
	twice
	misroute
	// disconnect delivers, then closes the addressee's sockets with 1013
	// (as the hub does when History fails): the client must reconnect
	// with ?since= and get what it missed meanwhile.
	disconnect
)

// fakeServer is a tiny stand-in for notifyhub: the WebSocket contract
// (unread_count first, then notification frames) and
// POST /api/v1/notifications, delivering synchronously, with injected
// faults keyed by (phase, message).
type fakeServer struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	socks map[string][]*websocket.Conn // "tenant/user"
	// history keeps every notification sent to a user, for ?since=
	// catch-up. A personal one's id is "<tenant/user>#<index>"; a
	// broadcast's recipients share one id, as notifyhub's do (one stored
	// notification for the tenant).
	history map[string][]sentFrame
	faults  map[[2]int]fault // (phase, n)
	// silent accepts sends but delivers nothing (a server that hangs).
	silent bool
	posts  int
}

// sentFrame is a notification frame and its notification's id.
type sentFrame struct {
	id    string
	frame []byte
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{t: t, socks: map[string][]*websocket.Conn{}, history: map[string][]sentFrame{}, faults: map[[2]int]fault{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("GET /ws", f.ws)
	mux.HandleFunc("POST /api/v1/notifications", f.notify)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) setFault(phase string, n int, what fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[[2]int{int(phaseIndex(phase)), n}] = what
}

func (f *fakeServer) claims(r *http.Request) (auth.Claims, bool) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	c, err := auth.Verify([]byte(testSecret), tok, time.Now())
	return c, err == nil
}

func (f *fakeServer) ws(w http.ResponseWriter, r *http.Request) {
	c, ok := f.claims(r)
	if !ok {
		http.Error(w, `{"error":{"code":"unauthenticated"}}`, http.StatusUnauthorized)
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	key := string(c.TenantID) + "/" + c.Subject
	// Catch-up and registration under one lock: nothing falls between.
	f.mu.Lock()
	if since := r.URL.Query().Get("since"); since != "" {
		h := f.history[key]
		i := slices.IndexFunc(h, func(s sentFrame) bool { return s.id == since })
		if i < 0 {
			f.mu.Unlock()
			_ = ws.Close(websocket.StatusPolicyViolation, "since: not this user's notification")
			f.t.Errorf("%s: ?since=%s is not one of their notifications", key, since)
			return
		}
		for _, s := range h[i+1:] {
			_ = ws.Write(context.Background(), websocket.MessageText, s.frame)
		}
	}
	_ = ws.Write(context.Background(), websocket.MessageText, []byte(`{"type":"unread_count","unread_count":0}`))
	f.socks[key] = append(f.socks[key], ws)
	f.mu.Unlock()
	ctx := ws.CloseRead(context.Background())
	<-ctx.Done()
}

func (f *fakeServer) notify(w http.ResponseWriter, r *http.Request) {
	c, ok := f.claims(r)
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var body struct {
		UserIDs []string        `json:"user_ids"`
		All     bool            `json:"all"`
		Type    string          `json:"type"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var m struct {
		P int `json:"p"`
		N int `json:"n"`
	}
	_ = json.Unmarshal(body.Data, &m)
	f.mu.Lock()
	f.posts++
	what := f.faults[[2]int{m.P, m.N}]
	// Recipients: users known from their sockets (or their history, when
	// they are reconnecting).
	var to []string
	prefix := string(c.TenantID) + "/"
	known := map[string]bool{}
	for key := range f.socks {
		known[key] = true
	}
	for key := range f.history {
		known[key] = true
	}
	for key := range known {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		user := strings.TrimPrefix(key, prefix)
		if body.All || (len(body.UserIDs) == 1 && body.UserIDs[0] == user) {
			to = append(to, key)
		}
	}
	if what == misroute {
		// Deliver to someone else of the tenant instead of the addressee.
		to = nil
		for key := range f.socks {
			if strings.HasPrefix(key, prefix) && key != prefix+body.UserIDs[0] {
				to = []string{key}
				break
			}
		}
	}
	defer f.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	_, _ = fmt.Fprint(w, `{"id":"x"}`)
	if f.silent || what == drop {
		return
	}
	copies := 1
	if what == twice {
		copies = 2
	}
	broadcastID := fmt.Sprintf("%s#broadcast-%d", c.TenantID, f.posts)
	for _, key := range to {
		id := fmt.Sprintf("%s#%d", key, len(f.history[key]))
		if body.All {
			id = broadcastID
		}
		frame := fmt.Appendf(nil, `{"type":"notification","notification":{"id":"%s","type":"AlertNotification","data":%s}}`,
			id, body.Data)
		f.history[key] = append(f.history[key], sentFrame{id: id, frame: frame})
		for _, ws := range f.socks[key] {
			for range copies {
				_ = ws.Write(r.Context(), websocket.MessageText, frame)
				_ = ws.Write(r.Context(), websocket.MessageText, []byte(`{"type":"unread_count","unread_count":1}`))
			}
			if what == disconnect {
				_ = ws.Close(websocket.StatusTryAgainLater, "history unavailable")
			}
		}
		if what == disconnect {
			delete(f.socks, key)
		}
	}
}

func (f *fakeServer) config() Config {
	return Config{
		URL: f.srv.URL, Secret: testSecret, Clients: 12, Tenants: 3, ConnectConcurrency: 4, AlertUsers: 1,
		Duration: 5 * time.Second, MaxMessages: 30, PersonalRate: 100, BroadcastRate: 400, BusinessRate: 10,
		Senders: 4, Drain: 5 * time.Second, MaxDuration: time.Minute,
	}
}
