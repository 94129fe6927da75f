package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/pause"
	"github.com/notifyhub/notifyhub/workers/stream"
)

// Listener reacts to business events. Handle must be idempotent: the same
// event can arrive more than once.
type Listener interface {
	// Name is the listener's consumer group and its name in failed jobs.
	Name() string
	// Events lists the event types it handles; others are acknowledged
	// without a call.
	Events() []string
	Handle(ctx context.Context, ev domain.Event) error
}

// BatchListener is a Listener that can also handle several events of one
// read together: a group commit, one transaction (and one commit wait)
// for all of them instead of one each. HandleBatch must leave each event
// exactly the effect Handle would, all of them or none (one transaction,
// each event with its own processed-events key, so that an event already
// handled is skipped on its own). When it fails the runner handles each
// event alone with Handle, under the usual retries, so one event that
// cannot succeed becomes a failed job without holding its neighbours back.
type BatchListener interface {
	Listener
	HandleBatch(ctx context.Context, evs []domain.Event) error
}

// Store keeps failed jobs.
type Store interface {
	InsertFailedJob(ctx context.Context, j domain.FailedJob) error
}

// Config of a Runner. Zero values take the defaults noted.
type Config struct {
	Topic       string          // shared event topic, and prefix of each listener's (ListenerTopic); default "events"
	Consumer    string          // unique per process; default host-pid
	Concurrency int             // consumers per listener on its own topic; default 1
	Tries       int             // attempts per delivery; default 3
	Backoff     []time.Duration // delay before try 2, 3, ...; the last repeats; default 1s, 10s
	Timeout     time.Duration   // per attempt; default 60s
	// ReclaimAfter is how long an entry left unacknowledged waits before
	// another consumer takes it over. It must exceed Timeout plus the
	// longest backoff by a tenth of itself at least: a live consumer extends
	// its entries (stream.Extend) before each try once half that margin has
	// passed, so a slow but live consumer never has an entry run twice at
	// once. Default: 5m, or Timeout + longest backoff + max(1m, a quarter
	// of that) when more.
	ReclaimAfter time.Duration
	ReclaimEvery time.Duration // how often to look for such entries; default 30s
	ReadBlock    time.Duration // default 2s
	BatchSize    int           // entries per read; default 16
	TrimEvery    time.Duration // how often to trim acknowledged entries; default 1m
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
	Now          func() time.Time
}

func (c *Config) setDefaults() {
	if c.Topic == "" {
		c.Topic = "events"
	}
	if c.Consumer == "" {
		host, _ := os.Hostname()
		c.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), domain.NewID()[24:])
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.Tries <= 0 {
		c.Tries = 3
	}
	if len(c.Backoff) == 0 {
		c.Backoff = []time.Duration{time.Second, 10 * time.Second}
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Minute
	}
	if c.ReclaimAfter <= 0 {
		c.ReclaimAfter = defaultReclaimAfter(c.policy().longestStep())
	}
	if c.ReclaimEvery <= 0 {
		c.ReclaimEvery = min(30*time.Second, max(c.ReclaimAfter/4, 10*time.Millisecond))
	}
	if c.ReadBlock <= 0 {
		c.ReadBlock = 2 * time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 16
	}
	if c.TrimEvery <= 0 {
		c.TrimEvery = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// policy is the listeners' retry policy.
func (c *Config) policy() Policy {
	return Policy{Tries: c.Tries, Timeout: c.Timeout, Backoff: c.Backoff}
}

// Validate checks the configuration after defaults are applied.
func (c *Config) Validate() error {
	p := c.policy()
	if err := p.validate(); err != nil {
		return err
	}
	return checkReclaim(c.ReclaimAfter, p.longestStep())
}

// Runner runs listeners.
type Runner struct {
	core
	cfg       Config
	listeners []Listener
	handles   map[string]map[string]bool // listener name → event types it handles
	// groups holds the shared rounds of each BatchListener (by name), when
	// the hold leaves room for a group to wait one round (combineGroups).
	groups map[string]*groupCommit
}

// New returns a Runner for the listeners.
func New(cfg Config, s stream.Stream, store Store, listeners ...Listener) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	handles := map[string]map[string]bool{}
	for _, l := range listeners {
		if handles[l.Name()] != nil {
			return nil, fmt.Errorf("runner: two listeners named %q", l.Name())
		}
		types := map[string]bool{}
		for _, t := range l.Events() {
			types[t] = true
		}
		handles[l.Name()] = types
	}
	m, err := newListenerMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	r := &Runner{
		core:      newCore(s, store, cfg.Logger, cfg.Now, cfg.ReclaimAfter, cfg.policy().longestStep(), m),
		cfg:       cfg,
		listeners: listeners,
		handles:   handles,
		groups:    map[string]*groupCommit{},
	}
	if r.combineGroups() {
		for _, l := range listeners {
			if _, ok := l.(BatchListener); ok {
				r.groups[l.Name()] = &groupCommit{}
			}
		}
	}
	return r, nil
}

