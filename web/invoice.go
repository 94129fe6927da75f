package web

import (
	"context"
	"net/http"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/invoice"
	"github.com/notifyhub/notifyhub/web/auth"
)

// InvoiceService serves invoices and payments (*invoice.Service). It checks
// the actor's permission and validates input itself; another tenant's
// invoice is domain.ErrNotFound.
type InvoiceService interface {
	Get(ctx context.Context, tenant domain.TenantID, id string) (invoice.Invoice, error)
	List(ctx context.Context, tenant domain.TenantID, f invoice.Filter) ([]invoice.Invoice, error)
	RecordPayment(ctx context.Context, actor domain.Actor, invoiceID string, in invoice.PaymentInput) (invoice.Payment, error)
	ListPayments(ctx context.Context, tenant domain.TenantID, invoiceID string, f invoice.PaymentFilter) ([]invoice.Payment, error)
}

// ---- invoices (DESIGN.md §4.6, §4.8) ----

func (s *server) listInvoices(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	q := r.URL.Query()
	v := &domain.ValidationError{}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		v.Add("limit", "must be a non-negative integer")
	}
	f := invoice.Filter{Status: q.Get("status")}
	for field, dst := range map[string]*string{"order_id": &f.OrderID, "customer_id": &f.CustomerID, "after": &f.After} {
		if *dst, err = optionalID(field, q.Get(field)); err != nil {
			v.Add(field, "must be a UUID")
		}
	}
	switch f.Status {
	case "", invoice.StatusOpen, invoice.StatusPaid, invoice.StatusOverdue:
	default:
		v.Add("status", "must be open, paid or overdue")
	}
	if err := v.Err(); err != nil {
		return err
	}
	f.Limit = pageLimit(limit)
	items, err := s.deps.Invoices.List(r.Context(), c.TenantID, f)
	return reply(w, http.StatusOK, newList(items, f.Limit, func(i invoice.Invoice) string { return i.ID }), err)
}

func (s *server) getInvoice(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	inv, err := s.deps.Invoices.Get(r.Context(), c.TenantID, id)
	return reply(w, http.StatusOK, inv, err)
}

func (s *server) listInvoicePayments(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v := &domain.ValidationError{}
	pg := parsePage(q, v)
	if err := v.Err(); err != nil {
		return err
	}
	items, err := s.deps.Invoices.ListPayments(r.Context(), c.TenantID, id, invoice.PaymentFilter{After: pg.After, Limit: pg.Limit})
	return reply(w, http.StatusOK, newList(items, pg.Limit, func(p invoice.Payment) string { return p.ID }), err)
}

func (s *server) recordInvoicePayment(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in invoice.PaymentInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p, err := s.deps.Invoices.RecordPayment(r.Context(), c.Actor(), id, in)
	return reply(w, http.StatusCreated, p, err)
}
