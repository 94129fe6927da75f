package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// spawned is a notifyhub server started for this run.
type spawned struct {
	cmd    *exec.Cmd
	dir    string
	drop   func() // removes the run's database schema and Redis keys
	url    string
	secret string
	pid    int
	exited chan struct{}
}

// spawn starts `bin serve` on a free loopback port, with a fresh SQLite
// file unless --spawn-database-url is given, and a random secret (unless
// --secret is). Its log goes to log.
func spawn(ctx context.Context, cfg Config, log io.Writer) (*spawned, error) {
	bin, err := filepath.Abs(cfg.Spawn)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	dir, err := os.MkdirTemp("", "loadgen-server-")
	if err != nil {
		return nil, err
	}
	s := &spawned{dir: dir, url: "http://127.0.0.1:" + strconv.Itoa(port), secret: cfg.Secret, exited: make(chan struct{})}
	if s.secret == "" {
		s.secret = randomHex(32)
	}
	db := cfg.SpawnDatabaseURL
	if db == "" {
		db = filepath.Join(dir, "notifyhub.db")
	}
	prefix := "loadgen-" + randomHex(4) + ":"
	if s.drop, db, err = isolate(ctx, db, cfg.SpawnRedisURL, prefix); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:" + strconv.Itoa(port)}, cfg.SpawnArgs...)...)
	s.cmd.Dir = dir
	s.cmd.Env = append(os.Environ(),
		"DATABASE_URL="+db,
		"REDIS_URL="+cfg.SpawnRedisURL,
		"NOTIFYHUB_REDIS_PREFIX="+prefix,
		"NOTIFYHUB_JWT_SECRET="+s.secret,
		"NOTIFYHUB_LOG_LEVEL=warn",
	)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		s.drop()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s.pid = s.cmd.Process.Pid
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	fmt.Fprintf(log, "loadgen: started %s serve (pid %d) on %s, database %s\n", bin, s.pid, s.url, redactURL(db))
	select {
	case <-s.exited:
		s.stop(log)
		return nil, fmt.Errorf("%s exited at start: %v", bin, s.cmd.ProcessState)
	case <-ctx.Done():
		s.stop(log)
		return nil, ctx.Err()
	case <-time.After(100 * time.Millisecond):
	}
	return s, nil
}

// stop sends SIGTERM, waits (bounded) for a graceful exit, then kills.
func (s *spawned) stop(log io.Writer) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		fmt.Fprintf(log, "loadgen: server pid %d did not stop within 30s; killing it\n", s.pid)
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.drop()
	_ = os.RemoveAll(s.dir)
}

// redactURL hides a password in a database URL for the log.
func redactURL(u string) string {
	if i, j := strings.Index(u, "://"), strings.LastIndex(u, "@"); i >= 0 && j > i {
		return u[:i+3] + "…" + u[j:]
	}
	return u
}
