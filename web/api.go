package web

import (
	"net/http"
	"regexp"

	"github.com/go-chi/chi/v5"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/product"
)

// listBody is the shape of every ERP list (DESIGN.md §4.8): Next is the
// cursor of the following page, null on the last one.
type listBody[T any] struct {
	Data []T     `json:"data"`
	Next *string `json:"next"`
}

// newList builds a page: a full page may have a successor, whose cursor is
// the last id; a short one is the end.
func newList[T any](items []T, limit int, id func(T) string) listBody[T] {
	if items == nil {
		items = []T{}
	}
	b := listBody[T]{Data: items}
	if len(items) > 0 && len(items) >= limit {
		next := id(items[len(items)-1])
		b.Next = &next
	}
	return b
}

// ---- notifications (DESIGN.md §4.4) ----

func (s *server) listNotifications(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	// The service validates status and before and clamps the limit.
	page, err := s.deps.Notifications.List(r.Context(), c.TenantID, c.UserID(), notification.ListParams{
		Status: notification.Status(q.Get("status")),
		Before: q.Get("before"),
		Limit:  limit,
	})
	if err != nil {
		return err
	}
	if page.Data == nil {
		page.Data = []domain.Notification{}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *server) unreadCount(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	n, err := s.deps.Notifications.UnreadCount(r.Context(), c.TenantID, c.UserID())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"unread_count": n})
	return nil
}

func (s *server) markRead(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	if err := s.deps.Notifications.MarkRead(r.Context(), c.TenantID, c.UserID(), chi.URLParam(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) markUnread(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	if err := s.deps.Notifications.MarkUnread(r.Context(), c.TenantID, c.UserID(), chi.URLParam(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) markAllRead(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	if err := s.deps.Notifications.MarkAllRead(r.Context(), c.TenantID, c.UserID()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- products (DESIGN.md §4.6, §4.8) ----

func (s *server) createProduct(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	var in product.CreateInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p, err := s.deps.Products.Create(r.Context(), c.Actor(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/products/"+p.ID)
	writeJSON(w, http.StatusCreated, p)
	return nil
}

func (s *server) listProducts(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	after, err := optionalID("after", q.Get("after"))
	if err != nil {
		return err
	}
	limit = pageLimit(limit)
	items, err := s.deps.Products.List(r.Context(), c.TenantID, product.ListParams{After: after, Limit: limit})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, limit, func(p product.Product) string { return p.ID }))
	return nil
}

// pathID validates the {id} of the route as a UUID (400 otherwise).
func pathID(r *http.Request) (string, error) {
	return domain.ParseID("id", chi.URLParam(r, "id"))
}

func (s *server) getProduct(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p, err := s.deps.Products.Get(r.Context(), c.TenantID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *server) updateProduct(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in product.UpdateInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p, err := s.deps.Products.Update(r.Context(), c.Actor(), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *server) deleteProduct(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.deps.Products.Delete(r.Context(), c.Actor(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- stock (DESIGN.md §4.6) ----

func (s *server) recordMovement(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	var in inventory.RecordInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	m, err := s.deps.Inventory.Record(r.Context(), c.Actor(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

func (s *server) listMovements(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	v := &domain.ValidationError{}
	productID, err := optionalID("product_id", q.Get("product_id"))
	if err != nil {
		v.Add("product_id", "must be a UUID")
	}
	before, err := optionalID("before", q.Get("before"))
	if err != nil {
		v.Add("before", "must be a UUID")
	}
	if err := v.Err(); err != nil {
		return err
	}
	limit = pageLimit(limit)
	items, err := s.deps.Inventory.ListMovements(r.Context(), c.TenantID, inventory.MovementFilter{
		ProductID: productID, Before: before, Limit: limit,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, limit, func(m inventory.Movement) string { return m.ID }))
	return nil
}

func (s *server) listLocations(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	items, err := s.deps.Inventory.ListLocations(r.Context(), c.TenantID)
	if err != nil {
		return err
	}
	// Locations are few and listed whole: there is never a next page.
	if items == nil {
		items = []inventory.Location{}
	}
	writeJSON(w, http.StatusOK, listBody[inventory.Location]{Data: items})
	return nil
}

func (s *server) createLocation(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	var in inventory.LocationInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	l, err := s.deps.Inventory.CreateLocation(r.Context(), c.Actor(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, l)
	return nil
}

// ---- event log ----

var eventTypePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.]{0,63}$`)

func (s *server) listEvents(w http.ResponseWriter, r *http.Request) error {
	c, err := mustClaims(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v := &domain.ValidationError{}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		v.Add("limit", "must be a non-negative integer")
	}
	eventType := q.Get("type")
	if eventType != "" && !eventTypePattern.MatchString(eventType) {
		v.Add("type", "must be an event type name such as ProductCreated")
	}
	after, err := optionalID("after", q.Get("after"))
	if err != nil {
		v.Add("after", "must be an event id")
	}
	// order=desc lists the newest events, newest first: how a live view
	// starts (or catches up after falling far behind) without paging the
	// whole log. It is one page: no type filter, no cursor, next is null.
	desc := false
	switch q.Get("order") {
	case "", "asc":
	case "desc":
		desc = true
		if eventType != "" {
			v.Add("type", "is not supported with order=desc")
		}
		if after != "" {
			v.Add("after", "is not supported with order=desc")
		}
	default:
		v.Add("order", "must be asc or desc")
	}
	if err := v.Err(); err != nil {
		return err
	}
	limit = pageLimit(limit)
	if desc {
		items, err := s.deps.Events.LatestEvents(r.Context(), c.TenantID, limit)
		if err != nil {
			return err
		}
		if items == nil {
			items = []domain.Event{}
		}
		writeJSON(w, http.StatusOK, listBody[domain.Event]{Data: items})
		return nil
	}
	items, err := s.deps.Events.ListEvents(r.Context(), c.TenantID, eventType, after, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, limit, func(e domain.Event) string { return e.ID }))
	return nil
}
