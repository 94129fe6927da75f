package jobs

import (
	"encoding/json"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// listenerRetry is the payload of an EventListenerRetry outbox row.
type listenerRetry struct {
	Listener string       `json:"listener"`
	Event    domain.Event `json:"event"`
}

// Route is the relay's router (relay.Config.Route): a dispatched job goes
// to its queue's topic as its envelope; a listener retry goes to the event
// topic addressed to that listener; every other event goes to eventTopic
// as its JSON.
func Route(eventTopic string) func(ev domain.Event) (topic string, body []byte, err error) {
	return func(ev domain.Event) (string, []byte, error) {
		switch ev.Type {
		case domain.EventJobDispatched:
			var e Envelope
			if err := json.Unmarshal(ev.Payload, &e); err != nil || runner.CheckQueue(e.Queue) != nil {
				// Not readable here either: put it on the default queue,
				// where a worker records it as a failed job (visible),
				// rather than holding up the outbox or dropping it.
				return runner.QueueTopic(runner.QueueDefault), ev.Payload, nil
			}
			return runner.QueueTopic(e.Queue), ev.Payload, nil
		case domain.EventListenerRetry:
			var r listenerRetry
			if err := json.Unmarshal(ev.Payload, &r); err == nil && r.Listener != "" && r.Event.ID != "" {
				body, err := runner.ListenerRetryBody(r.Event, r.Listener)
				return eventTopic, body, err
			}
			// Unreadable: listeners acknowledge an event of this type
			// untouched; the failed job was already replaced by it.
		}
		body, err := json.Marshal(ev)
		if err != nil {
			return "", nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
		}
		return eventTopic, body, nil
	}
}
