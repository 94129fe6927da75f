package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/jobs"
	"github.com/notifyhub/notifyhub/workers/runner"
	"github.com/notifyhub/notifyhub/workers/stream"
	"github.com/notifyhub/notifyhub/workers/stream/dbqueue"
	redisstream "github.com/notifyhub/notifyhub/workers/stream/redis"
	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

// BenchmarkWorkerPing measures the job-throughput figure: one
// worker (this process) running no-op jobs (queue.ping) that were queued
// beforehand on the default queue (the worker serves high, default, low),
// with retries, reclaim, extension and failed-job handling in
// place as in production. concurrency=1/priority-lag=0s is `notifyhub
// worker` as it comes: strict priority, which on Redis the queue watch
// keeps without a read of the higher queues before each job. Each op is a whole drain of
// NOTIFYHUB_BENCH_JOBS jobs (default 20,000); it reports jobs/s and the
// CPU-seconds per 100,000 jobs of this process and, on Redis, of
// redis-server (read from /proc, so Redis must run on this machine).
//
//	go test ./workers/jobs -run '^$' -bench WorkerPing -benchtime 3x
func BenchmarkWorkerPing(b *testing.B) {
	count := 20_000
	if v := os.Getenv("NOTIFYHUB_BENCH_JOBS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, "NOTIFYHUB_BENCH_JOBS")
		count = n
	}
	for _, lag := range []time.Duration{0, 2 * time.Millisecond} {
		for _, conc := range []int{1, 4} {
			name := fmt.Sprintf("concurrency=%d/priority-lag=%s", conc, lag)
			b.Run("sqlite+dbqueue/"+name, func(b *testing.B) {
				s := storetest.OpenSQLite(b)
				benchDrain(b, s, dbqueue.New(s.DB(), s.Dialect(), dbqueue.Options{}), 0, count, conc, lag)
			})
			b.Run("postgres+redis/"+name, func(b *testing.B) {
				s := storetest.OpenPostgres(b)
				client, prefix := streamtest.OpenRedis(b)
				benchDrain(b, s, redisstream.New(client, redisstream.Options{Prefix: prefix}), redisPID(b, client), count, conc, lag)
			})
		}
	}
}

func benchDrain(b *testing.B, s *sqlstore.Store, st stream.Stream, serverPID, count, conc int, lag time.Duration) {
	reg, err := jobs.NewRegistry(jobs.Ping())
	require.NoError(b, err)
	ctx := context.Background()
	bodies := pingBodies(b, count)
	var wall, self, server time.Duration
	for b.Loop() {
		b.StopTimer()
		for i := 0; i < len(bodies); i += 1000 {
			require.NoError(b, st.Publish(ctx, runner.QueueTopic(runner.QueueDefault), bodies[i:min(i+1000, len(bodies))]...))
		}
		w, err := runner.NewQueueWorker(runner.QueueConfig{
			Concurrency: conc, MaxJobs: count, Sleep: time.Millisecond, PriorityLag: lag,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}, st, s, reg)
		require.NoError(b, err)
		b.StartTimer()
		start, self0, server0 := time.Now(), selfCPU(), procCPU(serverPID)
		err = w.Run(ctx)
		wall += time.Since(start)
		self += selfCPU() - self0
		server += procCPU(serverPID) - server0
		var stopped *runner.Stopped
		require.True(b, errors.As(err, &stopped), "worker did not stop after its jobs: %v", err)
	}
	n := float64(b.N * count)
	b.ReportMetric(n/wall.Seconds(), "jobs/s")
	b.ReportMetric(self.Seconds()/n*100_000, "worker-cpu-s/100k")
	if serverPID > 0 {
		b.ReportMetric(server.Seconds()/n*100_000, "redis-cpu-s/100k")
	}
	if in, ok := st.(stream.Inspector); ok {
		left, _, err := in.Backlog(ctx, runner.QueueTopic(runner.QueueDefault), runner.QueueGroup)
		require.NoError(b, err)
		require.Zero(b, left, "jobs left in the queue")
	}
}

// pingBodies are count queue.ping envelopes as Dispatch writes them.
func pingBodies(b *testing.B, count int) [][]byte {
	out := make([][]byte, count)
	for i := range out {
		body, err := json.Marshal(jobs.Envelope{ID: domain.NewID(), Job: jobs.PingJob, Tenant: "bench",
			Payload: json.RawMessage(`{}`), Queue: runner.QueueDefault, DispatchedAt: time.Now().UTC()})
		require.NoError(b, err)
		out[i] = body
	}
	return out
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisPID is redis-server's pid when it runs on this machine, else 0.
func redisPID(b *testing.B, c *redis.Client) int {
	info, err := c.Info(context.Background(), "server").Result()
	require.NoError(b, err)
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, _ := strconv.Atoi(v)
			if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
				return pid
			}
		}
	}
	return 0
}

// procCPU is the user+system CPU time of pid so far (0 for pid 0).
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which may hold spaces: utime and
	// stime are the 14th and 15th fields overall.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}
