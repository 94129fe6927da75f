package invoice

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// OverdueDetectorName is the detector's name in detector_alerts and in the
// scheduler's metrics.
const OverdueDetectorName = "invoice_overdue"

// DefaultOverdueThresholds are the days past the due date at which an
// unpaid invoice is raised.
var DefaultOverdueThresholds = []int{1, 7, 30, 60, 90}

// OverdueInvoice is what the overdue detector reads of an invoice.
type OverdueInvoice struct {
	TenantID     domain.TenantID
	ID           string
	Number       string
	CustomerID   string
	CustomerName string
	Status       string // open, paid or overdue
	Total        decimal.Decimal
	AmountPaid   decimal.Decimal
	DueDate      time.Time // a date (UTC midnight)
}

// Outstanding is what is left to pay.
func (i OverdueInvoice) Outstanding() decimal.Decimal { return i.Total.Sub(i.AmountPaid) }

// OverdueCursor is the position of a scan: the last (tenant, invoice id)
// seen; its zero value is the start.
type OverdueCursor struct {
	TenantID domain.TenantID
	ID       string
}

// OverdueStore is what the overdue detector needs from persistence. It
// reads across tenants (the system looks at every tenant's invoices); every
// write and event carries the tenant of the invoice it is about.
type OverdueStore interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	AppendEvents(ctx context.Context, events ...domain.Event) error
	// OverdueInvoices pages through the invoices of every tenant that are
	// not paid and were due before the date before, by (tenant, id), after
	// the cursor after.
	OverdueInvoices(ctx context.Context, before time.Time, after OverdueCursor, limit int) ([]OverdueInvoice, error)
	// LockOverdueInvoice reads one invoice again and locks it until the
	// transaction ends, so no payment changes it meanwhile.
	// domain.ErrNotFound when it is gone.
	LockOverdueInvoice(ctx context.Context, tenant domain.TenantID, id string) (OverdueInvoice, error)
	// MarkInvoiceOverdue sets the invoice's status to overdue if it is open.
	MarkInvoiceOverdue(ctx context.Context, tenant domain.TenantID, id string, at time.Time) error
	// RaisedThresholds returns the thresholds already raised per subject.
	RaisedThresholds(ctx context.Context, detector string, subjects []domain.AlertSubject) (map[domain.AlertSubject][]int, error)
	// RaiseAlert records (tenant, detector, subject, threshold) and reports
	// whether it was not recorded before. Call it inside the transaction
	// that appends the event.
	RaiseAlert(ctx context.Context, a domain.DetectorAlert) (bool, error)
}

// OverdueDetector marks unpaid invoices past their due date overdue and
// raises InvoiceOverdue at most once per invoice and threshold, whatever
// the number of runs, of processes running it, or of restarts. Run it on a
// schedule.
type OverdueDetector struct {
	store      OverdueStore
	thresholds []int // ascending
	pageSize   int
}

// NewOverdueDetector returns a detector with the given thresholds in days
// overdue (nil: DefaultOverdueThresholds), each in [1, 3650].
func NewOverdueDetector(store OverdueStore, thresholds []int) (*OverdueDetector, error) {
	if store == nil {
		return nil, errors.New("overdue detector: store is required")
	}
	if thresholds == nil {
		thresholds = DefaultOverdueThresholds
	}
	ts, err := domain.CheckThresholds(thresholds, 1, 3650)
	if err != nil {
		return nil, fmt.Errorf("overdue detector: %w", err)
	}
	return &OverdueDetector{store: store, thresholds: ts, pageSize: 500}, nil
}

// Name is OverdueDetectorName.
func (*OverdueDetector) Name() string { return OverdueDetectorName }

// tightest returns the largest threshold that days overdue has reached
// (days >= threshold), false when it has reached none.
func (d *OverdueDetector) tightest(days int) (int, bool) {
	for i := len(d.thresholds) - 1; i >= 0; i-- {
		if days >= d.thresholds[i] {
			return d.thresholds[i], true
		}
	}
	return 0, false
}

