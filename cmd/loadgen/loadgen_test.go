package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentilesByNearestRank(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := summarize(ds)
	require.Equal(t, time.Millisecond, l.Min)
	require.Equal(t, 50*time.Millisecond, l.P50)
	require.Equal(t, 95*time.Millisecond, l.P95)
	require.Equal(t, 99*time.Millisecond, l.P99)
	require.Equal(t, 100*time.Millisecond, l.Max)

	require.Equal(t, Latency{Min: 7, P50: 7, P95: 7, P99: 7, Max: 7}, summarize([]time.Duration{7}))
	require.Equal(t, Latency{}, summarize(nil))
	// Three samples: p50 is the 2nd (ceil(1.5)), p95 and p99 the 3rd.
	require.Equal(t, Latency{Min: 1, P50: 2, P95: 3, P99: 3, Max: 3}, summarize([]time.Duration{3, 1, 2}))
}

// The ledger counts a missing delivery as lost, an extra copy as
// duplicated and a delivery to someone it was not addressed to as stray,
// and computes latency from the send time.
func TestLedgerAccounting(t *testing.T) {
	t.Parallel()
	l := newLedger(4)
	// Messages 0..2 to clients 0..2; message 3 was refused by the server.
	for n := range 3 {
		l.sent[n] = int64(1000 * (n + 1))
		l.target[n] = int32(n)
	}
	l.member = func(n, c int) bool { return int(l.target[n]) == c }
	l.recipients = func(int) int { return 1 }
	const p = 2
	byClient := [][]receipt{
		{{phase: p, n: 0, at: 1500}, {phase: p, n: 0, at: 1600}}, // twice
		{{phase: p + 1, n: 1, at: 2500}},                         // another phase's: ignored
		{{phase: p, n: 2, at: 3900}, {phase: p, n: 1, at: 2100}}, // 1 is not client 2's
		{{phase: p, n: 3, at: 9999}, {phase: p, n: 77, at: 1}},   // never sent, out of range
	}
	tl := l.account(p, byClient)
	require.Equal(t, 3, tl.Sent)
	require.Equal(t, 3, tl.Expected)
	require.Equal(t, 2, tl.Received)
	require.Equal(t, 1, tl.Lost)
	require.Equal(t, 1, tl.Duplicated)
	require.Equal(t, 3, tl.Stray)
	require.ElementsMatch(t, []time.Duration{500, 900}, tl.latencies)
	require.InDelta(t, 2/(float64(3900-1000)/1e9), tl.Rate(), 1e-6)
}

// A broadcast is one message reaching every client of its tenant (all of
// them get the same notification id): each client's first copy counts as
// received, whatever the others got, and only a client's own extra copy
// as duplicated.
func TestLedgerAccountsBroadcastsPerClient(t *testing.T) {
	t.Parallel()
	tenantOf := []int{0, 0, 0, 1} // clients 0-2 in tenant 0, client 3 in tenant 1
	l := newLedger(2)
	for n := range 2 {
		l.sent[n] = int64(1000 * (n + 1))
		l.target[n] = int32(n) // message 0 to tenant 0, message 1 to tenant 1
	}
	l.member = func(n, c int) bool { return tenantOf[c] == int(l.target[n]) }
	l.recipients = func(n int) int { return map[int32]int{0: 3, 1: 1}[l.target[n]] }
	const p = 5
	byClient := [][]receipt{
		{{phase: p, n: 0, at: 1100}},
		{{phase: p, n: 0, at: 1200}, {phase: p, n: 0, at: 1300}}, // twice
		{{phase: p, n: 1, at: 2100}},                             // another tenant's: stray, and 0 never came
		{{phase: p, n: 1, at: 2200}},
	}
	tl := l.account(p, byClient)
	require.Equal(t, 2, tl.Sent)
	require.Equal(t, 4, tl.Expected)
	require.Equal(t, 3, tl.Received)
	require.Equal(t, 1, tl.Lost)
	require.Equal(t, 1, tl.Duplicated)
	require.Equal(t, 1, tl.Stray)
	require.ElementsMatch(t, []time.Duration{100, 200, 200}, tl.latencies)
}

