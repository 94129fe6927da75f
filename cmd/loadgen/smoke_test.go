package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/relay"
	"github.com/notifyhub/notifyhub/workers/runner"
	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

// startApp runs a real notifyhub (every role, one process) on a loopback
// port until the test ends.
func startApp(t *testing.T, cfg app.Config) *app.App {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Worker = runner.Config{Tries: 3, Backoff: []time.Duration{10 * time.Millisecond}, Timeout: 10 * time.Second,
		ReadBlock: 100 * time.Millisecond}
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

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// smokeConfig is a short run of every phase with small counts.
func smokeConfig(a *app.App) Config {
	return Config{
		URL: a.URL(), Secret: string(a.Secret()), PID: os.Getpid(),
		Clients: 40, Tenants: 4, ConnectConcurrency: 8, AlertUsers: 2, Phases: allPhases[:],
		Duration: time.Second, MaxMessages: 40, PersonalRate: 40, BroadcastRate: 200, BusinessRate: 20,
		Senders: 4, Drain: 30 * time.Second, MaxDuration: 3 * time.Minute,
	}
}

// TestSmokeAgainstNotifyhub runs the load generator, with small counts,
// against a real server in each mode (distributed when PostgreSQL and
// Redis are configured) and requires zero loss, zero duplicates and zero
// misrouted deliveries in every phase that ran. It never asserts on time.
//
// Every phase runs (connect, business: stock movement →
// LowStockNotification on the socket, personal and broadcast) and none
// may skip: notifyhub serves every endpoint they need.
func TestSmokeAgainstNotifyhub(t *testing.T) {
	t.Parallel()
	modes := map[string]func(t *testing.T) app.Config{
		"embedded": func(t *testing.T) app.Config {
			return app.Config{DatabaseURL: filepath.Join(t.TempDir(), "notifyhub.db"),
				JWTSecret: "smoke-secret-smoke-secret-0123456789"}
		},
		"distributed": func(t *testing.T) app.Config {
			base := os.Getenv(storetest.DatabaseURLEnv)
			if base == "" || os.Getenv(streamtest.RedisURLEnv) == "" {
				t.Skip("NOTIFYHUB_TEST_DATABASE_URL and NOTIFYHUB_TEST_REDIS_URL not set: distributed smoke run skipped")
			}
			_, prefix := streamtest.OpenRedis(t)
			return app.Config{DatabaseURL: storetest.WithSearchPath(base, storetest.NewSchema(t, base)),
				RedisURL: os.Getenv(streamtest.RedisURLEnv), RedisPrefix: prefix,
				JWTSecret: "smoke-secret-smoke-secret-0123456789"}
		},
	}
	for name, cfg := range modes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := startApp(t, cfg(t))
			rep, err := Run(context.Background(), smokeConfig(a), testWriter{t})
			require.NoError(t, err)
			var out strings.Builder
			rep.writeTable(&out)
			t.Log("\n" + out.String())
			require.Len(t, rep.Phases, len(allPhases))
			for _, p := range rep.Phases {
				// notifyhub serves every endpoint the phases need: none may skip.
				require.Empty(t, p.Skipped, "%s skipped", p.Name)
				require.Positive(t, p.Expected, p.Name)
				require.Equal(t, p.Expected, p.Received, "%s: lost %d", p.Name, p.Lost)
				require.Zero(t, p.Duplicated, p.Name)
				require.Zero(t, p.Stray, p.Name)
				require.Zero(t, p.SendErrors, "%s: %v", p.Name, p.Notes)
			}
			require.True(t, rep.Clean())
		})
	}
}
