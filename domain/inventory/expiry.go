package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// ExpiryDetectorName is the detector's name in detector_alerts and in the
// scheduler's metrics.
const ExpiryDetectorName = "stock_expiry"

// DefaultExpiryThresholds are the days remaining at which a batch is
// raised: three months, a month, a week, and the day it expires (0 also
// covers batches already expired).
var DefaultExpiryThresholds = []int{90, 30, 7, 0}

// ExpiringBatch is a batch with what the StockExpiring event tells about
// its product.
type ExpiringBatch struct {
	Batch
	SKU  string
	Name string
}

// ExpiryStore is what the expiry detector needs from persistence. Unlike
// the service's Store it reads across tenants: it is the system looking at
// every tenant's stock, and every event it writes carries the tenant of
// the batch it is about.
type ExpiryStore interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	AppendEvents(ctx context.Context, events ...domain.Event) error
	// ExpiringBatches pages through the batches of every tenant holding
	// stock (quantity > 0) of a live product and expiring on or before
	// until, in key order, after the key after (zero: from the start).
	ExpiringBatches(ctx context.Context, until time.Time, after BatchKey, limit int) ([]ExpiringBatch, error)
	// BatchQuantity is the batch's quantity now (0 when gone); inside a
	// transaction the row stays as read until it ends.
	BatchQuantity(ctx context.Context, key BatchKey) (int64, error)
	// RaisedThresholds returns the thresholds already raised per subject.
	RaisedThresholds(ctx context.Context, detector string, subjects []domain.AlertSubject) (map[domain.AlertSubject][]int, error)
	// RaiseAlert records (tenant, detector, subject, threshold) and reports
	// whether it was not recorded before. Call it inside the transaction
	// that appends the event.
	RaiseAlert(ctx context.Context, a domain.DetectorAlert) (bool, error)
}

// ExpiryDetector raises StockExpiring for batches nearing their expiry
// date: at most once per batch and threshold, whatever the number of runs,
// of processes running it, or of restarts. Run it on a schedule.
type ExpiryDetector struct {
	store      ExpiryStore
	thresholds []int // ascending
	pageSize   int
}

// NewExpiryDetector returns a detector with the given thresholds in days
// remaining (nil: DefaultExpiryThresholds), each in [0, 3650].
func NewExpiryDetector(store ExpiryStore, thresholds []int) (*ExpiryDetector, error) {
	if store == nil {
		return nil, errors.New("expiry detector: store is required")
	}
	if thresholds == nil {
		thresholds = DefaultExpiryThresholds
	}
	ts, err := domain.CheckThresholds(thresholds, 0, 3650)
	if err != nil {
		return nil, fmt.Errorf("expiry detector: %w", err)
	}
	return &ExpiryDetector{store: store, thresholds: ts, pageSize: 500}, nil
}

// Name is ExpiryDetectorName.
func (*ExpiryDetector) Name() string { return ExpiryDetectorName }

// tightest returns the smallest threshold that days remaining has reached
// (days <= threshold), false when it has reached none.
func (d *ExpiryDetector) tightest(days int) (int, bool) {
	for _, t := range d.thresholds { // ascending: the first reached is the tightest
		if days <= t {
			return t, true
		}
	}
	return 0, false
}

// Run scans every tenant's batches as of now (its UTC calendar date) and
// raises each batch's tightest threshold reached, unless that one (or a
// tighter one) was raised before. Thresholds skipped over, by a first run
// or after an outage, are not raised late: only the tightest counts. It
// returns how many events it raised. An error on one batch does not stop
// the others; Run returns them joined (the next run retries them).
func (d *ExpiryDetector) Run(ctx context.Context, now time.Time) (int, error) {
	today := domain.Date(now)
	until := today.AddDate(0, 0, d.thresholds[len(d.thresholds)-1])
	var (
		after  BatchKey
		raised int
		errs   []error
	)
	for {
		page, err := d.store.ExpiringBatches(ctx, until, after, d.pageSize)
		if err != nil {
			return raised, errors.Join(append(errs, err)...)
		}
		subjects := make([]domain.AlertSubject, len(page))
		for i, b := range page {
			subjects[i] = domain.AlertSubject{TenantID: b.TenantID, Subject: b.Key().Subject()}
		}
		done, err := d.store.RaisedThresholds(ctx, ExpiryDetectorName, subjects)
		if err != nil {
			return raised, errors.Join(append(errs, err)...)
		}
		for i, b := range page {
			days := domain.DaysBetween(today, b.ExpiryDate)
			t, ok := d.tightest(days)
			// A tighter threshold raised before covers this one too.
			if !ok || slices.ContainsFunc(done[subjects[i]], func(r int) bool { return r <= t }) {
				continue
			}
			fresh, err := d.raise(ctx, b, subjects[i].Subject, days, t, now)
			if ctx.Err() != nil {
				return raised, errors.Join(append(errs, ctx.Err())...)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("batch %s of tenant %s: %w", subjects[i].Subject, b.TenantID, err))
				continue
			}
			if fresh {
				raised++
			}
		}
		if len(page) < d.pageSize {
			return raised, errors.Join(errs...)
		}
		after = page[len(page)-1].Key()
	}
}

// raise records the alert and appends the event in one transaction,
// only if the alert was not there yet; it reports whether it raised.
func (d *ExpiryDetector) raise(ctx context.Context, b ExpiringBatch, subject string, days, threshold int, now time.Time) (bool, error) {
	raised := false
	err := d.store.InTx(ctx, func(ctx context.Context) error {
		raised = false // InTx may rerun this function
		qty, err := d.store.BatchQuantity(ctx, b.Key())
		if err != nil || qty <= 0 {
			return err // consumed since the scan: nothing expires
		}
		first, err := d.store.RaiseAlert(ctx, domain.DetectorAlert{
			TenantID: b.TenantID, Detector: ExpiryDetectorName, Subject: subject,
			Threshold: threshold, RaisedAt: now,
		})
		if err != nil || !first {
			return err
		}
		actor := domain.SystemActor(b.TenantID)
		ev, err := domain.NewEvent(actor.TenantID, actor.UserID, now, StockExpiring{
			ProductID: b.ProductID, SKU: b.SKU, Name: b.Name, LocationID: b.LocationID,
			LocationCode: b.LocationCode, BatchNumber: b.BatchNumber,
			ExpiryDate: b.ExpiryDate.Format(dateLayout), Quantity: qty,
			DaysRemaining: days, Threshold: threshold,
		})
		if err != nil {
			return err
		}
		if err := d.store.AppendEvents(ctx, ev); err != nil {
			return err
		}
		raised = true
		return nil
	})
	return raised, err
}
