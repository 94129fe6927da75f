package extsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/notifyhub/notifyhub/domain"
)

// Defaults of Options.
const (
	DefaultMaxPages      = 1000
	DefaultMaxPageBytes  = 8 << 20
	DefaultMaxPageRows   = 500
	DefaultHandoffMargin = 90 * time.Second
	maxRunErrors         = 100 // row errors kept in a run's errors
	defaultListLimit     = 50
	maxListLimit         = 200
)

// Options configure a Service. Zero values take the defaults noted.
type Options struct {
	// Policy says which hosts syncs may reach; the zero value allows
	// public addresses only (as ParseHostPolicy(nil)).
	Policy *HostPolicy
	// Breaker configures every endpoint's circuit breaker.
	Breaker BreakerPolicy
	// MaxPages bounds one run (default 1000): a run that reaches it
	// completes with a note in its errors.
	MaxPages int
	// MaxPageBytes bounds one response body (default 8 MiB).
	MaxPageBytes int64
	// MaxPageRows bounds the records of one page (default 500), so a page
	// is always handled well within the job's timeout.
	MaxPageRows int
	// HandoffMargin: when the job's attempt has less time left than this
	// (or than twice the request timeout), the run commits its page and
	// queues a new job for the rest, instead of being cut off. Default 90s.
	HandoffMargin time.Duration
	Now           func() time.Time
}

// Dispatcher queues a background job (workers/jobs.Dispatcher): inside
// InTx it joins the transaction.
type Dispatcher interface {
	Dispatch(ctx context.Context, tenant domain.TenantID, job string, payload any) (string, error)
}

// Service configures endpoints, accepts sync requests and, as the
// SyncExternalData job, runs them.
type Service struct {
	store   Store
	fetch   Fetcher
	jobs    Dispatcher
	writers Writers
	opts    Options
	policy  HostPolicy
}

// NewService returns a Service.
func NewService(store Store, fetch Fetcher, jobs Dispatcher, writers Writers, opts Options) *Service {
	policy, _ := ParseHostPolicy(nil)
	if opts.Policy != nil {
		policy = *opts.Policy
	}
	if opts.MaxPages <= 0 {
		opts.MaxPages = DefaultMaxPages
	}
	if opts.MaxPageBytes <= 0 {
		opts.MaxPageBytes = DefaultMaxPageBytes
	}
	if opts.MaxPageRows <= 0 {
		opts.MaxPageRows = DefaultMaxPageRows
	}
	if opts.HandoffMargin <= 0 {
		opts.HandoffMargin = DefaultHandoffMargin
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Breaker = opts.Breaker.withDefaults()
	return &Service{store: store, fetch: fetch, jobs: jobs, writers: writers, opts: opts, policy: policy}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

// PutConfig validates and stores the tenant's endpoint (perm admin). It
// also resets the endpoint's circuit breaker: saving the configuration is
// how an operator says the endpoint was fixed.
func (s *Service) PutConfig(ctx context.Context, actor domain.Actor, in ConfigInput) (ConfigView, error) {
	if err := actor.Require(domain.PermAdmin); err != nil {
		return ConfigView{}, err
	}
	base, timeout, auth, keep, err := in.validate(s.policy)
	if err != nil {
		return ConfigView{}, err
	}
	now := s.now()
	c := Config{TenantID: actor.TenantID, BaseURL: base, AuthHeader: auth, TimeoutSeconds: timeout,
		UpdatedBy: actor.UserID, CreatedAt: now, UpdatedAt: now}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		old, err := s.store.GetSyncConfig(ctx, actor.TenantID)
		switch {
		case err == nil:
			c.CreatedAt = old.CreatedAt
			if keep {
				c.AuthHeader = old.AuthHeader
			}
		case !errors.Is(err, domain.ErrNotFound):
			return err
		}
		if err := s.store.PutSyncConfig(ctx, c); err != nil {
			return err
		}
		return s.store.ResetBreaker(ctx, actor.TenantID, c.BaseURL)
	})
	if err != nil {
		return ConfigView{}, fmt.Errorf("put sync config: %w", err)
	}
	return c.View(Breaker{TenantID: c.TenantID, Endpoint: c.BaseURL, State: BreakerClosed}), nil
}

