package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/report"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// ReportGenerator generates reports (*report.Service).
type ReportGenerator interface {
	Generate(ctx context.Context, tenant domain.TenantID, id string) error
	MarkFailed(ctx context.Context, tenant domain.TenantID, id string, cause error) error
}

// GenerateReports is the job behind POST /api/v1/reports: it computes one
// report, writes its file and notifies the requester. It runs on the low
// queue: reports are big reads nobody waits on second by second, and must
// not hold up payments or stock. A run that fails or times out starts
// over (it writes the whole file again); once it used its tries the report
// is marked failed and the requester told.
func GenerateReports(reports ReportGenerator) Type {
	decode := func(payload json.RawMessage) (report.Payload, error) {
		var p report.Payload
		if err := json.Unmarshal(payload, &p); err != nil || p.ReportID == "" {
			return p, fmt.Errorf("report payload %s: %w", payload, domain.ErrPermanent)
		}
		return p, nil
	}
	return Type{
		Name:    report.Job,
		Queue:   runner.QueueLow,
		Tries:   3,
		Timeout: 5 * time.Minute,
		Backoff: []time.Duration{30 * time.Second, time.Minute},
		Handle: func(ctx context.Context, tenant domain.TenantID, payload json.RawMessage) error {
			p, err := decode(payload)
			if err != nil {
				return err
			}
			return reports.Generate(ctx, tenant, p.ReportID)
		},
		Failed: func(ctx context.Context, tenant domain.TenantID, payload json.RawMessage, cause error) error {
			p, err := decode(payload)
			if err != nil {
				return err
			}
			return reports.MarkFailed(ctx, tenant, p.ReportID, cause)
		},
	}
}
