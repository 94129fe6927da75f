package runner

import (
	"encoding/json"
	"errors"

	"github.com/notifyhub/notifyhub/domain"
)

// delivery is an entry of the event topic: an event, optionally addressed
// to one listener only. The relay writes such an entry to retry one
// listener's failed job without running the event through every other
// listener again.
type delivery struct {
	domain.Event
	OnlyListener string `json:"only_listener,omitempty"`
}

func decodeDelivery(body []byte) (delivery, error) {
	var d delivery
	if err := json.Unmarshal(body, &d); err != nil {
		return delivery{}, err
	}
	if d.ID == "" || d.Type == "" {
		return delivery{}, errors.New("missing id or type")
	}
	return d, nil
}

// ListenerRetryBody encodes ev as an entry of the event topic that only
// the listener named runs; every other listener acknowledges it untouched.
func ListenerRetryBody(ev domain.Event, listener string) ([]byte, error) {
	if listener == "" {
		return nil, errors.New("listener retry: no listener named")
	}
	return json.Marshal(delivery{Event: ev, OnlyListener: listener})
}
