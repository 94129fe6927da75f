package crm_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

var (
	acme   = domain.Actor{TenantID: "acme", UserID: "alice", Perms: []string{domain.PermCRMManage}}
	globex = domain.Actor{TenantID: "globex", UserID: "gina", Perms: []string{domain.PermAdmin}}
	viewer = domain.Actor{TenantID: "acme", UserID: "vic", Perms: []string{domain.PermSalesManage}}
)

func each(t *testing.T, fn func(t *testing.T, s *sqlstore.Store, svc *crm.Service)) {
	t.Helper()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			fn(t, s, crm.NewService(s, nil))
		})
	}
}

func events(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, typ string) []domain.Event {
	t.Helper()
	evs, err := s.ListEvents(context.Background(), tenant, typ, "", 100)
	require.NoError(t, err)
	return evs
}

func requireField(t *testing.T, err error, field string, msgAndArgs ...any) {
	t.Helper()
	var v *domain.ValidationError
	require.True(t, errors.As(err, &v), "want a validation error, got %v", err)
	require.Contains(t, v.Fields, field, msgAndArgs...)
}

func TestCreateCustomer(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, s *sqlstore.Store, svc *crm.Service) {
		ctx := context.Background()
		c, err := svc.CreateCustomer(ctx, acme, crm.CustomerInput{Name: "  Ōsaka Trading <Ltd>  ", Email: " Buyer@Example.COM "})
		require.NoError(t, err)
		require.Equal(t, "Ōsaka Trading <Ltd>", c.Name)
		require.Equal(t, "buyer@example.com", c.Email, "stored lower-cased")
		require.Equal(t, 30, c.PaymentTermsDays)
		require.Nil(t, c.LeadID)

		got, err := svc.GetCustomer(ctx, "acme", c.ID)
		require.NoError(t, err)
		require.Equal(t, c.Name, got.Name)
		require.Equal(t, "buyer@example.com", got.Email)
		require.Equal(t, "0", got.Statistics.TotalSpent.String())

		evs := events(t, s, "acme", "CustomerCreated")
		require.Len(t, evs, 1)
		require.Equal(t, domain.UserID("alice"), evs[0].ActorID)
		var e crm.CustomerCreated
		require.NoError(t, evs[0].Decode(&e))
		require.Equal(t, crm.CustomerCreated{CustomerID: c.ID, Name: c.Name, Email: "buyer@example.com"}, e)

		// The same email in any case conflicts, and writes nothing.
		_, err = svc.CreateCustomer(ctx, acme, crm.CustomerInput{Name: "Again", Email: "BUYER@example.com"})
		require.ErrorIs(t, err, domain.ErrConflict)
		require.Len(t, events(t, s, "acme", ""), 1)
		// Another tenant has its own customers.
		_, err = svc.CreateCustomer(ctx, globex, crm.CustomerInput{Name: "Theirs", Email: "buyer@example.com"})
		require.NoError(t, err)
		_, err = svc.GetCustomer(ctx, "globex", c.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)

		// No email is fine, many times; terms may be set.
		terms := 0
		for range 2 {
			c, err := svc.CreateCustomer(ctx, acme, crm.CustomerInput{Name: "Walk-in", PaymentTermsDays: &terms})
			require.NoError(t, err)
			require.Equal(t, 0, c.PaymentTermsDays)
		}
	})
}

