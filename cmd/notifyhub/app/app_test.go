package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/web/auth"
	"github.com/notifyhub/notifyhub/workers/relay"
	"github.com/notifyhub/notifyhub/workers/runner"
	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

const testSecret = "test-secret-test-secret-test-secret-0123"

// mode is one deployment mode's configuration, minus the address.
type mode struct {
	name string
	cfg  func(t *testing.T) app.Config
}

func embedded() mode {
	return mode{name: "embedded", cfg: func(t *testing.T) app.Config {
		return app.Config{DatabaseURL: filepath.Join(t.TempDir(), "notifyhub.db")}
	}}
}

func distributed() mode {
	return mode{name: "distributed", cfg: func(t *testing.T) app.Config {
		dbURL := postgresSchemaURL(t)
		_, prefix := streamtest.OpenRedis(t)
		return app.Config{DatabaseURL: dbURL, RedisURL: os.Getenv("NOTIFYHUB_TEST_REDIS_URL"),
			RedisPrefix: prefix, JWTSecret: testSecret}
	}}
}

// postgresSchemaURL returns a URL whose connections use a fresh schema,
// so parallel tests never see each other's rows.
func postgresSchemaURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv(storetest.DatabaseURLEnv)
	if base == "" {
		t.Skip("NOTIFYHUB_TEST_DATABASE_URL not set: distributed-mode tests need PostgreSQL")
	}
	if os.Getenv(streamtest.RedisURLEnv) == "" {
		t.Skip("NOTIFYHUB_TEST_REDIS_URL not set: distributed-mode tests need Redis")
	}
	return storetest.WithSearchPath(base, storetest.NewSchema(t, base))
}

// lockedBuffer is a bytes.Buffer safe for the app's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs an app until the test ends.
func start(t *testing.T, cfg app.Config) *app.App {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	// The app's log is shown when the test fails, to say why.
	logs := &lockedBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("app log:\n%s", logs.String())
		}
	})
	cfg.Worker = runner.Config{Tries: 3, Backoff: []time.Duration{10 * time.Millisecond}, Timeout: 10 * time.Second,
		ReadBlock: 100 * time.Millisecond, Concurrency: cfg.Worker.Concurrency}
	cfg.Relay = relay.Config{PollInterval: 50 * time.Millisecond}
	a, err := app.New(context.Background(), cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, a.Close())
	})
	return a
}

func token(t *testing.T, a *app.App, tenant domain.TenantID, user domain.UserID, perms ...string) string {
	t.Helper()
	tok, err := auth.Issue(a.Secret(), domain.User{TenantID: tenant, ID: user, Name: string(user), Perms: perms}, time.Hour, time.Now())
	require.NoError(t, err)
	return tok
}

// call sends a JSON request and decodes a JSON answer into out (if given).
func call(t *testing.T, a *app.App, tok, method, path string, body any, wantStatus int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.URL()+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, wantStatus, res.StatusCode, "%s %s: %s", method, path, raw)
	if out != nil {
		require.NoError(t, json.Unmarshal(raw, out))
	}
}

// frame is a server → client WebSocket message.
type frame struct {
	Type         string            `json:"type"`
	Notification *notificationJSON `json:"notification"`
	UnreadCount  *int              `json:"unread_count"`
	IDs          []string          `json:"ids"`
	Raw          json.RawMessage   `json:"-"`
}

type notificationJSON struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Severity  string          `json:"severity"`
	Title     string          `json:"title"`
	Body      string          `json:"body"`
	ActionURL string          `json:"action_url"`
	Data      json.RawMessage `json:"data"`
	ReadAt    *string         `json:"read_at"`
	CreatedAt string          `json:"created_at"`
}

// client reads its socket all the time, as a browser does: the WebSocket
// library answers the server's pings only while a read is in progress, so
// a client that read only when the test asked for a frame would miss its
// pongs while the test worked elsewhere, and the server would close it.
type client struct {
	t      *testing.T
	conn   *websocket.Conn
	frames chan []byte
	done   chan struct{} // closed when the reader stops; err says why
	err    error
}

func (c *client) readAll() {
	defer close(c.done)
	for {
		_, b, err := c.conn.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		c.frames <- b
	}
}

func dial(t *testing.T, a *app.App, tok, query string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := strings.Replace(a.URL(), "http://", "ws://", 1) + "/ws" + query
	c, res, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}})
	if res != nil && res.Body != nil {
		res.Body.Close()
	}
	require.NoError(t, err)
	c.SetReadLimit(1 << 20)
	cl := &client{t: t, conn: c, frames: make(chan []byte, 4096), done: make(chan struct{})}
	go cl.readAll()
	t.Cleanup(func() {
		c.CloseNow()
		<-cl.done
	})
	return cl
}

// next reads the next frame, failing the test if none comes in time.
func (c *client) next() frame {
	c.t.Helper()
	var b []byte
	select {
	case b = <-c.frames:
	case <-c.done:
		select {
		case b = <-c.frames: // read before the socket ended
		default:
			require.NoError(c.t, c.err, "the socket ended")
			c.t.Fatal("the socket ended")
		}
	case <-time.After(20 * time.Second):
		c.t.Fatal("no frame within 20s")
	}
	var f frame
	require.NoError(c.t, json.Unmarshal(b, &f), string(b))
	f.Raw = b
	return f
}

