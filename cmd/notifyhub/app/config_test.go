package app_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
)

func TestConfigRefusesUnsafeOrBrokenSetups(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "nh.db")
	cases := map[string]struct {
		cfg  app.Config
		want string
	}{
		"demo on postgres": {app.Config{Addr: ":0", DatabaseURL: "postgres://x@127.0.0.1:1/db", RedisURL: "redis://127.0.0.1:1", Demo: true},
			"embedded mode"},
		"split roles without redis": {app.Config{DatabaseURL: db, Roles: []string{app.RoleWorker}},
			"needs REDIS_URL"},
		"split roles on sqlite": {app.Config{DatabaseURL: db, RedisURL: "redis://127.0.0.1:1", Roles: []string{app.RoleRelay}},
			"needs PostgreSQL"},
		"hub without http": {app.Config{DatabaseURL: db, RedisURL: "redis://127.0.0.1:1", Roles: []string{app.RoleHub}},
			"needs role http"},
		"unknown role": {app.Config{DatabaseURL: db, Roles: []string{"janitor"}}, "unknown role"},
		"scheduler every 500ms": {app.Config{Addr: "127.0.0.1:0", DatabaseURL: db, SchedulerInterval: 500 * time.Millisecond},
			"scheduler interval"},
		"scheduler every 25h": {app.Config{Addr: "127.0.0.1:0", DatabaseURL: db, SchedulerInterval: 25 * time.Hour},
			"scheduler interval"},
		"negative scheduler interval": {app.Config{Addr: "127.0.0.1:0", DatabaseURL: db, SchedulerInterval: -time.Minute},
			"scheduler interval"},
		"split scheduler on sqlite": {app.Config{DatabaseURL: db, RedisURL: "redis://127.0.0.1:1", Roles: []string{app.RoleScheduler}},
			"needs PostgreSQL"},
		"http without address": {app.Config{DatabaseURL: db}, "needs an address"},
		"postgres without secret": {app.Config{Addr: "127.0.0.1:0", DatabaseURL: "postgres://x@127.0.0.1:1/db", RedisURL: "redis://127.0.0.1:1"},
			""}, // refused when opening: no secret, or no database there
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := app.New(context.Background(), tc.cfg)
			require.Error(t, err)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestWeakSecretIsRefused(t *testing.T) {
	t.Parallel()
	_, err := app.New(context.Background(), app.Config{Addr: "127.0.0.1:0",
		DatabaseURL: filepath.Join(t.TempDir(), "nh.db"), JWTSecret: "short"})
	require.Error(t, err)
}