// GetConfig shows the tenant's endpoint and its breaker (perm admin: it
// describes the tenant's integration). domain.ErrNotFound when none is set.
func (s *Service) GetConfig(ctx context.Context, actor domain.Actor) (ConfigView, error) {
	if err := actor.Require(domain.PermAdmin); err != nil {
		return ConfigView{}, err
	}
	c, err := s.store.GetSyncConfig(ctx, actor.TenantID)
	if err != nil {
		return ConfigView{}, fmt.Errorf("sync config: %w", err)
	}
	b, err := s.store.GetBreaker(ctx, actor.TenantID, c.BaseURL)
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return ConfigView{}, err
	}
	return c.View(b), nil
}

// RequestInput is the body of POST /api/v1/syncs.
type RequestInput struct {
	Type Type `json:"type"`
}

// Request validates a sync, stores its run (pending) and queues the job,
// in one transaction (perm admin). A tenant without a configured endpoint
// gets a RuleError.
func (s *Service) Request(ctx context.Context, actor domain.Actor, in RequestInput) (Run, error) {
	if err := actor.Require(domain.PermAdmin); err != nil {
		return Run{}, err
	}
	if !in.Type.Valid() {
		return Run{}, domain.Invalid("type", "must be products, customers, inventory or orders")
	}
	r := Run{ID: domain.NewID(), TenantID: actor.TenantID, Type: in.Type, Status: StatusPending,
		RequestedBy: actor.UserID, CreatedAt: s.now()}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		c, err := s.store.GetSyncConfig(ctx, actor.TenantID)
		if errors.Is(err, domain.ErrNotFound) {
			return domain.Rule("sync_not_configured", "no external endpoint is configured: PUT /api/v1/sync-config first")
		}
		if err != nil {
			return err
		}
		r.Endpoint = c.BaseURL
		if err := s.store.InsertSyncRun(ctx, r); err != nil {
			return err
		}
		_, err = s.jobs.Dispatch(ctx, r.TenantID, Job, Payload{SyncID: r.ID})
		return err
	})
	if err != nil {
		return Run{}, fmt.Errorf("request sync: %w", err)
	}
	return r, nil
}

// Get returns one of the tenant's runs.
func (s *Service) Get(ctx context.Context, tenant domain.TenantID, id string) (Run, error) {
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Run{}, fmt.Errorf("sync %q: %w", id, domain.ErrNotFound)
	}
	return s.store.GetSyncRun(ctx, tenant, id)
}

// List pages through the tenant's runs, newest first.
func (s *Service) List(ctx context.Context, tenant domain.TenantID, p ListParams) ([]Run, error) {
	v := &domain.ValidationError{}
	if p.Type != "" && !p.Type.Valid() {
		v.Add("type", "must be products, customers, inventory or orders")
	}
	if p.Before != "" {
		id, err := domain.ParseID("before", p.Before)
		if err != nil {
			v.Add("before", "must be a sync id")
		}
		p.Before = id
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	switch {
	case p.Limit <= 0:
		p.Limit = defaultListLimit
	case p.Limit > maxListLimit:
		p.Limit = maxListLimit
	}
	return s.store.ListSyncRuns(ctx, tenant, p)
}

// MarkFailed records that the run's job gave up (it used its tries, or
// failed permanently); a retry of the failed job resumes it. A completed
// run stays completed.
func (s *Service) MarkFailed(ctx context.Context, tenant domain.TenantID, id string, cause error) error {
	id, err := domain.ParseID("sync_id", id)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		r, err := s.store.LockSyncRun(ctx, tenant, id)
		if err != nil || r.Status == StatusCompleted {
			return err
		}
		now := s.now()
		r.Status, r.FailedAt, r.LastError = StatusFailed, &now, clip(cause.Error(), 500)
		return s.store.UpdateSyncRun(ctx, r)
	})
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