// nextNotification skips unread_count frames and returns the next
// notification frame's notification.
func (c *client) nextNotification() notificationJSON {
	c.t.Helper()
	for {
		f := c.next()
		if f.Type == "unread_count" {
			continue
		}
		require.Equal(c.t, "notification", f.Type, string(f.Raw))
		return *f.Notification
	}
}

type productJSON struct {
	ID     string `json:"id"`
	SKU    string `json:"sku"`
	OnHand int64  `json:"on_hand"`
}

// movement posts a stock movement through the API.
func movement(t *testing.T, a *app.App, tok, productID string, qty int64) {
	t.Helper()
	call(t, a, tok, "POST", "/api/v1/stock-movements", map[string]any{
		"product_id": productID, "quantity": qty, "reason": "test",
	}, http.StatusCreated, nil)
}

// TestLowStockReachesTheRightSockets: in each mode, a stock movement that
// crosses the reorder level, posted to one process, reaches the sockets of
// the tenant's users holding inventory.alerts, connected to another
// process, exactly once; nobody else receives anything.
func TestLowStockReachesTheRightSockets(t *testing.T) {
	t.Parallel()
	for _, m := range []mode{embedded(), distributed()} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			cfg := m.cfg(t)
			a := start(t, cfg)
			b := a // embedded mode is one process
			if m.name == "distributed" {
				b = start(t, cfg) // a second process on the same PostgreSQL and Redis
			}
			admin := token(t, a, "acme", "alice", domain.PermAdmin)
			bob := dial(t, b, token(t, b, "acme", "bob", domain.PermInventoryAlerts), "")
			carol := dial(t, b, token(t, b, "acme", "carol", domain.PermSalesManage), "")
			otherBob := dial(t, b, token(t, b, "globex", "bob", domain.PermInventoryAlerts, domain.PermAdmin), "")
			for _, c := range []*client{bob, carol, otherBob} {
				f := c.next()
				require.Equal(t, "unread_count", f.Type)
				require.Equal(t, 0, *f.UnreadCount)
			}

			var p productJSON
			call(t, a, admin, "POST", "/api/v1/products", map[string]any{
				"sku": "SKU-1", "name": "Oak chair", "price": "89.00", "reorder_level": 10,
			}, http.StatusCreated, &p)
			movement(t, a, admin, p.ID, 12)
			movement(t, a, admin, p.ID, -5) // 12 → 7: crosses below 10

			n1 := bob.nextNotification()
			require.Equal(t, "LowStockNotification", n1.Type)
			require.Equal(t, "warning", n1.Severity)
			require.Equal(t, "/products/"+p.ID, n1.ActionURL)
			var data map[string]any
			require.NoError(t, json.Unmarshal(n1.Data, &data))
			require.Equal(t, "SKU-1", data["sku"])
			require.EqualValues(t, 7, data["current_quantity"])
			require.EqualValues(t, 10, data["minimum_quantity"])

			movement(t, a, admin, p.ID, -1) // 7 → 6: already below, no new alert
			movement(t, a, admin, p.ID, 10) // 6 → 16: back above
			movement(t, a, admin, p.ID, -8) // 16 → 8: crosses again
			n2 := bob.nextNotification()
			require.Equal(t, "LowStockNotification", n2.Type)
			require.NotEqual(t, n1.ID, n2.ID, "the first notification was delivered twice")
			require.NoError(t, json.Unmarshal(n2.Data, &data))
			require.EqualValues(t, 8, data["current_quantity"])

			// Carol (no inventory.alerts) and bob of another tenant got
			// nothing: the next thing each receives is a marker sent now.
			for _, who := range []struct {
				c      *client
				tenant domain.TenantID
				user   domain.UserID
			}{{carol, "acme", "carol"}, {otherBob, "globex", "bob"}} {
				_, err := a.Notifications.SendToUsers(context.Background(), who.tenant, []domain.UserID{who.user},
					notification.Draft{Type: "AlertNotification", Severity: domain.SeverityInfo, Title: "marker"})
				require.NoError(t, err)
				got := who.c.nextNotification()
				require.Equal(t, "marker", got.Title, "%s/%s received someone else's notification", who.tenant, who.user)
			}

			// Every event the movements appended is counted, also those
			// written with the movement in one statement.
			require.Equal(t, 2, metricValue(a, `notifyhub_events_appended_total{type="LowStockDetected"}`))
			require.Equal(t, 5, metricValue(a, `notifyhub_events_appended_total{type="StockMovementRecorded"}`))

			// The inbox agrees: bob has exactly the two alerts.
			var page struct {
				Data        []notificationJSON `json:"data"`
				UnreadCount int                `json:"unread_count"`
			}
			call(t, b, token(t, b, "acme", "bob", domain.PermInventoryAlerts), "GET", "/api/v1/notifications", nil, http.StatusOK, &page)
			require.Len(t, page.Data, 2)
			require.Equal(t, 2, page.UnreadCount)
			require.Equal(t, n2.ID, page.Data[0].ID)
		})
	}
}

// TestReconnectWithSinceGetsExactlyTheMissed: notifications committed while
// a client was away arrive on reconnect with since, oldest first, then
// unread_count, then live ones.
func TestReconnectWithSinceGetsExactlyTheMissed(t *testing.T) {
	t.Parallel()
	for _, m := range []mode{embedded(), distributed()} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			a := start(t, m.cfg(t))
			tok := token(t, a, "acme", "dana")
			send := func(title string) {
				_, err := a.Notifications.SendToUsers(context.Background(), "acme", []domain.UserID{"dana"},
					notification.Draft{Type: "AlertNotification", Severity: domain.SeverityInfo, Title: title})
				require.NoError(t, err)
			}
			c := dial(t, a, tok, "")
			require.Equal(t, "unread_count", c.next().Type)
			send("one")
			seen := c.nextNotification()
			require.Equal(t, "one", seen.Title)
			c.conn.Close(websocket.StatusNormalClosure, "")

			send("two")
			send("three")
			c2 := dial(t, a, tok, "?since="+seen.ID)
			require.Equal(t, "two", c2.next().Notification.Title)
			require.Equal(t, "three", c2.next().Notification.Title)
			f := c2.next()
			require.Equal(t, "unread_count", f.Type)
			require.Equal(t, 3, *f.UnreadCount)
			send("four")
			require.Equal(t, "four", c2.nextNotification().Title)
		})
	}
}

// TestSocketRefusals: the real server refuses bad credentials, a foreign
// origin and a malformed since before upgrading, with a JSON error.
func TestSocketRefusals(t *testing.T) {
	t.Parallel()
	a := start(t, embedded().cfg(t))
	good := token(t, a, "acme", "erin")
	expired, err := auth.Issue(a.Secret(), domain.User{TenantID: "acme", ID: "erin"}, time.Minute, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	otherSecret, err := auth.Issue([]byte(strings.Repeat("x", 40)), domain.User{TenantID: "acme", ID: "erin"}, time.Hour, time.Now())
	require.NoError(t, err)
	// alg "none" and HS512 with the right secret: both must be refused.
	none := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + strings.Split(good, ".")[1] + "."
	cases := []struct {
		name, query string
		header      http.Header
		status      int
	}{
		{"no token", "", nil, 401},
		{"garbage token", "", http.Header{"Authorization": {"Bearer not.a.jwt"}}, 401},
		{"expired", "", http.Header{"Authorization": {"Bearer " + expired}}, 401},
		{"wrong secret", "", http.Header{"Authorization": {"Bearer " + otherSecret}}, 401},
		{"alg none", "", http.Header{"Authorization": {"Bearer " + none}}, 401},
		{"foreign origin", "", http.Header{"Authorization": {"Bearer " + good}, "Origin": {"https://evil.example"}}, 403},
		{"malformed since", "?since=not-a-uuid", http.Header{"Authorization": {"Bearer " + good}}, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, res, err := websocket.Dial(ctx, strings.Replace(a.URL(), "http", "ws", 1)+"/ws"+tc.query,
				&websocket.DialOptions{HTTPHeader: tc.header})
			require.Error(t, err)
			require.NotNil(t, res)
			defer res.Body.Close()
			require.Equal(t, tc.status, res.StatusCode)
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
			require.NotEmpty(t, body.Error.Code)
		})
	}
	// The serving host itself is always allowed as an origin.
	c, res, err := websocket.Dial(context.Background(), strings.Replace(a.URL(), "http", "ws", 1)+"/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + good}, "Origin": {a.URL()}}})
	require.NoError(t, err, fmt.Sprint(res))
	c.CloseNow()
}

// TestManyConsumersKeepRedisUsable: every listener consumer holds a Redis
// connection through its blocking read. With four consumers per listener
// the pool must still leave room for everything else: the process stays
// ready and events still reach sockets.
func TestManyConsumersKeepRedisUsable(t *testing.T) {
	t.Parallel()
	cfg := distributed().cfg(t)
	cfg.Worker.Concurrency = 4
	a := start(t, cfg)
	admin := token(t, a, "acme", "alice", domain.PermAdmin)
	bob := dial(t, a, token(t, a, "acme", "bob", domain.PermInventoryAlerts), "")
	require.Equal(t, "unread_count", bob.next().Type)
	var p productJSON
	call(t, a, admin, "POST", "/api/v1/products", map[string]any{
		"sku": "SKU-1", "name": "Oak chair", "price": "89.00", "reorder_level": 10,
	}, http.StatusCreated, &p)
	movement(t, a, admin, p.ID, 5) // 0 → 5: below 10 from the start
	movement(t, a, admin, p.ID, 10)
	movement(t, a, admin, p.ID, -8) // 15 → 7 crosses
	require.Equal(t, "LowStockNotification", bob.nextNotification().Type)
	for range 5 {
		res, err := http.Get(a.URL() + "/readyz")
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		time.Sleep(200 * time.Millisecond) // consumers sit in their blocking reads meanwhile
	}
}
