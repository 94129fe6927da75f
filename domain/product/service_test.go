package product_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

var (
	acme   = domain.Actor{TenantID: "acme", UserID: "alice", Perms: []string{domain.PermProductsManage}}
	globex = domain.Actor{TenantID: "globex", UserID: "gina", Perms: []string{domain.PermAdmin}}
)

func dec(s string) *decimal.Decimal { d := decimal.RequireFromString(s); return &d }
func i64(n int64) *int64            { return &n }
func str(s string) *string          { return &s }

func each(t *testing.T, fn func(t *testing.T, s *sqlstore.Store, svc *product.Service)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{
		"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			fn(t, s, product.NewService(s, nil))
		})
	}
}

func events(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, typ string) []domain.Event {
	t.Helper()
	evs, err := s.ListEvents(context.Background(), tenant, typ, "", 100)
	require.NoError(t, err)
	return evs
}

func TestCreateWritesProductAndEventTogether(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, s *sqlstore.Store, svc *product.Service) {
		ctx := context.Background()
		p, err := svc.Create(ctx, acme, product.CreateInput{SKU: " SKU-1 ", Name: "Chair", Price: dec("12.3456"), ReorderLevel: i64(5)})
		require.NoError(t, err)
		require.Equal(t, "SKU-1", p.SKU)
		got, err := svc.Get(ctx, "acme", p.ID)
		require.NoError(t, err)
		require.Equal(t, "12.3456", got.Price.String())
		require.EqualValues(t, 5, got.ReorderLevel)

		evs := events(t, s, "acme", "ProductCreated")
		require.Len(t, evs, 1)
		require.Equal(t, p.ID, evs[0].AggregateID)
		require.Equal(t, domain.UserID("alice"), evs[0].ActorID)
		var e product.ProductCreated
		require.NoError(t, evs[0].Decode(&e))
		require.Equal(t, "12.3456", e.Price.String())

		// Same SKU in the same tenant conflicts, and writes no event.
		_, err = svc.Create(ctx, acme, product.CreateInput{SKU: "SKU-1", Name: "Other", Price: dec("1")})
		require.ErrorIs(t, err, domain.ErrConflict)
		require.Len(t, events(t, s, "acme", "ProductCreated"), 1)
		// ... but another tenant may use it.
		_, err = svc.Create(ctx, globex, product.CreateInput{SKU: "SKU-1", Name: "Theirs", Price: dec("1")})
		require.NoError(t, err)
	})
}

func TestCreateRejectsBadInput(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, s *sqlstore.Store, svc *product.Service) {
		ctx := context.Background()
		cases := map[string]struct {
			in    product.CreateInput
			field string
		}{
			"missing sku":      {product.CreateInput{Name: "x", Price: dec("1")}, "sku"},
			"missing name":     {product.CreateInput{SKU: "x", Price: dec("1")}, "name"},
			"missing price":    {product.CreateInput{SKU: "x", Name: "x"}, "price"},
			"negative price":   {product.CreateInput{SKU: "x", Name: "x", Price: dec("-1")}, "price"},
			"too many places":  {product.CreateInput{SKU: "x", Name: "x", Price: dec("1.00001")}, "price"},
			"huge price":       {product.CreateInput{SKU: "x", Name: "x", Price: dec("1e30")}, "price"},
			"negative reorder": {product.CreateInput{SKU: "x", Name: "x", Price: dec("1"), ReorderLevel: i64(-1)}, "reorder_level"},
			"long sku":         {product.CreateInput{SKU: strings.Repeat("s", 65), Name: "x", Price: dec("1")}, "sku"},
			"control chars":    {product.CreateInput{SKU: "a\x00b", Name: "x", Price: dec("1")}, "sku"},
			"long name":        {product.CreateInput{SKU: "x", Name: strings.Repeat("n", 201), Price: dec("1")}, "name"},
		}
		for name, tc := range cases {
			_, err := svc.Create(ctx, acme, tc.in)
			var v *domain.ValidationError
			require.True(t, errors.As(err, &v), "%s: %v", name, err)
			require.Contains(t, v.Fields, tc.field, name)
		}
		_, err := svc.Create(ctx, domain.Actor{TenantID: "acme", UserID: "carol", Perms: []string{domain.PermSalesManage}},
			product.CreateInput{SKU: "x", Name: "x", Price: dec("1")})
		require.ErrorIs(t, err, domain.ErrForbidden)
		require.Empty(t, events(t, s, "acme", ""))
	})
}

