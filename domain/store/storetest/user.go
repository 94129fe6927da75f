package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func userIDs(us []domain.User) []domain.UserID {
	ids := make([]domain.UserID, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids
}

var userTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"UpsertAndGet": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		u := domain.User{TenantID: tenantA, ID: userA, Name: "Ada", Email: "ada@example.com",
			Perms: []string{domain.PermSalesManage, domain.PermProductsManage, domain.PermSalesManage, ""}}
		require.NoError(t, s.UpsertUser(ctx, u))
		got, err := s.GetUser(ctx, tenantA, userA)
		require.NoError(t, err)
		require.Equal(t, domain.User{TenantID: tenantA, ID: userA, Name: "Ada", Email: "ada@example.com",
			Perms: []string{domain.PermProductsManage, domain.PermSalesManage}}, got, "perms kept as a sorted set")

		// Same claims again: nothing changes; different claims update.
		require.NoError(t, s.UpsertUser(ctx, u))
		u.Name, u.Email, u.Perms = "Ada L.", "ada@lovelace.example", []string{domain.PermAdmin}
		require.NoError(t, s.UpsertUser(ctx, u))
		got, err = s.GetUser(ctx, tenantA, userA)
		require.NoError(t, err)
		require.Equal(t, "Ada L.", got.Name)
		require.Equal(t, "ada@lovelace.example", got.Email)
		require.Equal(t, []string{domain.PermAdmin}, got.Perms)
		u.Perms = nil
		require.NoError(t, s.UpsertUser(ctx, u))
		got, err = s.GetUser(ctx, tenantA, userA)
		require.NoError(t, err)
		require.Equal(t, []string{}, got.Perms)

		_, err = s.GetUser(ctx, tenantB, userA)
		requireNotFound(t, err, "another tenant's user")
		_, err = s.GetUser(ctx, tenantA, "nobody")
		requireNotFound(t, err)
		requireInvalid(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA}))
		requireInvalid(t, s.UpsertUser(ctx, domain.User{ID: userA}))
	},
	"ListAndIsolation": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for _, id := range []domain.UserID{"carol", "alice", "bob"} {
			require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: id, Name: string(id)}))
		}
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantB, ID: "alice", Name: "other alice"}))
		list, err := s.ListUsers(ctx, tenantA)
		require.NoError(t, err)
		require.Equal(t, []domain.UserID{"alice", "bob", "carol"}, userIDs(list))
		for _, u := range list {
			require.Equal(t, tenantA, u.TenantID)
		}
		list, err = s.ListUsers(ctx, tenantB)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "other alice", list[0].Name)
		list, err = s.ListUsers(ctx, "tenant-c")
		require.NoError(t, err)
		require.NotNil(t, list)
		require.Empty(t, list)
	},
	"UsersWithPermission": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for _, u := range []domain.User{
			{TenantID: tenantA, ID: "u3-alerts", Perms: []string{domain.PermInventoryAlerts, domain.PermSalesManage}},
			{TenantID: tenantA, ID: "u1-admin", Perms: []string{domain.PermAdmin}},
			{TenantID: tenantA, ID: "u2-sales", Perms: []string{domain.PermSalesManage}},
			{TenantID: tenantA, ID: "u4-none"},
			{TenantID: tenantA, ID: "u5-prefix", Perms: []string{"inventory.alerts.extra", "inventory"}},
			{TenantID: tenantB, ID: "b-alerts", Perms: []string{domain.PermInventoryAlerts}},
			{TenantID: tenantB, ID: "b-admin", Perms: []string{domain.PermAdmin}},
		} {
			require.NoError(t, s.UpsertUser(ctx, u))
		}
		got, err := s.UsersWithPermission(ctx, tenantA, domain.PermInventoryAlerts)
		require.NoError(t, err)
		require.Equal(t, []domain.UserID{"u1-admin", "u3-alerts"}, userIDs(got), "holders and admins of tenant A, by id")
		got, err = s.UsersWithPermission(ctx, tenantA, domain.PermSalesManage)
		require.NoError(t, err)
		require.Equal(t, []domain.UserID{"u1-admin", "u2-sales", "u3-alerts"}, userIDs(got))
		got, err = s.UsersWithPermission(ctx, tenantA, "' OR 1=1 --")
		require.NoError(t, err)
		require.Equal(t, []domain.UserID{"u1-admin"}, userIDs(got))
		got, err = s.UsersWithPermission(ctx, "tenant-c", domain.PermAdmin)
		require.NoError(t, err)
		require.NotNil(t, got)
		require.Empty(t, got)
		_, err = s.UsersWithPermission(ctx, tenantA, "")
		requireInvalid(t, err)
	},
	"Tenants": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		require.NoError(t, s.UpsertTenant(ctx, tenantA, "Acme"))
		require.NoError(t, s.UpsertTenant(ctx, tenantA, "Acme Corp"))
		require.NoError(t, s.UpsertTenant(ctx, tenantA, "Acme Corp"))
		var name string
		q := `SELECT name FROM tenants WHERE id = ?`
		if s.Dialect() == "postgres" {
			q = `SELECT name FROM tenants WHERE id = $1`
		}
		require.NoError(t, s.DB().QueryRowContext(ctx, q, string(tenantA)).Scan(&name))
		require.Equal(t, "Acme Corp", name)
		// A user of an unknown tenant brings the tenant row with it.
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: "fresh", ID: userA}))
		require.NoError(t, s.DB().QueryRowContext(ctx, q, "fresh").Scan(&name))
		require.Equal(t, "fresh", name)
		requireInvalid(t, s.UpsertTenant(ctx, "", "x"))
	},
	"HostileStrings": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		for _, h := range hostile {
			u := domain.User{TenantID: domain.TenantID(h), ID: domain.UserID(h), Name: h, Email: h, Perms: []string{h}}
			require.NoError(t, s.UpsertUser(ctx, u))
			got, err := s.GetUser(ctx, u.TenantID, u.ID)
			require.NoError(t, err)
			require.Equal(t, u, got)
			holders, err := s.UsersWithPermission(ctx, u.TenantID, h)
			require.NoError(t, err)
			require.Equal(t, []domain.User{u}, holders)
		}
	},
}