// Run scans every tenant's unpaid invoices due before today (the UTC
// calendar date of now): it marks open ones overdue and raises each one's
// tightest threshold reached, unless that one (or a tighter one) was raised
// before. Thresholds skipped over, by a first run or after an outage, are
// not raised late. It returns how many events it raised. An error on one
// invoice does not stop the others; Run returns them joined.
func (d *OverdueDetector) Run(ctx context.Context, now time.Time) (int, error) {
	today := domain.Date(now)
	var (
		after  OverdueCursor
		raised int
		errs   []error
	)
	for {
		page, err := d.store.OverdueInvoices(ctx, today, after, d.pageSize)
		if err != nil {
			return raised, errors.Join(append(errs, err)...)
		}
		subjects := make([]domain.AlertSubject, len(page))
		for i, inv := range page {
			subjects[i] = domain.AlertSubject{TenantID: inv.TenantID, Subject: inv.ID}
		}
		done, err := d.store.RaisedThresholds(ctx, OverdueDetectorName, subjects)
		if err != nil {
			return raised, errors.Join(append(errs, err)...)
		}
		for i, inv := range page {
			if d.covered(domain.DaysBetween(inv.DueDate, today), done[subjects[i]]) && inv.Status != "open" {
				continue
			}
			fresh, err := d.raise(ctx, inv.TenantID, inv.ID, today, now, done[subjects[i]])
			if ctx.Err() != nil {
				return raised, errors.Join(append(errs, ctx.Err())...)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("invoice %s of tenant %s: %w", inv.ID, inv.TenantID, err))
				continue
			}
			if fresh {
				raised++
			}
		}
		if len(page) < d.pageSize {
			return raised, errors.Join(errs...)
		}
		last := page[len(page)-1]
		after = OverdueCursor{TenantID: last.TenantID, ID: last.ID}
	}
}

// covered reports whether an invoice days overdue has nothing to raise:
// no threshold reached, or its tightest (or a tighter one, should the
// thresholds have changed) among those already raised.
func (d *OverdueDetector) covered(days int, done []int) bool {
	t, ok := d.tightest(days)
	return !ok || slices.ContainsFunc(done, func(r int) bool { return r >= t })
}

// raise works on the invoice as it is now, locked: it marks it overdue if
// open, and records the alert and appends the event in the same
// transaction, only if the alert was not there yet. done are the
// thresholds raised before, as read by the scan (rows are never removed,
// so what it saw stays true). It reports whether it raised.
func (d *OverdueDetector) raise(ctx context.Context, tenant domain.TenantID, id string, today, now time.Time, done []int) (bool, error) {
	raised := false
	err := d.store.InTx(ctx, func(ctx context.Context) error {
		raised = false // InTx may rerun this function
		inv, err := d.store.LockOverdueInvoice(ctx, tenant, id)
		if errors.Is(err, domain.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		days := domain.DaysBetween(inv.DueDate, today)
		if inv.Status == "paid" || !inv.Outstanding().IsPositive() || days < 1 {
			return nil // paid (or due date moved) since the scan
		}
		if inv.Status == "open" {
			if err := d.store.MarkInvoiceOverdue(ctx, tenant, id, now); err != nil {
				return err
			}
		}
		if d.covered(days, done) {
			return nil
		}
		threshold, _ := d.tightest(days)
		first, err := d.store.RaiseAlert(ctx, domain.DetectorAlert{
			TenantID: tenant, Detector: OverdueDetectorName, Subject: id, Threshold: threshold, RaisedAt: now,
		})
		if err != nil || !first {
			return err
		}
		actor := domain.SystemActor(tenant)
		ev, err := domain.NewEvent(actor.TenantID, actor.UserID, now, InvoiceOverdue{
			InvoiceID: inv.ID, Number: inv.Number, CustomerID: inv.CustomerID, CustomerName: inv.CustomerName,
			Total: inv.Total, Outstanding: inv.Outstanding(), DueDate: inv.DueDate.Format(time.DateOnly),
			DaysOverdue: days, Threshold: threshold,
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
