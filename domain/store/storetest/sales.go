package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

var salesTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"OrderRoundTrip": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		c := insertCustomer(t, s, tenantA, "Buyer", "")
		p1 := insertProduct(t, s, tenantA, "SKU-1")
		p2 := insertProduct(t, s, tenantA, hostile[0])
		o := sales.Order{
			ID: domain.NewID(), TenantID: tenantA, Number: "SO-000001", CustomerID: c.ID, Status: sales.StatusPending,
			Lines: []sales.Line{
				{LineNo: 1, ProductID: p1.ID, SKU: p1.SKU, Quantity: 3, UnitPrice: dec("0.1"), Amount: dec("0.3")},
				{LineNo: 2, ProductID: p2.ID, SKU: p2.SKU, Quantity: 1_000_000_000, UnitPrice: dec("12.3456"), Amount: dec("12345600000")},
			},
			Total: dec("12345600000.3"), CreatedBy: domain.UserID(hostile[1]), CreatedAt: at(0), UpdatedAt: at(0),
		}
		require.NoError(t, s.InsertOrder(ctx, o))
		got, err := s.GetOrder(ctx, tenantA, o.ID)
		require.NoError(t, err)
		require.Equal(t, o.ID, got.ID)
		require.Equal(t, tenantA, got.TenantID)
		require.Equal(t, "SO-000001", got.Number)
		require.Equal(t, c.ID, got.CustomerID)
		require.Equal(t, sales.StatusPending, got.Status)
		require.Equal(t, "12345600000.3", got.Total.String())
		require.Equal(t, domain.UserID(hostile[1]), got.CreatedBy)
		require.Nil(t, got.ApprovedAt)
		require.Nil(t, got.FulfilledAt)
		require.Equal(t, stored(o.CreatedAt), got.CreatedAt)
		require.Len(t, got.Lines, 2)
		for i, l := range got.Lines {
			require.Equal(t, o.Lines[i].LineNo, l.LineNo)
			require.Equal(t, o.Lines[i].ProductID, l.ProductID)
			require.Equal(t, o.Lines[i].SKU, l.SKU)
			require.Equal(t, o.Lines[i].Quantity, l.Quantity)
			require.Equal(t, o.Lines[i].UnitPrice.String(), l.UnitPrice.String())
			require.Equal(t, o.Lines[i].Amount.String(), l.Amount.String())
		}
	},
	"HundredLinesInOneOrder": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		c := insertCustomer(t, s, tenantA, "Buyer", "")
		p := insertProduct(t, s, tenantA, "SKU-1")
		o := sales.Order{ID: domain.NewID(), TenantID: tenantA, Number: "SO-1", CustomerID: c.ID,
			Status: sales.StatusPending, Total: decimal.Zero}
		for i := range 100 {
			o.Lines = append(o.Lines, sales.Line{LineNo: i + 1, ProductID: p.ID, SKU: p.SKU, Quantity: int64(i + 1),
				UnitPrice: decimal.Zero, Amount: decimal.Zero})
		}
		require.NoError(t, s.InsertOrder(ctx, o))
		got, err := s.GetOrder(ctx, tenantA, o.ID)
		require.NoError(t, err)
		require.Len(t, got.Lines, 100)
		for i, l := range got.Lines {
			require.Equal(t, i+1, l.LineNo, "lines come back in order")
		}
	},
	"ReferencesStayInTheTenant": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		mine := insertCustomer(t, s, tenantA, "Mine", "")
		theirs := insertCustomer(t, s, tenantB, "Theirs", "")
		myProduct := insertProduct(t, s, tenantA, "SKU-1")
		theirProduct := insertProduct(t, s, tenantB, "SKU-1")
		order := func(customer, product string) sales.Order {
			return sales.Order{ID: domain.NewID(), TenantID: tenantA, Number: "SO-" + domain.NewID(), CustomerID: customer,
				Status: sales.StatusPending, Total: dec("1"),
				Lines: []sales.Line{{LineNo: 1, ProductID: product, SKU: "SKU-1", Quantity: 1, UnitPrice: dec("1"), Amount: dec("1")}}}
		}
		requireNotFound(t, s.InsertOrder(ctx, order(theirs.ID, myProduct.ID)), "another tenant's customer")
		requireNotFound(t, s.InsertOrder(ctx, order(mine.ID, theirProduct.ID)), "another tenant's product")
		// Nothing of a refused order stays behind.
		got, err := s.ListOrders(ctx, tenantA, sales.Filter{})
		require.NoError(t, err)
		require.Empty(t, got)

		o := order(mine.ID, myProduct.ID)
		require.NoError(t, s.InsertOrder(ctx, o))
		_, err = s.GetOrder(ctx, tenantB, o.ID)
		requireNotFound(t, err)
		err = s.InTx(ctx, func(ctx context.Context) error {
			_, err := s.LockOrder(ctx, tenantB, o.ID)
			return err
		})
		requireNotFound(t, err)
		o.TenantID = tenantB
		o.Status = sales.StatusApproved
		requireNotFound(t, s.UpdateOrderStatus(ctx, o))
		got, err = s.ListOrders(ctx, tenantB, sales.Filter{})
		require.NoError(t, err)
		require.Empty(t, got)
		back, err := s.GetOrder(ctx, tenantA, o.ID)
		require.NoError(t, err)
		require.Equal(t, sales.StatusPending, back.Status)
	},
	"NumbersAreUniquePerTenant": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		c := insertCustomer(t, s, tenantA, "Buyer", "")
		p := insertProduct(t, s, tenantA, "SKU-1")
		insertOrder(t, s, tenantA, c.ID, p.ID, "SO-000001", at(0), "1")
		dup := sales.Order{ID: domain.NewID(), TenantID: tenantA, Number: "SO-000001", CustomerID: c.ID,
			Status: sales.StatusPending, Total: dec("1"),
			Lines: []sales.Line{{LineNo: 1, ProductID: p.ID, SKU: "SKU-1", Quantity: 1, UnitPrice: dec("1"), Amount: dec("1")}}}
		require.ErrorIs(t, s.InsertOrder(ctx, dup), domain.ErrConflict)
		cb := insertCustomer(t, s, tenantB, "Buyer", "")
		pb := insertProduct(t, s, tenantB, "SKU-1")
		insertOrder(t, s, tenantB, cb.ID, pb.ID, "SO-000001", at(0), "1")
	},
	"StatusUpdates": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		c := insertCustomer(t, s, tenantA, "Buyer", "")
		p := insertProduct(t, s, tenantA, "SKU-1")
		o := insertOrder(t, s, tenantA, c.ID, p.ID, "SO-1", at(0), "5")
		approved, fulfilled := at(time.Hour), at(2*time.Hour)
		o.Status, o.ApprovedBy, o.ApprovedAt = sales.StatusApproved, userB, &approved
		require.NoError(t, s.UpdateOrderStatus(ctx, o))
		o.Status, o.FulfilledBy, o.FulfilledAt = sales.StatusFulfilled, domain.UserID(hostile[2]), &fulfilled
		require.NoError(t, s.UpdateOrderStatus(ctx, o))
		got, err := s.GetOrder(ctx, tenantA, o.ID)
		require.NoError(t, err)
		require.Equal(t, sales.StatusFulfilled, got.Status)
		require.Equal(t, userB, got.ApprovedBy)
		require.Equal(t, stored(approved), *got.ApprovedAt)
		require.Equal(t, domain.UserID(hostile[2]), got.FulfilledBy)
		require.Equal(t, stored(fulfilled), *got.FulfilledAt)
		require.Len(t, got.Lines, 1)

		o.Status = "shipped"
		requireInvalid(t, s.UpdateOrderStatus(ctx, o))
	},
	"ListFiltersAndPages": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		c1 := insertCustomer(t, s, tenantA, "One", "")
		c2 := insertCustomer(t, s, tenantA, "Two", "")
		p := insertProduct(t, s, tenantA, "SKU-1")
		var ids []string
		for i := range 5 {
			c := c1
			if i%2 == 1 {
				c = c2
			}
			ids = append(ids, insertOrder(t, s, tenantA, c.ID, p.ID, fmt.Sprintf("SO-%d", i), at(0), "1").ID)
		}
		o, err := s.GetOrder(ctx, tenantA, ids[4])
		require.NoError(t, err)
		o.Status = sales.StatusApproved
		require.NoError(t, s.UpdateOrderStatus(ctx, o))

		list := func(f sales.Filter) []string {
			t.Helper()
			got, err := s.ListOrders(ctx, tenantA, f)
			require.NoError(t, err)
			out := make([]string, len(got))
			for i, o := range got {
				require.Len(t, o.Lines, 1, "lists carry the lines")
				out[i] = o.ID
			}
			return out
		}
		require.Equal(t, ids, list(sales.Filter{}))
		require.Equal(t, ids[:2], list(sales.Filter{Limit: 2}))
		require.Equal(t, ids[2:4], list(sales.Filter{After: ids[1], Limit: 2}))
		require.Equal(t, []string{ids[0], ids[2], ids[4]}, list(sales.Filter{CustomerID: c1.ID}))
		require.Equal(t, []string{ids[1], ids[3]}, list(sales.Filter{CustomerID: c2.ID}))
		require.Equal(t, []string{ids[4]}, list(sales.Filter{Status: sales.StatusApproved}))
		require.Equal(t, []string{ids[0], ids[2]}, list(sales.Filter{CustomerID: c1.ID, Status: sales.StatusPending}))
		require.Empty(t, list(sales.Filter{CustomerID: domain.NewID()}))

		_, err = s.ListOrders(ctx, tenantA, sales.Filter{After: "x"})
		requireInvalid(t, err)
		_, err = s.ListOrders(ctx, tenantA, sales.Filter{CustomerID: "x"})
		requireInvalid(t, err)
		_, err = s.ListOrders(ctx, tenantA, sales.Filter{Status: "lost"})
		requireInvalid(t, err)
	},
	"LockOrderLetsOneStatusChangeThrough": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		c := insertCustomer(t, s, tenantA, "Buyer", "")
		p := insertProduct(t, s, tenantA, "SKU-1")
		o := insertOrder(t, s, tenantA, c.ID, p.ID, "SO-1", at(0), "1")
		const racers = 6
		var passed atomic.Int32
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range racers {
			wg.Go(func() {
				<-start
				err := s.InTx(ctx, func(ctx context.Context) error {
					got, err := s.LockOrder(ctx, tenantA, o.ID)
					if err != nil {
						return err
					}
					if got.Status != sales.StatusPending {
						return nil
					}
					got.Status = sales.StatusApproved
					if err := s.UpdateOrderStatus(ctx, got); err != nil {
						return err
					}
					passed.Add(1)
					return nil
				})
				require.NoError(t, err)
			})
		}
		close(start)
		wg.Wait()
		require.EqualValues(t, 1, passed.Load(), "exactly one transaction saw the order pending")
	},
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }
