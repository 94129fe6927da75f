package web

import (
	"net/http"
	"strconv"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/valuation"
	"github.com/notifyhub/notifyhub/web/auth"
)

// requestValuation accepts a valuation (202): a background job on the low
// queue runs it. The body may be empty or {} (every product), or name one
// product_id or one location_id.
func (s *server) requestValuation(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if err := c.Actor().Require(domain.PermInventoryManage); err != nil {
		return err // before reading a body the caller may not send
	}
	var in valuation.RequestInput
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	v, err := s.deps.Valuations.Request(r.Context(), c.Actor(), in)
	if err == nil {
		w.Header().Set("Location", "/api/v1/valuations/"+v.ID)
	}
	return reply(w, http.StatusAccepted, v.Summary(), err)
}

// getValuation shows a valuation's status and, once completed, a page of
// its lines: ?after=<line number>&limit=N (default 200, at most 1000).
func (s *server) getValuation(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v := &domain.ValidationError{}
	var page valuation.LinePage
	if a := q.Get("after"); a != "" {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 {
			v.Add("after", "must be a line number (a non-negative integer), as given in results_next")
		}
		page.After = n
	}
	if page.Limit, err = parseLimit(q.Get("limit")); err != nil {
		v.Add("limit", "must be a non-negative integer")
	}
	if err := v.Err(); err != nil {
		return err
	}
	d, err := s.deps.Valuations.Get(r.Context(), c.TenantID, id, page)
	return reply(w, http.StatusOK, d, err)
}

// listValuations lists the tenant's valuations newest first, without their
// lines: ?before=<valuation id>&limit=N.
func (s *server) listValuations(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
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
	items, err := s.deps.Valuations.List(r.Context(), c.TenantID, before, limit)
	return reply(w, http.StatusOK, newList(items, limit, func(v valuation.Summary) string { return v.ID }), err)
}
