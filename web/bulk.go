package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/web/auth"
)

// sendBulk accepts a bulk send (202): a background job sends it.
func (s *server) sendBulk(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if err := c.Actor().Require(domain.PermNotificationsSend); err != nil {
		return err // before reading a body the caller may not send
	}
	var in notification.BulkRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	b, err := s.deps.Bulk.Request(r.Context(), c.Actor(), in)
	if err == nil {
		w.Header().Set("Location", "/api/v1/notifications/bulk/"+b.ID)
	}
	return reply(w, http.StatusAccepted, b.View(), err)
}

func (s *server) getBulk(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := domain.ParseID("id", chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	b, err := s.deps.Bulk.Get(r.Context(), c.TenantID, id)
	return reply(w, http.StatusOK, b.View(), err)
}
