package jobs_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/extsync"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/workers/httpsource"
	"github.com/notifyhub/notifyhub/workers/jobs"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// syncEnv is a job system with the SyncExternalData job over one backend.
type syncEnv struct {
	*env
	syncs    *extsync.Service
	products *product.Service
}

func newSyncEnv(t *testing.T, b backend, breaker extsync.BreakerPolicy) *syncEnv {
	t.Helper()
	e := newEnv(t, b)
	policy, err := extsync.ParseHostPolicy([]string{"127.0.0.1"})
	require.NoError(t, err)
	fetch, err := httpsource.New(httpsource.Config{Policy: &policy})
	require.NoError(t, err)
	products := product.NewService(b.store, nil)
	syncs := extsync.NewService(b.store, fetch, e.disp, extsync.Writers{
		Products: products, Customers: crm.NewService(b.store, nil),
		Stock: inventory.NewService(b.store, nil), Orders: sales.NewService(b.store, nil),
	}, extsync.Options{Policy: &policy, Breaker: breaker})
	require.NoError(t, e.reg.Register(jobs.SyncExternalData(syncs)))
	return &syncEnv{env: e, syncs: syncs, products: products}
}

var syncAdmin = domain.Actor{TenantID: "acme", UserID: "alice", Perms: []string{domain.PermAdmin}}

// request configures acme's endpoint (once) and queues a sync.
func (s *syncEnv) request(t *testing.T, base string, timeout int, typ extsync.Type) string {
	t.Helper()
	ctx := context.Background()
	if _, err := s.syncs.GetConfig(ctx, syncAdmin); err != nil {
		_, err := s.syncs.PutConfig(ctx, syncAdmin, extsync.ConfigInput{BaseURL: base, TimeoutSeconds: &timeout})
		require.NoError(t, err)
	}
	r, err := s.syncs.Request(ctx, syncAdmin, extsync.RequestInput{Type: typ})
	require.NoError(t, err)
	s.flush(t)
	return r.ID
}

// wait waits for the run to end (completed or failed) and returns it.
func (s *syncEnv) wait(t *testing.T, id string) extsync.Run {
	t.Helper()
	var r extsync.Run
	eventually(t, func() bool {
		var err error
		r, err = s.syncs.Get(context.Background(), "acme", id)
		return err == nil && (r.Status == extsync.StatusCompleted || r.Status == extsync.StatusFailed)
	}, "the sync ends")
	return r
}

// fastRetries keeps the job's tries and timeout, with short backoff.
var fastRetries = runner.QueueConfig{Override: runner.Policy{Backoff: []time.Duration{20 * time.Millisecond}}}

// TestSyncExternalDataThroughTheQueue: a sync queued on the low queue is
// run by a worker over three pages; only its tenant gets the rows.
func TestSyncExternalDataThroughTheQueue(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := r.URL.Query().Get("page")
			next := "null"
			if n != "3" {
				next = fmt.Sprintf("%d", n[0]-'0'+1)
			}
			fmt.Fprintf(w, `{"data": [{"sku": "P-%s", "name": "Part %s", "price": "1.00"}], "next": %s}`, n, n, next)
		}))
		defer srv.Close()
		s := newSyncEnv(t, b, extsync.BreakerPolicy{})
		id := s.request(t, srv.URL, 5, extsync.Products)
		require.EqualValues(t, 1, s.backlog(t, runner.QueueLow), "queued on low")
		s.start(t, fastRetries)
		r := s.wait(t, id)
		require.Equal(t, extsync.StatusCompleted, r.Status, r.LastError)
		require.Equal(t, []int64{3, 3, 3, 0}, []int64{int64(r.Pages), r.Fetched, r.Upserted, r.Failed})
		list, err := s.products.List(context.Background(), "acme", product.ListParams{})
		require.NoError(t, err)
		require.Len(t, list, 3)
		other, err := s.products.List(context.Background(), "globex", product.ListParams{})
		require.NoError(t, err)
		require.Empty(t, other)
		require.Empty(t, s.failedJobs(t))
	})
}