// Against a tiny in-process server that drops one personal message,
// duplicates another and misroutes a third, and duplicates one broadcast,
// the report says exactly that, and counts everything else as delivered
// (a broadcast's recipients all get the same notification id, as from
// notifyhub).
func TestRunAccountsLossAndDuplicates(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	f.setFault(phasePersonal, 3, drop)
	f.setFault(phasePersonal, 5, twice)
	f.setFault(phasePersonal, 7, misroute)
	f.setFault(phaseBroadcast, 1, twice)
	cfg := f.config()
	cfg.Phases = []string{phaseConnect, phasePersonal, phasePersonalMax, phaseBroadcast}
	cfg.Drain = time.Second // the dropped ones never come
	rep, err := Run(context.Background(), cfg, io.Discard)
	require.NoError(t, err)
	require.Len(t, rep.Phases, 4)

	conn := rep.Phases[0]
	require.Equal(t, phaseConnect, conn.Name)
	require.Equal(t, 12, conn.Received)
	require.Zero(t, conn.Lost)

	personal := rep.Phases[1]
	require.Equal(t, phasePersonal, personal.Name)
	require.Equal(t, 30, personal.Sent) // --max-messages, at 100/s
	require.Equal(t, 30, personal.Expected)
	require.Equal(t, 28, personal.Received, "3 dropped and 7 misrouted")
	require.Equal(t, 2, personal.Lost)
	require.Equal(t, 1, personal.Duplicated)
	require.Equal(t, 1, personal.Stray, "7 went to the wrong user")
	require.Positive(t, personal.Latency.P50)
	require.LessOrEqual(t, personal.Latency.P50, personal.Latency.P99)

	pmax := rep.Phases[2]
	require.Equal(t, phasePersonalMax, pmax.Name)
	require.Equal(t, 30, pmax.Sent) // --max-messages
	require.Equal(t, 30, pmax.Received)
	require.Zero(t, pmax.Lost+pmax.Duplicated+pmax.Stray)

	bc := rep.Phases[3]
	require.Equal(t, phaseBroadcast, bc.Name)
	// 400 deliveries/s to tenants of 4 clients: 100 broadcasts/s, 30 of them.
	require.Equal(t, 30, bc.Sent)
	require.Equal(t, 120, bc.Expected)
	require.Equal(t, 120, bc.Received)
	require.Zero(t, bc.Lost)
	require.Equal(t, 4, bc.Duplicated, "broadcast 1 came twice to each of its tenant's 4 clients")
	require.False(t, rep.Clean())

	var out strings.Builder
	rep.writeTable(&out)
	require.Contains(t, out.String(), "personal-max")
	require.Contains(t, out.String(), "busy %")
	require.NoError(t, rep.writeJSON(&out))
}

// A client whose socket the server closes (1013) reconnects with ?since=
// its last notification and gets what it missed: nothing is lost, nothing
// duplicated.
func TestClientsReconnectWithSince(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	f.setFault(phasePersonal, 4, disconnect)
	f.setFault(phasePersonal, 9, disconnect)
	f.setFault(phaseBroadcast, 2, disconnect) // every client of a tenant
	cfg := f.config()
	cfg.Phases = []string{phaseConnect, phasePersonal, phaseBroadcast}
	rep, err := Run(context.Background(), cfg, io.Discard)
	require.NoError(t, err)
	for _, p := range rep.Phases {
		require.Zero(t, p.Lost, p.Name)
		require.Zero(t, p.Duplicated, p.Name)
		require.Zero(t, p.Stray, p.Name)
	}
	require.GreaterOrEqual(t, rep.Reconnects, 6) // 2 personal + 4 clients of a tenant
	require.True(t, rep.Clean())
}

// A server without the endpoint a phase needs gets that phase skipped, not
// failed; the business phase is skipped when its setup is refused.
func TestMissingEndpointsSkipPhases(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	cfg := f.config()
	cfg.URL = f.srv.URL
	cfg.Phases = []string{phaseConnect, phaseBusiness}
	rep, err := Run(context.Background(), cfg, io.Discard)
	require.NoError(t, err)
	require.Len(t, rep.Phases, 2)
	require.Contains(t, rep.Phases[1].Skipped, "setup failed")
	require.True(t, rep.Clean())
}

