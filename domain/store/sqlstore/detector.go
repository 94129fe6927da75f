package sqlstore

import (
	"context"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
)

// RaiseAlert records that detector raised its event for (tenant, subject)
// at threshold, and reports whether this call recorded it: false when it
// was recorded before. Call it inside the transaction that appends the
// event, and append only when it reports true. On PostgreSQL a concurrent
// transaction inserting the same key waits for this one and then finds
// it, so exactly one of them raises.
func (s *Store) RaiseAlert(ctx context.Context, a domain.DetectorAlert) (bool, error) {
	if err := requireTenant(a.TenantID); err != nil {
		return false, fmt.Errorf("raise alert: %w", err)
	}
	if a.Detector == "" || a.Subject == "" {
		return false, fmt.Errorf("raise alert: %w", domain.Invalid("subject", "detector and subject are required"))
	}
	res, err := s.exec(ctx, `INSERT INTO detector_alerts (tenant_id, detector, subject, threshold, raised_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, detector, subject, threshold) DO NOTHING`,
		a.TenantID, a.Detector, a.Subject, a.Threshold, encTimeOrNow(a.RaisedAt))
	if err != nil {
		return false, s.wrap("raise alert", err)
	}
	n, err := affected("raise alert", res)
	return n == 1, err
}

// subjectsPerQuery bounds one "subject IN (...)" list.
const subjectsPerQuery = 500

// RaisedThresholds returns, for each of subjects that detector has raised
// alerts for, the thresholds raised. Subjects are looked up within their
// own tenant.
func (s *Store) RaisedThresholds(ctx context.Context, detector string, subjects []domain.AlertSubject) (map[domain.AlertSubject][]int, error) {
	out := map[domain.AlertSubject][]int{}
	byTenant := map[domain.TenantID][]string{}
	for _, sub := range subjects {
		byTenant[sub.TenantID] = append(byTenant[sub.TenantID], sub.Subject)
	}
	for tenant, subs := range byTenant {
		for start := 0; start < len(subs); start += subjectsPerQuery {
			chunk := subs[start:min(start+subjectsPerQuery, len(subs))]
			args := make([]any, 0, len(chunk)+2)
			args = append(args, tenant, detector)
			for _, c := range chunk {
				args = append(args, c)
			}
			rows, err := s.query(ctx, `SELECT subject, threshold FROM detector_alerts
				WHERE tenant_id = ? AND detector = ? AND subject IN (`+inList(len(chunk))+`)`, args...)
			if err != nil {
				return nil, s.wrap("raised thresholds", err)
			}
			err = func() error {
				defer rows.Close()
				for rows.Next() {
					var (
						subject   string
						threshold int
					)
					if err := rows.Scan(&subject, &threshold); err != nil {
						return fmt.Errorf("raised thresholds: scan: %w", err)
					}
					key := domain.AlertSubject{TenantID: tenant, Subject: subject}
					out[key] = append(out[key], threshold)
				}
				return rows.Err()
			}()
			if err != nil {
				return nil, s.wrap("raised thresholds", err)
			}
		}
	}
	return out, nil
}
