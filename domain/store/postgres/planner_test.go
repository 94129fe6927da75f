package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/postgres"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

func TestPlannerDefaultsUnlessTheURLSetsThem(t *testing.T) {
	p, err := postgres.RuntimeParams("postgres://u@127.0.0.1:5432/db?sslmode=disable")
	require.NoError(t, err)
	require.Equal(t, "1.1", p["random_page_cost"])

	p, err = postgres.RuntimeParams("postgres://u@127.0.0.1:5432/db?sslmode=disable&random_page_cost=4")
	require.NoError(t, err)
	require.Equal(t, "4", p["random_page_cost"], "the URL's setting wins")

	p, err = postgres.RuntimeParams("host=127.0.0.1 dbname=db random_page_cost=2")
	require.NoError(t, err)
	require.Equal(t, "2", p["random_page_cost"], "also in key=value form")
}

// The batched writes of notifications find their recipients through the
// users primary key, never by scanning the table: in a tenant of 1,000
// users (the size at which PostgreSQL's default costs chose the scan;
// larger tables flip the choice back), forty batches through the two
// write paths (a listener's InsertNotifications, a direct send's
// InsertDirect) leave the users table's sequential scan count where it
// was. Enough batches that PostgreSQL moves each statement to its generic
// plan (after five executions), where the arrays' lengths are unknown.
func TestBatchesFindRecipientsByKey(t *testing.T) {
	t.Parallel()
	base := baseURL(t)
	schema := storetest.NewSchema(t, base)
	s, _ := openIn(t, base, schema)
	ctx := ctxFor(t)
	users := make([]domain.User, 1000)
	for i := range users {
		users[i] = domain.User{TenantID: "acme", ID: domain.UserID(fmt.Sprintf("user-%04d", i))}
	}
	require.NoError(t, s.UpsertUsers(ctx, users))
	before := usersScans(t, s, schema, "users", 1000)

	const batches, perBatch = 40, 6
	for b := range batches {
		ns := make([]*domain.Notification, perBatch)
		for i := range ns {
			ns[i] = note("acme", domain.UserID(fmt.Sprintf("user-%04d", (b*perBatch+i*97)%1000)))
		}
		if b%2 == 0 {
			require.NoError(t, s.InsertNotifications(ctx, ns))
			continue
		}
		bulk := directBulk("acme", ns)
		_, err := s.InsertDirect(ctx, []notification.Bulk{bulk}, ns)
		require.NoError(t, err)
	}
	after := usersScans(t, s, schema, "notifications", batches*perBatch)
	require.Greater(t, after.idx, before.idx, "the batches read users by key")
	require.Equal(t, before.seq, after.seq, "no batch scanned the users table (index scans %d → %d)", before.idx, after.idx)
}

type scans struct{ seq, idx int64 }

// usersScans returns the users table's scan counts once the statistics
// show the rows inserted so far into table (PostgreSQL publishes a
// session's counts within a second or so of its transactions).
func usersScans(t *testing.T, s *sqlstore.Store, schema, table string, inserted int64) scans {
	t.Helper()
	var got scans
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var ins int64
		err := s.DB().QueryRowContext(ctx, `SELECT coalesce(u.seq_scan, 0), coalesce(u.idx_scan, 0), x.n_tup_ins
			FROM pg_stat_user_tables u, pg_stat_user_tables x
			WHERE u.schemaname = $1 AND u.relname = 'users' AND x.schemaname = $1 AND x.relname = $2`,
			schema, table).Scan(&got.seq, &got.idx, &ins)
		return err == nil && ins >= inserted
	}, 60*time.Second, 100*time.Millisecond, "the statistics never showed the rows inserted into %s", table)
	return got
}

func note(tenant domain.TenantID, user domain.UserID) *domain.Notification {
	return &domain.Notification{
		ID: domain.NewID(), TenantID: tenant, UserID: user, Type: "LowStockNotification",
		Severity: domain.SeverityWarning, Title: "Low stock", Data: []byte(`{}`), CreatedAt: time.Now().UTC(),
	}
}

// directBulk is the completed bulk record of a direct send of ns.
func directBulk(tenant domain.TenantID, ns []*domain.Notification) notification.Bulk {
	now := time.Now().UTC().Truncate(time.Microsecond)
	users := make([]domain.UserID, len(ns))
	for i, n := range ns {
		users[i] = n.UserID
	}
	return notification.Bulk{
		ID: domain.NewID(), TenantID: tenant, RequestedBy: "admin",
		Audience: notification.Audience{UserIDs: users}, Type: "LowStockNotification",
		Severity: domain.SeverityWarning, Title: "Low stock", Data: []byte(`{}`),
		Status: notification.BulkCompleted, Total: int64(len(ns)), Sent: int64(len(ns)),
		ResumeAfter: users[len(users)-1], CreatedAt: now, StartedAt: &now, CompletedAt: &now,
	}
}