func TestRefusesNonLoopbackTargets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, u := range []string{
		"http://10.0.0.1:8080", "http://192.168.1.10", "http://[2001:db8::1]:8080", "http://0.0.0.0:8080",
		"http://8.8.8.8", "http://[::ffff:10.0.0.1]:80",
	} {
		_, err := resolveTarget(ctx, u)
		require.ErrorIs(t, err, errNotLoopback, u)
	}
	for _, u := range []string{"https://127.0.0.1:8080", "ws://127.0.0.1/ws", "http://127.0.0.1:8080/api", "http://u:p@127.0.0.1", "http://127.0.0.1:99999", "::"} {
		_, err := resolveTarget(ctx, u)
		require.Error(t, err, u)
	}
	for u, want := range map[string]string{
		"http://127.0.0.1:8080":        "http://127.0.0.1:8080",
		"http://127.9.9.9:1":           "http://127.9.9.9:1",
		"http://[::1]:8080/":           "http://[::1]:8080",
		"http://[::ffff:127.0.0.1]:80": "http://127.0.0.1:80",
	} {
		tg, err := resolveTarget(ctx, u)
		require.NoError(t, err, u)
		require.Equal(t, want, tg.base)
	}

	// The whole run refuses before sending anything.
	cfg := Config{URL: "http://10.1.2.3:9", Secret: testSecret, Clients: 1, Tenants: 1, MaxDuration: time.Minute}
	_, err := Run(ctx, cfg, io.Discard)
	require.ErrorIs(t, err, errNotLoopback)

	// And so does the command line.
	err = run([]string{"--url", "http://192.0.2.1:8080", "--secret", testSecret}, io.Discard, io.Discard)
	require.ErrorIs(t, err, errNotLoopback)
}

// A server that accepts every send and delivers nothing cannot keep the
// load generator running: --max-duration ends the run, whatever the
// phase's own duration and drain say.
func TestStopsAtMaxDuration(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	f.silent = true
	cfg := f.config()
	cfg.Phases = []string{phaseConnect, phasePersonal, phaseBroadcast}
	cfg.Duration, cfg.Drain, cfg.MaxMessages = time.Minute, time.Minute, 1_000_000
	cfg.MaxDuration = 1500 * time.Millisecond
	start := time.Now()
	rep, err := Run(context.Background(), cfg, io.Discard)
	require.NoError(t, err)
	// A bound, not a measurement: a run that ignored --max-duration would
	// take minutes.
	require.Less(t, time.Since(start), 20*time.Second)
	require.False(t, rep.Clean())
	require.Positive(t, rep.Phases[1].Lost)
	require.NotEmpty(t, rep.Notes)
}

func TestFlagsAreBounded(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--clients", "0"}, {"--clients", "1000000"}, {"--tenants", "0"}, {"--max-duration", "5h"},
		{"--duration", "0s"}, {"--personal-rate", "-1"}, {"--phases", "connect,bogus"}, {"--max-messages", "0"},
		{"--senders", "100000"}, {"--spawn-database-url", "postgres://x"},
		{"--personal-senders", "100000"}, {"--personal-senders", "-1"},
	} {
		_, err := parseFlags(append(args, "--secret", testSecret), io.Discard)
		require.Error(t, err, args)
	}
	_, err := parseFlags([]string{"--secret", ""}, io.Discard)
	require.ErrorContains(t, err, "--secret")
	cfg, err := parseFlags([]string{"--secret", testSecret, "--phases", "connect, business"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"connect", "business"}, cfg.Phases)
	require.Equal(t, 256, cfg.personalSenders(), "the personal phases' own default")
	cfg, err = parseFlags([]string{"--secret", testSecret, "--senders", "7", "--personal-senders", "0"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 7, cfg.personalSenders(), "0 falls back to --senders")
}
