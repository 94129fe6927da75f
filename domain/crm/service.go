package crm

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/notifyhub/notifyhub/domain"
)

// Limits on customer and lead fields; longer input is a validation error,
// never a truncation.
const (
	maxNameLen          = 200
	maxEmailLen         = 254 // RFC 5321 path limit
	defaultPaymentTerms = 30
	maxPaymentTerms     = 365
	defaultPage         = 50
	maxPage             = 200
)

// Service runs the crm commands and keeps customer statistics.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service; now defaults to time.Now.
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// CustomerInput is the body of POST /api/v1/customers.
type CustomerInput struct {
	Name  string `json:"name"`
	Email string `json:"email"` // optional
	// PaymentTermsDays is optional: 0..365, default 30.
	PaymentTermsDays *int `json:"payment_terms_days"`
}

// LeadInput is the body of POST /api/v1/leads.
type LeadInput struct {
	Name  string `json:"name"`
	Email string `json:"email"` // optional
}

// CreateCustomer validates the input, stores the customer and writes
// CustomerCreated. A second customer with the same email in the tenant is
// domain.ErrConflict.
func (s *Service) CreateCustomer(ctx context.Context, actor domain.Actor, in CustomerInput) (Customer, error) {
	if err := actor.Require(domain.PermCRMManage); err != nil {
		return Customer{}, err
	}
	v := &domain.ValidationError{}
	name := strings.TrimSpace(in.Name)
	email := normalizeEmail(in.Email)
	checkName(v, name)
	checkEmail(v, email)
	terms := defaultPaymentTerms
	if in.PaymentTermsDays != nil {
		terms = *in.PaymentTermsDays
		if terms < 0 || terms > maxPaymentTerms {
			v.Add("payment_terms_days", fmt.Sprintf("must be between 0 and %d", maxPaymentTerms))
		}
	}
	if err := v.Err(); err != nil {
		return Customer{}, err
	}
	now := s.clock()
	c := Customer{
		ID: domain.NewID(), TenantID: actor.TenantID, Name: name, Email: email,
		PaymentTermsDays: terms, Statistics: zeroStatistics(), CreatedAt: now, UpdatedAt: now,
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.InsertCustomer(ctx, c); err != nil {
			return err
		}
		return s.appendEvents(ctx, actor, now, CustomerCreated{CustomerID: c.ID, Name: c.Name, Email: c.Email})
	})
	if err != nil {
		return Customer{}, fmt.Errorf("create customer: %w", err)
	}
	return c, nil
}

// GetCustomer returns one customer of the tenant, with its statistics.
func (s *Service) GetCustomer(ctx context.Context, tenant domain.TenantID, id string) (Customer, error) {
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Customer{}, err
	}
	return s.store.GetCustomer(ctx, tenant, id)
}

// ListCustomers pages through the tenant's customers in creation order.
func (s *Service) ListCustomers(ctx context.Context, tenant domain.TenantID, p ListParams) ([]Customer, error) {
	p, err := checkList(p)
	if err != nil {
		return nil, err
	}
	p.Status = ""
	return s.store.ListCustomers(ctx, tenant, p)
}

// CreateLead validates the input, stores an open lead. No event: a lead
// becomes a business fact when it is converted (LeadConverted).
func (s *Service) CreateLead(ctx context.Context, actor domain.Actor, in LeadInput) (Lead, error) {
	if err := actor.Require(domain.PermCRMManage); err != nil {
		return Lead{}, err
	}
	v := &domain.ValidationError{}
	name := strings.TrimSpace(in.Name)
	email := normalizeEmail(in.Email)
	checkName(v, name)
	checkEmail(v, email)
	if err := v.Err(); err != nil {
		return Lead{}, err
	}
	now := s.clock()
	l := Lead{
		ID: domain.NewID(), TenantID: actor.TenantID, Name: name, Email: email,
		Status: LeadStatusOpen, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.InsertLead(ctx, l); err != nil {
		return Lead{}, fmt.Errorf("create lead: %w", err)
	}
	return l, nil
}

// GetLead returns one lead of the tenant.
func (s *Service) GetLead(ctx context.Context, tenant domain.TenantID, id string) (Lead, error) {
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Lead{}, err
	}
	return s.store.GetLead(ctx, tenant, id)
}

// ListLeads pages through the tenant's leads in creation order, optionally
// only those of one status.
func (s *Service) ListLeads(ctx context.Context, tenant domain.TenantID, p ListParams) ([]Lead, error) {
	switch p.Status {
	case "", LeadStatusOpen, LeadStatusConverted:
	default:
		return nil, domain.Invalid("status", "must be open or converted")
	}
	p, err := checkList(p)
	if err != nil {
		return nil, err
	}
	return s.store.ListLeads(ctx, tenant, p)
}