func TestCreateCustomerRejectsBadInput(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, s *sqlstore.Store, svc *crm.Service) {
		ctx := context.Background()
		neg, big := -1, 366
		cases := map[string]struct {
			in    crm.CustomerInput
			field string
		}{
			"missing name":   {crm.CustomerInput{Email: "a@b.co"}, "name"},
			"blank name":     {crm.CustomerInput{Name: " \t "}, "name"},
			"long name":      {crm.CustomerInput{Name: strings.Repeat("n", 201)}, "name"},
			"control chars":  {crm.CustomerInput{Name: "a\x00b"}, "name"},
			"bad utf8":       {crm.CustomerInput{Name: "a\xffb"}, "name"},
			"no at":          {crm.CustomerInput{Name: "x", Email: "buyer.example.com"}, "email"},
			"display name":   {crm.CustomerInput{Name: "x", Email: "Bob <bob@example.com>"}, "email"},
			"two addresses":  {crm.CustomerInput{Name: "x", Email: "a@example.com, b@example.com"}, "email"},
			"no domain dot":  {crm.CustomerInput{Name: "x", Email: "bob@localhost"}, "email"},
			"header inject":  {crm.CustomerInput{Name: "x", Email: "bob@example.com\r\nBcc: x@y.z"}, "email"},
			"long email":     {crm.CustomerInput{Name: "x", Email: strings.Repeat("a", 250) + "@b.co"}, "email"},
			"negative terms": {crm.CustomerInput{Name: "x", PaymentTermsDays: &neg}, "payment_terms_days"},
			"long terms":     {crm.CustomerInput{Name: "x", PaymentTermsDays: &big}, "payment_terms_days"},
		}
		for name, tc := range cases {
			_, err := svc.CreateCustomer(ctx, acme, tc.in)
			requireField(t, err, tc.field, name)
		}
		// 200 characters (not bytes) is allowed.
		_, err := svc.CreateCustomer(ctx, acme, crm.CustomerInput{Name: strings.Repeat("é", 200)})
		require.NoError(t, err)

		_, err = svc.CreateCustomer(ctx, viewer, crm.CustomerInput{Name: "x"})
		require.ErrorIs(t, err, domain.ErrForbidden)
		_, err = svc.CreateLead(ctx, viewer, crm.LeadInput{Name: "x"})
		require.ErrorIs(t, err, domain.ErrForbidden)
		require.Len(t, events(t, s, "acme", ""), 1, "only the valid customer wrote an event")

		_, err = svc.GetCustomer(ctx, "acme", "1' OR '1'='1")
		requireField(t, err, "id")
		_, err = svc.ListCustomers(ctx, "acme", crm.ListParams{After: "zzz"})
		requireField(t, err, "after")
		_, err = svc.ListLeads(ctx, "acme", crm.ListParams{Status: "won"})
		requireField(t, err, "status")
		_, err = svc.RecomputeStatistics(ctx, "acme", "nope")
		requireField(t, err, "customer_id")
	})
}

