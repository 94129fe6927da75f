package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

type failedJobJSON struct {
	ID       string `json:"id"`
	Queue    string `json:"queue"`
	Job      string `json:"job"`
	TenantID string `json:"tenant_id"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error"`
	FailedAt string `json:"failed_at"`
}

type failedJobList struct {
	Data []failedJobJSON `json:"data"`
	Next *string         `json:"next"`
}

// insertFailed records a failed job of tenant whose envelope can be run
// again, failed age ago.
func insertFailed(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, age time.Duration) domain.FailedJob {
	t.Helper()
	env := `{"id":"` + domain.NewID() + `","job":"GenerateReport","tenant":"` + string(tenant) + `","payload":{"report":"sales"},"queue":"low"}`
	j := domain.FailedJob{ID: domain.NewID(), Queue: "low", Job: "GenerateReport", TenantID: tenant,
		Payload: []byte(env), Attempts: 3, Error: "timed out after 5m0s", FailedAt: time.Now().Add(-age)}
	require.NoError(t, s.InsertFailedJob(context.Background(), j))
	return j
}

// queuedJobs counts the job envelopes waiting in the outbox.
func queuedJobs(t *testing.T, s *sqlstore.Store) int {
	t.Helper()
	n := 0
	require.NoError(t, s.InTx(context.Background(), func(ctx context.Context) error {
		events, err := s.ClaimUnpublished(ctx, 1000)
		for _, e := range events {
			if e.Type == domain.EventJobDispatched {
				n++
			}
		}
		return err
	}))
	return n
}

func TestFailedJobsAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		admin := token(t, "acme", "root", domain.PermAdmin)
		mine := []domain.FailedJob{insertFailed(t, f.store, "acme", 3*time.Minute), insertFailed(t, f.store, "acme", 2*time.Minute),
			insertFailed(t, f.store, "acme", time.Minute)}
		theirs := insertFailed(t, f.store, "globex", 0)

		// Newest first, paged, the caller's tenant only.
		rec := f.call(t, http.MethodGet, "/api/v1/failed-jobs?limit=2", admin, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		page := decode[failedJobList](t, rec)
		require.Len(t, page.Data, 2)
		require.Equal(t, mine[2].ID, page.Data[0].ID)
		require.Equal(t, "low", page.Data[0].Queue)
		require.Equal(t, "GenerateReport", page.Data[0].Job)
		require.Equal(t, "acme", page.Data[0].TenantID)
		require.Equal(t, 3, page.Data[0].Attempts)
		require.NotEmpty(t, page.Data[0].FailedAt)
		require.NotNil(t, page.Next)
		page = decode[failedJobList](t, f.call(t, http.MethodGet, "/api/v1/failed-jobs?limit=2&before="+*page.Next, admin, ""))
		require.Len(t, page.Data, 1)
		require.Equal(t, mine[0].ID, page.Data[0].ID)
		require.Nil(t, page.Next)

		// Another tenant's failed job does not exist for this caller.
		for _, r := range []struct{ method, path string }{
			{http.MethodGet, "/api/v1/failed-jobs/" + theirs.ID},
			{http.MethodPost, "/api/v1/failed-jobs/" + theirs.ID + "/retry"},
			{http.MethodDelete, "/api/v1/failed-jobs/" + theirs.ID},
			{http.MethodGet, "/api/v1/failed-jobs?before=" + theirs.ID},
		} {
			requireError(t, f.call(t, r.method, r.path, admin, ""), http.StatusNotFound, "not_found")
		}
		rec = f.call(t, http.MethodGet, "/api/v1/failed-jobs/"+mine[0].ID, admin, "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, mine[0].ID, decode[failedJobJSON](t, rec).ID)

		// Retry queues it again (in the outbox) and it stops being failed.
		rec = f.call(t, http.MethodPost, "/api/v1/failed-jobs/"+mine[0].ID+"/retry", admin, "")
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
		require.Equal(t, 1, queuedJobs(t, f.store))
		requireError(t, f.call(t, http.MethodPost, "/api/v1/failed-jobs/"+mine[0].ID+"/retry", admin, ""), http.StatusNotFound, "not_found")

		// Retry all: what can run again is queued, the rest is reported.
		unreadable := domain.FailedJob{ID: domain.NewID(), Queue: "low", Job: "GenerateReport", TenantID: "acme",
			Payload: []byte(`"not an envelope"`), Attempts: 1, Error: "undecodable job", FailedAt: time.Now()}
		require.NoError(t, f.store.InsertFailedJob(context.Background(), unreadable))
		rec = f.call(t, http.MethodPost, "/api/v1/failed-jobs/retry-all", admin, "")
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
		rep := decode[domain.RetryReport](t, rec)
		require.Equal(t, 2, rep.Retried)
		require.Len(t, rep.Skipped, 1)
		require.Equal(t, unreadable.ID, rep.Skipped[0].ID)
		require.Equal(t, 3, queuedJobs(t, f.store))
		requireError(t, f.call(t, http.MethodPost, "/api/v1/failed-jobs/"+unreadable.ID+"/retry", admin, ""),
			http.StatusUnprocessableEntity, "not_retryable")

		// Forget one; flush the rest of this tenant's; globex's stay.
		another := insertFailed(t, f.store, "acme", 0)
		require.Equal(t, http.StatusNoContent, f.call(t, http.MethodDelete, "/api/v1/failed-jobs/"+another.ID, admin, "").Code)
		requireError(t, f.call(t, http.MethodDelete, "/api/v1/failed-jobs/"+another.ID, admin, ""), http.StatusNotFound, "not_found")
		rec = f.call(t, http.MethodDelete, "/api/v1/failed-jobs", admin, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Equal(t, map[string]int64{"deleted": 1}, decode[map[string]int64](t, rec))
		require.Empty(t, decode[failedJobList](t, f.call(t, http.MethodGet, "/api/v1/failed-jobs", admin, "")).Data)
		left, err := f.failed.List(context.Background(), domain.FailedJobScope{AllTenants: true}, "", 10)
		require.NoError(t, err)
		require.Len(t, left, 1)
		require.Equal(t, theirs.ID, left[0].ID, "another tenant's failed jobs are untouched")
	})
}

