package domain

import (
	"fmt"
	"slices"
	"time"
)

// AlertSubject names what a scheduled detector watches in one tenant: a
// batch, an invoice. Subjects are compared within their tenant only.
type AlertSubject struct {
	TenantID TenantID
	Subject  string
}

// DetectorAlert records that a detector raised its event for a subject at
// a threshold. The store keeps one per (tenant, detector, subject,
// threshold), inserted in the same transaction as the event: that key is
// what makes a detector raise each threshold once, however many processes
// run it and however often.
type DetectorAlert struct {
	TenantID  TenantID
	Detector  string
	Subject   string
	Threshold int
	RaisedAt  time.Time
}

// Date returns the UTC calendar date of t, at midnight UTC.
func Date(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// DaysBetween counts the UTC calendar days from from to to: 0 on the same
// day, negative when to is earlier. It works on Unix seconds rather than
// time.Duration, which overflows past 292 years (a batch may carry an
// expiry date in year 9999).
func DaysBetween(from, to time.Time) int {
	return int((Date(to).Unix() - Date(from).Unix()) / 86400)
}

// CheckThresholds validates the thresholds of a detector, in days: at least
// one, each in [lo, hi], no repeats. It returns them sorted in ascending
// order.
func CheckThresholds(thresholds []int, lo, hi int) ([]int, error) {
	if len(thresholds) == 0 {
		return nil, fmt.Errorf("thresholds: at least one is required")
	}
	out := slices.Clone(thresholds)
	slices.Sort(out)
	for i, t := range out {
		if t < lo || t > hi {
			return nil, fmt.Errorf("thresholds: %d is outside [%d, %d]", t, lo, hi)
		}
		if i > 0 && out[i-1] == t {
			return nil, fmt.Errorf("thresholds: %d is repeated", t)
		}
	}
	return out, nil
}
