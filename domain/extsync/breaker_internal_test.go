package extsync

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

func TestBreakerOpensAfterThresholdAndTrialsAfterCooldown(t *testing.T) {
	t.Parallel()
	p := BreakerPolicy{Threshold: 3, Cooldown: time.Minute}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b := Breaker{TenantID: "acme", Endpoint: "https://erp.example.com", State: BreakerClosed}

	// Closed: requests go; failures count; a success resets them.
	b = b.record(t0, p, "GET x: 500")
	b = b.record(t0, p, "GET x: 500")
	require.Equal(t, BreakerClosed, b.State)
	require.Equal(t, 2, b.Failures)
	b = b.record(t0, p, "")
	require.Equal(t, 0, b.Failures, "a success resets the count: failures must be consecutive")

	for range 3 {
		_, changed, err := b.allow(t0, 10*time.Second)
		require.NoError(t, err)
		require.False(t, changed)
		b = b.record(t0, p, "GET x: no complete response within 1s")
	}
	require.Equal(t, BreakerOpen, b.State, "the third consecutive failure opens it")
	require.Equal(t, t0.Add(time.Minute), *b.OpenUntil)

	// Open: refused, permanently, with a clear message.
	_, _, err := b.allow(t0.Add(59*time.Second), 10*time.Second)
	var open *OpenError
	require.ErrorAs(t, err, &open)
	require.True(t, domain.Permanent(err), "not retried while open")
	require.Contains(t, err.Error(), "open after 3 consecutive failed requests")
	require.Contains(t, err.Error(), "no complete response within 1s")

	// After the cool-down exactly one trial goes out.
	trial, changed, err := b.allow(t0.Add(time.Minute), 10*time.Second)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, BreakerHalfOpen, trial.State)
	_, _, err = trial.allow(t0.Add(time.Minute+time.Second), 10*time.Second)
	require.ErrorAs(t, err, &open)
	require.True(t, open.Trial, "a second caller waits for the trial")
	require.Contains(t, err.Error(), "trial request is in progress")

	// A failed trial reopens it for a full cool-down.
	reopened := trial.record(t0.Add(61*time.Second), p, "GET x: 503")
	require.Equal(t, BreakerOpen, reopened.State)
	require.Equal(t, t0.Add(2*time.Minute+time.Second), *reopened.OpenUntil)

	// A trial whose worker died (lease over) lets another trial go.
	again, changed, err := trial.allow(t0.Add(time.Minute+11*time.Second), 10*time.Second)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, BreakerHalfOpen, again.State)

	// A successful trial closes it.
	closed := again.record(t0.Add(72*time.Second), p, "")
	require.Equal(t, BreakerClosed, closed.State)
	require.Zero(t, closed.Failures)
	require.Nil(t, closed.OpenUntil)
	require.Nil(t, closed.TrialUntil)
}

func TestBreakerDefaultsAndView(t *testing.T) {
	t.Parallel()
	p := BreakerPolicy{}.withDefaults()
	require.Equal(t, DefaultBreakerThreshold, p.Threshold)
	require.Equal(t, DefaultBreakerCooldown, p.Cooldown)
	require.Equal(t, BreakerClosed, Breaker{}.View().State)
	long := Breaker{}.record(time.Now(), p, string(make([]byte, 1000)))
	require.LessOrEqual(t, len([]rune(long.LastError)), 300)
	require.True(t, errors.Is(&OpenError{}, domain.ErrPermanent))
}
