package bulkimport_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

// interrupting cancels the job's context at its n-th LockImport: every
// transaction of a run starts there, so each n interrupts a run at
// another point (before counting, between batches, before completing).
type interrupting struct {
	*sqlstore.Store
	mu     sync.Mutex
	locks  int
	at     int
	cancel context.CancelFunc
}

func (s *interrupting) LockImport(ctx context.Context, tenant domain.TenantID, id string) (bulkimport.Import, error) {
	s.mu.Lock()
	s.locks++
	hit := s.locks == s.at
	s.mu.Unlock()
	if hit {
		s.cancel()
	}
	return s.Store.LockImport(ctx, tenant, id)
}

// productsCSV makes a products file of n rows, SKU-00001 onwards.
func productsCSV(n int) string {
	var b strings.Builder
	b.WriteString("sku,name,price\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "SKU-%05d,Product %d,%d.%02d\n", i, i, i, i%100)
	}
	return b.String()
}

// TestResumeAfterInterruption: a run stopped at any point (its context
// cancelled, as a timeout or a dying worker does) leaves the import where
// its last committed batch put it; running it again imports every row
// exactly once.
func TestResumeAfterInterruption(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{
		"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			wrapper := &interrupting{Store: s}
			f := newFixture(t, s, options{batch: 7, store: wrapper})
			const rows = 40 // 6 batches: locks are begin, count, 6 batches, complete
			for at := 1; at <= 9; at++ {
				tenant := domain.TenantID(fmt.Sprintf("t%d", at))
				require.NoError(t, s.UpsertUser(context.Background(), domain.User{TenantID: tenant, ID: "alice"}))
				actor := domain.Actor{TenantID: tenant, UserID: "alice", Perms: []string{domain.PermImportsRun}}
				im, err := f.start(t, actor, "products", "", productsCSV(rows))
				require.NoError(t, err)

				ctx, cancel := context.WithCancel(context.Background())
				wrapper.mu.Lock()
				wrapper.locks, wrapper.at, wrapper.cancel = 0, at, cancel
				wrapper.mu.Unlock()
				err = f.svc.Process(ctx, tenant, im.ID)
				cancel()
				require.Error(t, err, "interrupted at lock %d", at)
				require.True(t, errors.Is(err, context.Canceled), "at %d: %v", at, err)
				mid, err := f.svc.Get(context.Background(), tenant, im.ID)
				require.NoError(t, err)
				require.NotEqual(t, bulkimport.StatusCompleted, mid.Status, "at %d", at)
				require.Equal(t, mid.Imported, int64(len(f.allProducts(t, tenant))), "progress and rows commit together (at %d)", at)

				wrapper.mu.Lock()
				wrapper.at = 0
				wrapper.mu.Unlock()
				got := f.process(t, tenant, im.ID)
				require.Equal(t, bulkimport.StatusCompleted, got.Status, "at %d", at)
				require.Equal(t, []int64{rows, rows, 0}, []int64{got.TotalRows, got.Imported, got.Failed}, "at %d", at)
				require.Len(t, f.allProducts(t, tenant), rows, "at %d", at)
				require.Equal(t, rows, f.countEvents(t, tenant, "ProductCreated"), "no row imported twice (at %d)", at)
				require.Len(t, f.inbox(t, tenant, "alice"), 1, "told once (at %d)", at)
			}
		})
	}
}

