package inventory

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// Batch is stock of one product at one location that carries an expiry
// date, identified by (product, location, batch number, expiry date).
// Stock received without an expiry date is untracked: it counts in on hand
// but belongs to no batch. At every location the batches' quantities sum to
// at most the on hand there.
type Batch struct {
	TenantID     domain.TenantID `json:"-"`
	ProductID    string          `json:"product_id"`
	LocationID   string          `json:"location_id"`
	LocationCode string          `json:"location_code"` // filled when listed
	BatchNumber  string          `json:"batch_number"`  // "" when received without one
	ExpiryDate   time.Time       `json:"-"`             // a date (UTC midnight); see MarshalJSON
	Quantity     int64           `json:"quantity"`
	// DaysRemaining is filled by Service.ListBatches: UTC calendar days
	// until the expiry date, negative once expired.
	DaysRemaining int       `json:"days_remaining"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// MarshalJSON writes the expiry date as "2006-01-02", like the movement
// input that created the batch.
func (b Batch) MarshalJSON() ([]byte, error) {
	type plain Batch
	return json.Marshal(struct {
		plain
		ExpiryDate string `json:"expiry_date"`
	}{plain(b), b.ExpiryDate.Format(dateLayout)})
}

// BatchKey identifies a batch.
type BatchKey struct {
	TenantID    domain.TenantID
	ProductID   string
	LocationID  string
	BatchNumber string
	ExpiryDate  time.Time // a date (UTC midnight)
}

// Key returns the batch's key.
func (b Batch) Key() BatchKey {
	return BatchKey{TenantID: b.TenantID, ProductID: b.ProductID, LocationID: b.LocationID,
		BatchNumber: b.BatchNumber, ExpiryDate: b.ExpiryDate}
}

// Subject names the batch within its tenant, for detector_alerts. The ids
// and the date have fixed widths, so a batch number containing "/" cannot
// make two batches share a subject.
func (k BatchKey) Subject() string {
	return k.ProductID + "/" + k.LocationID + "/" + k.ExpiryDate.Format(dateLayout) + "/" + k.BatchNumber
}

// fefo orders batches first-expiry-first-out, then by batch number.
func fefo(a, b Batch) int {
	if c := a.ExpiryDate.Compare(b.ExpiryDate); c != 0 {
		return c
	}
	return cmp.Compare(a.BatchNumber, b.BatchNumber)
}

// consume takes up to qty out of batches (those of one product at one
// location) and returns the batches it changed, with their new quantities.
// The batches matching the movement's batch number and expiry date (those
// given) go first; then every other batch, first expiry first out. What
// the batches cannot cover comes out of untracked stock: taking the
// tracked stock first keeps Σ batches ≤ on hand whatever the quantity.
func consume(batches []Batch, qty int64, batchNumber string, expiry *time.Time) []Batch {
	named := func(b Batch) bool {
		if batchNumber == "" && expiry == nil {
			return false
		}
		return (batchNumber == "" || b.BatchNumber == batchNumber) &&
			(expiry == nil || b.ExpiryDate.Equal(*expiry))
	}
	order := slices.Clone(batches)
	slices.SortStableFunc(order, func(a, b Batch) int {
		na, nb := named(a), named(b)
		switch {
		case na && !nb:
			return -1
		case nb && !na:
			return 1
		}
		return fefo(a, b)
	})
	var changed []Batch
	for _, b := range order {
		if qty == 0 {
			break
		}
		if b.Quantity <= 0 {
			continue
		}
		take := min(qty, b.Quantity)
		b.Quantity -= take
		qty -= take
		changed = append(changed, b)
	}
	return changed
}
