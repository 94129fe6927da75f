// Command notifyhub runs the notification and event backbone: the HTTP API
// and notification center, the WebSocket hub, the outbox relay and the
// workers, in one process or split by role.
//
//	notifyhub serve [--demo] [--roles=http,hub,relay,worker,scheduler]
//	notifyhub worker [--queue=high,default,low --tries=3 --timeout=60s --backoff=1s,10s
//	                  --sleep=3s --priority-lag=0 --max-jobs=N --max-time=1h --concurrency=N --reclaim-after=5m]
//	notifyhub queue failed|retry ID...|retry all|forget ID|flush|prune --older-than D|restart|ping [--wait]
//	notifyhub import FILE --type products --tenant T [--mapping JSON | --mapping-file F] [--user U]
//	notifyhub migrate
//	notifyhub token --tenant T --user U [--perms a,b] [--name N] [--email E] [--ttl 1h]
//
// Configuration comes from the environment (DESIGN.md §4.1); flags mirror it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/hub/gcheadroom"
	"github.com/notifyhub/notifyhub/web/auth"
	"github.com/notifyhub/notifyhub/workers/runner"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "notifyhub:", err)
		os.Exit(1)
	}
}

const usage = `usage: notifyhub <command> [flags]

commands:
  serve     run the server (every role by default); --demo seeds a demo tenant and traffic
  worker    run listeners, background jobs and the scheduled detectors (no HTTP)
  queue     manage failed jobs and workers: failed, retry ID...|all, forget ID, flush,
            prune --older-than D, restart (run "notifyhub queue" for details)
  import    import a CSV file (products, customers, vendors, inventory) and show its progress
            (run "notifyhub import" for details)
  migrate   apply database migrations and exit
  token     print a signed token for a user

environment: NOTIFYHUB_ADDR, DATABASE_URL, REDIS_URL, NOTIFYHUB_REDIS_PREFIX,
NOTIFYHUB_JWT_SECRET, NOTIFYHUB_ALLOWED_ORIGINS, NOTIFYHUB_SECURE_COOKIE (true|false),
NOTIFYHUB_SCHEDULER_INTERVAL (default 1m), NOTIFYHUB_LOG_LEVEL (debug|info|warn|error),
NOTIFYHUB_SMTP_URL, NOTIFYHUB_MAIL_FROM, NOTIFYHUB_DATA_DIR (report and import files; shared
storage in distributed mode), NOTIFYHUB_IMPORT_MAX_BYTES (default 1 GiB)`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return flag.ErrHelp
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "serve":
		return serve(ctx, "serve", args[1:], stderr, app.AllRoles)
	case "worker":
		return serve(ctx, "worker", args[1:], stderr, []string{app.RoleWorker, app.RoleScheduler})
	case "queue":
		return queue(ctx, args[1:], stdout, stderr)
	case "import":
		return importCmd(ctx, args[1:], stdout, stderr)
	case "migrate":
		return migrate(ctx, args[1:], stdout, stderr)
	case "token":
		return token(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// baseFlags binds the flags every command shares to cfg, with the
// environment as defaults.
func baseFlags(fs *flag.FlagSet, cfg *app.Config) *string {
	fs.StringVar(&cfg.DatabaseURL, "database-url", envOr("DATABASE_URL", "notifyhub.db"), "postgres:// URL or SQLite file path")
	fs.StringVar(&cfg.RedisURL, "redis-url", os.Getenv("REDIS_URL"), "redis:// URL; unset = database queue and in-process fan-out")
	fs.StringVar(&cfg.RedisPrefix, "redis-prefix", envOr("NOTIFYHUB_REDIS_PREFIX", "notifyhub:"), "prefix of every Redis key, so environments can share a Redis")
	fs.StringVar(&cfg.JWTSecret, "jwt-secret", os.Getenv("NOTIFYHUB_JWT_SECRET"), "HS256 secret (at least 32 bytes); required outside embedded mode")
	return fs.String("log-level", envOr("NOTIFYHUB_LOG_LEVEL", "info"), "debug, info, warn or error")
}

func serve(ctx context.Context, name string, args []string, stderr io.Writer, defaultRoles []string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg app.Config
	level := baseFlags(fs, &cfg)
	if name == "worker" {
		// A worker serves no API; --addr exposes /healthz, /readyz, /metrics.
		fs.StringVar(&cfg.Addr, "addr", "", "listen address for /healthz, /readyz and /metrics (default: none)")
	} else {
		fs.StringVar(&cfg.Addr, "addr", envOr("NOTIFYHUB_ADDR", ":8080"), "HTTP listen address")
	}
	gcHeadroom := fs.String("gc-headroom-mib", envOr("NOTIFYHUB_GC_HEADROOM_MIB", "0"),
		"most memory (MiB) the garbage collector lets the heap grow by between collections, when GOGC would allow more (many idle sockets); 0: GOGC alone")
	origins := fs.String("allowed-origins", os.Getenv("NOTIFYHUB_ALLOWED_ORIGINS"), "WebSocket origin allow-list: comma-separated host patterns")
	roles := fs.String("roles", strings.Join(defaultRoles, ","), "roles to run: "+strings.Join(app.AllRoles, ","))
	fs.BoolVar(&cfg.Demo, "demo", false, "seed the demo tenant and keep demo traffic flowing (embedded mode only)")
	fs.BoolVar(&cfg.SecureCookie, "secure-cookie", os.Getenv("NOTIFYHUB_SECURE_COOKIE") == "true", "mark the session cookie Secure (when served over HTTPS)")
	fs.DurationVar(&cfg.DemoInterval, "demo-interval", 2*time.Second, "time between demo stock movements")
	interval := fs.String("scheduler-interval", envOr("NOTIFYHUB_SCHEDULER_INTERVAL", app.DefaultSchedulerInterval.String()),
		"how often each scheduled detector runs (1s to 24h)")
	fs.StringVar(&cfg.SMTPURL, "smtp-url", os.Getenv("NOTIFYHUB_SMTP_URL"), "SMTP server for invoice e-mails: smtp://user:pass@host:587 or smtps://...; unset = no e-mail (prefer the environment variable: flags show in process lists)")
	fs.StringVar(&cfg.MailFrom, "mail-from", os.Getenv("NOTIFYHUB_MAIL_FROM"), "sender of invoice e-mails, e.g. \"Billing <billing@example.com>\"")
	fs.IntVar(&cfg.Worker.Tries, "tries", 3, "attempts per event and listener before it becomes a failed job; when given, also overrides every job type's own")
	fs.DurationVar(&cfg.Worker.Timeout, "timeout", 60*time.Second, "time limit of one attempt; when given, also overrides every job type's own")
	fs.DurationVar(&cfg.Worker.ReclaimAfter, "reclaim-after", 0, "idle time after which another worker takes over an unacknowledged entry (default 5m or more; must exceed --timeout + the longest --backoff, and every job's)")
	backoff := fs.String("backoff", "1s,10s", "delays before the 2nd, 3rd, ... try (the last repeats); when given, also overrides every job type's own")
	fs.IntVar(&cfg.Worker.Concurrency, "concurrency", 1, "consumers per listener, and jobs at once, in this process")
	queues := fs.String("queue", strings.Join(runner.DefaultQueues, ","), "job queues to serve, highest priority first")
	checkImport := importFlags(fs, &cfg)
	fs.DurationVar(&cfg.Queues.Sleep, "sleep", 3*time.Second, "pause when every queue is empty")
	fs.DurationVar(&cfg.Queues.PriorityLag, "priority-lag", 0, "how long a job on a higher queue may wait behind quick jobs of a lower one (e.g. 2ms: more jobs per second); 0: strict, job by job")
	if name == "worker" {
		fs.IntVar(&cfg.Queues.MaxJobs, "max-jobs", 0, "exit (status 0) after running this many jobs; 0: no limit")
		fs.DurationVar(&cfg.Queues.MaxTime, "max-time", 0, "exit (status 0) after running this long; 0: no limit")
		cfg.WatchRestart = true // notifyhub queue restart
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", name, fs.Args())
	}
	if err := checkImport(); err != nil {
		return err
	}
	var err error
	if cfg.Worker.Backoff, err = parseDurations(*backoff); err != nil {
		return fmt.Errorf("--backoff: %w", err)
	}
	if cfg.SchedulerInterval, err = time.ParseDuration(*interval); err != nil {
		return fmt.Errorf("--scheduler-interval / NOTIFYHUB_SCHEDULER_INTERVAL: %q is not a duration like 1m", *interval)
	}
	if cfg.SchedulerInterval <= 0 {
		// 0 would mean "the default" to app.Config: refuse it here.
		return fmt.Errorf("--scheduler-interval / NOTIFYHUB_SCHEDULER_INTERVAL: %s must be positive", *interval)
	}
	if cfg.Queues.Queues = splitList(*queues); len(cfg.Queues.Queues) == 0 {
		return errors.New("--queue: name at least one queue")
	}
	// Job types have their own tries, timeout and backoff; the flags
	// replace them only when given.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "tries":
			cfg.Queues.Override.Tries = cfg.Worker.Tries
		case "timeout":
			cfg.Queues.Override.Timeout = cfg.Worker.Timeout
		case "backoff":
			cfg.Queues.Override.Backoff = cfg.Worker.Backoff
		}
	})
	cfg.AllowedOrigins = splitList(*origins)
	cfg.SyncAllowHosts = splitList(os.Getenv("NOTIFYHUB_SYNC_ALLOW_HOSTS"))
	cfg.Roles = splitList(*roles)
	logger, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	headroom, err := strconv.ParseUint(*gcHeadroom, 10, 32)
	if err != nil {
		return fmt.Errorf("--gc-headroom-mib / NOTIFYHUB_GC_HEADROOM_MIB: %q is not a whole number of MiB", *gcHeadroom)
	}
	defer gcheadroom.Start(headroom << 20).Stop()
	a, err := app.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Run(ctx)
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg app.Config
	level := baseFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	// Opening the store applies every pending migration.
	s, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "migrated %s database\n", s.Dialect())
	return nil
}

func token(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg app.Config
	level := baseFlags(fs, &cfg)
	tenant := fs.String("tenant", "", "tenant id (required)")
	user := fs.String("user", "", "user id (required)")
	perms := fs.String("perms", "", "comma-separated permissions")
	name := fs.String("name", "", "display name")
	email := fs.String("email", "", "e-mail address")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !domain.ValidExternalID(*tenant) || !domain.ValidExternalID(*user) {
		return errors.New("token: --tenant and --user are required (letters, digits, . _ @ : -; at most 128)")
	}
	if *ttl <= 0 {
		return errors.New("token: --ttl must be positive")
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	secret, err := app.Secret(ctx, cfg)
	if err != nil {
		return err
	}
	tok, err := auth.Issue(secret, domain.User{
		TenantID: domain.TenantID(*tenant), ID: domain.UserID(*user),
		Name: *name, Email: *email, Perms: splitList(*perms),
	}, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func parseDurations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range splitList(s) {
		d, err := time.ParseDuration(part)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%q is not a duration like 10s", part)
		}
		out = append(out, d)
	}
	return out, nil
}
