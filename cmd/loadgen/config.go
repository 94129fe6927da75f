package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// Phase names, in the order they run.
const (
	phaseConnect      = "connect"
	phaseBusiness     = "business"
	phasePersonal     = "personal"
	phasePersonalMax  = "personal-max"
	phaseBroadcast    = "broadcast"
	phaseBroadcastMax = "broadcast-max"
)

var allPhases = [numPhases]string{phaseConnect, phaseBusiness, phasePersonal, phasePersonalMax, phaseBroadcast, phaseBroadcastMax}

const numPhases = 6

// Hard ceilings: whatever the flags say, a run stays bounded.
const (
	maxClients     = 50_000
	maxMessages    = 10_000_000
	maxRate        = 1_000_000
	maxPhaseTime   = 10 * time.Minute
	maxRunTime     = time.Hour
	maxSenders     = 1024
	maxConcurrency = 1024
)

// Config is one run.
type Config struct {
	URL    string
	Secret string
	PID    int

	Spawn            string // notifyhub binary to start on a fresh port ("" = use URL)
	SpawnDatabaseURL string // "" = a SQLite file in a temporary directory
	SpawnRedisURL    string
	SpawnArgs        []string // more `serve` flags for the spawned server

	Clients            int
	Tenants            int
	ConnectConcurrency int
	AlertUsers         int // per tenant, clients holding inventory.alerts
	Phases             []string

	Duration      time.Duration // sending window of each phase
	MaxMessages   int           // cap on messages (commands) per phase
	PersonalRate  float64       // notifications per second
	BroadcastRate float64       // deliveries per second
	BusinessRate  float64       // stock movement commands per second
	Senders       int           // concurrent HTTP senders
	// PersonalSenders are the senders of the personal phases (0: Senders):
	// one notification a request, so the phase goes only as fast as
	// senders divided by the server's latency.
	PersonalSenders int
	Drain           time.Duration // wait for outstanding deliveries after sending
	Settle          time.Duration // idle wait before the memory sample after connecting
	GCWait          time.Duration // longest wait for the server's next GC after connecting (0: none)
	MaxDuration     time.Duration // whole run

	JSON bool
}

func parseFlags(args []string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "server base URL (loopback only)")
	fs.StringVar(&c.Secret, "secret", os.Getenv("NOTIFYHUB_JWT_SECRET"), "the server's HS256 secret, to sign the clients' tokens")
	fs.IntVar(&c.PID, "pid", 0, "server process id (default: the process listening on --url's port)")
	fs.StringVar(&c.Spawn, "spawn", "", "path of a notifyhub binary to start on a free loopback port for this run (and stop after)")
	fs.StringVar(&c.SpawnDatabaseURL, "spawn-database-url", "", "DATABASE_URL of the spawned server (default: a fresh SQLite file)")
	fs.StringVar(&c.SpawnRedisURL, "spawn-redis-url", "", "REDIS_URL of the spawned server (default: none, embedded mode)")
	spawnArgs := fs.String("spawn-args", "", "more flags for the spawned `notifyhub serve`, space-separated (e.g. \"--concurrency=4\")")
	fs.IntVar(&c.Clients, "clients", 1000, "WebSocket clients, one user each")
	fs.IntVar(&c.Tenants, "tenants", 10, "tenants the clients are spread over")
	fs.IntVar(&c.ConnectConcurrency, "connect-concurrency", 64, "handshakes in flight while connecting")
	fs.IntVar(&c.AlertUsers, "alert-users", 2, "clients per tenant holding inventory.alerts (recipients of the business phase)")
	phases := fs.String("phases", strings.Join(allPhases[:], ","), "phases to run: "+strings.Join(allPhases[:], ","))
	fs.DurationVar(&c.Duration, "duration", 5*time.Second, "sending window of each phase")
	fs.IntVar(&c.MaxMessages, "max-messages", 200_000, "most messages (or commands) one phase sends")
	fs.Float64Var(&c.PersonalRate, "personal-rate", 5000, "personal notifications per second in the fixed-rate phase")
	fs.Float64Var(&c.BroadcastRate, "broadcast-rate", 30000, "broadcast deliveries per second in the fixed-rate phase")
	fs.Float64Var(&c.BusinessRate, "business-rate", 500, "stock movement commands per second")
	fs.IntVar(&c.Senders, "senders", 32, "concurrent HTTP senders")
	fs.IntVar(&c.PersonalSenders, "personal-senders", 256, "concurrent HTTP senders of the personal phases (one notification per request: throughput is at most senders / latency)")
	fs.DurationVar(&c.Drain, "drain", 15*time.Second, "longest wait for outstanding deliveries after a phase's last send")
	fs.DurationVar(&c.Settle, "settle", 2*time.Second, "idle wait after connecting before sampling memory")
	fs.DurationVar(&c.GCWait, "gc-wait", 0, "after connecting, wait up to this long for the server's next garbage collection (Go forces one after 2 idle minutes) and report live memory per connection after it")
	fs.DurationVar(&c.MaxDuration, "max-duration", 10*time.Minute, "the whole run stops after this, whatever is left")
	fs.BoolVar(&c.JSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.Phases = splitList(*phases)
	c.SpawnArgs = strings.Fields(*spawnArgs)
	return c, c.validate()
}

