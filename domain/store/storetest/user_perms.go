package storetest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// userPermsTests check that the permission index (user_perms, kept by
// triggers from users.perms, migration 00019) answers exactly what the
// users' perms say, on every write path, per tenant.
var userPermsTests = map[string]func(t *testing.T, s *sqlstore.Store){
	"HoldersFollowRandomChanges": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		pool := []string{domain.PermInventoryAlerts, domain.PermSalesManage, domain.PermAdmin,
			"inventory", hostile[0], hostile[3], hostile[4]}
		tenants := []domain.TenantID{tenantA, tenantB}
		// The same user ids in both tenants: one tenant's perms must never
		// make a holder of the other's user.
		ids := []domain.UserID{"u0", "u1", "u2", "u3", "u4", "u5"}
		model := map[domain.TenantID]map[domain.UserID][]string{tenantA: {}, tenantB: {}}
		rng := rand.New(rand.NewPCG(19, 2026))
		randomPerms := func() []string {
			var ps []string
			for _, p := range pool {
				if rng.IntN(3) == 0 {
					ps = append(ps, p)
					if rng.IntN(4) == 0 {
						ps = append(ps, p) // a duplicate claim
					}
				}
			}
			return ps
		}
		for step := range 120 {
			// One user, or a batch of several in one statement (the
			// hub's registration path).
			var batch []domain.User
			for range 1 + rng.IntN(3)*rng.IntN(3) {
				u := domain.User{TenantID: tenants[rng.IntN(2)], ID: ids[rng.IntN(len(ids))], Perms: randomPerms()}
				if slices.ContainsFunc(batch, func(b domain.User) bool { return b.TenantID == u.TenantID && b.ID == u.ID }) {
					continue
				}
				batch = append(batch, u)
				model[u.TenantID][u.ID] = u.Perms
			}
			if len(batch) == 1 {
				require.NoError(t, s.UpsertUser(ctx, batch[0]))
			} else {
				require.NoError(t, s.UpsertUsers(ctx, batch))
			}
			for _, tenant := range tenants {
				for _, perm := range pool {
					want := []domain.UserID{}
					for id, ps := range model[tenant] {
						if slices.Contains(ps, perm) || slices.Contains(ps, domain.PermAdmin) {
							want = append(want, id)
						}
					}
					slices.Sort(want)
					msg := fmt.Sprintf("step %d, tenant %s, perm %q", step, tenant, perm)
					got, err := s.UsersWithPermission(ctx, tenant, perm)
					require.NoError(t, err, msg)
					require.Equal(t, want, userIDs(got), msg)
					for _, u := range got {
						require.Equal(t, tenant, u.TenantID, msg)
					}
					after, err := s.UserIDsAfter(ctx, tenant, perm, "", 0)
					require.NoError(t, err, msg)
					require.Equal(t, want, after, msg)
					n, err := s.CountUsers(ctx, tenant, perm)
					require.NoError(t, err, msg)
					require.Equal(t, int64(len(want)), n, msg)
				}
			}
		}
		// The index holds exactly the users' permissions, no stale row.
		require.Equal(t, modelPermRows(model), permRows(t, s))
	},
	"NotifiedUnknownUserHoldsNothing": func(t *testing.T, s *sqlstore.Store) {
		ctx := ctxFor(t)
		// A notification to a user never seen creates a bare users row
		// (another write path); it must hold no permission until claims
		// bring some.
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: "boss", Perms: []string{domain.PermAdmin}}))
		require.NoError(t, s.InsertNotification(ctx, newNotification(tenantA, "ghost", "hello")))
		got, err := s.UsersWithPermission(ctx, tenantA, domain.PermInventoryAlerts)
		require.NoError(t, err)
		require.Equal(t, []domain.UserID{"boss"}, userIDs(got))
		require.NoError(t, s.UpsertUser(ctx, domain.User{TenantID: tenantA, ID: "ghost", Perms: []string{domain.PermInventoryAlerts}}))
		got, err = s.UsersWithPermission(ctx, tenantA, domain.PermInventoryAlerts)
		require.NoError(t, err)
		require.Equal(t, []domain.UserID{"boss", "ghost"}, userIDs(got))
	},
}

type permRow struct {
	Tenant, Perm, User string
}

func modelPermRows(model map[domain.TenantID]map[domain.UserID][]string) []permRow {
	var rows []permRow
	for tenant, users := range model {
		for id, ps := range users {
			for _, p := range ps {
				r := permRow{string(tenant), p, string(id)}
				if !slices.Contains(rows, r) {
					rows = append(rows, r)
				}
			}
		}
	}
	sortPermRows(rows)
	return rows
}

func permRows(t *testing.T, s *sqlstore.Store) []permRow {
	t.Helper()
	rows, err := s.DB().QueryContext(ctxFor(t), `SELECT tenant_id, perm, user_id FROM user_perms`)
	require.NoError(t, err)
	defer rows.Close()
	var out []permRow
	for rows.Next() {
		var r permRow
		require.NoError(t, rows.Scan(&r.Tenant, &r.Perm, &r.User))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	sortPermRows(out)
	return out
}

func sortPermRows(rows []permRow) {
	slices.SortFunc(rows, func(a, b permRow) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Perm, b.Perm), cmp.Compare(a.User, b.User))
	})
}
