package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/workers/jobs"
)

// queueDB is a migrated embedded database and a store on it for setting
// up and checking (the CLI opens its own).
func queueDB(t *testing.T) (string, *sqlstore.Store) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "nh.db")
	s, err := app.OpenStore(context.Background(), app.Config{DatabaseURL: db, Logger: discard()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return db, s
}

func failedJob(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, age time.Duration, errText string) domain.FailedJob {
	t.Helper()
	env := `{"id":"` + domain.NewID() + `","job":"SendBulkNotifications","tenant":"` + string(tenant) + `","payload":{"bulk_id":"` + domain.NewID() + `"},"queue":"default"}`
	j := domain.FailedJob{ID: domain.NewID(), Queue: "default", Job: "SendBulkNotifications", TenantID: tenant,
		Payload: []byte(env), Attempts: 5, Error: errText, FailedAt: time.Now().Add(-age)}
	require.NoError(t, s.InsertFailedJob(context.Background(), j))
	return j
}

func allFailed(t *testing.T, s *sqlstore.Store) []domain.FailedJob {
	t.Helper()
	list, err := s.FailedJobs(context.Background(), domain.FailedJobScope{AllTenants: true}, domain.FailedJobCursor{}, 100)
	require.NoError(t, err)
	return list
}

func TestQueueFailedListsATable(t *testing.T) {
	t.Parallel()
	db, s := queueDB(t)
	old := failedJob(t, s, "acme", 2*time.Hour, "timed out after 5m0s")
	hostile := failedJob(t, s, "globex", time.Hour, "line one\nline two\ttabbed \x1b[31mred\x1b[0m "+strings.Repeat("x", 100))
	unreadable := domain.FailedJob{ID: domain.NewID(), Queue: "events", Job: "SendLowStockNotification",
		Payload: []byte(`"{not json"`), Attempts: 0, Error: "undecodable event", FailedAt: time.Now()}
	require.NoError(t, s.InsertFailedJob(context.Background(), unreadable))

	out, _, err := runCLI(t, "queue", "failed", "--database-url", db)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, 4, out)
	require.Regexp(t, `^ID\s+QUEUE\s+JOB\s+TENANT\s+ATTEMPTS\s+ERROR\s+FAILED AT$`, lines[0])
	require.Regexp(t, `^`+unreadable.ID+`\s+events\s+SendLowStockNotification\s+-\s+0\s+undecodable event\s+\d{4}-`, lines[1], "newest first; no tenant shown as -")
	require.Contains(t, lines[2], hostile.ID)
	require.Contains(t, lines[2], "line one line two tabbed")
	require.NotContains(t, lines[2], "\x1b", "no terminal escapes")
	require.Contains(t, lines[2], "…", "long errors are cut")
	require.Regexp(t, `^`+old.ID+`\s+default\s+SendBulkNotifications\s+acme\s+5\s+timed out after 5m0s\s+`, lines[3])

	out, _, err = runCLI(t, "queue", "failed", "--database-url", db, "--tenant", "acme")
	require.NoError(t, err)
	require.Contains(t, out, old.ID)
	require.NotContains(t, out, hostile.ID)

	out, _, err = runCLI(t, "queue", "failed", "--database-url", db, "--limit", "1")
	require.NoError(t, err)
	require.Contains(t, out, "more: notifyhub queue failed --before "+unreadable.ID)
	out, _, err = runCLI(t, "queue", "failed", "--database-url", db, "--limit", "1", "--before", unreadable.ID)
	require.NoError(t, err)
	require.Contains(t, out, hostile.ID)
	require.NotContains(t, out, old.ID)

	empty, _ := queueDB(t)
	out, _, err = runCLI(t, "queue", "failed", "--database-url", empty)
	require.NoError(t, err)
	require.Equal(t, "no failed jobs\n", out)
}

