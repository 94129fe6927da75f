package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func newCustomer(tenant domain.TenantID, name, email string) crm.Customer {
	return crm.Customer{
		ID: domain.NewID(), TenantID: tenant, Name: name, Email: email, PaymentTermsDays: 30,
		Statistics: crm.Statistics{TotalSpent: decimal.Zero, OutstandingBalance: decimal.Zero},
		CreatedAt:  at(0), UpdatedAt: at(0),
	}
}

func insertCustomer(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, name, email string) crm.Customer {
	t.Helper()
	c := newCustomer(tenant, name, email)
	require.NoError(t, s.InsertCustomer(ctxFor(t), c))
	return c
}

func newLead(tenant domain.TenantID, name, email string) crm.Lead {
	return crm.Lead{ID: domain.NewID(), TenantID: tenant, Name: name, Email: email,
		Status: crm.LeadStatusOpen, CreatedAt: at(0), UpdatedAt: at(0)}
}

var crmTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"CustomerRoundTrip": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for i, name := range hostile {
			c := newCustomer(tenantA, name, "")
			if i == 0 {
				c.Email = "o'brien+erp@example.com"
				c.PaymentTermsDays = 45
			}
			require.NoError(t, s.InsertCustomer(ctx, c))
			got, err := s.GetCustomer(ctx, tenantA, c.ID)
			require.NoError(t, err)
			require.Equal(t, c.ID, got.ID)
			require.Equal(t, tenantA, got.TenantID)
			require.Equal(t, name, got.Name, "name came back changed")
			require.Equal(t, c.Email, got.Email)
			require.Equal(t, c.PaymentTermsDays, got.PaymentTermsDays)
			require.Nil(t, got.LeadID)
			require.Zero(t, got.Statistics.TotalOrders)
			require.Equal(t, "0", got.Statistics.TotalSpent.String())
			require.Equal(t, "0", got.Statistics.OutstandingBalance.String())
			require.Nil(t, got.Statistics.LastOrderAt)
			require.Nil(t, got.Statistics.LastPaymentAt)
			require.Equal(t, stored(c.CreatedAt), got.CreatedAt)
		}
	},
	"CustomerWithLead": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		lead := domain.NewID()
		c := newCustomer(tenantA, "From a lead", "")
		c.LeadID = &lead
		require.NoError(t, s.InsertCustomer(ctx, c))
		got, err := s.GetCustomer(ctx, tenantA, c.ID)
		require.NoError(t, err)
		require.NotNil(t, got.LeadID)
		require.Equal(t, lead, *got.LeadID)
	},
	"DuplicateEmailConflictsWithinTenantOnly": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		insertCustomer(t, s, tenantA, "First", "buyer@example.com")
		err := s.InsertCustomer(ctx, newCustomer(tenantA, "Second", "buyer@example.com"))
		require.ErrorIs(t, err, domain.ErrConflict)
		insertCustomer(t, s, tenantB, "Theirs", "buyer@example.com")
		// Customers without an email never collide.
		insertCustomer(t, s, tenantA, "No email 1", "")
		insertCustomer(t, s, tenantA, "No email 2", "")
	},
	"CustomersAreTenantScoped": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		c := insertCustomer(t, s, tenantA, "Mine", "")
		_, err := s.GetCustomer(ctx, tenantB, c.ID)
		requireNotFound(t, err)
		for _, bad := range []string{"", "nope", "1' OR '1'='1", domain.NewID()} {
			_, err := s.GetCustomer(ctx, tenantA, bad)
			requireNotFound(t, err, "id %q", bad)
		}
		got, err := s.ListCustomers(ctx, tenantB, crm.ListParams{})
		require.NoError(t, err)
		require.Empty(t, got)
		_, err = s.RecomputeCustomerStatistics(ctx, tenantB, c.ID)
		requireNotFound(t, err)
	},
	"ListCustomersPages": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		var ids []string
		for _, n := range []string{"a", "b", "c"} {
			ids = append(ids, insertCustomer(t, s, tenantA, n, "").ID)
		}
		insertCustomer(t, s, tenantB, "other", "")
		page, err := s.ListCustomers(ctx, tenantA, crm.ListParams{Limit: 2})
		require.NoError(t, err)
		require.Equal(t, ids[:2], customerIDs(page))
		page, err = s.ListCustomers(ctx, tenantA, crm.ListParams{After: ids[1], Limit: 2})
		require.NoError(t, err)
		require.Equal(t, ids[2:], customerIDs(page))
		_, err = s.ListCustomers(ctx, tenantA, crm.ListParams{After: "x"})
		requireInvalid(t, err)
	},
	"LeadLifecycle": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		l := newLead(tenantA, hostile[0], "lead@example.com")
		require.NoError(t, s.InsertLead(ctx, l))
		other := newLead(tenantA, "Stays open", "")
		require.NoError(t, s.InsertLead(ctx, other))
		got, err := s.GetLead(ctx, tenantA, l.ID)
		require.NoError(t, err)
		require.Equal(t, hostile[0], got.Name)
		require.Equal(t, crm.LeadStatusOpen, got.Status)
		require.Nil(t, got.CustomerID)
		require.Nil(t, got.ConvertedAt)
		_, err = s.GetLead(ctx, tenantB, l.ID)
		requireNotFound(t, err)

		c := insertCustomer(t, s, tenantA, "Converted", "lead@example.com")
		foreign := insertCustomer(t, s, tenantB, "Foreign", "")
		when := at(time.Hour)
		err = s.InTx(ctx, func(ctx context.Context) error {
			locked, err := s.LockLead(ctx, tenantA, l.ID)
			require.NoError(t, err)
			require.Equal(t, crm.LeadStatusOpen, locked.Status)
			return s.MarkLeadConverted(ctx, tenantA, l.ID, c.ID, when)
		})
		require.NoError(t, err)
		got, err = s.GetLead(ctx, tenantA, l.ID)
		require.NoError(t, err)
		require.Equal(t, crm.LeadStatusConverted, got.Status)
		require.Equal(t, c.ID, *got.CustomerID)
		require.Equal(t, stored(when), *got.ConvertedAt)

		// Once only; never into another tenant's customer; never another
		// tenant's lead.
		requireNotFound(t, s.MarkLeadConverted(ctx, tenantA, l.ID, c.ID, when))
		requireNotFound(t, s.MarkLeadConverted(ctx, tenantA, other.ID, foreign.ID, when))
		requireNotFound(t, s.MarkLeadConverted(ctx, tenantB, other.ID, foreign.ID, when))
		still, err := s.GetLead(ctx, tenantA, other.ID)
		require.NoError(t, err)
		require.Equal(t, crm.LeadStatusOpen, still.Status)

		open, err := s.ListLeads(ctx, tenantA, crm.ListParams{Status: crm.LeadStatusOpen})
		require.NoError(t, err)
		require.Len(t, open, 1)
		require.Equal(t, other.ID, open[0].ID)
		all, err := s.ListLeads(ctx, tenantA, crm.ListParams{})
		require.NoError(t, err)
		require.Len(t, all, 2)
		none, err := s.ListLeads(ctx, tenantB, crm.ListParams{})
		require.NoError(t, err)
		require.Empty(t, none)
	},
	"StatisticsFromSourceRows": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		c := insertCustomer(t, s, tenantA, "Buyer", "")
		other := insertCustomer(t, s, tenantA, "Other buyer", "")
		p := insertProduct(t, s, tenantA, "SKU-1")

		st, err := s.RecomputeCustomerStatistics(ctx, tenantA, c.ID)
		require.NoError(t, err)
		require.Zero(t, st.TotalOrders)
		require.True(t, st.TotalSpent.IsZero())
		require.Nil(t, st.LastOrderAt)

		o1 := insertOrder(t, s, tenantA, c.ID, p.ID, "SO-1", at(time.Hour), "0.1")
		o2 := insertOrder(t, s, tenantA, c.ID, p.ID, "SO-2", at(3*time.Hour), "0.2")
		o3 := insertOrder(t, s, tenantA, other.ID, p.ID, "SO-3", at(5*time.Hour), "100")
		// o1 paid in full by two payments, o2 partly paid, other's open.
		inv1 := SeedInvoiceRow(t, s, tenantA, o1.ID, c.ID, "0.1", "0.1", "paid")
		inv2 := SeedInvoiceRow(t, s, tenantA, o2.ID, c.ID, "0.2", "0.05", "overdue")
		inv3 := SeedInvoiceRow(t, s, tenantA, o3.ID, other.ID, "100", "60", "open")
		SeedPayment(t, s, tenantA, inv1, "0.07", at(2*time.Hour))
		SeedPayment(t, s, tenantA, inv1, "0.03", at(4*time.Hour))
		SeedPayment(t, s, tenantA, inv2, "0.05", at(3*time.Hour))
		SeedPayment(t, s, tenantA, inv3, "60", at(9*time.Hour))

		want := func(st crm.Statistics) {
			t.Helper()
			require.EqualValues(t, 2, st.TotalOrders)
			require.Equal(t, "0.15", st.TotalSpent.String(), "exact decimal sum")
			require.Equal(t, "0.15", st.OutstandingBalance.String(), "only the unpaid invoice counts")
			require.Equal(t, stored(at(3*time.Hour)), *st.LastOrderAt)
			require.Equal(t, stored(at(4*time.Hour)), *st.LastPaymentAt)
		}
		st, err = s.RecomputeCustomerStatistics(ctx, tenantA, c.ID)
		require.NoError(t, err)
		want(st)
		got, err := s.GetCustomer(ctx, tenantA, c.ID)
		require.NoError(t, err)
		want(got.Statistics)
		// Again: the same, not doubled.
		st, err = s.RecomputeCustomerStatistics(ctx, tenantA, c.ID)
		require.NoError(t, err)
		want(st)
		got, err = s.GetCustomer(ctx, tenantA, c.ID)
		require.NoError(t, err)
		want(got.Statistics)

		// The other customer is untouched until it is recomputed itself.
		untouched, err := s.GetCustomer(ctx, tenantA, other.ID)
		require.NoError(t, err)
		require.Zero(t, untouched.Statistics.TotalOrders)
		st, err = s.RecomputeCustomerStatistics(ctx, tenantA, other.ID)
		require.NoError(t, err)
		require.EqualValues(t, 1, st.TotalOrders)
		require.Equal(t, "60", st.TotalSpent.String())
		require.Equal(t, "40", st.OutstandingBalance.String())
	},
	"ConcurrentRecomputationsAgree": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		c := insertCustomer(t, s, tenantA, "Busy", "")
		p := insertProduct(t, s, tenantA, "SKU-1")
		for i := range 5 {
			insertOrder(t, s, tenantA, c.ID, p.ID, "SO-"+string(rune('A'+i)), at(time.Duration(i)*time.Minute), "1.25")
		}
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				_, err := s.RecomputeCustomerStatistics(ctx, tenantA, c.ID)
				require.NoError(t, err)
			})
		}
		wg.Wait()
		got, err := s.GetCustomer(ctx, tenantA, c.ID)
		require.NoError(t, err)
		require.EqualValues(t, 5, got.Statistics.TotalOrders)
	},
}

func customerIDs(cs []crm.Customer) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// insertOrder stores a pending one-line order of quantity 1 at price.
func insertOrder(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, customerID, productID, number string,
	created time.Time, price string) sales.Order {
	t.Helper()
	d := decimal.RequireFromString(price)
	o := sales.Order{
		ID: domain.NewID(), TenantID: tenant, Number: number, CustomerID: customerID, Status: sales.StatusPending,
		Lines: []sales.Line{{LineNo: 1, ProductID: productID, SKU: "SKU", Quantity: 1, UnitPrice: d, Amount: d}},
		Total: d, CreatedBy: userA, CreatedAt: created, UpdatedAt: created,
	}
	require.NoError(t, s.InsertOrder(ctxFor(t), o))
	return o
}
