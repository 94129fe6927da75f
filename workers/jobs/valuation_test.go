package jobs_test

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/valuation"
	"github.com/notifyhub/notifyhub/workers/jobs"
	"github.com/notifyhub/notifyhub/workers/runner"
)

var stockKeeper = domain.Actor{TenantID: "acme", UserID: "sam", Perms: []string{domain.PermProductsManage, domain.PermInventoryManage}}

// stock creates a product and records movements in (qty, cost) pairs;
// a negative qty moves out.
func stock(t *testing.T, b backend, actor domain.Actor, sku string, moves ...any) string {
	t.Helper()
	ctx := context.Background()
	price, reorder := decimal.RequireFromString("1"), int64(0)
	p, err := product.NewService(b.store, nil).Create(ctx, actor, product.CreateInput{SKU: sku, Name: sku, Price: &price, ReorderLevel: &reorder})
	require.NoError(t, err)
	inv := inventory.NewService(b.store, nil)
	for i := 0; i < len(moves); i += 2 {
		in := inventory.RecordInput{ProductID: p.ID, Quantity: int64(moves[i].(int)), Reason: "test"}
		if c := moves[i+1].(string); c != "" {
			d := decimal.RequireFromString(c)
			in.UnitCost = &d
		}
		_, err := inv.Record(ctx, actor, in)
		require.NoError(t, err)
	}
	return p.ID
}

// TestValuationThroughTheQueue: a valuation is stored and queued in one
// transaction, relayed to the low queue and run by a worker, in every
// deployment; its results cover the requesting tenant only.
func TestValuationThroughTheQueue(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		svc := valuation.NewService(b.store, e.disp, nil)
		require.NoError(t, e.reg.Register(jobs.RecalculateInventoryValuation(svc)))
		stock(t, b, stockKeeper, "A-1", 10, "1.00", 5, "1.30", -12, "")
		stock(t, b, domain.Actor{TenantID: "globex", UserID: "gina", Perms: []string{domain.PermAdmin}}, "A-1", 100, "50")

		v, err := svc.Request(ctx, stockKeeper, valuation.RequestInput{})
		require.NoError(t, err)
		e.flush(t)
		require.EqualValues(t, 1, e.backlog(t, runner.QueueLow), "queued on low")
		e.start(t, runner.QueueConfig{Queues: []string{runner.QueueLow}})
		var got valuation.Detail
		eventually(t, func() bool {
			got, err = svc.Get(ctx, "acme", v.ID, valuation.LinePage{})
			return err == nil && got.Status == valuation.StatusCompleted
		}, "the worker completes the valuation")
		require.Len(t, got.Results, 1)
		l := got.Results[0]
		require.Equal(t, "A-1", l.SKU)
		require.EqualValues(t, 3, l.Quantity)
		require.Equal(t, "3.9", l.FIFOValue.String())
		require.Equal(t, "3.3", l.AverageValue.String())
		require.Equal(t, "3.9", got.Totals.FIFOValue.String(), "globex's 5000.00 is not in acme's totals")
		eventually(t, func() bool { return e.backlog(t, runner.QueueLow) == 0 }, "acknowledged")
		require.Empty(t, e.failedJobs(t))
	})
}

// TestValuationThatCannotBeStoredFails: values past what numeric(20,4)
// holds make the job fail at once (retrying cannot help); the failed job
// is recorded and the valuation says why. A payload naming no valuation
// is a failed job too.
func TestValuationThatCannotBeStoredFails(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		svc := valuation.NewService(b.store, e.disp, nil)
		require.NoError(t, e.reg.Register(jobs.RecalculateInventoryValuation(svc)))
		// 1e9 units at 9 999 999 999 999: a value of about 1e22.
		stock(t, b, stockKeeper, "GOLD", 1_000_000_000, "9999999999999")
		v, err := svc.Request(ctx, stockKeeper, valuation.RequestInput{})
		require.NoError(t, err)
		e.dispatch(t, "acme", valuation.Job, map[string]string{"valuation_id": domain.NewID()})
		e.dispatch(t, "acme", valuation.Job, map[string]string{"nothing": "here"})
		e.start(t, runner.QueueConfig{Queues: []string{runner.QueueLow}})
		eventually(t, func() bool { return len(e.failedJobs(t)) == 3 }, "three failed jobs")
		var got valuation.Detail
		eventually(t, func() bool {
			got, err = svc.Get(ctx, "acme", v.ID, valuation.LinePage{})
			return err == nil && got.Status == valuation.StatusFailed
		}, "the valuation is marked failed")
		require.NotNil(t, got.Error)
		require.Contains(t, *got.Error, "out of range")
		require.Empty(t, got.Results)
		lines, err := b.store.ValuationLines(ctx, "acme", v.ID, 0, 10)
		require.NoError(t, err)
		require.Empty(t, lines, "nothing half written")
		for _, f := range e.failedJobs(t) {
			require.Equal(t, valuation.Job, f.Job)
			require.Equal(t, runner.QueueLow, f.Queue)
			require.Equal(t, 1, f.Attempts, "permanent: no retries")
		}
	})
}
