package valuation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// Limits.
const (
	defaultPageSize  = 200 // products read per ledger query and progress write
	DefaultLineLimit = 200 // lines per GET page
	MaxLineLimit     = 1000
	maxErrorLen      = 500
)

// Service accepts valuation requests and, as a background job, runs them.
type Service struct {
	store Store
	jobs  Dispatcher
	now   func() time.Time
	// PageSize is how many products one ledger read covers; progress is
	// written after each (default 200).
	PageSize int
}

// NewService returns a Service; now defaults to time.Now.
func NewService(store Store, jobs Dispatcher, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, jobs: jobs, now: now, PageSize: defaultPageSize}
}

// RequestInput is the body of POST /api/v1/valuations: at most one of
// the two; neither values every product at every location.
type RequestInput struct {
	ProductID  *string `json:"product_id"`
	LocationID *string `json:"location_id"`
}

func (in RequestInput) scope() (Scope, error) {
	v := &domain.ValidationError{}
	sc := Scope{Kind: ScopeAll}
	if in.ProductID != nil && in.LocationID != nil {
		v.Add("scope", "give product_id or location_id, not both (neither values every product)")
	}
	if in.ProductID != nil {
		id, err := domain.ParseID("product_id", *in.ProductID)
		if err != nil {
			v.Add("product_id", "must be a UUID")
		}
		sc = Scope{Kind: ScopeProduct, ProductID: id}
	}
	if in.LocationID != nil {
		id, err := domain.ParseID("location_id", *in.LocationID)
		if err != nil {
			v.Add("location_id", "must be a UUID")
		}
		sc = Scope{Kind: ScopeLocation, LocationID: id}
	}
	return sc, v.Err()
}

// Request validates a valuation request, stores it (pending) and queues
// the job that runs it, in one transaction: the job runs if and only if
// the valuation exists. A product or location that is not the tenant's
// (or a deleted product) is domain.ErrNotFound.
func (s *Service) Request(ctx context.Context, actor domain.Actor, in RequestInput) (Valuation, error) {
	if err := actor.Require(domain.PermInventoryManage); err != nil {
		return Valuation{}, err
	}
	sc, err := in.scope()
	if err != nil {
		return Valuation{}, err
	}
	v := Valuation{ID: domain.NewID(), TenantID: actor.TenantID, RequestedBy: actor.UserID, Scope: sc,
		Status: StatusPending, CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		switch sc.Kind {
		case ScopeProduct:
			if _, err := s.store.GetProduct(ctx, actor.TenantID, sc.ProductID); err != nil {
				return fmt.Errorf("product %s: %w", sc.ProductID, err)
			}
		case ScopeLocation:
			if _, err := s.store.GetLocation(ctx, actor.TenantID, sc.LocationID); err != nil {
				return fmt.Errorf("location %s: %w", sc.LocationID, err)
			}
		}
		if err := s.store.InsertValuation(ctx, v); err != nil {
			return err
		}
		_, err := s.jobs.Dispatch(ctx, v.TenantID, Job, Payload{ValuationID: v.ID})
		return err
	})
	if err != nil {
		return Valuation{}, fmt.Errorf("request valuation: %w", err)
	}
	return v, nil
}

// LinePage selects a page of a valuation's lines: those after the line
// number After (0: from the first), at most Limit (default 200, at most
// 1000).
type LinePage struct {
	After int
	Limit int
}

// Get returns one of the tenant's valuations with a page of its lines
// (none until it completed).
func (s *Service) Get(ctx context.Context, tenant domain.TenantID, id string, page LinePage) (Detail, error) {
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Detail{}, fmt.Errorf("valuation %q: %w", id, domain.ErrNotFound)
	}
	if page.After < 0 {
		return Detail{}, domain.Invalid("after", "must be a non-negative line number")
	}
	switch {
	case page.Limit <= 0:
		page.Limit = DefaultLineLimit
	case page.Limit > MaxLineLimit:
		page.Limit = MaxLineLimit
	}
	v, err := s.store.GetValuation(ctx, tenant, id)
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Summary: v.Summary(), Results: []Line{}}
	if v.Status != StatusCompleted {
		return d, nil
	}
	lines, err := s.store.ValuationLines(ctx, tenant, id, page.After, page.Limit)
	if err != nil {
		return Detail{}, err
	}
	d.Results = lines
	if n := len(lines); n > 0 && int64(lines[n-1].LineNo) < v.Totals.Lines {
		next := strconv.Itoa(lines[n-1].LineNo)
		d.ResultsNext = &next
	}
	return d, nil
}

