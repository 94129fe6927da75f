package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/extsync"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// ExternalSyncer runs external data syncs (*extsync.Service).
type ExternalSyncer interface {
	Run(ctx context.Context, tenant domain.TenantID, id string) error
	MarkFailed(ctx context.Context, tenant domain.TenantID, id string, cause error) error
}

// SyncExternalData is the job behind POST /api/v1/syncs: it pulls one
// type of record from the tenant's endpoint, page by page, on the low
// queue. Tries and backoff are the job defaults (3 tries, 10s then 1m):
// a timeout or 5xx is retried, resuming at the first page not committed;
// a malformed page, a 4xx, a refused host or an open circuit breaker
// fails the run at once.
func SyncExternalData(syncs ExternalSyncer) Type {
	decode := func(payload json.RawMessage) (extsync.Payload, error) {
		var p extsync.Payload
		if err := json.Unmarshal(payload, &p); err != nil || p.SyncID == "" {
			return p, fmt.Errorf("sync payload %s: %w", payload, domain.ErrPermanent)
		}
		return p, nil
	}
	return Type{
		Name:    extsync.Job,
		Queue:   runner.QueueLow,
		Timeout: 5 * time.Minute,
		Handle: func(ctx context.Context, tenant domain.TenantID, payload json.RawMessage) error {
			p, err := decode(payload)
			if err != nil {
				return err
			}
			return syncs.Run(ctx, tenant, p.SyncID)
		},
		Failed: func(ctx context.Context, tenant domain.TenantID, payload json.RawMessage, cause error) error {
			p, err := decode(payload)
			if err != nil {
				return err
			}
			return syncs.MarkFailed(ctx, tenant, p.SyncID, cause)
		},
	}
}
