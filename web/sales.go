package web

import (
	"context"
	"net/http"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/web/auth"
)

// SalesService runs sales orders (*sales.Service). It checks the actor's
// permission and validates input (filters included) itself; another
// tenant's id is domain.ErrNotFound.
type SalesService interface {
	Create(ctx context.Context, actor domain.Actor, in sales.CreateInput) (sales.Order, error)
	// Approve: RuleError order_not_pending unless pending.
	Approve(ctx context.Context, actor domain.Actor, id string) (sales.Order, error)
	// Fulfill: RuleError order_not_approved unless approved,
	// insufficient_stock when a product's stock cannot cover it.
	Fulfill(ctx context.Context, actor domain.Actor, id string) (sales.Order, error)
	Get(ctx context.Context, tenant domain.TenantID, id string) (sales.Order, error)
	List(ctx context.Context, tenant domain.TenantID, f sales.Filter) ([]sales.Order, error)
}

func orderID(o sales.Order) string { return o.ID }

func (s *server) listOrders(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	q := r.URL.Query()
	v := &domain.ValidationError{}
	pg := parsePage(q, v)
	if err := v.Err(); err != nil {
		return err
	}
	// The service validates customer_id and status.
	items, err := s.deps.Sales.List(r.Context(), c.TenantID, sales.Filter{
		CustomerID: q.Get("customer_id"), Status: sales.Status(q.Get("status")), After: pg.After, Limit: pg.Limit,
	})
	return reply(w, http.StatusOK, newList(items, pg.Limit, orderID), err)
}

func (s *server) getOrder(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	out, err := s.deps.Sales.Get(r.Context(), c.TenantID, id)
	return reply(w, http.StatusOK, out, err)
}

// orderCommand runs a status change on the order of the route and answers
// 200 with the order after it.
func (s *server) orderCommand(do func(ctx context.Context, actor domain.Actor, id string) (sales.Order, error)) apiFunc {
	return func(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		out, err := do(r.Context(), c.Actor(), id)
		return reply(w, http.StatusOK, out, err)
	}
}