// combineGroups reports whether a BatchListener's consumers may share its
// rounds. A group handed in may wait for the round in flight before its
// own starts: two attempts' time after its hold was checked. An entry's
// hold lasts at least reclaim-after minus extendEvery past that check
// (the batch is extended once extendEvery has passed), which the default
// reclaim-after leaves for any timeout; a reclaim-after set close to the
// timeout does not, and then every consumer runs its own batches.
func (r *Runner) combineGroups() bool {
	return r.reclaimAfter-r.extendEvery >= 2*r.cfg.Timeout
}

// Run consumes until ctx is done, then lets in-flight attempts finish
// (each within its timeout) and returns. Entries it did not finish stay
// unacknowledged for another consumer to take over.
//
// Each listener's group reads its own topic (ListenerTopic), where a relay
// with Routes.Fanout puts only the events it handles, with Concurrency
// consumers. One more consumer per listener reads the shared topic, where
// events go when the relay does not route them (no Fanout configured, or
// a relay of an older version during a rolling upgrade) and retries of
// listeners the relay does not know: nothing published there is left
// behind. It does not block on it: while it finds nothing it looks again
// every ReadBlock (one cheap read, no connection held), and while it finds
// entries it reads on at once.
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	topics := []string{r.cfg.Topic}
	for _, l := range r.listeners {
		own := ListenerTopic(r.cfg.Topic, l.Name())
		topics = append(topics, own)
		for i := range r.cfg.Concurrency {
			consumer := fmt.Sprintf("%s-%d", r.cfg.Consumer, i)
			wg.Go(func() { r.consume(ctx, l, own, consumer, r.cfg.ReadBlock) })
		}
		wg.Go(func() { r.consume(ctx, l, r.cfg.Topic, r.cfg.Consumer+"-shared", 0) })
	}
	wg.Go(func() { r.trim(ctx, r.cfg.TrimEvery, topics...) })
	wg.Wait()
	return nil
}

