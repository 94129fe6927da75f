package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// BulkSender sends bulk notification requests (*notification.BulkService).
type BulkSender interface {
	Send(ctx context.Context, tenant domain.TenantID, id string) error
	MarkFailed(ctx context.Context, tenant domain.TenantID, id string, cause error) error
}

// SendBulkNotifications is the job behind POST /api/v1/notifications: it
// sends one bulk request, 500 recipients per transaction, resuming where
// an earlier run stopped. A run cut short by its timeout keeps its
// progress, so each of the tries moves the send forward.
func SendBulkNotifications(bulk BulkSender) Type {
	decode := func(payload json.RawMessage) (notification.BulkPayload, error) {
		var p notification.BulkPayload
		if err := json.Unmarshal(payload, &p); err != nil || p.BulkID == "" {
			return p, fmt.Errorf("bulk payload %s: %w", payload, domain.ErrPermanent)
		}
		return p, nil
	}
	return Type{
		Name:    notification.BulkJob,
		Queue:   runner.QueueDefault,
		Tries:   5,
		Timeout: 5 * time.Minute,
		Backoff: []time.Duration{10 * time.Second, 30 * time.Second},
		Handle: func(ctx context.Context, tenant domain.TenantID, payload json.RawMessage) error {
			p, err := decode(payload)
			if err != nil {
				return err
			}
			return bulk.Send(ctx, tenant, p.BulkID)
		},
		Failed: func(ctx context.Context, tenant domain.TenantID, payload json.RawMessage, cause error) error {
			p, err := decode(payload)
			if err != nil {
				return err
			}
			return bulk.MarkFailed(ctx, tenant, p.BulkID, cause)
		},
	}
}