func TestFailedJobsAPIRefusals(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		j := insertFailed(t, f.store, "acme", 0)
		notAdmin := token(t, "acme", "bob", domain.PermNotificationsSend, domain.PermReportsRun)
		for _, r := range []struct{ method, path string }{
			{http.MethodGet, "/api/v1/failed-jobs"},
			{http.MethodGet, "/api/v1/failed-jobs/" + j.ID},
			{http.MethodPost, "/api/v1/failed-jobs/" + j.ID + "/retry"},
			{http.MethodPost, "/api/v1/failed-jobs/retry-all"},
			{http.MethodDelete, "/api/v1/failed-jobs/" + j.ID},
			{http.MethodDelete, "/api/v1/failed-jobs"},
		} {
			requireError(t, f.call(t, r.method, r.path, notAdmin, ""), http.StatusForbidden, "forbidden")
			requireError(t, f.call(t, r.method, r.path, "", ""), http.StatusUnauthorized, "unauthenticated")
		}
		admin := token(t, "acme", "root", domain.PermAdmin)
		requireError(t, f.call(t, http.MethodGet, "/api/v1/failed-jobs?before=nope", admin, ""), http.StatusBadRequest, "invalid_input")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/failed-jobs?limit=-1", admin, ""), http.StatusBadRequest, "invalid_input")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/failed-jobs/nope", admin, ""), http.StatusBadRequest, "invalid_input")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/failed-jobs/nope/retry", admin, ""), http.StatusBadRequest, "invalid_input")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/failed-jobs/"+domain.NewID()+"/retry", admin, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPut, "/api/v1/failed-jobs", admin, ""), http.StatusMethodNotAllowed, "method_not_allowed")
		// Nothing changed.
		left, err := f.failed.List(context.Background(), domain.FailedJobScope{Tenant: "acme"}, "", 10)
		require.NoError(t, err)
		require.Len(t, left, 1)
	})
}
