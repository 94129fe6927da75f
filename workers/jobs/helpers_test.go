package jobs_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/workers/jobs"
	"github.com/notifyhub/notifyhub/workers/relay"
	"github.com/notifyhub/notifyhub/workers/runner"
	"github.com/notifyhub/notifyhub/workers/stream"
	"github.com/notifyhub/notifyhub/workers/stream/dbqueue"
	redisstream "github.com/notifyhub/notifyhub/workers/stream/redis"
	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

// backend is a store and a stream as a worker process sees them.
type backend struct {
	store  *sqlstore.Store
	stream stream.Stream
	outTx  bool // the relay publishes outside its claim transaction (SQLite)
}

// backends are the deployments jobs must behave the same in: embedded
// (SQLite and its database queue), PostgreSQL with the database queue,
// and distributed (PostgreSQL and Redis Streams).
func backends() map[string]func(t *testing.T) backend {
	return map[string]func(t *testing.T) backend{
		"sqlite+dbqueue": func(t *testing.T) backend {
			s := storetest.OpenSQLite(t)
			return backend{store: s, stream: dbqueue.New(s.DB(), s.Dialect(), dbqueue.Options{PollInterval: 10 * time.Millisecond}), outTx: true}
		},
		"postgres+dbqueue": func(t *testing.T) backend {
			s := storetest.OpenPostgres(t)
			return backend{store: s, stream: dbqueue.New(s.DB(), s.Dialect(), dbqueue.Options{PollInterval: 10 * time.Millisecond})}
		},
		"postgres+redis": func(t *testing.T) backend {
			s := storetest.OpenPostgres(t)
			client, prefix := streamtest.OpenRedis(t)
			return backend{store: s, stream: redisstream.New(client, redisstream.Options{Prefix: prefix})}
		},
	}
}

// each runs fn once per backend, in parallel.
func each(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open(t))
		})
	}
}

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// env is a wired job system over one backend.
type env struct {
	backend
	reg    *jobs.Registry
	disp   *jobs.Dispatcher
	failed *jobs.Failed
	relay  *relay.Relay
}

func newEnv(t *testing.T, b backend, types ...jobs.Type) *env {
	t.Helper()
	reg, err := jobs.NewRegistry(types...)
	require.NoError(t, err)
	r, err := relay.New(relay.Config{Route: jobs.Route("events"), PublishOutsideTx: b.outTx, Logger: logger()}, b.store, b.stream)
	require.NoError(t, err)
	return &env{backend: b, reg: reg, disp: jobs.NewDispatcher(b.store, reg, nil), failed: jobs.NewFailed(b.store, nil), relay: r}
}

// dispatch queues a job and relays it to its queue at once.
func (e *env) dispatch(t *testing.T, tenant domain.TenantID, job string, payload any) string {
	t.Helper()
	id, err := e.disp.Dispatch(context.Background(), tenant, job, payload)
	require.NoError(t, err)
	e.flush(t)
	return id
}

func (e *env) flush(t *testing.T) {
	t.Helper()
	_, err := e.relay.Flush(context.Background())
	require.NoError(t, err)
}

// worker is a running QueueWorker.
type worker struct {
	done chan struct{}
	err  error
	stop func()
}

// start runs a queue worker with fast test timings until stop or the end
// of the test.
func (e *env) start(t *testing.T, cfg runner.QueueConfig) *worker {
	t.Helper()
	if cfg.Sleep == 0 {
		cfg.Sleep = 10 * time.Millisecond
	}
	cfg.Logger = logger()
	w, err := runner.NewQueueWorker(cfg, e.stream, e.store, e.reg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	wk := &worker{done: make(chan struct{})}
	go func() { defer close(wk.done); wk.err = w.Run(ctx) }()
	wk.stop = func() { cancel(); <-wk.done }
	t.Cleanup(wk.stop)
	return wk
}

// wait waits for the worker to return by itself.
func (w *worker) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-w.done:
		return w.err
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop")
		return nil
	}
}

func (w *worker) running() bool {
	select {
	case <-w.done:
		return false
	default:
		return true
	}
}

// failedJobs lists every failed job.
func (e *env) failedJobs(t *testing.T) []domain.FailedJob {
	t.Helper()
	list, err := e.failed.List(context.Background(), domain.FailedJobScope{AllTenants: true}, "", 200)
	require.NoError(t, err)
	return list
}

// backlog is how many jobs of queue are not finished.
func (e *env) backlog(t *testing.T, queue string) int64 {
	t.Helper()
	n, _, err := e.stream.(stream.Inspector).Backlog(context.Background(), runner.QueueTopic(queue), runner.QueueGroup)
	require.NoError(t, err)
	return n
}

// recorder keeps what a test job saw, in order.
type recorder struct {
	mu   sync.Mutex
	runs []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, s)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.runs...)
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.runs)
}

// labelled is a test job payload.
type labelled struct {
	Label string `json:"label"`
}

func label(payload json.RawMessage) string {
	var l labelled
	_ = json.Unmarshal(payload, &l)
	return l.Label
}

func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 30*time.Second, 5*time.Millisecond, msg)
}
