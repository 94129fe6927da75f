package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// Importer runs CSV imports (*bulkimport.Service).
type Importer interface {
	Process(ctx context.Context, tenant domain.TenantID, id string) error
	MarkFailed(ctx context.Context, tenant domain.TenantID, id string, cause error) error
}

// ProcessBulkImport is the job behind POST /api/v1/imports and
// `notifyhub import`: it imports one CSV file, 2,000 rows per transaction,
// resuming where an earlier run stopped. A minute before its timeout it
// queues itself again and returns, so a large file moves on in slices of
// four minutes without using up its tries (and the job's policy, like
// SendBulkNotifications', keeps the default reclaim-after).
func ProcessBulkImport(imports Importer) Type {
	decode := func(payload json.RawMessage) (bulkimport.Payload, error) {
		var p bulkimport.Payload
		if err := json.Unmarshal(payload, &p); err != nil || p.ImportID == "" {
			return p, fmt.Errorf("import payload %s: %w", payload, domain.ErrPermanent)
		}
		return p, nil
	}
	return Type{
		Name:    bulkimport.Job,
		Queue:   runner.QueueDefault,
		Tries:   5,
		Timeout: 5 * time.Minute,
		Backoff: []time.Duration{10 * time.Second, 30 * time.Second},
		Handle: func(ctx context.Context, tenant domain.TenantID, payload json.RawMessage) error {
			p, err := decode(payload)
			if err != nil {
				return err
			}
			return imports.Process(ctx, tenant, p.ImportID)
		},
		Failed: func(ctx context.Context, tenant domain.TenantID, payload json.RawMessage, cause error) error {
			p, err := decode(payload)
			if err != nil {
				return err
			}
			return imports.MarkFailed(ctx, tenant, p.ImportID, cause)
		},
	}
}
