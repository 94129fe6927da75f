package inventory

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func day(s string) time.Time {
	d, err := time.Parse(dateLayout, s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestConsumeOrder(t *testing.T) {
	t.Parallel()
	batches := []Batch{
		{BatchNumber: "C", ExpiryDate: day("2027-03-01"), Quantity: 5},
		{BatchNumber: "A", ExpiryDate: day("2027-01-01"), Quantity: 2},
		{BatchNumber: "B", ExpiryDate: day("2027-01-01"), Quantity: 3},
	}
	left := func(changed []Batch) map[string]int64 {
		out := map[string]int64{}
		for _, b := range changed {
			out[b.BatchNumber] = b.Quantity
		}
		return out
	}
	// First expiry first, ties by batch number.
	require.Equal(t, map[string]int64{"A": 0, "B": 2}, left(consume(batches, 3, "", nil)))
	// The named batch first, then FEFO over the rest.
	require.Equal(t, map[string]int64{"C": 0, "A": 1}, left(consume(batches, 6, "C", nil)))
	// Named by expiry date only: both batches of that date first.
	exp := day("2027-03-01")
	require.Equal(t, map[string]int64{"C": 1}, left(consume(batches, 4, "", &exp)))
	// Number and date must both match: "A" expiring in March names nothing.
	require.Equal(t, map[string]int64{"A": 0, "B": 2}, left(consume(batches, 3, "A", &exp)))
	// An unknown batch number falls back to FEFO.
	require.Equal(t, map[string]int64{"A": 1}, left(consume(batches, 1, "nope", nil)))
	// More than is tracked: every batch emptied, the rest is untracked.
	require.Equal(t, map[string]int64{"A": 0, "B": 0, "C": 0}, left(consume(batches, 100, "", nil)))
	// Nothing to take, nothing changed; the input is left as it was.
	require.Empty(t, consume(batches, 0, "", nil))
	require.Empty(t, consume(nil, 5, "", nil))
	require.EqualValues(t, 5, batches[0].Quantity)
}

func TestBatchJSONAndSubject(t *testing.T) {
	t.Parallel()
	b := Batch{TenantID: "acme", ProductID: "p", LocationID: "l", LocationCode: "main", BatchNumber: "L/42",
		ExpiryDate: day("2027-01-31"), Quantity: 3, DaysRemaining: 12}
	raw, err := json.Marshal(b)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(raw, &got))
	require.Equal(t, "2027-01-31", got["expiry_date"])
	require.Equal(t, "L/42", got["batch_number"])
	require.EqualValues(t, 12, got["days_remaining"])
	require.NotContains(t, got, "TenantID")
	require.NotContains(t, got, "tenant_id")
	require.Equal(t, "p/l/2027-01-31/L/42", b.Key().Subject(), "free-text batch number last")
}
