package hub

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func TestNewAppliesDefaults(t *testing.T) {
	t.Parallel()
	h, err := New(Config{}, newFakeHistory())
	require.NoError(t, err)
	require.Equal(t, DefaultQueueSize, h.cfg.QueueSize)
	require.Equal(t, DefaultWriteTimeout, h.cfg.WriteTimeout)
	require.Equal(t, int64(DefaultReadLimit), h.cfg.ReadLimit)
	require.Equal(t, DefaultCatchupBatch, h.cfg.CatchupBatch)
	require.Equal(t, DefaultPingInterval, h.cfg.PingInterval)
	require.Equal(t, DefaultHistoryTimeout, h.cfg.HistoryTimeout)
	require.Equal(t, DefaultMaxConcurrentRefills, h.cfg.MaxConcurrentRefills)
	require.Equal(t, DefaultMaxConcurrentRefills, cap(h.slots))
	require.Equal(t, DefaultResyncJitter, h.cfg.ResyncJitter)
	require.Equal(t, DefaultUnreadCountDebounce, h.cfg.UnreadCountDebounce)
	require.Equal(t, DefaultReadRaceWindow, h.cfg.ReadRaceWindow)
	require.NotNil(t, h.log)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"negative queue":      {QueueSize: -1},
		"negative timeout":    {WriteTimeout: -time.Second},
		"tiny read limit":     {ReadLimit: 10},
		"negative batch":      {CatchupBatch: -5},
		"negative history":    {HistoryTimeout: -time.Second},
		"negative refills":    {MaxConcurrentRefills: -1},
		"origin with scheme":  {AllowedOrigins: []string{"https://app.example.com"}},
		"origin with path":    {AllowedOrigins: []string{"app.example.com/ws"}},
		"empty origin":        {AllowedOrigins: []string{""}},
		"origin with a space": {AllowedOrigins: []string{"app.example.com localhost:*"}},
	} {
		_, err := New(cfg, newFakeHistory())
		require.Error(t, err, name)
	}
	require.NoError(t, Config{}.Validate(), "zero values stand for the defaults")
	_, err := New(Config{AllowedOrigins: []string{"app.example.com", "*.example.com", "localhost:*"}, PingInterval: -1}, newFakeHistory())
	require.NoError(t, err, "valid patterns; negative ping interval disables pings")
	h, err := New(Config{ResyncJitter: -1, UnreadCountDebounce: -1, ReadRaceWindow: -1}, newFakeHistory())
	require.NoError(t, err, "negative durations switch jitter, debounce and distrust off")
	require.Negative(t, h.cfg.ResyncJitter)
}

func TestNewRequiresHistory(t *testing.T) {
	t.Parallel()
	_, err := New(Config{}, nil)
	require.Error(t, err)
}

func TestNewRegistersMetricsOnce(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	_, err := New(Config{Registerer: reg}, newFakeHistory())
	require.NoError(t, err)
	_, err = New(Config{Registerer: reg}, newFakeHistory())
	require.Error(t, err, "two hubs on one registry collide")
}

func TestMatchHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		{"app.example.com", "app.example.com", true},
		{"app.example.com", "APP.Example.com", true},
		{"app.example.com", "app.example.com:443", false},
		{"app.example.com", "xapp.example.com", false},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "a.example.com.evil.org", false},
		{"*.example.com", "evilexample.com", false},
		{"localhost:*", "localhost:3000", true},
		{"localhost:*", "localhost", false},
		{"localhost:*", "localhost.evil.org:80", false},
		{"*", "anything:1", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"**", "", true},
	} {
		require.Equal(t, tc.want, matchHost(tc.pattern, tc.host), "%q vs %q", tc.pattern, tc.host)
	}
}