// List pages through the tenant's valuations, newest first.
func (s *Service) List(ctx context.Context, tenant domain.TenantID, before string, limit int) ([]Summary, error) {
	if before != "" {
		id, err := domain.ParseID("before", before)
		if err != nil {
			return nil, err
		}
		before = id
	}
	list, err := s.store.ListValuations(ctx, tenant, before, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Summary, len(list))
	for i, v := range list {
		out[i] = v.Summary()
	}
	return out, nil
}

// Run is the job: it values the scope's products from their ledgers, a
// page of products at a time (progress committed after each), then
// writes every line and the totals in one transaction. It is safe to run
// again, after a crash or a takeover: a completed valuation is left as it
// is, an unfinished one is recomputed from the start and its lines
// replaced, so there is only ever one set of results.
func (s *Service) Run(ctx context.Context, tenant domain.TenantID, id string) error {
	id, err := domain.ParseID("valuation_id", id)
	if err != nil {
		return fmt.Errorf("run valuation: %w: %w", domain.ErrPermanent, err)
	}
	v, done, err := s.start(ctx, tenant, id)
	if err != nil || done {
		return err
	}
	lines, done, err := s.compute(ctx, v)
	if err != nil || done {
		return err
	}
	return s.finish(ctx, v, lines)
}

// start marks the valuation processing, with its progress reset, and
// reports done for one already completed.
func (s *Service) start(ctx context.Context, tenant domain.TenantID, id string) (v Valuation, done bool, err error) {
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if v, err = s.lock(ctx, tenant, id); err != nil {
			return err
		}
		if done = v.Status == StatusCompleted; done {
			return nil
		}
		total, err := s.store.CountScopeProducts(ctx, tenant, v.Scope)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if v.StartedAt == nil {
			v.StartedAt = &now
		}
		v.Status, v.Error, v.FailedAt = StatusProcessing, "", nil
		v.Progress = Progress{ProductsTotal: total}
		return s.store.UpdateValuation(ctx, v)
	})
	return v, done, err
}

func (s *Service) lock(ctx context.Context, tenant domain.TenantID, id string) (Valuation, error) {
	v, err := s.store.LockValuation(ctx, tenant, id)
	if errors.Is(err, domain.ErrNotFound) {
		return Valuation{}, fmt.Errorf("valuation %s of %s is gone: %w", id, tenant, domain.ErrPermanent)
	}
	return v, err
}

// compute reads the scope's ledgers page by page and returns the lines;
// done is true when another run completed the valuation meanwhile.
func (s *Service) compute(ctx context.Context, v Valuation) (lines []Line, done bool, err error) {
	codes, err := s.locationCodes(ctx, v.TenantID)
	if err != nil {
		return nil, false, err
	}
	size := max(s.PageSize, 1)
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		page, err := s.store.ScopeProducts(ctx, v.TenantID, v.Scope, after, size)
		if err != nil {
			return nil, false, err
		}
		if len(page) == 0 {
			return lines, false, nil
		}
		calcs := make(map[string]*Calculator, len(page))
		for _, p := range page {
			calcs[p.ID] = &Calculator{}
		}
		// The id range of the page also holds deleted products: their
		// movements are skipped.
		err = s.store.ProductLedgers(ctx, v.TenantID, page[0].ID, page[len(page)-1].ID, func(productID string, e Entry) {
			if c := calcs[productID]; c != nil {
				c.Apply(e)
			}
		})
		if err != nil {
			return nil, false, err
		}
		for _, p := range page {
			for _, pos := range calcs[p.ID].Positions() {
				if v.Scope.Kind == ScopeLocation && pos.LocationID != v.Scope.LocationID {
					continue
				}
				if pos.Quantity == 0 && len(pos.Layers) == 0 {
					continue // nothing there (any more): nothing to value
				}
				code, ok := codes[pos.LocationID]
				if !ok { // a location created since the run started
					if codes, err = s.locationCodes(ctx, v.TenantID); err != nil {
						return nil, false, err
					}
					code = codes[pos.LocationID]
				}
				lines = append(lines, Line{ProductID: p.ID, SKU: p.SKU, Name: p.Name, LocationID: pos.LocationID,
					LocationCode: code, Quantity: pos.Quantity, FIFOValue: pos.FIFOValue, AverageCost: pos.AverageCost,
					AverageValue: pos.AverageValue, Layers: pos.Layers, Warnings: pos.Warnings})
			}
		}
		if done, err := s.progress(ctx, v.TenantID, v.ID, int64(len(page))); err != nil || done {
			return nil, done, err
		}
		after = page[len(page)-1].ID
	}
}

