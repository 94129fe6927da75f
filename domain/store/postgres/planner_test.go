package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/postgres"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

func TestPlannerDefaultsUnlessTheURLSetsThem(t *testing.T) {
	for url, want := range map[string]string{
		"postgres://u@127.0.0.1:5432/db?sslmode=disable":                    "1.1", // our default
		"postgres://u@127.0.0.1:5432/db?sslmode=disable&random_page_cost=4": "4",   // the URL's setting wins
		"host=127.0.0.1 dbname=db random_page_cost=2":                       "2",   // also in key=value form
	} {
		cfg, err := postgres.PoolConfig(url)
		require.NoError(t, err)
		require.Equal(t, want, cfg.ConnConfig.RuntimeParams["random_page_cost"], url)
	}
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
	ctx := ctxFor(t)

	setup := openFlushed(t, base, schema, "setup")
	users := make([]domain.User, 1000)
	for i := range users {
		users[i] = domain.User{TenantID: "acme", ID: domain.UserID(fmt.Sprintf("user-%04d", i))}
	}
	require.NoError(t, setup.UpsertUsers(ctx, users))
	before := setup.closeAndScans(t)

	const batches, perBatch = 40, 6
	s := openFlushed(t, base, schema, "batches")
	for b := range batches {
		ns := make([]*domain.Notification, perBatch)
		for i := range ns {
			ns[i] = note("acme", domain.UserID(fmt.Sprintf("user-%04d", (b*perBatch+i*97)%1000)))
		}
		if b%2 == 0 {
			require.NoError(t, s.InsertNotifications(ctx, ns))
			continue
		}
		_, err := s.InsertDirect(ctx, []notification.Bulk{directBulk("acme", ns)}, ns)
		require.NoError(t, err)
	}
	after := s.closeAndScans(t)
	require.Greater(t, after.idx, before.idx, "the batches read users by key")
	require.Equal(t, before.seq, after.seq, "no batch scanned the users table (index scans %d → %d)", before.idx, after.idx)
}

// flushedStore is a store whose sessions' statistics can be read in full
// once it is closed.
type flushedStore struct {
	*sqlstore.Store
	base, schema, app string
}

// openFlushed opens a store on schema whose sessions carry an application
// name of their own.
func openFlushed(t *testing.T, base, schema, role string) *flushedStore {
	t.Helper()
	app := schema + "_" + role
	url := storetest.WithParam(storetest.WithSearchPath(base, schema), "application_name", app)
	s, err := postgres.Open(ctxFor(t), url, nil)
	require.NoError(t, err)
	f := &flushedStore{Store: s, base: base, schema: schema, app: app}
	t.Cleanup(func() { _ = s.Close() })
	return f
}

type scans struct{ seq, idx int64 }

// closeAndScans closes the store, waits until its sessions have ended (a
// session publishes its pending statistics as it exits, before it leaves
// pg_stat_activity) and returns the users table's scan counts.
func (f *flushedStore) closeAndScans(t *testing.T) scans {
	t.Helper()
	require.NoError(t, f.Close())
	conn, err := pgx.Connect(ctxFor(t), f.base)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	require.Eventually(t, func() bool {
		var n int
		err := conn.QueryRow(ctxFor(t), `SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1 || '%'`, f.app).Scan(&n)
		return err == nil && n == 0
	}, 60*time.Second, 20*time.Millisecond, "the store's sessions never ended")
	var got scans
	require.NoError(t, conn.QueryRow(ctxFor(t), `SELECT coalesce(seq_scan, 0), coalesce(idx_scan, 0)
		FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'users'`, f.schema).Scan(&got.seq, &got.idx))
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