// ConvertLead turns an open lead into a customer, in one transaction: the
// customer (lead_id set), the lead marked converted, CustomerCreated and
// LeadConverted. A lead already converted is the RuleError
// lead_already_converted; a lead whose email already belongs to a customer
// is domain.ErrConflict.
func (s *Service) ConvertLead(ctx context.Context, actor domain.Actor, id string) (Customer, error) {
	if err := actor.Require(domain.PermCRMManage); err != nil {
		return Customer{}, err
	}
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Customer{}, err
	}
	var c Customer
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		l, err := s.store.LockLead(ctx, actor.TenantID, id)
		if err != nil {
			return err
		}
		if l.Status != LeadStatusOpen {
			return domain.Rule("lead_already_converted", "lead %s was already converted into customer %s", l.ID, deref(l.CustomerID))
		}
		now := s.clock()
		leadID := l.ID
		c = Customer{
			ID: domain.NewID(), TenantID: actor.TenantID, Name: l.Name, Email: l.Email,
			PaymentTermsDays: defaultPaymentTerms, Statistics: zeroStatistics(), LeadID: &leadID,
			CreatedAt: now, UpdatedAt: now,
		}
		if err := s.store.InsertCustomer(ctx, c); err != nil {
			if errors.Is(err, domain.ErrConflict) {
				return fmt.Errorf("a customer with email %q already exists: %w", l.Email, err)
			}
			return err
		}
		if err := s.store.MarkLeadConverted(ctx, actor.TenantID, l.ID, c.ID, now); err != nil {
			return err
		}
		return s.appendEvents(ctx, actor, now,
			CustomerCreated{CustomerID: c.ID, Name: c.Name, Email: c.Email, LeadID: l.ID},
			LeadConverted{LeadID: l.ID, CustomerID: c.ID, Name: c.Name, Email: c.Email})
	})
	if err != nil {
		return Customer{}, fmt.Errorf("convert lead: %w", err)
	}
	return c, nil
}

// RecomputeStatistics recomputes a customer's statistics from its orders,
// invoices and payments (see Statistics) and stores them. It never adds to
// the stored figures, so running it any number of times, in any order of
// events, gives the same result.
func (s *Service) RecomputeStatistics(ctx context.Context, tenant domain.TenantID, customerID string) (Statistics, error) {
	id, err := domain.ParseID("customer_id", customerID)
	if err != nil {
		return Statistics{}, err
	}
	st, err := s.store.RecomputeCustomerStatistics(ctx, tenant, id)
	if err != nil {
		return Statistics{}, fmt.Errorf("recompute statistics of customer %s: %w", id, err)
	}
	return st, nil
}

func (s *Service) appendEvents(ctx context.Context, actor domain.Actor, at time.Time, payloads ...domain.EventPayload) error {
	events := make([]domain.Event, 0, len(payloads))
	for _, p := range payloads {
		ev, err := domain.NewEvent(actor.TenantID, actor.UserID, at, p)
		if err != nil {
			return err
		}
		events = append(events, ev)
	}
	return s.store.AppendEvents(ctx, events...)
}

func checkList(p ListParams) (ListParams, error) {
	if p.After != "" {
		after, err := domain.ParseID("after", p.After)
		if err != nil {
			return p, err
		}
		p.After = after
	}
	switch {
	case p.Limit <= 0:
		p.Limit = defaultPage
	case p.Limit > maxPage:
		p.Limit = maxPage
	}
	return p, nil
}

func zeroStatistics() Statistics {
	return Statistics{TotalSpent: decimalZero, OutstandingBalance: decimalZero}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// normalizeEmail trims and lower-cases: emails are compared (and unique)
// case-insensitively.
func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func checkName(v *domain.ValidationError, name string) {
	switch {
	case name == "":
		v.Add("name", "is required")
	case !utf8.ValidString(name) || strings.ContainsFunc(name, isControl):
		v.Add("name", "must not contain control characters")
	case utf8.RuneCountInString(name) > maxNameLen:
		v.Add("name", fmt.Sprintf("must be at most %d characters", maxNameLen))
	}
}

// checkEmail accepts "" (no email) or one plain address: no display name,
// no angle brackets, nothing around it.
func checkEmail(v *domain.ValidationError, email string) {
	if email == "" {
		return
	}
	if len(email) > maxEmailLen {
		v.Add("email", fmt.Sprintf("must be at most %d characters", maxEmailLen))
		return
	}
	if !utf8.ValidString(email) || strings.ContainsFunc(email, isControl) {
		v.Add("email", "must not contain control characters")
		return
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || !strings.EqualFold(addr.Address, email) ||
		strings.ContainsAny(email, " <>") || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
		v.Add("email", "must be an email address like name@example.com")
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// clock is now in UTC at the precision the store keeps (microseconds), so
// what a command answers equals what a later read returns.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
