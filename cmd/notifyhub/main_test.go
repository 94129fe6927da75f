package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/web/auth"
)

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestMigrateAndTokenInEmbeddedMode(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "nh.db")
	out, _, err := runCLI(t, "migrate", "--database-url", db, "--log-level", "error")
	require.NoError(t, err)
	require.Equal(t, "migrated sqlite database\n", out)

	out, _, err = runCLI(t, "token", "--database-url", db, "--tenant", "acme", "--user", "bob",
		"--perms", "inventory.alerts, admin", "--name", "Bob", "--ttl", "5m")
	require.NoError(t, err)
	tok := strings.TrimSpace(out)
	// Signed with the secret the embedded database keeps.
	secret, err := app.Secret(context.Background(), app.Config{DatabaseURL: db})
	require.NoError(t, err)
	claims, err := auth.Verify(secret, tok, time.Now())
	require.NoError(t, err)
	require.Equal(t, domain.TenantID("acme"), claims.TenantID)
	require.Equal(t, domain.UserID("bob"), claims.UserID())
	require.ElementsMatch(t, []string{"inventory.alerts", "admin"}, claims.Perms)
	require.WithinDuration(t, time.Now().Add(5*time.Minute), claims.Expiry(), time.Minute)
}

func TestCLIRejectsBadInput(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "nh.db")
	cases := map[string][]string{
		"no command":               {},
		"unknown command":          {"explode"},
		"token no tenant":          {"token", "--database-url", db, "--user", "u"},
		"token bad user":           {"token", "--database-url", db, "--tenant", "t", "--user", "a b"},
		"token negative":           {"token", "--database-url", db, "--tenant", "t", "--user", "u", "--ttl", "-1h"},
		"token weak":               {"token", "--jwt-secret", "short", "--tenant", "t", "--user", "u"},
		"postgres secret":          {"token", "--database-url", "postgres://x@127.0.0.1:1/db", "--tenant", "t", "--user", "u"},
		"bad backoff":              {"serve", "--database-url", db, "--backoff", "soon"},
		"bad log level":            {"serve", "--database-url", db, "--log-level", "loud"},
		"stray arguments":          {"serve", "--database-url", db, "extra"},
		"unknown flag":             {"serve", "--colour", "blue"},
		"worker w/o redis":         {"worker", "--database-url", db},
		"interval not a duration":  {"serve", "--database-url", db, "--scheduler-interval", "soon"},
		"interval zero":            {"serve", "--database-url", db, "--scheduler-interval", "0s"},
		"interval too short":       {"serve", "--database-url", db, "--scheduler-interval", "10ms"},
		"interval too long":        {"worker", "--database-url", db, "--scheduler-interval", "48h"},
		"gc headroom not a number": {"serve", "--database-url", db, "--gc-headroom-mib", "16MiB"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := runCLI(t, args...)
			require.Error(t, err)
		})
	}
}
