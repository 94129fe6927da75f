package web

import (
	"net/http"

	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/web/auth"
)

// listBatches answers GET /api/v1/products/{id}/batches: the product's
// stock batches holding stock, at every location, first expiry first. A
// product has few live batches, so the list comes whole (next is null).
func (s *server) listBatches(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	items, err := s.deps.Inventory.ListBatches(r.Context(), c.TenantID, id)
	if items == nil {
		items = []inventory.Batch{}
	}
	return reply(w, http.StatusOK, listBody[inventory.Batch]{Data: items}, err)
}
