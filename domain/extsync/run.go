package extsync

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// Run runs a sync (the SyncExternalData job): page by page, it fetches
// from the tenant's endpoint, upserts each record, and commits the page's
// counts together with where to resume. A run resumes at the first page
// not yet committed and returns at once for a completed run, so running it
// again is safe: records are upserted by natural key, so a page redone
// after a crash changes nothing twice. When the job's attempt nears its
// deadline, the run commits the page it has and queues a new job for the
// remaining pages, so the length of a sync is bounded by MaxPages, not by
// the job's timeout and tries.
//
// Errors: a transient fetch failure (timeout, connection, 5xx) returns a
// plain error for the job to retry with backoff; a malformed or oversized
// page, a 4xx, a refused host, an open circuit breaker or a missing
// configuration return errors marked domain.ErrPermanent. Records that
// fail validation are counted and listed, never fatal.
func (s *Service) Run(ctx context.Context, tenant domain.TenantID, id string) error {
	id, err := domain.ParseID("sync_id", id)
	if err != nil {
		return fmt.Errorf("sync: %w: %w", domain.ErrPermanent, err)
	}
	r, cfg, err := s.start(ctx, tenant, id)
	if err != nil || r.Status == StatusCompleted {
		return err
	}
	for {
		done, err := s.step(ctx, r.ID, tenant, cfg)
		if err != nil {
			s.noteError(ctx, tenant, r.ID, err)
			return err
		}
		if done {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// start marks the run processing (counting the attempt) and loads the
// configuration it runs against.
func (s *Service) start(ctx context.Context, tenant domain.TenantID, id string) (Run, Config, error) {
	var (
		r   Run
		cfg Config
	)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		r, err = s.store.LockSyncRun(ctx, tenant, id)
		if errors.Is(err, domain.ErrNotFound) {
			return fmt.Errorf("sync %s of %s is gone: %w", id, tenant, domain.ErrPermanent)
		}
		if err != nil || r.Status == StatusCompleted {
			return err
		}
		cfg, err = s.store.GetSyncConfig(ctx, tenant)
		if errors.Is(err, domain.ErrNotFound) {
			return fmt.Errorf("no external endpoint is configured for %s: %w", tenant, domain.ErrPermanent)
		}
		if err != nil {
			return err
		}
		if r.StartedAt == nil {
			now := s.now()
			r.StartedAt = &now
		}
		r.Status, r.LastError, r.FailedAt, r.Endpoint = StatusProcessing, "", nil, cfg.BaseURL
		r.Attempts++
		return s.store.UpdateSyncRun(ctx, r)
	})
	return r, cfg, err
}

// step fetches and handles the run's next page and reports whether the run
// is done.
func (s *Service) step(ctx context.Context, id string, tenant domain.TenantID, cfg Config) (bool, error) {
	r, err := s.store.GetSyncRun(ctx, tenant, id)
	if err != nil || r.Status == StatusCompleted {
		return err == nil, err
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return false, fmt.Errorf("stored base_url %q: %w: %w", cfg.BaseURL, domain.ErrPermanent, err)
	}
	target := r.NextURL
	if target == "" {
		target = firstURL(base, r.Type)
	}
	current, err := url.Parse(target)
	if err != nil || !sameOrigin(current, base) {
		// The configuration changed while the run was under way: its
		// remaining pages belong to another endpoint.
		return false, fmt.Errorf("the sync configuration changed during the run (was %s, now %s): request a new sync: %w",
			r.Endpoint, cfg.BaseURL, domain.ErrPermanent)
	}
	if r.Pages >= s.opts.MaxPages {
		return true, s.finish(ctx, r, page{}, nil, &RowError{Page: r.Pages,
			Message: fmt.Sprintf("stopped after %d pages, the most one run fetches; the endpoint had more", s.opts.MaxPages)})
	}
	pg, err := s.fetchPage(ctx, cfg, base, current, r)
	if err != nil {
		return false, err
	}
	counts := pageCounts{}
	for i, raw := range pg.rows {
		key, err := s.upsert(ctx, r, raw)
		if err == nil {
			counts.upserted++
			continue
		}
		msg, row := rowFailure(err)
		if !row {
			return false, fmt.Errorf("page %d record %d: %w", r.Pages+1, i+1, err)
		}
		counts.failed++
		counts.errors = append(counts.errors, RowError{Page: r.Pages + 1, Row: i + 1, Key: clip(key, 100), Message: clip(msg, 300)})
	}
	// Near the job's deadline, the next pages go to a new job queued with
	// this page's progress: a long sync never runs out of tries just by
	// being long.
	handoff := pg.next != "" && s.nearDeadline(ctx, cfg)
	counts.handoff = handoff
	return pg.next == "" || handoff, s.finish(ctx, r, pg, &counts, nil)
}

type pageCounts struct {
	upserted, failed int64
	errors           []RowError
	handoff          bool // queue a job for the remaining pages
}

// nearDeadline reports whether ctx (the job's attempt) ends too soon for
// another page.
func (s *Service) nearDeadline(ctx context.Context, cfg Config) bool {
	deadline, ok := ctx.Deadline()
	return ok && time.Until(deadline) < max(s.opts.HandoffMargin, 2*cfg.Timeout())
}

// fetchPage asks the breaker, fetches, decodes, and tells the breaker how
// it went.
func (s *Service) fetchPage(ctx context.Context, cfg Config, base, current *url.URL, r Run) (page, error) {
	if err := s.allow(ctx, cfg); err != nil {
		return page{}, err
	}
	body, err := s.fetch.Fetch(ctx, Request{
		URL: current.String(), AuthHeader: cfg.AuthHeader, Timeout: cfg.Timeout(), MaxBytes: s.opts.MaxPageBytes,
	})
	var pg page
	if err == nil {
		pg, err = parsePage(body, base, current, r.Type, s.opts.MaxPageRows)
		if err != nil {
			err = fmt.Errorf("page %d (%s): %w: %w", r.Pages+1, current.Redacted(), err, domain.ErrPermanent)
		}
	}
	var fe *FetchError
	switch {
	case err != nil && errors.As(err, &fe) && fe.Refused:
		// Nothing was sent: the endpoint did not fail.
	case err != nil && ctx.Err() != nil:
		// Our own deadline or shutdown, not the endpoint's fault.
	default:
		if rerr := s.record(ctx, cfg, err); rerr != nil && err == nil {
			return page{}, rerr
		}
	}
	return pg, err
}

// allow takes the breaker's permission for one request.
func (s *Service) allow(ctx context.Context, cfg Config) error {
	return s.store.InTx(ctx, func(ctx context.Context) error {
		b, err := s.store.LockBreaker(ctx, cfg.TenantID, cfg.BaseURL)
		if err != nil {
			return err
		}
		// The trial's lease outlasts its request by a margin.
		next, changed, err := b.allow(s.now(), cfg.Timeout()+5*time.Second)
		if err != nil || !changed {
			return err
		}
		return s.store.SaveBreaker(ctx, next)
	})
}

// record tells the breaker how a request went (nil: it succeeded).
func (s *Service) record(ctx context.Context, cfg Config, outcome error) error {
	failure := ""
	if outcome != nil {
		failure = outcome.Error()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return s.store.InTx(ctx, func(ctx context.Context) error {
		b, err := s.store.LockBreaker(ctx, cfg.TenantID, cfg.BaseURL)
		if err != nil {
			return err
		}
		return s.store.SaveBreaker(ctx, b.record(s.now(), s.opts.Breaker, failure))
	})
}

// finish commits a page: its counts and errors, the next page to fetch,
// and completion after the last one. A run that moved past this page
// meanwhile (a redelivered job racing this one) is left alone.
func (s *Service) finish(ctx context.Context, r Run, pg page, counts *pageCounts, note *RowError) error {
	return s.store.InTx(ctx, func(ctx context.Context) error {
		cur, err := s.store.LockSyncRun(ctx, r.TenantID, r.ID)
		if err != nil {
			return err
		}
		if cur.Status == StatusCompleted || cur.Pages != r.Pages {
			return nil
		}
		if counts != nil {
			cur.Pages++
			cur.Fetched += int64(len(pg.rows))
			cur.Upserted += counts.upserted
			cur.Failed += counts.failed
			cur.addErrors(counts.errors...)
			cur.NextURL = pg.next
		}
		if note != nil {
			cur.addErrors(*note)
		}
		if counts != nil && counts.handoff {
			if _, err := s.jobs.Dispatch(ctx, cur.TenantID, Job, Payload{SyncID: cur.ID}); err != nil {
				return err
			}
		}
		if counts == nil || pg.next == "" {
			now := s.now()
			cur.Status, cur.CompletedAt, cur.FailedAt, cur.LastError = StatusCompleted, &now, nil, ""
		}
		return s.store.UpdateSyncRun(ctx, cur)
	})
}

func (r *Run) addErrors(errs ...RowError) {
	for _, e := range errs {
		if len(r.Errors) >= maxRunErrors {
			return
		}
		r.Errors = append(r.Errors, e)
	}
}

// noteError keeps the latest attempt's error on the run, so GET shows why
// it is waiting for a retry. Best effort: the job's failure is what counts.
func (s *Service) noteError(ctx context.Context, tenant domain.TenantID, id string, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = s.store.InTx(ctx, func(ctx context.Context) error {
		r, err := s.store.LockSyncRun(ctx, tenant, id)
		if err != nil || r.Status != StatusProcessing {
			return err
		}
		r.LastError = clip(cause.Error(), 500)
		return s.store.UpdateSyncRun(ctx, r)
	})
}
