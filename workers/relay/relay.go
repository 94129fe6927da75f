package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/pause"
	"github.com/notifyhub/notifyhub/workers/stream"
)

// Store is the outbox side of the store.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	// ClaimUnpublished locks up to limit committed, unpublished events,
	// oldest first, skipping rows another relay holds. Call inside InTx.
	ClaimUnpublished(ctx context.Context, limit int) ([]domain.Event, error)
	MarkPublished(ctx context.Context, ids []string, at time.Time) error
	// ClaimAndMarkPublished is ClaimUnpublished and MarkPublished in one
	// round trip, share-locking the setting hold first (until the
	// transaction ends); the mark holds only if the transaction commits.
	// Call inside InTx.
	ClaimAndMarkPublished(ctx context.Context, limit int, at time.Time, hold string) ([]domain.Event, error)
	OldestUnpublished(ctx context.Context) (time.Time, bool, error)
	// EventSignal fires (coalesced) when new events may be in the outbox.
	EventSignal() <-chan struct{}
	// For a stream that can lose its data (stream.Epocher):
	PutSettingIfAbsent(ctx context.Context, key, value string) (string, error)
	SwapSetting(ctx context.Context, key, old, value string) (bool, error)
	RequeuePublished(ctx context.Context, since time.Time) (int64, error)
}

// localDrainer is a Store that announces its commits to other processes
// unless told that a relay of its own process drains them
// (sqlstore.Store.DrainLocally).
type localDrainer interface {
	DrainLocally() (release func())
}

// Publisher appends encoded events to a stream topic (stream.Stream has it).
type Publisher interface {
	Publish(ctx context.Context, topic string, bodies ...[]byte) error
}

// Config of a Relay. Zero values take the defaults noted.
type Config struct {
	Topic     string // stream topic; default "events"
	BatchSize int    // events per transaction; default 500
	// MaxBatchSize is how large a batch grows while the outbox has a
	// backlog: each full batch doubles the next one, up to this; default
	// 5,000 (the store claims at most 10,000). A large batch costs its
	// statements, transaction and stream round trip once for many events.
	MaxBatchSize int
	PollInterval time.Duration // fallback poll when no signal comes; default 1s
	MaxBackoff   time.Duration // cap of the retry delay after errors; default 5s
	// PublishOutsideTx claims, publishes and marks in separate steps
	// instead of holding the claimed rows locked while publishing. SQLite
	// needs it when the queue lives in the same file: the claim's write
	// transaction would block the queue's own write until the busy timeout.
	// Only one relay may then run against the database (embedded mode is
	// one process).
	PublishOutsideTx bool
	// RepublishWindow is how far back events are published again when the
	// stream reports it lost its data (stream.Epocher); default 1h. What
	// was published earlier had long been consumed; a longer window only
	// delays new events behind the repeats.
	RepublishWindow time.Duration
	// EpochEvery is how often Run asks the stream whether it lost its data;
	// default 5s.
	EpochEvery time.Duration
	// Route picks the topic and body of each event; nil publishes every
	// event on Topic as its JSON. workers/jobs.Route sends dispatched jobs
	// to their queue's topic.
	Route func(ev domain.Event) (topic string, body []byte, err error)
	// Fanout, when set, replaces Topic for the entries Route puts there
	// with the topics it returns, each getting the same body; none means
	// the event is only marked published (nobody consumes it from the
	// stream; the outbox keeps it). runner.Routes.Fanout sends each event
	// to the topic of every listener that handles its type.
	Fanout     func(ev domain.Event, body []byte) []string
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: metrics are not registered
	Now        func() time.Time
}

