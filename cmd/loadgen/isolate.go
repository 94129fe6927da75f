package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// isolate gives a spawned server a namespace of its own on shared
// backends: a fresh PostgreSQL schema (the URL returned points at it) and
// its Redis key prefix. drop removes both after the run. A SQLite path is
// returned as is: it lives in the run's temporary directory.
func isolate(ctx context.Context, dbURL, redisURL, prefix string) (drop func(), serverURL string, err error) {
	var undo []func()
	drop = func() {
		for _, f := range undo {
			f()
		}
	}
	serverURL = dbURL
	for _, raw := range []string{dbURL, redisURL} {
		if err := loopbackURL(ctx, raw); err != nil {
			return drop, "", err
		}
	}
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		schema := "loadgen_" + randomHex(6)
		if err := pgExec(ctx, dbURL, "CREATE SCHEMA "+schema); err != nil {
			return drop, "", fmt.Errorf("--spawn-database-url: create schema: %w", err)
		}
		undo = append(undo, func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = pgExec(ctx, dbURL, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		})
		u, err := url.Parse(dbURL)
		if err != nil {
			drop()
			return func() {}, "", err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		serverURL = u.String()
	}
	if redisURL != "" {
		opts, err := redis.ParseURL(redisURL)
		if err != nil {
			drop()
			return func() {}, "", fmt.Errorf("--spawn-redis-url: %w", err)
		}
		undo = append(undo, func() {
			client := redis.NewClient(opts)
			defer client.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				client.Del(ctx, iter.Val())
			}
		})
	}
	return drop, serverURL, nil
}

func pgExec(ctx context.Context, dbURL, stmt string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// pool_* parameters are for the server's pool, not a connection.
	if u, err := url.Parse(dbURL); err == nil {
		q := u.Query()
		for k := range q {
			if strings.HasPrefix(k, "pool_") {
				q.Del(k)
			}
		}
		u.RawQuery = q.Encode()
		dbURL = u.String()
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	return err
}

// loopbackURL refuses a postgres:// or redis:// URL whose host is not this
// machine: the spawned server's load lands on its backends too.
func loopbackURL(ctx context.Context, raw string) error {
	if !strings.Contains(raw, "://") {
		return nil // a SQLite path
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", redactURL(raw), err)
	}
	if _, err := loopbackAddr(ctx, u.Hostname()); err != nil {
		return fmt.Errorf("%s: %w", redactURL(raw), err)
	}
	return nil
}
