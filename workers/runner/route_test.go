package runner_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/relay"
	"github.com/notifyhub/notifyhub/workers/runner"
	"github.com/notifyhub/notifyhub/workers/stream"
)

// typedListener handles the event types it is given and records what it
// ran.
type typedListener struct {
	name  string
	types []string
	mu    *sync.Mutex
	seen  map[string][]string // listener → event ids, in order
}

func (l typedListener) Name() string     { return l.name }
func (l typedListener) Events() []string { return l.types }
func (l typedListener) Handle(_ context.Context, ev domain.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[l.name] = append(l.seen[l.name], ev.ID)
	return nil
}

// typed is an event payload of any type.
type typed struct {
	T string `json:"t"`
}

func (e typed) EventType() string           { return e.T }
func (e typed) Aggregate() (string, string) { return "test", "1" }

func TestRoutesFanout(t *testing.T) {
	t.Parallel()
	mu, seen := &sync.Mutex{}, map[string][]string{}
	a := typedListener{name: "A", types: []string{"X"}, mu: mu, seen: seen}
	b := typedListener{name: "B", types: []string{"X", "Y", "Y"}, mu: mu, seen: seen}
	routes, err := runner.NewRoutes("", a, b)
	require.NoError(t, err)

	ev := func(typ string) domain.Event {
		e, err := domain.NewEvent("t", "u", time.Now(), typed{T: typ})
		require.NoError(t, err)
		return e
	}
	body := func(e domain.Event) []byte {
		b, err := json.Marshal(e)
		require.NoError(t, err)
		return b
	}
	x, y, z := ev("X"), ev("Y"), ev("Z")
	require.Equal(t, []string{"events:A", "events:B"}, routes.Fanout(x, body(x)))
	require.Equal(t, []string{"events:B"}, routes.Fanout(y, body(y)), "a type listed twice goes once")
	require.Empty(t, routes.Fanout(z, body(z)), "nobody handles Z: it goes nowhere")

	// A retry goes to its listener only, whatever the type's other
	// listeners; the outbox row that carries it has the reserved type.
	outer := ev(domain.EventListenerRetry)
	retry, err := runner.ListenerRetryBody(x, "B")
	require.NoError(t, err)
	require.Equal(t, []string{"events:B"}, routes.Fanout(outer, retry))
	// A retry of a listener this process does not know stays on the shared
	// topic, for processes that have it.
	unknown, err := runner.ListenerRetryBody(x, "Newer")
	require.NoError(t, err)
	require.Equal(t, []string{"events"}, routes.Fanout(outer, unknown))
	// An unreadable retry too, where every listener records it failed.
	require.Equal(t, []string{"events"}, routes.Fanout(outer, []byte("{not json")))
	// A retry row whose body is its own event (jobs.Route does so with an
	// unreadable payload) has no listener: nowhere.
	require.Empty(t, routes.Fanout(outer, body(outer)))

	_, err = runner.NewRoutes("", a, a)
	require.ErrorContains(t, err, "two listeners")
	other, err := runner.NewRoutes("ev", a)
	require.NoError(t, err)
	require.Equal(t, []string{"ev:A"}, other.Fanout(x, body(x)))
}

// topicEvents reads every entry of topic through a fresh group and returns
// the event types and ids in stream order.
func topicEvents(t *testing.T, s stream.Stream, topic string) (types, ids []string) {
	t.Helper()
	ctx := context.Background()
	group := "probe-" + domain.NewID()
	require.NoError(t, s.EnsureGroup(ctx, topic, group))
	for {
		msgs, err := s.Read(ctx, topic, group, "c", 100, 20*time.Millisecond)
		require.NoError(t, err)
		if len(msgs) == 0 {
			return types, ids
		}
		for _, m := range msgs {
			var ev domain.Event
			require.NoError(t, json.Unmarshal(m.Body, &ev))
			types, ids = append(types, ev.Type), append(ids, ev.ID)
		}
	}
}

// TestRoutedEventsReachOnlyTheirListeners: through a relay with the
// listeners' routes, each listener's topic carries only the events it
// handles, an event nobody handles is on no topic, every listener still
// runs each of its events once, and a retry reaches its listener only.
func TestRoutedEventsReachOnlyTheirListeners(t *testing.T) {
	t.Parallel()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			ctx := context.Background()
			mu, seen := &sync.Mutex{}, map[string][]string{}
			a := typedListener{name: "A", types: []string{"X"}, mu: mu, seen: seen}
			bl := typedListener{name: "B", types: []string{"X", "Y"}, mu: mu, seen: seen}
			routes, err := runner.NewRoutes("", a, bl)
			require.NoError(t, err)

			var events []domain.Event
			for _, typ := range []string{"X", "Y", "Z", "X"} {
				ev, err := domain.NewEvent("t-route", "u", time.Now(), typed{T: typ})
				require.NoError(t, err)
				events = append(events, ev)
			}
			require.NoError(t, b.store.AppendEvents(ctx, events...))
			// A retry of the first X for B alone, as the failed-jobs retry
			// writes it (its outbox row carries the event and the listener).
			retry, err := runner.ListenerRetryBody(events[0], "B")
			require.NoError(t, err)
			outer, err := domain.NewEvent("t-route", "u", time.Now(), typed{T: domain.EventListenerRetry})
			require.NoError(t, err)
			outer.Payload = retry
			require.NoError(t, b.store.AppendEvents(ctx, outer))

			route := func(ev domain.Event) (string, []byte, error) {
				if ev.Type == domain.EventListenerRetry {
					return "events", ev.Payload, nil
				}
				body, err := json.Marshal(ev)
				return "events", body, err
			}
			rl, err := relay.New(relay.Config{Route: route, Fanout: routes.Fanout, PublishOutsideTx: name == "sqlite+dbqueue",
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, b.store, b.stream)
			require.NoError(t, err)
			n, err := rl.Flush(ctx)
			require.NoError(t, err)
			require.Equal(t, 5, n, "every event is marked published, also the one that went nowhere")

			x1, y, x2 := events[0].ID, events[1].ID, events[3].ID
			typesA, idsA := topicEvents(t, b.stream, runner.ListenerTopic("events", "A"))
			require.Equal(t, []string{"X", "X"}, typesA)
			require.Equal(t, []string{x1, x2}, idsA)
			_, idsB := topicEvents(t, b.stream, runner.ListenerTopic("events", "B"))
			require.Equal(t, []string{x1, y, x2, x1}, idsB, "B's topic: its events and its retry")
			shared, _ := topicEvents(t, b.stream, "events")
			require.Empty(t, shared, "nothing is left on the shared topic")

			startRunner(t, b, runner.Config{}, a, bl)
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(seen["A"]) == 2 && len(seen["B"]) == 4
			}, 30*time.Second, 10*time.Millisecond)
			mu.Lock()
			require.Equal(t, []string{x1, x2}, seen["A"])
			require.Equal(t, []string{x1, y, x2, x1}, seen["B"])
			mu.Unlock()
		})
	}
}
