package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

var productTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"InsertGetRoundTrip": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := newProduct(tenantA, "SKU-1")
		p.OnHand, p.LowStock = 7, true
		p.UpdatedAt = at(time.Hour)
		require.NoError(t, s.InsertProduct(ctx, p))
		got, err := s.GetProduct(ctx, tenantA, p.ID)
		require.NoError(t, err)
		require.Equal(t, p.ID, got.ID)
		require.Equal(t, tenantA, got.TenantID)
		require.Equal(t, "SKU-1", got.SKU)
		require.Equal(t, p.Name, got.Name)
		require.Equal(t, "12.3456", got.Price.String())
		require.Equal(t, int64(5), got.ReorderLevel)
		require.Equal(t, int64(7), got.OnHand)
		require.True(t, got.LowStock)
		require.Equal(t, stored(p.CreatedAt), got.CreatedAt)
		require.Equal(t, stored(p.UpdatedAt), got.UpdatedAt)
	},
	"DecimalsExact": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		sum := decimal.RequireFromString("0.1").Add(decimal.RequireFromString("0.2"))
		for i, price := range []decimal.Decimal{
			sum,
			decimal.RequireFromString("12.3456"),
			decimal.RequireFromString("12.50"),
			decimal.RequireFromString("0.0001"),
			decimal.RequireFromString("-3.75"),
			decimal.RequireFromString("999999999999999.9999"),
			decimal.Zero,
		} {
			p := newProduct(tenantA, "SKU-"+price.String())
			p.Price = price
			require.NoError(t, s.InsertProduct(ctx, p), "price %d", i)
			got, err := s.GetProduct(ctx, tenantA, p.ID)
			require.NoError(t, err)
			require.True(t, price.Equal(got.Price), "price %s came back as %s", price, got.Price)
			require.Equal(t, price.String(), got.Price.String())
		}
		require.Equal(t, "0.3", sum.String())

		for _, bad := range []string{"1.23456", "10000000000000000", "-10000000000000000"} {
			p := newProduct(tenantA, "BAD-"+bad)
			p.Price = decimal.RequireFromString(bad)
			requireInvalid(t, s.InsertProduct(ctx, p), "price %s", bad)
		}
	},
	"SKUUniquePerTenant": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		a := insertProduct(t, s, tenantA, "SKU-1")
		require.ErrorIs(t, s.InsertProduct(ctx, newProduct(tenantA, "SKU-1")), domain.ErrConflict)
		// Another tenant may use the same SKU.
		b := insertProduct(t, s, tenantB, "SKU-1")
		require.NotEqual(t, a.ID, b.ID)
		// A reused id is a conflict too.
		dup := newProduct(tenantA, "SKU-2")
		dup.ID = a.ID
		require.ErrorIs(t, s.InsertProduct(ctx, dup), domain.ErrConflict)
		// Deleting frees the SKU.
		require.NoError(t, s.DeleteProduct(ctx, tenantA, a.ID))
		insertProduct(t, s, tenantA, "SKU-1")
	},
	"ConflictInsideTxSurfaces": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		insertProduct(t, s, tenantA, "SKU-1")
		err := s.InTx(ctx, func(ctx context.Context) error {
			return s.InsertProduct(ctx, newProduct(tenantA, "SKU-1"))
		})
		require.ErrorIs(t, err, domain.ErrConflict)
	},
	"GetNotFound": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "SKU-1")
		_, err := s.GetProduct(ctx, tenantB, p.ID)
		requireNotFound(t, err, "another tenant's product")
		_, err = s.LockProduct(ctx, tenantB, p.ID)
		requireNotFound(t, err, "another tenant's product")
		_, err = s.GetProduct(ctx, tenantA, domain.NewID())
		requireNotFound(t, err, "missing product")
		for _, bad := range []string{"", "not-a-uuid", "'; DROP TABLE products; --", p.ID + "x"} {
			_, err = s.GetProduct(ctx, tenantA, bad)
			requireNotFound(t, err, "malformed id %q", bad)
		}
		require.NoError(t, s.DeleteProduct(ctx, tenantA, p.ID))
		_, err = s.GetProduct(ctx, tenantA, p.ID)
		requireNotFound(t, err, "deleted product")
		_, err = s.LockProduct(ctx, tenantA, p.ID)
		requireNotFound(t, err, "deleted product")
	},
	"LockProductInTx": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "SKU-1")
		err := s.InTx(ctx, func(ctx context.Context) error {
			got, err := s.LockProduct(ctx, tenantA, p.ID)
			require.NoError(t, err)
			require.Equal(t, p.ID, got.ID)
			return s.SetProductStock(ctx, tenantA, p.ID, got.OnHand+3, false)
		})
		require.NoError(t, err)
		got, err := s.GetProduct(ctx, tenantA, p.ID)
		require.NoError(t, err)
		require.Equal(t, int64(3), got.OnHand)
	},
	"Update": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "SKU-1")
		other := insertProduct(t, s, tenantA, "SKU-2")

		p.SKU, p.Name, p.Price, p.ReorderLevel, p.UpdatedAt = "SKU-1b", "Renamed", decimal.RequireFromString("9.99"), 11, at(2*time.Hour)
		require.NoError(t, s.UpdateProduct(ctx, p))
		got, err := s.GetProduct(ctx, tenantA, p.ID)
		require.NoError(t, err)
		require.Equal(t, "SKU-1b", got.SKU)
		require.Equal(t, "Renamed", got.Name)
		require.Equal(t, "9.99", got.Price.String())
		require.Equal(t, int64(11), got.ReorderLevel)
		require.Equal(t, stored(at(2*time.Hour)), got.UpdatedAt)
		require.Equal(t, stored(p.CreatedAt), got.CreatedAt)

		p.SKU = other.SKU
		require.ErrorIs(t, s.UpdateProduct(ctx, p), domain.ErrConflict)

		foreign := p
		foreign.TenantID, foreign.SKU, foreign.Name = tenantB, "HIJACK", "hijacked"
		requireNotFound(t, s.UpdateProduct(ctx, foreign), "another tenant's product")
		got, err = s.GetProduct(ctx, tenantA, p.ID)
		require.NoError(t, err)
		require.Equal(t, "Renamed", got.Name, "a foreign update must change nothing")

		missing := newProduct(tenantA, "SKU-X")
		requireNotFound(t, s.UpdateProduct(ctx, missing))
		missing.ID = "garbage"
		requireNotFound(t, s.UpdateProduct(ctx, missing))

		require.NoError(t, s.DeleteProduct(ctx, tenantA, other.ID))
		other.Name = "zombie"
		requireNotFound(t, s.UpdateProduct(ctx, other), "deleted product")
	},
	"Delete": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "SKU-1")
		requireNotFound(t, s.DeleteProduct(ctx, tenantB, p.ID), "another tenant's product")
		_, err := s.GetProduct(ctx, tenantA, p.ID)
		require.NoError(t, err, "a foreign delete must change nothing")
		require.NoError(t, s.DeleteProduct(ctx, tenantA, p.ID))
		requireNotFound(t, s.DeleteProduct(ctx, tenantA, p.ID), "already deleted")
		requireNotFound(t, s.DeleteProduct(ctx, tenantA, "nope"))
	},
	"ListPagesAndIsolates": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		var want []string
		for i := range 7 {
			want = append(want, insertProduct(t, s, tenantA, string(rune('a'+i))).ID)
		}
		deleted := insertProduct(t, s, tenantA, "deleted")
		require.NoError(t, s.DeleteProduct(ctx, tenantA, deleted.ID))
		insertProduct(t, s, tenantB, "b-only")

		var got []string
		after := ""
		for {
			page, err := s.ListProducts(ctx, tenantA, product.ListParams{After: after, Limit: 3})
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), 3)
			for _, p := range page {
				require.Equal(t, tenantA, p.TenantID)
				got = append(got, p.ID)
			}
			if len(page) < 3 {
				break
			}
			after = page[len(page)-1].ID
		}
		require.ElementsMatch(t, want, got, "every live product of the tenant, once")
		require.IsIncreasing(t, got, "ordered by id")

		// A deleted product still works as a cursor.
		_, err := s.ListProducts(ctx, tenantA, product.ListParams{After: deleted.ID})
		require.NoError(t, err)
		_, err = s.ListProducts(ctx, tenantA, product.ListParams{After: "nope"})
		requireInvalid(t, err)

		empty, err := s.ListProducts(ctx, "tenant-c", product.ListParams{})
		require.NoError(t, err)
		require.NotNil(t, empty)
		require.Empty(t, empty)
	},
	"SetProductStock": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := insertProduct(t, s, tenantA, "SKU-1")
		require.NoError(t, s.SetProductStock(ctx, tenantA, p.ID, 42, true))
		got, err := s.GetProduct(ctx, tenantA, p.ID)
		require.NoError(t, err)
		require.Equal(t, int64(42), got.OnHand)
		require.True(t, got.LowStock)

		requireNotFound(t, s.SetProductStock(ctx, tenantB, p.ID, 1, false), "another tenant's product")
		got, err = s.GetProduct(ctx, tenantA, p.ID)
		require.NoError(t, err)
		require.Equal(t, int64(42), got.OnHand)
		requireNotFound(t, s.SetProductStock(ctx, tenantA, domain.NewID(), 1, false))
		requireInvalid(t, s.SetProductStock(ctx, tenantA, p.ID, -1, false))
	},
	"InvalidInput": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		p := newProduct(tenantA, "SKU-1")
		p.ID = "not-a-uuid"
		requireInvalid(t, s.InsertProduct(ctx, p))
		p = newProduct("", "SKU-1")
		requireInvalid(t, s.InsertProduct(ctx, p))
	},
	"HostileStrings": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for i, h := range hostile {
			p := newProduct(domain.TenantID(h), h)
			p.Name = h
			require.NoError(t, s.InsertProduct(ctx, p), "string %d", i)
			got, err := s.GetProduct(ctx, domain.TenantID(h), p.ID)
			require.NoError(t, err)
			require.Equal(t, h, got.SKU)
			require.Equal(t, h, got.Name)
			require.Equal(t, domain.TenantID(h), got.TenantID)
		}
		list, err := s.ListProducts(ctx, domain.TenantID(hostile[0]), product.ListParams{})
		require.NoError(t, err)
		require.Len(t, list, 1, "hostile tenant ids isolate like any other")
	},
}
