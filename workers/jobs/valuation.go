package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/valuation"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// Valuer runs inventory valuations (*valuation.Service).
type Valuer interface {
	Run(ctx context.Context, tenant domain.TenantID, id string) error
	MarkFailed(ctx context.Context, tenant domain.TenantID, id string, cause error) error
}

// RecalculateInventoryValuation is the job behind POST /api/v1/valuations:
// it values the requested scope from the stock ledger and writes the
// results in one transaction. A run cut short (timeout, crash, takeover)
// leaves no partial results: the next one starts over and replaces them.
// It runs on the low queue, behind what users wait for.
func RecalculateInventoryValuation(v Valuer) Type {
	decode := func(payload json.RawMessage) (valuation.Payload, error) {
		var p valuation.Payload
		if err := json.Unmarshal(payload, &p); err != nil || p.ValuationID == "" {
			return p, fmt.Errorf("valuation payload %s: %w", payload, domain.ErrPermanent)
		}
		return p, nil
	}
	return Type{
		Name:    valuation.Job,
		Queue:   runner.QueueLow,
		Tries:   3,
		Timeout: 5 * time.Minute,
		Backoff: []time.Duration{10 * time.Second, time.Minute},
		Handle: func(ctx context.Context, tenant domain.TenantID, payload json.RawMessage) error {
			p, err := decode(payload)
			if err != nil {
				return err
			}
			return v.Run(ctx, tenant, p.ValuationID)
		},
		Failed: func(ctx context.Context, tenant domain.TenantID, payload json.RawMessage, cause error) error {
			p, err := decode(payload)
			if err != nil {
				return err
			}
			return v.MarkFailed(ctx, tenant, p.ValuationID, cause)
		},
	}
}