func TestUpdateTracksChanges(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, s *sqlstore.Store, svc *product.Service) {
		ctx := context.Background()
		p, err := svc.Create(ctx, acme, product.CreateInput{SKU: "A", Name: "Chair", Price: dec("10.00"), ReorderLevel: i64(3)})
		require.NoError(t, err)
		// "10" equals "10.00": not a change.
		up, err := svc.Update(ctx, acme, p.ID, product.UpdateInput{Name: str("Oak chair"), Price: dec("10"), ReorderLevel: i64(4)})
		require.NoError(t, err)
		require.Equal(t, "Oak chair", up.Name)
		evs := events(t, s, "acme", "ProductUpdated")
		require.Len(t, evs, 1)
		var raw struct {
			Changes map[string]struct{ Old, New json.RawMessage } `json:"changes"`
		}
		require.NoError(t, json.Unmarshal(evs[0].Payload, &raw))
		require.Len(t, raw.Changes, 2)
		require.JSONEq(t, `"Chair"`, string(raw.Changes["name"].Old))
		require.JSONEq(t, `"Oak chair"`, string(raw.Changes["name"].New))
		require.JSONEq(t, `3`, string(raw.Changes["reorder_level"].Old))
		require.JSONEq(t, `4`, string(raw.Changes["reorder_level"].New))

		// Nothing changes: no event.
		_, err = svc.Update(ctx, acme, p.ID, product.UpdateInput{Name: str("Oak chair")})
		require.NoError(t, err)
		require.Len(t, events(t, s, "acme", "ProductUpdated"), 1)

		// Another tenant cannot see, change or delete it.
		_, err = svc.Get(ctx, "globex", p.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = svc.Update(ctx, globex, p.ID, product.UpdateInput{Name: str("stolen")})
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.ErrorIs(t, svc.Delete(ctx, globex, p.ID), domain.ErrNotFound)
		list, err := svc.List(ctx, "globex", product.ListParams{})
		require.NoError(t, err)
		require.Empty(t, list)
		require.Empty(t, events(t, s, "globex", ""))

		_, err = svc.Update(ctx, acme, "not-a-uuid", product.UpdateInput{})
		var v *domain.ValidationError
		require.ErrorAs(t, err, &v)
	})
}

func TestDelete(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, s *sqlstore.Store, svc *product.Service) {
		ctx := context.Background()
		p, err := svc.Create(ctx, acme, product.CreateInput{SKU: "D", Name: "Desk", Price: dec("1")})
		require.NoError(t, err)
		require.NoError(t, svc.Delete(ctx, acme, p.ID))
		_, err = svc.Get(ctx, "acme", p.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.ErrorIs(t, svc.Delete(ctx, acme, p.ID), domain.ErrNotFound)
		require.Len(t, events(t, s, "acme", "ProductDeleted"), 1)
		// The SKU is free again once the product is gone.
		_, err = svc.Create(ctx, acme, product.CreateInput{SKU: "D", Name: "Desk 2", Price: dec("1")})
		require.NoError(t, err)
	})
}

func TestListPages(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, s *sqlstore.Store, svc *product.Service) {
		ctx := context.Background()
		for _, sku := range []string{"P1", "P2", "P3"} {
			_, err := svc.Create(ctx, acme, product.CreateInput{SKU: sku, Name: sku, Price: dec("1")})
			require.NoError(t, err)
		}
		first, err := svc.List(ctx, "acme", product.ListParams{Limit: 2})
		require.NoError(t, err)
		require.Len(t, first, 2)
		rest, err := svc.List(ctx, "acme", product.ListParams{After: first[1].ID, Limit: 2})
		require.NoError(t, err)
		require.Len(t, rest, 1)
		_, err = svc.List(ctx, "acme", product.ListParams{After: "'; drop table products; --"})
		var v *domain.ValidationError
		require.ErrorAs(t, err, &v)
	})
}
