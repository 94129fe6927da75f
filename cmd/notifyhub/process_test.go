package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

// buildBinary compiles notifyhub once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "notifyhub-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "notifyhub")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// process is a notifyhub child process.
type process struct {
	cmd  *exec.Cmd
	addr string
	done chan error
	logs *bytes.Buffer
}

func startProcess(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	bin, err := buildBinary()
	require.NoError(t, err)
	p := &process{addr: freeAddr(t), done: make(chan error, 1), logs: &bytes.Buffer{}}
	p.cmd = exec.Command(bin, append(args, "--addr", p.addr)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	require.NoError(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("logs of %v:\n%s", args, p.logs)
		}
	})
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + p.addr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, time.Minute, 50*time.Millisecond, "process never became ready:\n%s", p.logs)
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		require.NoError(t, err, "exit after SIGTERM:\n%s", p.logs)
		p.done <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit within 30s of SIGTERM:\n%s", p.logs)
	}
}

func tokenFor(t *testing.T, env []string, tenant, user, perms string) string {
	t.Helper()
	bin, err := buildBinary()
	require.NoError(t, err)
	cmd := exec.Command(bin, "token", "--tenant", tenant, "--user", user, "--perms", perms, "--ttl", "10m")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

func post(t *testing.T, p *process, tok, path string, body any) map[string]any {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest("POST", "http://"+p.addr+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s: %s", path, raw)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

// TestTwoProcessesShareTheWork: two `notifyhub serve` processes on
// PostgreSQL and Redis; a stock movement posted to A produces a low-stock
// notification that a user connected to B receives, once.
func TestTwoProcessesShareTheWork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	base := os.Getenv(storetest.DatabaseURLEnv)
	if base == "" || os.Getenv(streamtest.RedisURLEnv) == "" {
		t.Skip("NOTIFYHUB_TEST_DATABASE_URL and NOTIFYHUB_TEST_REDIS_URL are needed for the distributed mode")
	}
	_, prefix := streamtest.OpenRedis(t)
	env := []string{
		"DATABASE_URL=" + storetest.WithSearchPath(base, storetest.NewSchema(t, base)),
		"REDIS_URL=" + os.Getenv(streamtest.RedisURLEnv),
		"NOTIFYHUB_REDIS_PREFIX=" + prefix,
		"NOTIFYHUB_JWT_SECRET=" + strings.Repeat("s3cret-", 6),
		"NOTIFYHUB_LOG_LEVEL=info",
	}
	a := startProcess(t, env, "serve")
	b := startProcess(t, env, "serve", "--roles", "http,hub")

	admin := tokenFor(t, env, "acme", "alice", domain.PermAdmin)
	bob := tokenFor(t, env, "acme", "bob", domain.PermInventoryAlerts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, res, err := websocket.Dial(ctx, "ws://"+b.addr+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + bob}}})
	require.NoError(t, err)
	if res.Body != nil {
		res.Body.Close()
	}
	defer ws.CloseNow()
	next := func() map[string]any {
		_, raw, err := ws.Read(ctx)
		require.NoError(t, err)
		var f map[string]any
		require.NoError(t, json.Unmarshal(raw, &f))
		return f
	}
	nextNotification := func() map[string]any {
		for {
			if f := next(); f["type"] == "notification" {
				return f["notification"].(map[string]any)
			}
		}
	}
	require.Equal(t, "unread_count", next()["type"])

	p := post(t, a, admin, "/api/v1/products", map[string]any{"sku": "P-1", "name": "Chair", "price": "5.00", "reorder_level": 10})
	move := func(qty int) {
		post(t, a, admin, "/api/v1/stock-movements", map[string]any{"product_id": p["id"], "quantity": qty, "reason": "test"})
	}
	move(11)
	move(-2) // 11 → 9: below 10
	first := nextNotification()
	require.Equal(t, "LowStockNotification", first["type"])
	move(5)  // 14
	move(-6) // 8: crosses again
	second := nextNotification()
	require.NotEqual(t, first["id"], second["id"], "the first notification arrived twice")

	// Both processes stop cleanly on SIGTERM.
	ws.Close(websocket.StatusNormalClosure, "")
	b.stop(t)
	a.stop(t)
	sc := bufio.NewScanner(bytes.NewReader(a.logs.Bytes()))
	for sc.Scan() {
		require.NotContains(t, sc.Text(), "level=ERROR", "process A logged an error")
	}
}

