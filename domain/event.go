package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event is an immutable business fact, written to the outbox (the events
// table) in the same transaction as the change it describes, then published
// on the event stream by the relay. Consumers receive it at least once and
// must be idempotent on ID.
type Event struct {
	ID            string          `json:"id"`             // uuid v7
	TenantID      TenantID        `json:"tenant_id"`      // owner of the change
	ActorID       UserID          `json:"actor_id"`       // who caused it ("" for the system)
	Type          string          `json:"type"`           // e.g. "LowStockDetected"
	AggregateType string          `json:"aggregate_type"` // e.g. "product"
	AggregateID   string          `json:"aggregate_id"`
	OccurredAt    time.Time       `json:"occurred_at"`
	Payload       json.RawMessage `json:"payload"` // the typed event, JSON encoded
}

// EventPayload is implemented by every typed event of the business modules.
type EventPayload interface {
	EventType() string
	Aggregate() (kind, id string)
}

// NewEvent wraps a typed payload into an Event envelope.
func NewEvent(tenant TenantID, actor UserID, at time.Time, p EventPayload) (Event, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s: %w", p.EventType(), err)
	}
	kind, id := p.Aggregate()
	return Event{
		ID:            NewID(),
		TenantID:      tenant,
		ActorID:       actor,
		Type:          p.EventType(),
		AggregateType: kind,
		AggregateID:   id,
		OccurredAt:    at.UTC(),
		Payload:       raw,
	}, nil
}

// Decode unmarshals the payload into a typed event. Its errors are
// permanent (ErrPermanent): the same payload never decodes.
func (e Event) Decode(into EventPayload) error {
	if e.Type != into.EventType() {
		return fmt.Errorf("decode event %s: payload is %s, want %s: %w", e.ID, e.Type, into.EventType(), ErrPermanent)
	}
	if err := json.Unmarshal(e.Payload, into); err != nil {
		return fmt.Errorf("decode event %s (%s): %w: %w", e.ID, e.Type, ErrPermanent, err)
	}
	return nil
}