func (c *Config) setDefaults() {
	if c.Topic == "" {
		c.Topic = "events"
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.MaxBatchSize <= 0 {
		c.MaxBatchSize = 5000
	}
	c.MaxBatchSize = max(c.MaxBatchSize, c.BatchSize)
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.RepublishWindow <= 0 {
		c.RepublishWindow = time.Hour
	}
	if c.EpochEvery <= 0 {
		c.EpochEvery = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Relay moves events from the outbox to the stream.
type Relay struct {
	cfg     Config
	store   Store
	pub     Publisher
	metrics *metrics
}

// New returns a Relay.
func New(cfg Config, store Store, pub Publisher) (*Relay, error) {
	cfg.setDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Relay{cfg: cfg, store: store, pub: pub, metrics: m}, nil
}

// Run publishes until ctx is done. Errors (database or stream down) are
// logged and retried with backoff; Run returns only ctx's end.
func (r *Relay) Run(ctx context.Context) error {
	// This relay drains its own process's commits: the store need not
	// wake other processes' relays for them.
	if d, ok := r.store.(localDrainer); ok {
		defer d.DrainLocally()()
	}
	poll := time.NewTicker(r.cfg.PollInterval)
	defer poll.Stop()
	backoff := 50 * time.Millisecond
	var lastEpochCheck, lastLag time.Time
	for {
		if now := r.cfg.Now(); now.Sub(lastEpochCheck) >= r.cfg.EpochEvery {
			lastEpochCheck = now
			if _, err := r.CheckStream(ctx); err != nil && ctx.Err() == nil {
				r.cfg.Logger.WarnContext(ctx, "relay: stream epoch check failed", slog.Any("error", err))
			}
		}
		n, err := r.Flush(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.metrics.errors.Inc()
			r.cfg.Logger.WarnContext(ctx, "relay: publish failed, will retry",
				slog.Duration("in", backoff), slog.Any("error", err))
			if !pause.For(ctx, backoff) {
				return nil
			}
			backoff = min(backoff*2, r.cfg.MaxBackoff)
			continue
		}
		backoff = 50 * time.Millisecond
		// The lag gauge needs a query: once per poll interval is enough,
		// not once per wake-up under load.
		if now := r.cfg.Now(); now.Sub(lastLag) >= r.cfg.PollInterval {
			lastLag = now
			r.updateLag(ctx)
		}
		if n > 0 {
			continue // Flush stops after a full batch; more may wait.
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.store.EventSignal():
		case <-poll.C:
		}
	}
}

// Flush publishes batches until the outbox is empty or an error occurs, and
// returns how many events it published. The first batch is BatchSize; each
// full one doubles the next, up to MaxBatchSize, so a backlog drains in
// large batches while a trickle still goes out in small ones.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	total, size := 0, r.cfg.BatchSize
	for {
		n, err := r.publishBatch(ctx, size)
		total += n
		if err != nil || n < size {
			return total, err
		}
		size = min(2*size, r.cfg.MaxBatchSize)
	}
}

// publishBatch claims a batch, publishes it, and marks it published in the
// same transaction, so two relays never publish the same rows. If the
// commit fails after the publish, the events go out again later: consumers
// are idempotent, and nothing is lost.
func (r *Relay) publishBatch(ctx context.Context, size int) (int, error) {
	if r.cfg.PublishOutsideTx {
		return r.publishBatchUnlocked(ctx, size)
	}
	var n int
	err := r.store.InTx(ctx, func(ctx context.Context) error {
		// Claimed and marked at once: if the publish fails, the rollback
		// unmarks them. While this batch is in flight the epoch cannot be
		// swapped (the claim holds it first): a relay that finds the
		// stream lost waits, then requeues it too.
		events, err := r.store.ClaimAndMarkPublished(ctx, size, r.cfg.Now().UTC(), r.epochKey())
		if err != nil || len(events) == 0 {
			return err
		}
		if err := r.publish(ctx, events); err != nil {
			return err
		}
		n = len(events)
		return nil
	})
	if err != nil {
		return 0, err
	}
	r.metrics.published.Add(float64(n))
	return n, nil
}

// publishBatchUnlocked is publishBatch without holding the claimed rows:
// the claim commits at once, the publish runs outside any transaction, and
// the mark is its own short transaction.
func (r *Relay) publishBatchUnlocked(ctx context.Context, size int) (int, error) {
	var events []domain.Event
	err := r.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		events, err = r.store.ClaimUnpublished(ctx, size)
		return err
	})
	if err != nil || len(events) == 0 {
		return 0, err
	}
	if err := r.publish(ctx, events); err != nil {
		return 0, err
	}
	if err := r.store.MarkPublished(ctx, ids(events), r.cfg.Now().UTC()); err != nil {
		return 0, err
	}
	r.metrics.published.Add(float64(len(events)))
	return len(events), nil
}

