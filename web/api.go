package web

import (
	"context"
	"net/http"
	"regexp"

	"github.com/go-chi/chi/v5"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/web/auth"
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

// apiFunc is an API handler behind requireAPI: it gets the verified claims.
type apiFunc func(w http.ResponseWriter, r *http.Request, c auth.Claims) error

// api adapts an apiFunc to the router, through handle's error mapping.
func (s *server) api(fn apiFunc) http.HandlerFunc {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		c, err := mustClaims(r)
		if err != nil {
			return err
		}
		return fn(w, r, c)
	})
}

// create decodes a JSON body into In, runs do with the caller as actor and
// answers 201 with what it made.
func create[In, Out any](do func(ctx context.Context, actor domain.Actor, in In) (Out, error)) apiFunc {
	return func(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
		var in In
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		out, err := do(r.Context(), c.Actor(), in)
		return reply(w, http.StatusCreated, out, err)
	}
}

// reply answers status with v, or returns err for the error mapping.
func reply(w http.ResponseWriter, status int, v any, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

// noContent answers 204, or returns err for the error mapping.
func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- notifications (DESIGN.md §4.4) ----

func (s *server) listNotifications(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
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
	if page.Data == nil {
		page.Data = []domain.Notification{}
	}
	return reply(w, http.StatusOK, page, err)
}

func (s *server) unreadCount(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	n, err := s.deps.Notifications.UnreadCount(r.Context(), c.TenantID, c.UserID())
	return reply(w, http.StatusOK, map[string]int{"unread_count": n}, err)
}

func (s *server) markRead(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	return noContent(w, s.deps.Notifications.MarkRead(r.Context(), c.TenantID, c.UserID(), chi.URLParam(r, "id")))
}

func (s *server) markUnread(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	return noContent(w, s.deps.Notifications.MarkUnread(r.Context(), c.TenantID, c.UserID(), chi.URLParam(r, "id")))
}

func (s *server) markAllRead(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	return noContent(w, s.deps.Notifications.MarkAllRead(r.Context(), c.TenantID, c.UserID()))
}

// notificationTypes lists the registry: every type notifyhub sends, with
// its label and default severity.
func (s *server) notificationTypes(w http.ResponseWriter, _ *http.Request, _ auth.Claims) error {
	return reply(w, http.StatusOK, map[string][]notification.Kind{"data": notification.Registry}, nil)
}

// ---- products (DESIGN.md §4.6, §4.8) ----

func (s *server) createProduct(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	var in product.CreateInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p, err := s.deps.Products.Create(r.Context(), c.Actor(), in)
	if err == nil {
		w.Header().Set("Location", "/api/v1/products/"+p.ID)
	}
	return reply(w, http.StatusCreated, p, err)
}

func (s *server) listProducts(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	v := &domain.ValidationError{}
	pg := parsePage(r.URL.Query(), v)
	if err := v.Err(); err != nil {
		return err
	}
	items, err := s.deps.Products.List(r.Context(), c.TenantID, product.ListParams{After: pg.After, Limit: pg.Limit})
	return reply(w, http.StatusOK, newList(items, pg.Limit, func(p product.Product) string { return p.ID }), err)
}

// pathID validates the {id} of the route as a UUID (400 otherwise).
func pathID(r *http.Request) (string, error) {
	return domain.ParseID("id", chi.URLParam(r, "id"))
}

func (s *server) getProduct(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p, err := s.deps.Products.Get(r.Context(), c.TenantID, id)
	return reply(w, http.StatusOK, p, err)
}

func (s *server) updateProduct(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in product.UpdateInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p, err := s.deps.Products.Update(r.Context(), c.Actor(), id, in)
	return reply(w, http.StatusOK, p, err)
}

func (s *server) deleteProduct(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	return noContent(w, s.deps.Products.Delete(r.Context(), c.Actor(), id))
}

// ---- stock (DESIGN.md §4.6) ----

func (s *server) listMovements(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
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
	return reply(w, http.StatusOK, newList(items, limit, func(m inventory.Movement) string { return m.ID }), err)
}

func (s *server) listLocations(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	items, err := s.deps.Inventory.ListLocations(r.Context(), c.TenantID)
	// Locations are few and listed whole: there is never a next page.
	if items == nil {
		items = []inventory.Location{}
	}
	return reply(w, http.StatusOK, listBody[inventory.Location]{Data: items}, err)
}

// ---- event log ----

var eventTypePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.]{0,63}$`)

func (s *server) listEvents(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
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
		if items == nil {
			items = []domain.Event{}
		}
		return reply(w, http.StatusOK, listBody[domain.Event]{Data: items}, err)
	}
	items, err := s.deps.Events.ListEvents(r.Context(), c.TenantID, eventType, after, limit)
	return reply(w, http.StatusOK, newList(items, limit, func(e domain.Event) string { return e.ID }), err)
}