func (s *Service) locationCodes(ctx context.Context, tenant domain.TenantID) (map[string]string, error) {
	locs, err := s.store.ListLocations(ctx, tenant)
	if err != nil {
		return nil, err
	}
	codes := make(map[string]string, len(locs))
	for _, l := range locs {
		codes[l.ID] = l.Code
	}
	return codes, nil
}

// progress adds n products done; done reports a valuation another run
// completed meanwhile.
func (s *Service) progress(ctx context.Context, tenant domain.TenantID, id string, n int64) (done bool, err error) {
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		v, err := s.lock(ctx, tenant, id)
		if err != nil {
			return err
		}
		if done = v.Status == StatusCompleted; done {
			return nil
		}
		v.Progress.ProductsDone += n
		v.Progress.ProductsTotal = max(v.Progress.ProductsTotal, v.Progress.ProductsDone)
		return s.store.UpdateValuation(ctx, v)
	})
	return done, err
}

// finish writes the lines, the totals and status completed in one
// transaction, unless another run completed the valuation first.
func (s *Service) finish(ctx context.Context, v Valuation, lines []Line) error {
	slices.SortFunc(lines, func(a, b Line) int {
		return cmp.Or(cmp.Compare(a.SKU, b.SKU), cmp.Compare(a.LocationCode, b.LocationCode),
			cmp.Compare(a.ProductID, b.ProductID), cmp.Compare(a.LocationID, b.LocationID))
	})
	totals := Totals{FIFOValue: decimal.Zero, AverageValue: decimal.Zero}
	for i := range lines {
		l := &lines[i]
		l.LineNo = i + 1
		totals.Lines++
		totals.Quantity += l.Quantity
		totals.FIFOValue = totals.FIFOValue.Add(l.FIFOValue)
		totals.AverageValue = totals.AverageValue.Add(l.AverageValue)
		totals.Warnings += int64(len(l.Warnings))
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		cur, err := s.lock(ctx, v.TenantID, v.ID)
		if err != nil || cur.Status == StatusCompleted {
			return err
		}
		if err := s.store.ReplaceValuationLines(ctx, v.TenantID, v.ID, lines); err != nil {
			return err
		}
		now := s.now().UTC()
		cur.Status, cur.Totals, cur.CompletedAt, cur.Error, cur.FailedAt = StatusCompleted, totals, &now, "", nil
		cur.Progress.ProductsTotal = cur.Progress.ProductsDone // what was read, products created or deleted meanwhile aside
		return s.store.UpdateValuation(ctx, cur)
	})
}

// MarkFailed records that the valuation's job gave up (it used its
// tries); retrying the failed job runs it again. A completed valuation
// stays completed.
func (s *Service) MarkFailed(ctx context.Context, tenant domain.TenantID, id string, cause error) error {
	id, err := domain.ParseID("valuation_id", id)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		v, err := s.store.LockValuation(ctx, tenant, id)
		if err != nil || v.Status == StatusCompleted {
			return err
		}
		now := s.now().UTC()
		v.Status, v.FailedAt = StatusFailed, &now
		v.Error = clip(cause.Error(), maxErrorLen)
		return s.store.UpdateValuation(ctx, v)
	})
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
