package web

import (
	"net/http"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/web/auth"
)

// Failed jobs (DESIGN.md §4.7), for holders of admin. A tenant's admins
// see and manage their own tenant's failed jobs only: another tenant's
// id is 404. Every tenant's, and failed jobs whose entry could not even be
// read (no tenant), are for the operator's CLI (`notifyhub queue`).

// adminScope checks the caller holds admin and scopes to their tenant.
func adminScope(c auth.Claims) (domain.FailedJobScope, error) {
	if err := c.Actor().Require(domain.PermAdmin); err != nil {
		return domain.FailedJobScope{}, err
	}
	return domain.FailedJobScope{Tenant: c.TenantID}, nil
}

func (s *server) listFailedJobs(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	scope, err := adminScope(c)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	before, err := optionalID("before", q.Get("before"))
	if err != nil {
		return err
	}
	limit = pageLimit(limit)
	items, err := s.deps.FailedJobs.List(r.Context(), scope, before, limit)
	return reply(w, http.StatusOK, newList(items, limit, func(j domain.FailedJob) string { return j.ID }), err)
}

func (s *server) getFailedJob(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	scope, err := adminScope(c)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	j, err := s.deps.FailedJobs.Get(r.Context(), scope, id)
	return reply(w, http.StatusOK, j, err)
}

// retryFailedJob queues the job again (202): it runs once a worker takes
// it, and is no longer a failed job.
func (s *server) retryFailedJob(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	scope, err := adminScope(c)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	err = s.deps.FailedJobs.Retry(r.Context(), scope, id)
	return reply(w, http.StatusAccepted, map[string]string{"id": id, "status": "queued"}, err)
}

func (s *server) retryAllFailedJobs(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	scope, err := adminScope(c)
	if err != nil {
		return err
	}
	rep, err := s.deps.FailedJobs.RetryAll(r.Context(), scope)
	return reply(w, http.StatusAccepted, rep, err)
}

func (s *server) forgetFailedJob(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	scope, err := adminScope(c)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	return noContent(w, s.deps.FailedJobs.Forget(r.Context(), scope, id))
}

func (s *server) flushFailedJobs(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	scope, err := adminScope(c)
	if err != nil {
		return err
	}
	n, err := s.deps.FailedJobs.Flush(r.Context(), scope)
	return reply(w, http.StatusOK, map[string]int64{"deleted": n}, err)
}
