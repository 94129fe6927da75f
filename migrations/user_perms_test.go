package migrations_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/migrations"
)

// TestUserPermsBackfill: users written before migration 00019 hold their
// permissions in the new index once it runs (string elements only, per
// tenant), and users written after it are indexed by its triggers.
func TestUserPermsBackfill(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db")+"?_pragma=foreign_keys(1)")
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		testUserPermsBackfill(t, db, migrations.SQLite, func(q string) string { return q })
	})
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv(storetest.DatabaseURLEnv)
		if base == "" {
			t.Skipf("%s is not set", storetest.DatabaseURLEnv)
		}
		db, err := sql.Open("pgx", storetest.WithSearchPath(base, storetest.NewSchema(t, base)))
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		testUserPermsBackfill(t, db, migrations.Postgres, storetest.DollarMarkers)
	})
}

func testUserPermsBackfill(t *testing.T, db *sql.DB, d migrations.Dialect, bind func(string) string) {
	ctx := context.Background()
	require.NoError(t, migrations.UpTo(ctx, db, d, 18))
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := db.ExecContext(ctx, bind(q), args...)
		require.NoError(t, err, q)
	}
	now := "2026-12-07T00:00:00.000000Z"
	for _, tenant := range []string{"acme", "globex"} {
		exec(`INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)`, tenant, tenant, now)
	}
	insertUser := func(tenant, id, perms string) {
		exec(`INSERT INTO users (tenant_id, id, perms, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`, tenant, id, perms, now, now)
	}
	insertUser("acme", "ann", `["inventory.alerts","sales.manage"]`)
	insertUser("acme", "bob", `[]`)
	insertUser("acme", "cat", `["admin",7,{"x":"inventory.alerts"},"inventory.alerts"]`)
	insertUser("globex", "ann", `["admin"]`)

	_, err := migrations.Up(ctx, db, d)
	require.NoError(t, err)
	want := []string{
		"acme/admin/cat", "acme/inventory.alerts/ann", "acme/inventory.alerts/cat", "acme/sales.manage/ann",
		"globex/admin/ann",
	}
	require.Equal(t, want, permIndex(t, db))

	// After the migration the triggers keep it: a new user, a changed
	// user, a user stripped of everything.
	insertUser("globex", "dan", `["sales.manage"]`)
	exec(`UPDATE users SET perms = ? WHERE tenant_id = ? AND id = ?`, `["reports.view"]`, "acme", "ann")
	exec(`UPDATE users SET perms = ? WHERE tenant_id = ? AND id = ?`, `[]`, "acme", "cat")
	after := []string{"acme/reports.view/ann", "globex/admin/ann", "globex/sales.manage/dan"}
	require.Equal(t, after, permIndex(t, db))

	// Down and up again: the index is rebuilt from users.perms.
	require.NoError(t, migrations.DownTo(ctx, db, d, 18))
	_, err = migrations.Up(ctx, db, d)
	require.NoError(t, err)
	require.Equal(t, after, permIndex(t, db))
}

func permIndex(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT tenant_id, perm, user_id FROM user_perms ORDER BY tenant_id, perm, user_id`)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var tenant, perm, user string
		require.NoError(t, rows.Scan(&tenant, &perm, &user))
		out = append(out, tenant+"/"+perm+"/"+user)
	}
	require.NoError(t, rows.Err())
	return out
}