// TestSyncRetriesAfterA500: the first attempt meets a 500, the retry
// succeeds.
func TestSyncRetriesAfterA500(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				http.Error(w, "deploying", http.StatusInternalServerError)
				return
			}
			fmt.Fprint(w, `{"data": [{"email": "ann@example.com", "name": "Ann"}]}`)
		}))
		defer srv.Close()
		s := newSyncEnv(t, b, extsync.BreakerPolicy{})
		id := s.request(t, srv.URL, 5, extsync.Customers)
		s.start(t, fastRetries)
		r := s.wait(t, id)
		require.Equal(t, extsync.StatusCompleted, r.Status, r.LastError)
		require.Equal(t, 2, r.Attempts, "retried once")
		require.EqualValues(t, 1, r.Upserted)
		require.EqualValues(t, 2, calls.Load())
		require.Empty(t, s.failedJobs(t))
	})
}

// TestSyncTimeoutsOpenTheBreaker: an endpoint that hangs costs each
// attempt its request timeout; after two failed requests the breaker
// opens, the third try fails fast, and so does the next sync, without a
// request.
func TestSyncTimeoutsOpenTheBreaker(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}))
		defer srv.Close()
		s := newSyncEnv(t, b, extsync.BreakerPolicy{Threshold: 2, Cooldown: time.Hour})
		id := s.request(t, srv.URL, 1, extsync.Products)
		s.start(t, fastRetries)
		r := s.wait(t, id)
		require.Equal(t, extsync.StatusFailed, r.Status)
		require.Contains(t, r.LastError, "circuit breaker")
		require.Contains(t, r.LastError, "no complete response within 1s")
		require.Equal(t, 3, r.Attempts)
		require.NotNil(t, r.FailedAt)
		require.EqualValues(t, 2, calls.Load(), "the third try sent nothing")

		failed := s.failedJobs(t)
		require.Len(t, failed, 1)
		require.Equal(t, extsync.Job, failed[0].Job)
		require.Equal(t, runner.QueueLow, failed[0].Queue)
		require.Equal(t, 3, failed[0].Attempts)

		start := time.Now()
		id = s.request(t, srv.URL, 1, extsync.Customers)
		r = s.wait(t, id)
		require.Equal(t, extsync.StatusFailed, r.Status)
		require.Contains(t, r.LastError, "circuit breaker")
		require.Equal(t, 1, r.Attempts, "not retried while open")
		require.Less(t, time.Since(start), 5*time.Second, "fails fast")
		require.EqualValues(t, 2, calls.Load())
		cfg, err := s.syncs.GetConfig(context.Background(), syncAdmin)
		require.NoError(t, err)
		require.Equal(t, extsync.BreakerOpen, cfg.Breaker.State)
	})
}

// TestSyncMalformedJSONFailsAtOnce: a page that is not JSON fails the run
// on its first try, with the reason.
func TestSyncMalformedJSONFailsAtOnce(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"data": [{"sku": "A", "name": "A", "price": "1"},`)
		}))
		defer srv.Close()
		s := newSyncEnv(t, b, extsync.BreakerPolicy{})
		id := s.request(t, srv.URL, 5, extsync.Products)
		s.start(t, fastRetries)
		r := s.wait(t, id)
		require.Equal(t, extsync.StatusFailed, r.Status)
		require.Equal(t, 1, r.Attempts)
		require.Contains(t, r.LastError, "does not follow the sync page contract")
		require.True(t, strings.Contains(r.LastError, "empty or truncated"), r.LastError)
		failed := s.failedJobs(t)
		require.Len(t, failed, 1)
		require.Equal(t, 1, failed[0].Attempts)
		list, err := s.products.List(context.Background(), "acme", product.ListParams{})
		require.NoError(t, err)
		require.Empty(t, list, "nothing from a page that did not parse")
	})
}