func TestConvertLead(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, s *sqlstore.Store, svc *crm.Service) {
		ctx := context.Background()
		l, err := svc.CreateLead(ctx, acme, crm.LeadInput{Name: "Prospect", Email: "Lead@Example.com"})
		require.NoError(t, err)
		require.Equal(t, crm.LeadStatusOpen, l.Status)
		require.Equal(t, "lead@example.com", l.Email)
		require.Empty(t, events(t, s, "acme", ""), "a new lead is not an event")

		// Another tenant cannot convert (or see) it.
		_, err = svc.ConvertLead(ctx, globex, l.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = svc.GetLead(ctx, "globex", l.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = svc.ConvertLead(ctx, viewer, l.ID)
		require.ErrorIs(t, err, domain.ErrForbidden)

		c, err := svc.ConvertLead(ctx, acme, l.ID)
		require.NoError(t, err)
		require.Equal(t, "Prospect", c.Name)
		require.Equal(t, "lead@example.com", c.Email)
		require.NotNil(t, c.LeadID)
		require.Equal(t, l.ID, *c.LeadID)

		got, err := svc.GetLead(ctx, "acme", l.ID)
		require.NoError(t, err)
		require.Equal(t, crm.LeadStatusConverted, got.Status)
		require.Equal(t, c.ID, *got.CustomerID)
		require.NotNil(t, got.ConvertedAt)
		stored, err := svc.GetCustomer(ctx, "acme", c.ID)
		require.NoError(t, err)
		require.Equal(t, l.ID, *stored.LeadID)

		evs := events(t, s, "acme", "")
		require.Len(t, evs, 2)
		var created crm.CustomerCreated
		require.NoError(t, evs[0].Decode(&created))
		require.Equal(t, crm.CustomerCreated{CustomerID: c.ID, Name: "Prospect", Email: "lead@example.com", LeadID: l.ID}, created)
		var converted crm.LeadConverted
		require.NoError(t, evs[1].Decode(&converted))
		require.Equal(t, crm.LeadConverted{LeadID: l.ID, CustomerID: c.ID, Name: "Prospect", Email: "lead@example.com"}, converted)

		// Only once.
		_, err = svc.ConvertLead(ctx, acme, l.ID)
		var rule *domain.RuleError
		require.ErrorAs(t, err, &rule)
		require.Equal(t, "lead_already_converted", rule.Code)
		require.Len(t, events(t, s, "acme", ""), 2)

		// A lead whose email is already a customer's: conflict, nothing
		// changes.
		dup, err := svc.CreateLead(ctx, acme, crm.LeadInput{Name: "Same person", Email: "LEAD@example.com"})
		require.NoError(t, err)
		_, err = svc.ConvertLead(ctx, acme, dup.ID)
		require.ErrorIs(t, err, domain.ErrConflict)
		still, err := svc.GetLead(ctx, "acme", dup.ID)
		require.NoError(t, err)
		require.Equal(t, crm.LeadStatusOpen, still.Status)
		require.Len(t, events(t, s, "acme", ""), 2)
		customers, err := svc.ListCustomers(ctx, "acme", crm.ListParams{})
		require.NoError(t, err)
		require.Len(t, customers, 1)

		_, err = svc.ConvertLead(ctx, acme, domain.NewID())
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = svc.ConvertLead(ctx, acme, "x")
		requireField(t, err, "id")

		open, err := svc.ListLeads(ctx, "acme", crm.ListParams{Status: crm.LeadStatusOpen})
		require.NoError(t, err)
		require.Len(t, open, 1)
		require.Equal(t, dup.ID, open[0].ID)
	})
}

func TestConcurrentConversionsMakeOneCustomer(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, s *sqlstore.Store, svc *crm.Service) {
		ctx := context.Background()
		l, err := svc.CreateLead(ctx, acme, crm.LeadInput{Name: "Hot lead"})
		require.NoError(t, err)
		const racers = 6
		errs := make(chan error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range racers {
			wg.Go(func() {
				<-start
				_, err := svc.ConvertLead(ctx, acme, l.ID)
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		ok := 0
		for err := range errs {
			if err == nil {
				ok++
				continue
			}
			var rule *domain.RuleError
			require.ErrorAs(t, err, &rule)
			require.Equal(t, "lead_already_converted", rule.Code)
		}
		require.Equal(t, 1, ok)
		customers, err := svc.ListCustomers(ctx, "acme", crm.ListParams{})
		require.NoError(t, err)
		require.Len(t, customers, 1)
		require.Len(t, events(t, s, "acme", "LeadConverted"), 1)
	})
}

func TestListCustomersPages(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, s *sqlstore.Store, svc *crm.Service) {
		ctx := context.Background()
		var ids []string
		for _, n := range []string{"a", "b", "c"} {
			c, err := svc.CreateCustomer(ctx, acme, crm.CustomerInput{Name: n})
			require.NoError(t, err)
			ids = append(ids, c.ID)
		}
		first, err := svc.ListCustomers(ctx, "acme", crm.ListParams{Limit: 2})
		require.NoError(t, err)
		require.Equal(t, ids[0], first[0].ID)
		require.Equal(t, ids[1], first[1].ID)
		rest, err := svc.ListCustomers(ctx, "acme", crm.ListParams{After: first[1].ID, Limit: 2})
		require.NoError(t, err)
		require.Len(t, rest, 1)
		require.Equal(t, ids[2], rest[0].ID)
		none, err := svc.ListCustomers(ctx, "globex", crm.ListParams{})
		require.NoError(t, err)
		require.Empty(t, none)
	})
}