// consume is one consumer of one listener's group on topic. Reads block up
// to block; with block 0 they do not, and an empty read waits ReadBlock
// before the next.
func (r *Runner) consume(ctx context.Context, l Listener, topic, consumer string, block time.Duration) {
	log := r.cfg.Logger.With(slog.String("listener", l.Name()), slog.String("topic", topic), slog.String("consumer", consumer))
	for !r.ensureGroup(ctx, l, topic, log) {
		if !pause.For(ctx, time.Second) {
			return
		}
	}
	reclaim := time.NewTicker(r.cfg.ReclaimEvery)
	defer reclaim.Stop()
	backoff := 100 * time.Millisecond
	// The first round reclaims: entries released or left by a process that
	// stopped are taken at once, not after the first tick.
	reclaimNow := true
	for ctx.Err() == nil {
		if !reclaimNow {
			select {
			case <-reclaim.C:
				reclaimNow = true
			default:
			}
		}
		var msgs []stream.Message
		var err error
		if reclaimNow {
			msgs, err = r.stream.Reclaim(ctx, topic, l.Name(), consumer, r.cfg.ReclaimAfter, r.cfg.BatchSize)
			if len(msgs) > 0 {
				log.InfoContext(ctx, "took over entries left by another consumer", slog.Int("count", len(msgs)))
			}
		} else {
			msgs, err = r.stream.Read(ctx, topic, l.Name(), consumer, r.cfg.BatchSize, block)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.WarnContext(ctx, "stream read failed, will retry", slog.Duration("in", backoff), slog.Any("error", err))
			if !pause.For(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		reclaimNow = false
		backoff = 100 * time.Millisecond
		if len(msgs) == 0 && block <= 0 && !pause.For(ctx, r.cfg.ReadBlock) {
			return
		}
		b := r.newBatch(topic, l.Name(), consumer, msgs, log)
		if bl, ok := l.(BatchListener); ok && (len(msgs) > 1 || r.groups[l.Name()] != nil) {
			r.handleBatch(ctx, bl, msgs, b, log)
		} else {
			for _, m := range msgs {
				if ctx.Err() != nil {
					break // not started: released below
				}
				if p, ok := r.prepare(ctx, l, m, b, log); ok {
					r.process(ctx, m, b, &p.task, p.log)
				}
			}
		}
		b.end(ctx)
	}
}

func (r *Runner) ensureGroup(ctx context.Context, l Listener, topic string, log *slog.Logger) bool {
	if err := r.stream.EnsureGroup(ctx, topic, l.Name()); err != nil {
		if ctx.Err() == nil {
			log.WarnContext(ctx, "create consumer group failed, will retry", slog.Any("error", err))
		}
		return false
	}
	return true
}

// prepared is an entry decoded into a task of the listener.
type prepared struct {
	m    stream.Message
	ev   domain.Event
	task Task
	log  *slog.Logger
}

// prepare decodes one entry for the listener. It reports false when there
// is nothing to run: an entry that is not the listener's (another type, or
// a retry meant for another listener), acknowledged untouched, or one that
// cannot be decoded, recorded as a failed job.
func (r *Runner) prepare(ctx context.Context, l Listener, m stream.Message, b *batch, log *slog.Logger) (prepared, bool) {
	task := Task{Name: l.Name(), Queue: r.cfg.Topic, Payload: m.Body, Policy: r.cfg.policy()}
	d, err := decodeDelivery(m.Body)
	if err != nil {
		r.fail(ctx, m, b, &task, 0, fmt.Errorf("undecodable event: %w", err), log)
		return prepared{}, false
	}
	ev := d.Event
	if (d.OnlyListener != "" && d.OnlyListener != l.Name()) || !r.handles[l.Name()][ev.Type] {
		b.ack(m.ID)
		return prepared{}, false
	}
	if d.OnlyListener != "" {
		// A failed job of this listener keeps the plain event, so a
		// retry of the retry looks the same as the first.
		if task.Payload, err = json.Marshal(ev); err != nil {
			r.fail(ctx, m, b, &task, 0, fmt.Errorf("re-encode event: %w", err), log)
			return prepared{}, false
		}
	}
	task.Tenant = ev.TenantID
	task.Run = func(ctx context.Context) error { return l.Handle(ctx, ev) }
	log = log.With(slog.String("event", ev.Type), slog.String("event_id", ev.ID), slog.String("tenant", string(ev.TenantID)))
	return prepared{m: m, ev: ev, task: task, log: log}, true
}

// handleBatch runs the listener's entries of one read together, in one
// HandleBatch attempt. Entries delivered more often than the listener's
// tries (consumers died while handling them) get their last try alone, so
// that a poison entry cannot take its neighbours down with it.
func (r *Runner) handleBatch(ctx context.Context, l BatchListener, msgs []stream.Message, b *batch, log *slog.Logger) {
	var group, alone []prepared
	for _, m := range msgs {
		p, ok := r.prepare(ctx, l, m, b, log)
		switch {
		case !ok:
		case m.Deliveries > p.task.Policy.Tries:
			alone = append(alone, p)
		default:
			group = append(group, p)
		}
	}
	r.runGroup(ctx, l, group, b, log)
	for _, p := range alone {
		if ctx.Err() != nil {
			return // not started: released by the caller
		}
		r.process(ctx, p.m, b, &p.task, p.log)
	}
}

// runGroup makes one HandleBatch attempt of the group and acknowledges its
// entries once it succeeded (the effects committed). If it failed, each
// entry is handled alone, with its own retries and failed job. When the
// listener's consumers share rounds (groups), the attempt is the round
// that takes this group with those of the other consumers waiting; a
// round of one event runs it alone, the usual way.
func (r *Runner) runGroup(ctx context.Context, l BatchListener, group []prepared, b *batch, log *slog.Logger) {
	if len(group) == 0 || ctx.Err() != nil {
		return
	}
	policy := r.cfg.policy()
	shared := r.groups[l.Name()]
	if len(group) > 1 || shared != nil {
		// Extends the whole batch when due; then only the entries still
		// held may run. A shared round may start one attempt later.
		limit := policy.Timeout
		if shared != nil {
			limit *= 2
		}
		ids := make([]string, len(group))
		for i, p := range group {
			ids[i] = p.m.ID
		}
		still := b.holdsAll(ctx, ids, limit)
		held := group[:0]
		for _, p := range group {
			if len(still) > 0 && still[0] == p.m.ID {
				still = still[1:]
				held = append(held, p)
			} else {
				p.log.WarnContext(ctx, "entry no longer held (taken over, or its hold could not be confirmed); leaving it")
			}
		}
		group = held
	}
	if len(group) > 1 || (shared != nil && len(group) == 1) {
		evs := make([]domain.Event, len(group))
		for i, p := range group {
			evs[i] = p.ev
		}
		attempt := func(evs []domain.Event) (time.Duration, error) {
			t := Task{Name: l.Name(), Queue: r.cfg.Topic, Policy: policy,
				Run: func(ctx context.Context) error { return l.HandleBatch(ctx, evs) }}
			return r.attempt(ctx, &t)
		}
		var out roundOutcome
		if shared != nil {
			var started bool
			if out, started = shared.run(ctx, evs, attempt); !started {
				return // shutting down before its round: released by the caller
			}
		} else {
			out.took, out.err = attempt(evs)
		}
		if !out.alone {
			if out.err == nil {
				for _, p := range group {
					r.obs.attempt(&p.task, nil, false, out.took)
					b.ack(p.m.ID)
				}
				return
			}
			// Not counted as a try of any one entry: which of them failed
			// it is found out by running each alone.
			log.WarnContext(ctx, "batch failed; handling its events one by one", slog.Int("events", len(group)), slog.Any("error", out.err))
		}
	}
	for _, p := range group {
		if ctx.Err() != nil {
			return // not started: released by the caller
		}
		r.process(ctx, p.m, b, &p.task, p.log)
	}
}