// personalSenders is how many senders the personal phases run.
func (c *Config) personalSenders() int {
	if c.PersonalSenders > 0 {
		return c.PersonalSenders
	}
	return c.Senders
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (c *Config) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Clients >= 1 && c.Clients <= maxClients, "--clients must be 1..%d", maxClients)
	check(c.Tenants >= 1 && c.Tenants <= c.Clients, "--tenants must be 1..--clients")
	check(c.ConnectConcurrency >= 1 && c.ConnectConcurrency <= maxConcurrency, "--connect-concurrency must be 1..%d", maxConcurrency)
	check(c.AlertUsers >= 0, "--alert-users must not be negative")
	check(c.Duration > 0 && c.Duration <= maxPhaseTime, "--duration must be in (0, %s]", maxPhaseTime)
	check(c.MaxMessages >= 1 && c.MaxMessages <= maxMessages, "--max-messages must be 1..%d", maxMessages)
	for name, r := range map[string]float64{"--personal-rate": c.PersonalRate, "--broadcast-rate": c.BroadcastRate, "--business-rate": c.BusinessRate} {
		check(r > 0 && r <= maxRate, "%s must be in (0, %d]", name, maxRate)
	}
	check(c.Senders >= 1 && c.Senders <= maxSenders, "--senders must be 1..%d", maxSenders)
	check(c.PersonalSenders >= 0 && c.PersonalSenders <= maxSenders, "--personal-senders must be 0..%d (0: --senders)", maxSenders)
	check(c.Drain > 0 && c.Drain <= maxPhaseTime, "--drain must be in (0, %s]", maxPhaseTime)
	check(c.Settle >= 0 && c.Settle <= maxPhaseTime, "--settle must be in [0, %s]", maxPhaseTime)
	check(c.GCWait >= 0 && c.GCWait <= maxPhaseTime, "--gc-wait must be in [0, %s]", maxPhaseTime)
	check(c.MaxDuration > 0 && c.MaxDuration <= maxRunTime, "--max-duration must be in (0, %s]", maxRunTime)
	check(c.Spawn != "" || c.Secret != "", "--secret (or NOTIFYHUB_JWT_SECRET) is required to sign tokens, unless --spawn")
	check(c.Spawn != "" || (c.SpawnDatabaseURL == "" && c.SpawnRedisURL == "" && len(c.SpawnArgs) == 0), "--spawn-database-url, --spawn-redis-url and --spawn-args need --spawn")
	for _, a := range c.SpawnArgs {
		check(strings.HasPrefix(a, "--") && !strings.HasPrefix(a, "--addr"), "--spawn-args: %q: only --flag=value arguments, and not --addr", a)
	}
	check(c.PID >= 0, "--pid must not be negative")
	for _, p := range c.Phases {
		check(slices.Contains(allPhases[:], p), "unknown phase %q (phases: %s)", p, strings.Join(allPhases[:], ","))
	}
	return errors.Join(errs...)
}

// runs reports whether phase was asked for.
func (c *Config) runs(phase string) bool { return slices.Contains(c.Phases, phase) }
