package extsync

import (
	"fmt"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// BreakerState is the state of an endpoint's circuit breaker.
type BreakerState string

const (
	// BreakerClosed: requests go out; consecutive failures are counted.
	BreakerClosed BreakerState = "closed"
	// BreakerOpen: the endpoint failed Threshold times in a row; requests
	// are refused until OpenUntil.
	BreakerOpen BreakerState = "open"
	// BreakerHalfOpen: the cool-down is over and one trial request is out
	// (until TrialUntil); its outcome closes or reopens the breaker.
	BreakerHalfOpen BreakerState = "half_open"
)

// Breaker is the persisted circuit breaker of one tenant endpoint. Every
// worker reads and changes it under its row lock, so all of them see one
// state: when it opens, no worker sends a request until the cool-down ends,
// and then exactly one trial goes out.
type Breaker struct {
	TenantID   domain.TenantID
	Endpoint   string // the base URL
	State      BreakerState
	Failures   int // consecutive failed requests
	OpenUntil  *time.Time
	TrialUntil *time.Time
	LastError  string
	UpdatedAt  time.Time
}

// BreakerPolicy configures the breakers.
type BreakerPolicy struct {
	// Threshold is how many consecutive failed requests open the breaker
	// (default 5).
	Threshold int
	// Cooldown is how long it stays open before a trial (default 5m).
	Cooldown time.Duration
}

// Defaults of a BreakerPolicy.
const (
	DefaultBreakerThreshold = 5
	DefaultBreakerCooldown  = 5 * time.Minute
)

func (p BreakerPolicy) withDefaults() BreakerPolicy {
	if p.Threshold <= 0 {
		p.Threshold = DefaultBreakerThreshold
	}
	if p.Cooldown <= 0 {
		p.Cooldown = DefaultBreakerCooldown
	}
	return p
}

// OpenError is returned instead of a request while the breaker is open
// (or its one trial is out). It is permanent: the job is not retried
// while the endpoint is known to fail.
type OpenError struct {
	Endpoint  string
	Until     time.Time // when a trial may go out
	Failures  int
	LastError string
	Trial     bool // a trial request is out
}

func (e *OpenError) Error() string {
	if e.Trial {
		return fmt.Sprintf("circuit breaker of %s is half-open: a trial request is in progress; try again after %s",
			e.Endpoint, e.Until.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("circuit breaker of %s is open after %d consecutive failed requests (last: %s); no requests until %s",
		e.Endpoint, e.Failures, e.LastError, e.Until.UTC().Format(time.RFC3339))
}

// Unwrap marks the error permanent for the job runner.
func (e *OpenError) Unwrap() error { return domain.ErrPermanent }

// allow decides whether a request may go out at now. It returns the
// breaker to store (a half-open trial taken) and whether it changed, or an
// *OpenError. lease bounds the trial: if its outcome is never recorded
// (the worker died), another trial may go out after it.
func (b Breaker) allow(now time.Time, lease time.Duration) (Breaker, bool, error) {
	switch b.State {
	case BreakerOpen:
		if b.OpenUntil != nil && now.Before(*b.OpenUntil) {
			return b, false, &OpenError{Endpoint: b.Endpoint, Until: *b.OpenUntil, Failures: b.Failures, LastError: b.LastError}
		}
		return b.trial(now, lease), true, nil
	case BreakerHalfOpen:
		if b.TrialUntil != nil && now.Before(*b.TrialUntil) {
			return b, false, &OpenError{Endpoint: b.Endpoint, Until: *b.TrialUntil, Failures: b.Failures, LastError: b.LastError, Trial: true}
		}
		return b.trial(now, lease), true, nil // the last trial's worker never reported
	}
	return b, false, nil
}

func (b Breaker) trial(now time.Time, lease time.Duration) Breaker {
	until := now.Add(lease)
	b.State, b.TrialUntil, b.UpdatedAt = BreakerHalfOpen, &until, now
	return b
}

// record applies a request's outcome (failure == "" for success) and
// returns the breaker to store. A success closes the breaker from any
// state; a failure counts, opens it at the threshold, and reopens a
// half-open one at once.
func (b Breaker) record(now time.Time, p BreakerPolicy, failure string) Breaker {
	p = p.withDefaults()
	b.UpdatedAt = now
	if failure == "" {
		b.State, b.Failures, b.OpenUntil, b.TrialUntil = BreakerClosed, 0, nil, nil
		return b
	}
	b.Failures++
	b.LastError = clip(failure, 300)
	switch {
	case b.State == BreakerHalfOpen, b.State != BreakerOpen && b.Failures >= p.Threshold:
		until := now.Add(p.Cooldown)
		b.State, b.OpenUntil, b.TrialUntil = BreakerOpen, &until, nil
	}
	return b
}

// BreakerView is the breaker as GET /api/v1/sync-config shows it.
type BreakerView struct {
	State     BreakerState `json:"state"`
	Failures  int          `json:"failures"`
	OpenUntil *time.Time   `json:"open_until"`
	LastError string       `json:"last_error,omitempty"`
}

// View is the public form of b.
func (b Breaker) View() BreakerView {
	if b.State == "" {
		b.State = BreakerClosed
	}
	return BreakerView{State: b.State, Failures: b.Failures, OpenUntil: b.OpenUntil, LastError: b.LastError}
}
