package runner

import (
	"fmt"
	"slices"

	"github.com/notifyhub/notifyhub/domain"
)

// ListenerTopic is the topic that carries one listener's events. The relay,
// through Routes.Fanout, appends each event to the topic of every listener
// that handles its type, so a listener's consumer group reads, decodes and
// acknowledges only the events it handles: still one group per listener,
// each on a topic of its own rather than all on the shared one.
func ListenerTopic(topic, listener string) string { return topic + ":" + listener }

// Routes maps event types to the topics of the listeners that handle them.
// Build it from the same listeners the runner runs.
type Routes struct {
	topic  string
	byType map[string][]string // event type → listener topics, in listener order
	byName map[string]string   // listener name → its topic
}

// NewRoutes returns the routes of listeners on the event topic topic
// ("" = "events", the runner's default).
func NewRoutes(topic string, listeners ...Listener) (*Routes, error) {
	if topic == "" {
		topic = "events"
	}
	r := &Routes{topic: topic, byType: map[string][]string{}, byName: map[string]string{}}
	for _, l := range listeners {
		name := l.Name()
		if _, dup := r.byName[name]; dup {
			return nil, fmt.Errorf("runner: two listeners named %q", name)
		}
		lt := ListenerTopic(topic, name)
		r.byName[name] = lt
		for _, t := range l.Events() {
			if !slices.Contains(r.byType[t], lt) {
				r.byType[t] = append(r.byType[t], lt)
			}
		}
	}
	return r, nil
}

// Fanout returns the topics an entry of the event topic goes to instead
// (relay.Config.Fanout): the topic of every listener that handles the
// event's type, none when no listener does (the outbox row, the event
// log, keeps it). A listener retry (ListenerRetryBody) goes to its
// listener's topic only; one naming a listener these routes do not know
// (a newer process's), or a body no listener could decode, stays on the
// shared topic, whose consumers run it if they have that listener or
// record it as a failed job, as before routing. The body is the same on
// every topic.
func (r *Routes) Fanout(ev domain.Event, body []byte) []string {
	if ev.Type != domain.EventListenerRetry {
		return r.byType[ev.Type]
	}
	d, err := decodeDelivery(body)
	switch {
	case err != nil:
		return []string{r.topic}
	case d.OnlyListener == "":
		return r.byType[d.Type]
	}
	if lt, ok := r.byName[d.OnlyListener]; ok {
		return []string{lt}
	}
	return []string{r.topic}
}
