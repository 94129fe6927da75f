package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/notifyhub/notifyhub/cmd/notifyhub/app"
	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/jobs"
)

const queueUsage = `usage: notifyhub queue <command> [flags] [args]

Failed jobs of every tenant (the REST API shows an admin their own tenant's):
  failed [--tenant T] [--limit 50] [--before ID]   list failed jobs, newest first
  retry [--tenant T] ID...                         run failed jobs again (same queue, or the same listener only)
  retry [--tenant T] all                           run every failed job again
  forget ID                                        delete one failed job
  flush [--tenant T]                               delete every failed job
  prune --older-than 168h [--events-older-than 720h]
        delete failed jobs older than --older-than, and listener idempotency markers
        and published outbox events older than --events-older-than (at least 24h)
Workers:
  ping [--queue default] [--count 1] [--wait] [--wait-timeout 30s]
                                                   queue no-op jobs (queue.ping); with --wait, report
                                                   once the relay published them and the queue's
                                                   workers got past them (health check)
  restart                                          every "notifyhub worker" finishes its current
                                                   job and exits (status 0), for its supervisor
                                                   to start it again

Flags come before arguments. Database flags as for the other commands (--database-url ...);
ping --wait also reads the queue (--redis-url, or the database queue without it).`

// queue runs `notifyhub queue ...`. It needs only the database: retries
// and pings go through the outbox, restart through a settings row (ping
// --wait also reads the stream).
func queue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, queueUsage)
		return flag.ErrHelp
	}
	sub := args[0]
	fs := flag.NewFlagSet("queue "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg app.Config
	level := baseFlags(fs, &cfg)
	var tenant *string
	if sub == "failed" || sub == "retry" || sub == "flush" {
		tenant = fs.String("tenant", "", "only this tenant's failed jobs (default: every tenant's)")
	}
	limit := 0
	var before *string
	var olderThan, eventsOlderThan *time.Duration
	var ping pingFlags
	switch sub {
	case "ping":
		ping.register(fs)
	case "failed":
		fs.IntVar(&limit, "limit", jobs.DefaultPage, "how many to list (1 to 200)")
		before = fs.String("before", "", "list the jobs that failed before this one (the next page)")
	case "prune":
		olderThan = fs.Duration("older-than", 0, "delete failed jobs older than this, e.g. 168h (required)")
		eventsOlderThan = fs.Duration("events-older-than", jobs.DefaultEventRetention, "delete listener markers and published events older than this (at least 24h)")
	case "retry", "forget", "flush", "restart":
	default:
		fmt.Fprintln(stderr, queueUsage)
		return fmt.Errorf("queue: unknown command %q", sub)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	rest := fs.Args()
	switch {
	case (sub == "retry" || sub == "forget") && len(rest) == 0:
		return fmt.Errorf("queue %s: name the failed job ids", sub)
	case sub == "forget" && len(rest) > 1:
		return errors.New("queue forget: one id at a time")
	case sub != "retry" && sub != "forget" && len(rest) > 0:
		return fmt.Errorf("queue %s: unexpected arguments %q", sub, rest)
	case sub == "ping" && ping.check() != nil:
		return ping.check()
	case sub == "prune" && *olderThan <= 0:
		return errors.New("queue prune: --older-than is required, e.g. --older-than 168h")
	}
	scope := domain.FailedJobScope{AllTenants: true}
	if tenant != nil && *tenant != "" {
		if !domain.ValidExternalID(*tenant) {
			return fmt.Errorf("queue %s: --tenant %q is not a tenant id", sub, *tenant)
		}
		scope = domain.FailedJobScope{Tenant: domain.TenantID(*tenant)}
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	store, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	failed := jobs.NewFailed(store, nil)

	switch sub {
	case "failed":
		limit = min(max(limit, 1), jobs.MaxPage)
		list, err := failed.List(ctx, scope, *before, limit)
		if err != nil {
			return err
		}
		printFailed(stdout, list, limit)
	case "retry":
		if len(rest) == 1 && rest[0] == "all" {
			rep, err := failed.RetryAll(ctx, scope)
			fmt.Fprintf(stdout, "retried %d failed job(s)\n", rep.Retried)
			for _, s := range rep.Skipped {
				fmt.Fprintf(stdout, "skipped %s: %s\n", s.ID, oneLine(s.Error, 200))
			}
			return err
		}
		var errs []error
		for _, id := range rest {
			if err := failed.Retry(ctx, scope, id); err != nil {
				errs = append(errs, fmt.Errorf("retry %s: %w", oneLine(id, 40), err))
				continue
			}
			fmt.Fprintf(stdout, "retried %s\n", id)
		}
		return errors.Join(errs...)
	case "forget":
		if err := failed.Forget(ctx, scope, rest[0]); err != nil {
			return fmt.Errorf("forget %s: %w", oneLine(rest[0], 40), err)
		}
		fmt.Fprintf(stdout, "forgot %s\n", rest[0])
	case "flush":
		n, err := failed.Flush(ctx, scope)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted %d failed job(s)\n", n)
	case "prune":
		rep, err := failed.Prune(ctx, *olderThan, *eventsOlderThan)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pruned %d failed job(s) older than %s, %d processed-event marker(s) and %d published event(s) older than %s\n",
			rep.FailedJobs, *olderThan, rep.ProcessedEvents, rep.Events, *eventsOlderThan)
	case "ping":
		return ping.run(ctx, cfg, store, stdout)
	case "restart":
		if err := jobs.RequestRestart(ctx, store, time.Now()); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "restart requested: every worker finishes its current job and exits within a few seconds")
	}
	return nil
}

// printFailed writes failed jobs as a table.
func printFailed(w io.Writer, list []domain.FailedJob, limit int) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no failed jobs")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tQUEUE\tJOB\tTENANT\tATTEMPTS\tERROR\tFAILED AT")
	for _, j := range list {
		tenant := string(j.TenantID)
		if tenant == "" {
			tenant = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", j.ID, oneLine(j.Queue, 20), oneLine(j.Job, 40), oneLine(tenant, 40),
			j.Attempts, oneLine(j.Error, 60), j.FailedAt.UTC().Format(time.RFC3339))
	}
	_ = tw.Flush()
	if len(list) >= limit {
		fmt.Fprintf(w, "more: notifyhub queue failed --before %s\n", list[len(list)-1].ID)
	}
}

// oneLine makes s fit one table cell: control characters (tabs and
// newlines would break the table; escapes could drive the terminal)
// become spaces, and it is cut to max characters.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}