func TestQueueRetryForgetFlushPruneRestart(t *testing.T) {
	t.Parallel()
	db, s := queueDB(t)
	ctx := context.Background()
	a1, a2, g1 := failedJob(t, s, "acme", time.Hour, "boom"), failedJob(t, s, "acme", time.Hour, "boom"), failedJob(t, s, "globex", time.Hour, "boom")

	out, _, err := runCLI(t, "queue", "retry", "--database-url", db, a1.ID)
	require.NoError(t, err)
	require.Equal(t, "retried "+a1.ID+"\n", out)
	_, err = s.GetFailedJob(ctx, a1.ID)
	require.ErrorIs(t, err, domain.ErrNotFound, "retried jobs leave failed_jobs")
	_, _, err = runCLI(t, "queue", "retry", "--database-url", db, a1.ID)
	require.ErrorIs(t, err, domain.ErrNotFound)
	_, _, err = runCLI(t, "queue", "retry", "--database-url", db, "--tenant", "acme", g1.ID)
	require.ErrorIs(t, err, domain.ErrNotFound, "--tenant scopes retries")

	unreadable := domain.FailedJob{ID: domain.NewID(), Queue: "default", Job: "X", TenantID: "acme",
		Payload: []byte(`"garbage"`), Error: "undecodable job", FailedAt: time.Now()}
	require.NoError(t, s.InsertFailedJob(ctx, unreadable))
	out, _, err = runCLI(t, "queue", "retry", "--database-url", db, "--tenant", "acme", "all")
	require.NoError(t, err)
	require.Contains(t, out, "retried 1 failed job(s)")
	require.Contains(t, out, "skipped "+unreadable.ID)
	_, err = s.GetFailedJob(ctx, a2.ID)
	require.ErrorIs(t, err, domain.ErrNotFound)
	_, err = s.GetFailedJob(ctx, g1.ID)
	require.NoError(t, err, "globex's job stays: --tenant acme")

	// Every retry is a job envelope in the outbox, for the relay.
	var queued []domain.Event
	require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
		events, err := s.ClaimUnpublished(ctx, 100)
		queued = events
		return err
	}))
	require.Len(t, queued, 2)
	for _, ev := range queued {
		require.Equal(t, domain.EventJobDispatched, ev.Type)
		require.Equal(t, domain.TenantID("acme"), ev.TenantID)
	}

	out, _, err = runCLI(t, "queue", "forget", "--database-url", db, unreadable.ID)
	require.NoError(t, err)
	require.Equal(t, "forgot "+unreadable.ID+"\n", out)
	_, _, err = runCLI(t, "queue", "forget", "--database-url", db, unreadable.ID)
	require.ErrorIs(t, err, domain.ErrNotFound)

	failedJob(t, s, "acme", time.Minute, "boom")
	out, _, err = runCLI(t, "queue", "flush", "--database-url", db, "--tenant", "globex")
	require.NoError(t, err)
	require.Equal(t, "deleted 1 failed job(s)\n", out)
	require.Len(t, allFailed(t, s), 1)
	out, _, err = runCLI(t, "queue", "flush", "--database-url", db)
	require.NoError(t, err)
	require.Equal(t, "deleted 1 failed job(s)\n", out)
	require.Empty(t, allFailed(t, s), "flush empties")

	old, fresh := failedJob(t, s, "acme", 200*time.Hour, "old"), failedJob(t, s, "acme", time.Hour, "fresh")
	out, _, err = runCLI(t, "queue", "prune", "--database-url", db, "--older-than", "168h")
	require.NoError(t, err)
	require.Contains(t, out, "pruned 1 failed job(s) older than 168h0m0s")
	_, err = s.GetFailedJob(ctx, old.ID)
	require.ErrorIs(t, err, domain.ErrNotFound)
	_, err = s.GetFailedJob(ctx, fresh.ID)
	require.NoError(t, err)

	_, err = s.Setting(ctx, jobs.RestartSetting)
	require.ErrorIs(t, err, domain.ErrNotFound)
	out, _, err = runCLI(t, "queue", "restart", "--database-url", db)
	require.NoError(t, err)
	require.Contains(t, out, "restart requested")
	first, err := s.Setting(ctx, jobs.RestartSetting)
	require.NoError(t, err)
	_, _, err = runCLI(t, "queue", "restart", "--database-url", db)
	require.NoError(t, err)
	second, err := s.Setting(ctx, jobs.RestartSetting)
	require.NoError(t, err)
	require.NotEqual(t, first, second, "every request is seen, however close")
}

func TestQueueRejectsBadInput(t *testing.T) {
	t.Parallel()
	db, _ := queueDB(t)
	for name, args := range map[string][]string{
		"no subcommand":         {"queue"},
		"unknown subcommand":    {"queue", "explode", "--database-url", db},
		"retry without ids":     {"queue", "retry", "--database-url", db},
		"forget without id":     {"queue", "forget", "--database-url", db},
		"forget two":            {"queue", "forget", "--database-url", db, domain.NewID(), domain.NewID()},
		"forget malformed":      {"queue", "forget", "--database-url", db, "'; DROP TABLE failed_jobs; --"},
		"failed extra":          {"queue", "failed", "--database-url", db, "extra"},
		"flush extra":           {"queue", "flush", "--database-url", db, "now"},
		"prune no older-than":   {"queue", "prune", "--database-url", db},
		"prune short events":    {"queue", "prune", "--database-url", db, "--older-than", "168h", "--events-older-than", "1h"},
		"prune bad duration":    {"queue", "prune", "--database-url", db, "--older-than", "a week"},
		"bad tenant":            {"queue", "flush", "--database-url", db, "--tenant", "a b"},
		"restart with args":     {"queue", "restart", "--database-url", db, "now"},
		"failed unknown flag":   {"queue", "failed", "--database-url", db, "--colour", "red"},
		"before someone else":   {"queue", "failed", "--database-url", db, "--before", domain.NewID()},
		"tenant flag on forget": {"queue", "forget", "--database-url", db, "--tenant", "acme", domain.NewID()},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := runCLI(t, args...)
			require.Error(t, err)
		})
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestWorkerFlagsRejectBadInput(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "nh.db")
	for name, args := range map[string][]string{
		"no queue":               {"serve", "--database-url", db, "--addr", "127.0.0.1:0", "--queue", " , "},
		"bad queue name":         {"serve", "--database-url", db, "--addr", "127.0.0.1:0", "--queue", "high,Low!"},
		"reserved queue":         {"serve", "--database-url", db, "--addr", "127.0.0.1:0", "--queue", "events"},
		"queue twice":            {"serve", "--database-url", db, "--addr", "127.0.0.1:0", "--queue", "high,high"},
		"timeout over reclaim":   {"serve", "--database-url", db, "--addr", "127.0.0.1:0", "--timeout", "10m", "--reclaim-after", "5m"},
		"max-jobs is a worker's": {"serve", "--database-url", db, "--max-jobs", "3"},
		"bad max-time":           {"worker", "--database-url", db, "--max-time", "soon"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := runCLI(t, args...)
			require.Error(t, err)
		})
	}
	_, _, err := runCLI(t, "serve", "--database-url", db, "--addr", "127.0.0.1:0", "--queue", "high,Low!")
	require.ErrorContains(t, err, "not a queue name")
	_, _, err = runCLI(t, "serve", "--database-url", db, "--addr", "127.0.0.1:0", "--timeout", "10m", "--reclaim-after", "5m")
	require.ErrorContains(t, err, "must exceed timeout")
}
