package web_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

// BenchmarkPersonalNotification is POST /api/v1/notifications to one user,
// as the load generator's personal phases send it, from parallel senders
// (so direct sends share group commits), on PostgreSQL when
// NOTIFYHUB_TEST_DATABASE_URL is set, else SQLite.
func BenchmarkPersonalNotification(b *testing.B) {
	open := storetest.OpenSQLite
	if os.Getenv(storetest.DatabaseURLEnv) != "" {
		open = storetest.OpenPostgres
	}
	f := newFixture(b, open)
	admin := token(b, "acme", "admin", domain.PermAdmin)
	const users = 100
	for i := range users {
		require.NoError(b, f.store.UpsertUser(context.Background(), domain.User{TenantID: "acme", ID: domain.UserID(fmt.Sprintf("u%d", i))}))
	}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			n++
			body := fmt.Sprintf(`{"type":"alert","severity":"info","title":"bench #%d","user_ids":["u%d"],"data":{"n":%d}}`, n, n%users, n)
			rec := f.call(b, http.MethodPost, "/api/v1/notifications", admin, body)
			if rec.Code != http.StatusAccepted {
				b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
		}
	})
}
