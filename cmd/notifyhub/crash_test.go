package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/domain/valuation"
	"github.com/notifyhub/notifyhub/workers/stream/streamtest"
)

// crashLedgerProducts is how many products the crash test values: enough
// pages (200 products each) that the job is still reading when the test
// sees its first progress and kills the worker.
const crashLedgerProducts = 6000

// seedLedger writes n products with three movements each straight into
// the database (the services would take minutes for this many): product
// k receives 10 @ 1.00 + (k mod 100) × 0.01, then 5 @ 1.30 + (k mod 7) ×
// 0.05, then 12 go out. It returns the valuation's expected totals.
func seedLedger(t *testing.T, db *sql.DB, tenant domain.TenantID, locationID string, n int) valuation.Totals {
	t.Helper()
	ctx := context.Background()
	_, err := db.ExecContext(ctx, `INSERT INTO products (tenant_id, id, sku, name, price, reorder_level, on_hand, low_stock, created_at, updated_at)
		SELECT $1, gen_random_uuid(), 'SKU-' || lpad(k::text, 6, '0'), 'Product ' || k, 10, 0, 3, false, now(), now()
		FROM generate_series(1, $2) AS k`, string(tenant), n)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO stock_movements (tenant_id, id, product_id, location_id, quantity, unit_cost,
			reason, actor_id, on_hand_after, created_at)
		SELECT p.tenant_id, gen_random_uuid(), p.id, $2, m.qty, m.cost, 'seed', 'seed', m.after, now() + m.step * interval '1 second'
		FROM products p,
			LATERAL (SELECT substr(p.sku, 5)::int AS k) AS s,
			LATERAL (VALUES (1, 10, 1.00 + (s.k % 100) * 0.01, 10),
			                (2, 5, 1.30 + (s.k % 7) * 0.05, 15),
			                (3, -12, NULL, 3)) AS m(step, qty, cost, after)
		WHERE p.tenant_id = $1`, string(tenant), locationID)
	require.NoError(t, err)
	// What autovacuum does for a table that grew this much; the planner
	// then pages by primary key as it would in production.
	_, err = db.ExecContext(ctx, `ANALYZE products; ANALYZE stock_movements`)
	require.NoError(t, err)

	// Hand arithmetic per product: FIFO leaves 3 of the second receipt;
	// the average is (10a + 5b) / 15 to 4 places, half up.
	want := valuation.Totals{Lines: int64(n), Quantity: 3 * int64(n), FIFOValue: decimal.Zero, AverageValue: decimal.Zero}
	three, fifteen := decimal.NewFromInt(3), decimal.NewFromInt(15)
	for k := 1; k <= n; k++ {
		a := decimal.RequireFromString("1.00").Add(decimal.New(int64(k%100), -2))
		b := decimal.RequireFromString("1.30").Add(decimal.New(int64(k%7)*5, -2))
		avg := a.Mul(decimal.NewFromInt(10)).Add(b.Mul(decimal.NewFromInt(5))).DivRound(fifteen, 4)
		want.FIFOValue = want.FIFOValue.Add(b.Mul(three))
		want.AverageValue = want.AverageValue.Add(avg.Mul(three))
	}
	return want
}

// TestKilledWorkerJobIsCompletedByAnother (issue 4): a `notifyhub worker`
// process is killed with SIGKILL in the middle of a real job, an inventory
// valuation over a large ledger; another worker process takes the job over
// once the reclaim idle time has passed and completes it; the valuation
// ends with exactly one set of results, and they are right.
func TestKilledWorkerJobIsCompletedByAnother(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	base := os.Getenv(storetest.DatabaseURLEnv)
	if base == "" || os.Getenv(streamtest.RedisURLEnv) == "" {
		t.Skip("NOTIFYHUB_TEST_DATABASE_URL and NOTIFYHUB_TEST_REDIS_URL are needed for worker processes on PostgreSQL and Redis")
	}
	_, prefix := streamtest.OpenRedis(t)
	dbURL := storetest.WithSearchPath(base, storetest.NewSchema(t, base))
	env := []string{
		"DATABASE_URL=" + dbURL,
		"REDIS_URL=" + os.Getenv(streamtest.RedisURLEnv),
		"NOTIFYHUB_REDIS_PREFIX=" + prefix,
		"NOTIFYHUB_JWT_SECRET=" + strings.Repeat("s3cret-", 6),
		"NOTIFYHUB_LOG_LEVEL=info",
	}
	// A short reclaim idle time, so that the takeover comes soon; it must
	// stay well above timeout + backoff, and the timeout well above what
	// the valuation takes on a busy machine.
	workerArgs := []string{"worker", "--queue", "low", "--sleep", "50ms",
		"--timeout", "15s", "--backoff", "1s", "--reclaim-after", "20s"}
	api := startProcess(t, env, "serve", "--roles", "http,hub,relay")
	a := startProcess(t, env, workerArgs...)

	ctx := context.Background()
	store, err := app.OpenStore(ctx, app.Config{DatabaseURL: dbURL})
	require.NoError(t, err)
	defer store.Close()
	loc, err := store.DefaultLocation(ctx, "acme")
	require.NoError(t, err)
	want := seedLedger(t, store.DB(), "acme", loc.ID, crashLedgerProducts)

	boss := tokenFor(t, env, "acme", "boss", domain.PermInventoryManage)
	id := requestValuationOver(t, api, boss)

	// Wait until worker A is visibly in the middle of the job: it has
	// committed progress, and not finished.
	var v valuation.Valuation
	require.Eventually(t, func() bool {
		v, err = store.GetValuation(ctx, "acme", id)
		return err == nil && v.Status == valuation.StatusProcessing && v.Progress.ProductsDone > 0
	}, 2*time.Minute, 5*time.Millisecond, "worker A starts the valuation:\n%s", a.logs)
	require.NoError(t, a.cmd.Process.Kill()) // SIGKILL: no shutdown, no release
	select {
	case err := <-a.done:
		require.Error(t, err, "killed")
		a.done <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("worker A did not die")
	}
	v, err = store.GetValuation(ctx, "acme", id)
	require.NoError(t, err)
	require.Equal(t, valuation.StatusProcessing, v.Status,
		"the job must have been cut mid-run (it completed before the kill: make the ledger larger)")
	require.Less(t, v.Progress.ProductsDone, int64(crashLedgerProducts))
	lines, err := store.ValuationLines(ctx, "acme", id, 0, 10)
	require.NoError(t, err)
	require.Empty(t, lines, "nothing of the killed run's results")
	killedAt := v.Progress.ProductsDone

	// Worker B takes the job over after the reclaim idle time and runs it
	// from the start.
	b := startProcess(t, env, workerArgs...)
	require.Eventually(t, func() bool {
		v, err = store.GetValuation(ctx, "acme", id)
		return err == nil && v.Status == valuation.StatusCompleted
	}, 3*time.Minute, 50*time.Millisecond, "worker B completes the valuation:\n%s", b.logs)

	// Exactly one set of results, and the right one.
	require.Equal(t, want.Lines, v.Totals.Lines)
	require.Equal(t, want.Quantity, v.Totals.Quantity)
	require.True(t, want.FIFOValue.Equal(v.Totals.FIFOValue), "fifo %s, want %s", v.Totals.FIFOValue, want.FIFOValue)
	require.True(t, want.AverageValue.Equal(v.Totals.AverageValue), "average %s, want %s", v.Totals.AverageValue, want.AverageValue)
	require.Equal(t, valuation.Progress{ProductsTotal: crashLedgerProducts, ProductsDone: crashLedgerProducts}, v.Progress)
	var rows, products, qty int64
	var fifo decimal.Decimal
	require.NoError(t, store.DB().QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT product_id), SUM(quantity), SUM(fifo_value)
		FROM valuation_lines WHERE tenant_id = 'acme' AND valuation_id = $1`, id).Scan(&rows, &products, &qty, &fifo))
	require.EqualValues(t, crashLedgerProducts, rows, "one line per product, none twice")
	require.EqualValues(t, crashLedgerProducts, products)
	require.Equal(t, want.Quantity, qty)
	require.True(t, want.FIFOValue.Equal(fifo), "the lines add up to the totals")
	var failed int
	require.NoError(t, store.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM failed_jobs`).Scan(&failed))
	require.Zero(t, failed, "the takeover is not a failure")
	b.stop(t)
	api.stop(t)
	// Read once B has exited: its log is written by the process until then.
	// A job taken over from a killed worker is on its second delivery at least.
	require.Regexp(t, `took over jobs left by a worker or released.* deliveries=[2-9]`, b.logs.String())
	t.Logf("worker A was killed after %d of %d products; worker B completed the valuation", killedAt, crashLedgerProducts)
}

// requestValuationOver posts POST /api/v1/valuations {} to p and returns
// the valuation's id.
func requestValuationOver(t *testing.T, p *process, tok string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+p.addr+"/api/v1/valuations", bytes.NewReader([]byte(`{}`)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusAccepted, res.StatusCode, "%s", raw)
	var out struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(raw, &out))
	require.NotEmpty(t, out.ID)
	return out.ID
}
