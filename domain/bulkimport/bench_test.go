package bulkimport_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
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
// completion), and reports rows/s, the CPU time of this process (the
// database server's is not in it) per row, and the heap in use after the
// import (go test -bench ImportProducts -benchmem; with -memprofile for
// where memory goes). create imports new products; update imports the
// same SKUs again with other prices and names into a tenant that has them
// (the first import is not timed). PostgreSQL runs when
// NOTIFYHUB_TEST_DATABASE_URL is set; NOTIFYHUB_BENCH_IMPORT_BATCH sets the
// rows per transaction (default bulkimport.DefaultBatchSize).
func BenchmarkImportProducts(b *testing.B) {
	rows := 10_000
	if v := os.Getenv("NOTIFYHUB_BENCH_IMPORT_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err)
		rows = n
	}
	batch := 0 // the default
	if v := os.Getenv("NOTIFYHUB_BENCH_IMPORT_BATCH"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err)
		batch = n
	}
	created, changed := productsCSV(rows), strings.ReplaceAll(productsCSV(rows), "Product ", "Renamed ")
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{
		"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres,
	} {
		for _, update := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/%s", name, map[bool]string{false: "create", true: "update"}[update]), func(b *testing.B) {
				f := newFixture(b, open(b), options{batch: batch})
				ctx := context.Background()
				run := func(tenant domain.TenantID, body string) {
					actor := domain.Actor{TenantID: tenant, UserID: "bench", Perms: []string{domain.PermImportsRun}}
					im, err := f.start(b, actor, "products", "", body)
					require.NoError(b, err)
					require.NoError(b, f.svc.Process(ctx, tenant, im.ID))
					got, err := f.svc.Get(ctx, tenant, im.ID)
					require.NoError(b, err)
					require.Equal(b, bulkimport.StatusCompleted, got.Status)
					require.EqualValues(b, rows, got.Imported)
				}
				b.SetBytes(int64(len(created)))
				var took time.Duration
				cpu0 := cpuTime()
				for i := 0; b.Loop(); i++ {
					tenant := domain.TenantID(fmt.Sprintf("bench-%d", i))
					body := created
					if update {
						b.StopTimer()
						run(tenant, created)
						body = changed
						b.StartTimer()
					}
					start := time.Now()
					run(tenant, body)
					took += time.Since(start)
				}
				b.ReportMetric(float64(rows*b.N)/took.Seconds(), "rows/s")
				if !update { // the untimed first imports would count too
					b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(rows*b.N), "cpu-µs/row")
				}
			})
		}
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
