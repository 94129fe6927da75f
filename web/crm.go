package web

import (
	"context"
	"net/http"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/web/auth"
)

// CRMService runs customers and leads (*crm.Service). It checks the
// actor's permission and validates input itself; another tenant's id is
// domain.ErrNotFound.
type CRMService interface {
	CreateCustomer(ctx context.Context, actor domain.Actor, in crm.CustomerInput) (crm.Customer, error)
	GetCustomer(ctx context.Context, tenant domain.TenantID, id string) (crm.Customer, error)
	ListCustomers(ctx context.Context, tenant domain.TenantID, p crm.ListParams) ([]crm.Customer, error)
	CreateLead(ctx context.Context, actor domain.Actor, in crm.LeadInput) (crm.Lead, error)
	GetLead(ctx context.Context, tenant domain.TenantID, id string) (crm.Lead, error)
	ListLeads(ctx context.Context, tenant domain.TenantID, p crm.ListParams) ([]crm.Lead, error)
	// ConvertLead makes the customer of an open lead (RuleError
	// lead_already_converted otherwise).
	ConvertLead(ctx context.Context, actor domain.Actor, id string) (crm.Customer, error)
}

// createLocated is create that also sets the Location header of the new
// resource, at prefix + its id.
func createLocated[In, Out any](do func(ctx context.Context, actor domain.Actor, in In) (Out, error), prefix string, id func(Out) string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
		var in In
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		out, err := do(r.Context(), c.Actor(), in)
		if err == nil {
			w.Header().Set("Location", prefix+id(out))
		}
		return reply(w, http.StatusCreated, out, err)
	}
}

func customerID(c crm.Customer) string { return c.ID }
func leadID(l crm.Lead) string         { return l.ID }

// crmListParams reads limit and after, the paging of both lists.
func crmListParams(r *http.Request) (crm.ListParams, error) {
	q := r.URL.Query()
	v := &domain.ValidationError{}
	pg := parsePage(q, v)
	return crm.ListParams{After: pg.After, Limit: pg.Limit}, v.Err()
}

func (s *server) listCustomers(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	p, err := crmListParams(r)
	if err != nil {
		return err
	}
	items, err := s.deps.CRM.ListCustomers(r.Context(), c.TenantID, p)
	return reply(w, http.StatusOK, newList(items, p.Limit, customerID), err)
}

func (s *server) getCustomer(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	out, err := s.deps.CRM.GetCustomer(r.Context(), c.TenantID, id)
	return reply(w, http.StatusOK, out, err)
}

func (s *server) listLeads(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	p, err := crmListParams(r)
	if err != nil {
		return err
	}
	p.Status = crm.LeadStatus(r.URL.Query().Get("status")) // the service validates it
	items, err := s.deps.CRM.ListLeads(r.Context(), c.TenantID, p)
	return reply(w, http.StatusOK, newList(items, p.Limit, leadID), err)
}

func (s *server) getLead(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	out, err := s.deps.CRM.GetLead(r.Context(), c.TenantID, id)
	return reply(w, http.StatusOK, out, err)
}

// convertLead answers 201 with the customer it made: the conversion
// creates a resource, found at Location.
func (s *server) convertLead(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	out, err := s.deps.CRM.ConvertLead(r.Context(), c.Actor(), id)
	if err == nil {
		w.Header().Set("Location", "/api/v1/customers/"+out.ID)
	}
	return reply(w, http.StatusCreated, out, err)
}
