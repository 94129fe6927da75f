package web

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/extsync"
	"github.com/notifyhub/notifyhub/web/auth"
)

// SyncService configures a tenant's external endpoint and runs syncs from
// it (*extsync.Service). PutConfig, GetConfig and Request check perm admin
// themselves; Get answers domain.ErrNotFound for another tenant's sync.
type SyncService interface {
	PutConfig(ctx context.Context, actor domain.Actor, in extsync.ConfigInput) (extsync.ConfigView, error)
	GetConfig(ctx context.Context, actor domain.Actor) (extsync.ConfigView, error)
	Request(ctx context.Context, actor domain.Actor, in extsync.RequestInput) (extsync.Run, error)
	Get(ctx context.Context, tenant domain.TenantID, id string) (extsync.Run, error)
	List(ctx context.Context, tenant domain.TenantID, p extsync.ListParams) ([]extsync.Run, error)
}

// syncRoutes mounts the external data sync API (DESIGN.md §4.7).
func (s *server) syncRoutes(r chi.Router) {
	r.Get("/sync-config", s.api(s.getSyncConfig))
	r.Put("/sync-config", s.api(s.putSyncConfig))
	r.Get("/syncs", s.api(s.listSyncs))
	r.Post("/syncs", s.api(s.requestSync))
	r.Get("/syncs/{id}", s.api(s.getSync))
}

func (s *server) putSyncConfig(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if err := c.Actor().Require(domain.PermAdmin); err != nil {
		return err // before reading a body the caller may not send
	}
	var in extsync.ConfigInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	v, err := s.deps.Syncs.PutConfig(r.Context(), c.Actor(), in)
	return reply(w, http.StatusOK, v, err)
}

func (s *server) getSyncConfig(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	v, err := s.deps.Syncs.GetConfig(r.Context(), c.Actor())
	return reply(w, http.StatusOK, v, err)
}

// requestSync accepts a sync (202): the SyncExternalData job runs it.
func (s *server) requestSync(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if err := c.Actor().Require(domain.PermAdmin); err != nil {
		return err
	}
	var in extsync.RequestInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	run, err := s.deps.Syncs.Request(r.Context(), c.Actor(), in)
	if err == nil {
		w.Header().Set("Location", "/api/v1/syncs/"+run.ID)
	}
	return reply(w, http.StatusAccepted, run.View(), err)
}

func (s *server) getSync(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	run, err := s.deps.Syncs.Get(r.Context(), c.TenantID, id)
	return reply(w, http.StatusOK, run.View(), err)
}

func (s *server) listSyncs(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	q := r.URL.Query()
	v := &domain.ValidationError{}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		v.Add("limit", "must be a non-negative integer")
	}
	before, err := optionalID("before", q.Get("before"))
	if err != nil {
		v.Add("before", "must be a sync id")
	}
	typ := extsync.Type(q.Get("type"))
	if typ != "" && !typ.Valid() {
		v.Add("type", "must be products, customers, inventory or orders")
	}
	if err := v.Err(); err != nil {
		return err
	}
	limit = pageLimit(limit)
	runs, err := s.deps.Syncs.List(r.Context(), c.TenantID, extsync.ListParams{Type: typ, Before: before, Limit: limit})
	views := make([]extsync.View, len(runs))
	for i, run := range runs {
		views[i] = run.View()
	}
	return reply(w, http.StatusOK, newList(views, limit, func(v extsync.View) string { return v.ID }), err)
}