func ids(events []domain.Event) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.ID
	}
	return out
}

// publish appends the events to their topics, each topic's in outbox
// order (Fanout may send one nowhere). The caller marks them published.
// If a later topic fails, the earlier ones go out again with the retry:
// consumers are idempotent.
func (r *Relay) publish(ctx context.Context, events []domain.Event) error {
	var topics []string
	bodies := map[string][][]byte{}
	for _, ev := range events {
		topic, b, err := r.route(ev)
		if err != nil {
			return err
		}
		targets := []string{topic}
		if topic == r.cfg.Topic && r.cfg.Fanout != nil {
			targets = r.cfg.Fanout(ev, b)
		}
		for _, topic := range targets {
			if _, ok := bodies[topic]; !ok {
				topics = append(topics, topic)
			}
			bodies[topic] = append(bodies[topic], b)
		}
	}
	for _, topic := range topics {
		if err := r.pub.Publish(ctx, topic, bodies[topic]...); err != nil {
			return fmt.Errorf("publish %d events to %q: %w", len(bodies[topic]), topic, err)
		}
	}
	return nil
}

func (r *Relay) route(ev domain.Event) (string, []byte, error) {
	if r.cfg.Route != nil {
		return r.cfg.Route(ev)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return "", nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return r.cfg.Topic, b, nil
}

// CheckStream asks a stream that can lose its data (stream.Epocher) for its
// epoch and compares it with the one recorded in the database. When the
// stream came back empty, every event published within RepublishWindow is
// marked unpublished again (by one relay only, even with several running)
// and goes out on the next flush; consumers are idempotent. It returns how
// many events it requeued.
func (r *Relay) CheckStream(ctx context.Context) (int64, error) {
	ep, ok := r.pub.(stream.Epocher)
	if !ok {
		return 0, nil
	}
	current, err := ep.Epoch(ctx)
	if err != nil {
		return 0, err
	}
	key := r.epochKey()
	var requeued int64
	var lost bool
	err = r.store.InTx(ctx, func(ctx context.Context) error {
		recorded, err := r.store.PutSettingIfAbsent(ctx, key, current)
		if err != nil || recorded == current {
			return err // first start, or nothing lost
		}
		won, err := r.store.SwapSetting(ctx, key, recorded, current)
		if err != nil || !won {
			return err // another relay is handling it
		}
		lost = true
		requeued, err = r.store.RequeuePublished(ctx, r.cfg.Now().Add(-r.cfg.RepublishWindow))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("check stream epoch: %w", err)
	}
	if lost {
		r.cfg.Logger.WarnContext(ctx, "relay: the event stream lost its data; republishing from the outbox",
			slog.Int64("events", requeued), slog.Duration("window", r.cfg.RepublishWindow))
	}
	return requeued, nil
}

func (r *Relay) epochKey() string { return "stream_epoch:" + r.cfg.Topic }

func (r *Relay) updateLag(ctx context.Context) {
	oldest, ok, err := r.store.OldestUnpublished(ctx)
	switch {
	case err != nil && !errors.Is(err, context.Canceled):
		r.cfg.Logger.DebugContext(ctx, "relay: lag query failed", slog.Any("error", err))
	case ok:
		r.metrics.lag.Set(r.cfg.Now().Sub(oldest).Seconds())
	default:
		r.metrics.lag.Set(0)
	}
}

type metrics struct {
	published prometheus.Counter
	errors    prometheus.Counter
	lag       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "notifyhub_events_published_total",
			Help: "Outbox events published on the event stream.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "notifyhub_relay_errors_total",
			Help: "Relay batches that failed and were retried.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "notifyhub_relay_lag_seconds",
			Help: "Age of the oldest unpublished outbox event (0 when none).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.published, m.errors, m.lag} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("relay metrics: %w", err)
		}
	}
	return m, nil
}