// TestTimeoutsYieldAndResume: a run whose context has a deadline stops
// before it and queues the job again; the next run carries on. Runs with
// deadlines far too short to finish still complete the import, exactly.
func TestTimeoutsYieldAndResume(t *testing.T) {
	t.Parallel()
	each(t, options{batch: 10}, func(t *testing.T, f fixture) {
		const rows = 300
		im, err := f.start(t, alice, "products", "", productsCSV(rows))
		require.NoError(t, err)
		// Runs are cut short by a short deadline; one that made no progress
		// (a loaded machine can take longer than that for a batch) gets
		// twice as long next time, so the test needs progress, not speed.
		runs, limit, handled := 0, 40*time.Millisecond, int64(-1)
		for ; runs < 500; runs++ {
			ctx, cancel := context.WithTimeout(context.Background(), limit)
			err := f.svc.Process(ctx, "acme", im.ID)
			cancel()
			if err != nil {
				require.ErrorIs(t, err, context.DeadlineExceeded, "a run cut short by its deadline")
			}
			got, err := f.svc.Get(context.Background(), "acme", im.ID)
			require.NoError(t, err)
			if got.Status == bulkimport.StatusCompleted {
				break
			}
			if got.ResumeRow <= handled {
				limit = min(2*limit, 10*time.Second)
			}
			handled = got.ResumeRow
		}
		got, err := f.svc.Get(context.Background(), "acme", im.ID)
		require.NoError(t, err)
		require.Equal(t, bulkimport.StatusCompleted, got.Status)
		require.Equal(t, []int64{rows, rows, 0}, []int64{got.TotalRows, got.Imported, got.Failed})
		require.Len(t, f.allProducts(t, "acme"), rows)
		require.Equal(t, rows, f.countEvents(t, "acme", "ProductCreated"))
		t.Logf("%d runs, %d continuations queued", runs+1, f.jobs.count()-1)
	})
}

// TestConcurrentRunsImportOnce: two workers running the same import at
// once (a redelivery) take turns batch by batch; every row once.
func TestConcurrentRunsImportOnce(t *testing.T) {
	t.Parallel()
	each(t, options{batch: 5}, func(t *testing.T, f fixture) {
		const rows = 120
		im, err := f.start(t, alice, "inventory", "", "sku,quantity\n"+strings.Repeat("A,1\n", rows))
		require.NoError(t, err)
		f.run(t, alice, "products", "", "sku,name,price\nA,A,1\n")
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() { errs[i] = f.svc.Process(context.Background(), "acme", im.ID) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		got, err := f.svc.Get(context.Background(), "acme", im.ID)
		require.NoError(t, err)
		require.Equal(t, bulkimport.StatusCompleted, got.Status)
		require.Equal(t, []int64{rows, rows, 0}, []int64{got.TotalRows, got.Imported, got.Failed})
		require.EqualValues(t, rows, f.bySKU(t, "acme")["A"].OnHand, "every movement once")
		require.Equal(t, rows, f.countEvents(t, "acme", "StockMovementRecorded"))
	})
}

// TestFailedImportResumesOnRetry: after its job used up its tries the
// import is failed (the user is told); a retry of the job resumes it.
func TestFailedImportResumesOnRetry(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{
		"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			wrapper := &interrupting{Store: s}
			f := newFixture(t, s, options{batch: 4, store: wrapper})
			im, err := f.start(t, alice, "products", "", productsCSV(20))
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			wrapper.at, wrapper.cancel = 5, cancel // during the third batch
			require.Error(t, f.svc.Process(ctx, "acme", im.ID))
			cancel()
			wrapper.at = 0

			require.NoError(t, f.svc.MarkFailed(context.Background(), "acme", im.ID, errors.New("database unreachable")))
			failed, err := f.svc.Get(context.Background(), "acme", im.ID)
			require.NoError(t, err)
			require.Equal(t, bulkimport.StatusFailed, failed.Status)
			require.Equal(t, "database unreachable", failed.LastError)
			require.NotNil(t, failed.FailedAt)
			require.EqualValues(t, 8, failed.Imported)
			n := f.inbox(t, "acme", "alice")
			require.Len(t, n, 1)
			require.Equal(t, domain.SeverityCritical, n[0].Severity)
			require.Equal(t, "upload.csv: stopped after 8 of 20 rows (8 imported, 0 failed): database unreachable", n[0].Body)
			// Marking it failed again (a second failed job) says nothing new.
			require.NoError(t, f.svc.MarkFailed(context.Background(), "acme", im.ID, errors.New("again")))
			require.Len(t, f.inbox(t, "acme", "alice"), 1)

			got := f.process(t, "acme", im.ID)
			require.Equal(t, bulkimport.StatusCompleted, got.Status)
			require.EqualValues(t, 20, got.Imported)
			require.Nil(t, got.FailedAt)
			require.Empty(t, got.LastError)
			require.Len(t, f.allProducts(t, "acme"), 20)
			require.Len(t, f.inbox(t, "acme", "alice"), 2)
			// A completed import stays completed.
			require.NoError(t, f.svc.MarkFailed(context.Background(), "acme", im.ID, errors.New("late")))
			got, err = f.svc.Get(context.Background(), "acme", im.ID)
			require.NoError(t, err)
			require.Equal(t, bulkimport.StatusCompleted, got.Status)
		})
	}
}