// TestQueueRestartStopsWorkerProcesses: a `notifyhub worker` process runs
// a bulk send posted to a separate API process, and exits with status 0
// once `notifyhub queue restart` is run; the API process keeps serving.
func TestQueueRestartStopsWorkerProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	base := os.Getenv(storetest.DatabaseURLEnv)
	if base == "" || os.Getenv(streamtest.RedisURLEnv) == "" {
		t.Skip("NOTIFYHUB_TEST_DATABASE_URL and NOTIFYHUB_TEST_REDIS_URL are needed for the distributed mode")
	}
	_, prefix := streamtest.OpenRedis(t)
	dbURL := storetest.WithSearchPath(base, storetest.NewSchema(t, base))
	env := []string{
		"DATABASE_URL=" + dbURL,
		"REDIS_URL=" + os.Getenv(streamtest.RedisURLEnv),
		"NOTIFYHUB_REDIS_PREFIX=" + prefix,
		"NOTIFYHUB_JWT_SECRET=" + strings.Repeat("s3cret-", 6),
		"NOTIFYHUB_LOG_LEVEL=info",
	}
	api := startProcess(t, env, "serve", "--roles", "http,hub,relay")
	worker := startProcess(t, env, "worker", "--queue", "high,default", "--sleep", "50ms")

	bob := tokenFor(t, env, "acme", "bob", "")
	sender := tokenFor(t, env, "acme", "alice", domain.PermNotificationsSend)
	request := func(method, path, tok string, body any, want int) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			require.NoError(t, err)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, "http://"+api.addr+path, rd)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		require.Equal(t, want, res.StatusCode, "%s %s: %s", method, path, raw)
		var out map[string]any
		require.NoError(t, json.Unmarshal(raw, &out))
		return out
	}
	request("GET", "/api/v1/notifications/unread-count", bob, nil, http.StatusOK)
	bulk := request("POST", "/api/v1/notifications", sender, map[string]any{"user_ids": []string{"bob"}, "title": "Deploy at 5"}, http.StatusAccepted)
	require.Eventually(t, func() bool {
		st := request("GET", "/api/v1/notifications/bulk/"+bulk["id"].(string), sender, nil, http.StatusOK)
		return st["status"] == "completed"
	}, time.Minute, 50*time.Millisecond, "the worker process sends it:\n%s", worker.logs)
	require.Equal(t, 1.0, request("GET", "/api/v1/notifications/unread-count", bob, nil, http.StatusOK)["unread_count"])

	bin, err := buildBinary()
	require.NoError(t, err)
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, "%s", stderr.String())
		return string(out)
	}

	// A bulk whose job had used up its tries: `queue retry` runs it again.
	store, err := app.OpenStore(context.Background(), app.Config{DatabaseURL: dbURL})
	require.NoError(t, err)
	defer store.Close()
	stuck := notification.Bulk{ID: domain.NewID(), TenantID: "acme", RequestedBy: "alice",
		Audience: notification.Audience{UserIDs: []domain.UserID{"bob"}}, Type: notification.TypeAnnouncement,
		Severity: domain.SeverityInfo, Title: "Retried", Data: []byte(`{}`), Status: notification.BulkFailed, Total: 1, CreatedAt: time.Now()}
	require.NoError(t, store.InsertBulk(context.Background(), stuck))
	failed := domain.FailedJob{ID: domain.NewID(), Queue: "default", Job: notification.BulkJob, TenantID: "acme", Attempts: 5,
		Error: "connection refused", FailedAt: time.Now(),
		Payload: []byte(`{"id":"` + domain.NewID() + `","job":"SendBulkNotifications","tenant":"acme","payload":{"bulk_id":"` + stuck.ID + `"},"queue":"default"}`)}
	require.NoError(t, store.InsertFailedJob(context.Background(), failed))
	require.Contains(t, cli("queue", "failed"), failed.ID)
	require.Equal(t, "retried "+failed.ID+"\n", cli("queue", "retry", failed.ID))
	require.Eventually(t, func() bool {
		return request("GET", "/api/v1/notifications/bulk/"+stuck.ID, sender, nil, http.StatusOK)["status"] == "completed"
	}, time.Minute, 50*time.Millisecond, "the retried job runs:\n%s", worker.logs)
	require.Equal(t, 2.0, request("GET", "/api/v1/notifications/unread-count", bob, nil, http.StatusOK)["unread_count"])
	require.Equal(t, "no failed jobs\n", cli("queue", "failed"))

	require.Contains(t, cli("queue", "restart"), "restart requested")
	select {
	case err := <-worker.done:
		require.NoError(t, err, "the worker exits with status 0:\n%s", worker.logs)
		worker.done <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatalf("the worker did not exit after queue restart:\n%s", worker.logs)
	}
	require.Contains(t, worker.logs.String(), "restart requested")
	request("GET", "/api/v1/notifications/unread-count", bob, nil, http.StatusOK) // the API process is still up
	api.stop(t)
}
