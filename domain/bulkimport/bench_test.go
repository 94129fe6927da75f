package bulkimport_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

// BenchmarkImportProducts imports a generated products file of
// NOTIFYHUB_BENCH_IMPORT_ROWS rows (default 10,000) per iteration, each
// into a fresh tenant, through the whole job (upload, count, batches,
// completion), and reports rows/s and the heap in use after the import
// (go test -bench ImportProducts -benchmem; with -memprofile for where
// memory goes). PostgreSQL runs when NOTIFYHUB_TEST_DATABASE_URL is set.
func BenchmarkImportProducts(b *testing.B) {
	rows := 10_000
	if v := os.Getenv("NOTIFYHUB_BENCH_IMPORT_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err)
		rows = n
	}
	body := productsCSV(rows)
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{
		"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres,
	} {
		b.Run(name, func(b *testing.B) {
			f := newFixture(b, open(b), options{})
			ctx := context.Background()
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				tenant := domain.TenantID(fmt.Sprintf("bench-%d", i))
				actor := domain.Actor{TenantID: tenant, UserID: "bench", Perms: []string{domain.PermImportsRun}}
				im, err := f.start(b, actor, "products", "", body)
				require.NoError(b, err)
				require.NoError(b, f.svc.Process(ctx, tenant, im.ID))
				got, err := f.svc.Get(ctx, tenant, im.ID)
				require.NoError(b, err)
				require.Equal(b, bulkimport.StatusCompleted, got.Status)
				require.EqualValues(b, rows, got.Imported)
			}
			b.ReportMetric(float64(rows*b.N)/time.Since(start).Seconds(), "rows/s")
		})
	}
}