// TestImportsAreTenantIsolated: another tenant's import is not found and
// cannot be run; rows land in the importer's tenant only; files sit in
// the tenant's own folder under a name the import id does not give away.
func TestImportsAreTenantIsolated(t *testing.T) {
	t.Parallel()
	each(t, options{}, func(t *testing.T, f fixture) {
		ctx := context.Background()
		im, err := f.start(t, alice, "products", "", "sku,name,price\nA,Anvil,1\n")
		require.NoError(t, err)
		other, err := f.start(t, gina, "products", "", "sku,name,price\nA,Anvil,1\n")
		require.NoError(t, err)

		_, err = f.svc.Get(ctx, "globex", im.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = f.svc.Get(ctx, "acme", "not-an-id")
		require.ErrorIs(t, err, domain.ErrNotFound)
		err = f.svc.Process(ctx, "globex", im.ID)
		require.ErrorIs(t, err, domain.ErrPermanent, "a job of another tenant finds no import")
		list, err := f.svc.List(ctx, "globex", bulkimport.ListParams{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, other.ID, list[0].ID)

		// Files: tenant folders, unguessable names.
		stored, err := f.store.GetImport(ctx, "acme", im.ID)
		require.NoError(t, err)
		require.Regexp(t, `^imports/t-[0-9a-f]{32}/`+regexp.QuoteMeta(im.ID)+`-[A-Z2-7]{26}\.csv$`, stored.FilePath)
		globex, err := f.store.GetImport(ctx, "globex", other.ID)
		require.NoError(t, err)
		require.NotEqual(t, filepath.Dir(stored.FilePath), filepath.Dir(globex.FilePath))
		require.NotContains(t, stored.FilePath, "acme", "the tenant id does not name the folder")

		// A record of globex pointing at acme's file is never read.
		forged := globex
		forged.ID, forged.FilePath, forged.Status = domain.NewID(), stored.FilePath, bulkimport.StatusPending
		require.NoError(t, f.store.InsertImport(ctx, forged))
		err = f.svc.Process(ctx, "globex", forged.ID)
		require.ErrorIs(t, err, domain.ErrPermanent)
		require.Contains(t, err.Error(), "is not in the folder of tenant globex")

		got := f.process(t, "acme", im.ID)
		require.Equal(t, bulkimport.StatusCompleted, got.Status)
		require.Len(t, f.allProducts(t, "acme"), 1)
		require.Empty(t, f.allProducts(t, "globex"), "nothing crosses tenants")
		require.Empty(t, f.inbox(t, "globex", "gina"))
		f.process(t, "globex", other.ID)
		require.Len(t, f.allProducts(t, "globex"), 1)
		require.NotEqual(t, f.bySKU(t, "acme")["A"].ID, f.bySKU(t, "globex")["A"].ID)
	})
}

// TestHostileStringsRoundTrip: names that break naive quoting or
// encodings come back byte for byte; those with control characters are
// refused with a reason.
func TestHostileStringsRoundTrip(t *testing.T) {
	t.Parallel()
	hostile := []string{
		`Robert'); DROP TABLE products; --`,
		`' OR '1'='1`,
		`"double" and 'single' quotes, \backslash\ and a trailing \`,
		`? $1 :name @p1 %s %_ -- /* */ ;`,
		"Zażółć gęślą jaźń — 日本語 — 🚀👩🏽‍💻 — \u202eRTL",
		`<script>alert("x")</script>&amp;`,
		"tabs\tnewlines\n\r\ncarriage",
	}
	each(t, options{}, func(t *testing.T, f fixture) {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		header := []string{"Name; \"quoted\" 名前", "sku", "price"}
		require.NoError(t, w.Write(header))
		for i, h := range hostile {
			require.NoError(t, w.Write([]string{h, fmt.Sprintf("H-%d", i), "1"}))
		}
		w.Flush()
		im := f.run(t, alice, "products", `{"name": "Name; \"quoted\" 名前", "sku": "sku", "price": "price"}`, buf.String())
		require.EqualValues(t, len(hostile)-1, im.Imported, rowErrors(im))
		require.Equal(t, []string{"7: name: must not contain control characters"}, rowErrors(im))
		ps := f.bySKU(t, "acme")
		for i, h := range hostile[:len(hostile)-1] {
			require.Equal(t, h, ps[fmt.Sprintf("H-%d", i)].Name)
		}
		require.Equal(t, "Name; \"quoted\" 名前", im.Mapping["name"])
	})
}

// TestFiftyThousandRows: a generated file of 50,000 rows, a few of them
// bad, is imported in batches with each row validated.
func TestFiftyThousandRows(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 50,000 rows")
	}
	t.Parallel()
	each(t, options{}, func(t *testing.T, f fixture) {
		const rows = 50_000
		var b strings.Builder
		b.WriteString("sku,name,price,reorder_level\n")
		var wantErrors []string
		for i := 1; i <= rows; i++ {
			switch {
			case i%5000 == 0:
				fmt.Fprintf(&b, "SKU-%d,Bad %d,-%d,1\n", i, i, i)
				wantErrors = append(wantErrors, fmt.Sprintf("%d: price: must not be negative (got -%d)", i, i))
			case i%7919 == 0:
				fmt.Fprintf(&b, "SKU-1,Duplicate %d,1,1\n", i)
				wantErrors = append(wantErrors, fmt.Sprintf(`%d: sku: duplicate "SKU-1": row 1 has the same sku`, i))
			default:
				fmt.Fprintf(&b, "SKU-%d,Product %d,%d.25,%d\n", i, i, i, i%50)
			}
		}
		start := time.Now()
		im := f.run(t, alice, "products", "", b.String())
		t.Logf("%d rows in %s", rows, time.Since(start).Round(time.Millisecond))
		require.Equal(t, bulkimport.StatusCompleted, im.Status)
		require.EqualValues(t, rows, im.TotalRows)
		require.EqualValues(t, len(wantErrors), im.Failed)
		require.EqualValues(t, rows-len(wantErrors), im.Imported)
		require.ElementsMatch(t, wantErrors, rowErrors(im))
		ps := f.bySKU(t, "acme")
		require.Len(t, ps, rows-len(wantErrors))
		require.Equal(t, "Product 49999", ps["SKU-49999"].Name)
		require.Equal(t, "49999.25", ps["SKU-49999"].Price.String())
	})
}

// TestLargeRowsAreBatchedByBytes: a batch holds at most a few MiB of rows,
// however many rows the batch size allows, so rows near the record bound
// do not pile up in memory.
func TestLargeRowsAreBatchedByBytes(t *testing.T) {
	t.Parallel()
	s := storetest.OpenSQLite(t)
	counter := &interrupting{Store: s}
	f := newFixture(t, s, options{store: counter})
	var b strings.Builder
	b.WriteString("sku,name,price,notes\n")
	filler := strings.Repeat("n", 700<<10)
	for i := range 30 {
		fmt.Fprintf(&b, "S-%d,Name,1,%s\n", i, filler)
	}
	im := f.run(t, alice, "products", "", b.String())
	require.Equal(t, []int64{30, 30, 0}, []int64{im.TotalRows, im.Imported, im.Failed})
	// Locks: begin, count, one per batch, complete.
	require.GreaterOrEqual(t, counter.locks-3, 3, "30 rows of 700 KiB take several batches")
}
