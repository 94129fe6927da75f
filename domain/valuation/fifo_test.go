package valuation_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain/valuation"
)

// ledger builds entries in ledger order, one second apart.
type ledger struct{ entries []valuation.Entry }

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func (l *ledger) add(loc string, qty int64, cost string, batch, expiry string) *ledger {
	e := valuation.Entry{
		MovementID:  fmt.Sprintf("m%03d", len(l.entries)+1),
		LocationID:  loc,
		Quantity:    qty,
		BatchNumber: batch,
		At:          t0.Add(time.Duration(len(l.entries)) * time.Second),
	}
	if cost != "" {
		d := decimal.RequireFromString(cost)
		e.UnitCost = &d
	}
	if expiry != "" {
		d, err := time.Parse(time.DateOnly, expiry)
		if err != nil {
			panic(err)
		}
		e.ExpiryDate = &d
	}
	l.entries = append(l.entries, e)
	return l
}

// in and out at location "main", without batches.
func (l *ledger) in(qty int64, cost string) *ledger { return l.add("main", qty, cost, "", "") }
func (l *ledger) out(qty int64) *ledger             { return l.add("main", -qty, "", "", "") }

// want is a hand-computed position. Layers read "qty@cost" with
// "/batch" and "/expiry" when set, and "~last" or "~none" for a cost that
// was not the movement's own.
type want struct {
	qty                     int64
	fifo, avgCost, avgValue string
	layers                  []string
	warnings                []string // codes
}

func layerString(l valuation.Layer) string {
	s := fmt.Sprintf("%d@%s", l.Quantity, l.UnitCost.StringFixed(2))
	if l.BatchNumber != "" {
		s += "/" + l.BatchNumber
	}
	if l.ExpiryDate != "" {
		s += "/" + l.ExpiryDate
	}
	switch l.CostSource {
	case valuation.CostFromLast:
		s += "~last"
	case valuation.CostMissing:
		s += "~none"
	}
	return s
}

func requirePosition(t *testing.T, w want, p valuation.Position) {
	t.Helper()
	require.Equal(t, w.qty, p.Quantity, "quantity")
	require.Equal(t, w.fifo, p.FIFOValue.StringFixed(4), "fifo value")
	require.Equal(t, w.avgCost, p.AverageCost.StringFixed(4), "average cost")
	require.Equal(t, w.avgValue, p.AverageValue.StringFixed(4), "average value")
	got := make([]string, len(p.Layers))
	for i, l := range p.Layers {
		got[i] = layerString(l)
	}
	if w.layers == nil {
		w.layers = []string{}
	}
	require.Equal(t, w.layers, got, "layers, oldest first")
	codes := []string{}
	for _, x := range p.Warnings {
		codes = append(codes, x.Code)
		require.NotEmpty(t, x.Message)
	}
	if w.warnings == nil {
		w.warnings = []string{}
	}
	require.Equal(t, w.warnings, codes, "warnings")
	// Exactness: FIFO value is the sum of its layers, average value is
	// on hand × average cost, both with at most 4 places.
	sum := decimal.Zero
	for _, l := range p.Layers {
		sum = sum.Add(l.Value())
	}
	require.True(t, sum.Equal(p.FIFOValue))
	require.True(t, p.FIFOValue.Equal(p.FIFOValue.Round(4)))
	require.True(t, p.AverageCost.Equal(p.AverageCost.Round(4)))
}

func TestFIFOAndAverageCostAgainstHandComputedLedgers(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		ledger *ledger
		want   want
	}{
		"the worked example": {
			// FIFO: 10 @ 1.00 go first, then 2 of the 5 @ 1.30: 3 @ 1.30 = 3.90.
			// Average: (10 × 1.00 + 5 × 1.30) / 15 = 16.50 / 15 = 1.10; 3 × 1.10 = 3.30.
			new(ledger).in(10, "1.00").in(5, "1.30").out(12),
			want{qty: 3, fifo: "3.9000", avgCost: "1.1000", avgValue: "3.3000", layers: []string{"3@1.30"}},
		},
		"receipts and issues interleaved": {
			// 100 @ 2.00; out 30 → 70 @ 2.00; + 50 @ 2.60; out 90 → 70 from
			// the first layer, 20 from the second: 30 @ 2.60 = 78.00.
			// Average: 2.00; (70 × 2.00 + 50 × 2.60) / 120 = 270 / 120 = 2.25; 30 × 2.25 = 67.50.
			new(ledger).in(100, "2.00").out(30).in(50, "2.60").out(90),
			want{qty: 30, fifo: "78.0000", avgCost: "2.2500", avgValue: "67.5000", layers: []string{"30@2.60"}},
		},
		"nothing issued": {
			// 4 @ 0.25 + 6 @ 0.75 = 1.00 + 4.50 = 5.50; average 5.50 / 10 = 0.55.
			new(ledger).in(4, "0.25").in(6, "0.75"),
			want{qty: 10, fifo: "5.5000", avgCost: "0.5500", avgValue: "5.5000", layers: []string{"4@0.25", "6@0.75"}},
		},
		"average rounded to 4 places": {
			// (1 × 1.00 + 2 × 2.00) / 3 = 1.6666… → 1.6667; 3 × 1.6667 = 5.0001
			// while FIFO stays exact at 5.00.
			new(ledger).in(1, "1.00").in(2, "2.00"),
			want{qty: 3, fifo: "5.0000", avgCost: "1.6667", avgValue: "5.0001", layers: []string{"1@1.00", "2@2.00"}},
		},
		"half rounds away from zero": {
			// (0.0001 + 0.0002) / 2 = 0.00015 → 0.0002; 2 × 0.0002 = 0.0004.
			new(ledger).in(1, "0.0001").in(1, "0.0002"),
			want{qty: 2, fifo: "0.0003", avgCost: "0.0002", avgValue: "0.0004", layers: []string{"1@0.00", "1@0.00"}},
		},
		"below half rounds down": {
			// (3 × 1.00 + 0.0001) / 4 = 0.750025 → 0.7500; 4 × 0.75 = 3.0000, FIFO 3.0001.
			new(ledger).in(3, "1.00").in(1, "0.0001"),
			want{qty: 4, fifo: "3.0001", avgCost: "0.7500", avgValue: "3.0000", layers: []string{"3@1.00", "1@0.00"}},
		},
		"the rounded average carries on": {
			// 1.6667 after the first two receipts (above); then
			// (3 × 1.6667 + 3 × 1.00) / 6 = 8.0001 / 6 = 1.33335 → 1.3334.
			// Out 4: FIFO takes 1 @ 1.00 and 2 @ 2.00 and 1 @ 1.00: 2 @ 1.00 left.
			new(ledger).in(1, "1.00").in(2, "2.00").in(3, "1.00").out(4),
			want{qty: 2, fifo: "2.0000", avgCost: "1.3334", avgValue: "2.6668", layers: []string{"2@1.00"}},
		},
		"sold out, then a new price": {
			// Nothing on hand when 5 @ 3.00 arrive: the average starts over.
			new(ledger).in(10, "1.00").out(10).in(5, "3.00"),
			want{qty: 5, fifo: "15.0000", avgCost: "3.0000", avgValue: "15.0000", layers: []string{"5@3.00"}},
		},
		"sold out": {
			new(ledger).in(10, "1.00").out(4).out(6),
			want{qty: 0, fifo: "0.0000", avgCost: "1.0000", avgValue: "0.0000"},
		},
		"a free receipt is a real cost of zero": {
			// (10 × 2.00 + 10 × 0) / 20 = 1.00.
			new(ledger).in(10, "2.00").in(10, "0").out(15),
			want{qty: 5, fifo: "0.0000", avgCost: "1.0000", avgValue: "5.0000", layers: []string{"5@0.00"}},
		},
		"no unit cost: the last known cost, else zero": {
			// 10 without cost and none before → 0 (warned); 5 @ 2.00; 5 without
			// cost → the last known 2.00 (warned). Layers 0 + 10 + 10 = 20.00.
			// Average: 0; (10 × 0 + 5 × 2) / 15 = 0.6666… → 0.6667;
			// (15 × 0.6667 + 5 × 2.00) / 20 = 20.0005 / 20 = 1.000025 → 1.0000.
			new(ledger).in(10, "").in(5, "2.00").in(5, ""),
			want{qty: 20, fifo: "20.0000", avgCost: "1.0000", avgValue: "20.0000",
				layers:   []string{"10@0.00~none", "5@2.00", "5@2.00~last"},
				warnings: []string{valuation.WarnCostFromLast, valuation.WarnCostMissing}},
		},
		"batch named by number goes first, then the oldest": {
			// A (oldest) 5 @ 1.00, B 5 @ 2.00, untracked 5 @ 3.00. Out 6
			// naming B: all of B, then 1 of A. Left: 4 @ 1.00 + 5 @ 3.00 = 19.00.
			new(ledger).
				add("main", 5, "1.00", "A", "2027-01-01").
				add("main", 5, "2.00", "B", "2026-12-01").
				add("main", 5, "3.00", "", "").
				add("main", -6, "", "B", ""),
			want{qty: 9, fifo: "19.0000", avgCost: "2.0000", avgValue: "18.0000",
				layers: []string{"4@1.00/A/2027-01-01", "5@3.00"}},
		},
		"batch named by expiry date only": {
			// Out 3 naming 2027-02-01: both of that date's layers (oldest
			// first: L1 then L3), then nothing else. L2 untouched.
			new(ledger).
				add("main", 2, "1.00", "L1", "2027-02-01").
				add("main", 2, "2.00", "L2", "2027-01-01").
				add("main", 2, "3.00", "L3", "2027-02-01").
				add("main", -3, "", "", "2027-02-01"),
			want{qty: 3, fifo: "7.0000", avgCost: "2.0000", avgValue: "6.0000",
				layers: []string{"2@2.00/L2/2027-01-01", "1@3.00/L3/2027-02-01"}},
		},
		"batch number and date must both match": {
			// L1 expiring in March names nothing: plain FIFO takes L1 (oldest).
			new(ledger).
				add("main", 2, "1.00", "L1", "2027-02-01").
				add("main", 2, "2.00", "L2", "2027-03-01").
				add("main", -2, "", "L1", "2027-03-01"),
			want{qty: 2, fifo: "4.0000", avgCost: "1.5000", avgValue: "3.0000",
				layers: []string{"2@2.00/L2/2027-03-01"}},
		},
		"an unknown batch falls back to FIFO": {
			new(ledger).
				add("main", 2, "1.00", "L1", "2027-02-01").
				add("main", 2, "2.00", "L2", "2027-03-01").
				add("main", -1, "", "nope", ""),
			want{qty: 3, fifo: "5.0000", avgCost: "1.5000", avgValue: "4.5000",
				layers: []string{"1@1.00/L1/2027-02-01", "2@2.00/L2/2027-03-01"}},
		},
		"more than the named batch holds": {
			// B has 2: the other 3 come from the oldest, A.
			new(ledger).
				add("main", 5, "1.00", "A", "2027-01-01").
				add("main", 2, "4.00", "B", "2027-06-01").
				add("main", -5, "", "B", ""),
			want{qty: 2, fifo: "2.0000", avgCost: "1.8571", avgValue: "3.7142",
				layers: []string{"2@1.00/A/2027-01-01"}},
		},
		"an issue ahead of its receipt in ledger order": {
			// Out 4 with nothing on hand (stamps committed out of order):
			// the next receipt covers it; 6 @ 1.50 remain.
			new(ledger).out(4).in(10, "1.50"),
			want{qty: 6, fifo: "9.0000", avgCost: "1.5000", avgValue: "9.0000", layers: []string{"6@1.50"},
				warnings: []string{valuation.WarnIssueBeforeCover}},
		},
		"an issue never covered": {
			// Defensive: the ledger does not balance. Nothing is valued
			// below zero.
			new(ledger).in(2, "1.00").out(5),
			want{qty: -3, fifo: "0.0000", avgCost: "1.0000", avgValue: "0.0000",
				warnings: []string{valuation.WarnIssueNeverCovered}},
		},
		"large quantities stay exact": {
			// Out 1 of 1e9 @ 9999.9999: 999 999 999 × 9999.9999 + 3 × 0.0001 =
			// 9 999 999 890 000.0004; the average stays 9999.9999 (9999.99987 rounded).
			new(ledger).in(1_000_000_000, "9999.9999").in(3, "0.0001").out(1),
			want{qty: 1_000_000_002, fifo: "9999999890000.0004", avgCost: "9999.9999", avgValue: "9999999919999.9998",
				layers: []string{"999999999@10000.00", "3@0.00"}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := valuation.Calculate(tc.ledger.entries)
			require.Len(t, got, 1)
			require.Equal(t, "main", got[0].LocationID)
			requirePosition(t, tc.want, got[0])
		})
	}
}

func TestCalculationPerLocation(t *testing.T) {
	t.Parallel()
	l := new(ledger).
		add("north", 10, "1.00", "", "").
		add("south", 4, "5.00", "", "").
		add("north", -3, "", "", "").
		add("south", 2, "", "", ""). // no cost: the product's last known, 5.00 (south's own)
		add("north", 2, "", "", ""). // last known is still south's 5.00: cost is the product's
		add("south", -5, "", "", "")
	got := valuation.Calculate(l.entries)
	require.Len(t, got, 2)
	require.Equal(t, []string{"north", "south"}, []string{got[0].LocationID, got[1].LocationID})
	// North: 7 @ 1.00 + 2 @ 5.00 = 17.00; average (7 × 1 + 2 × 5) / 9 = 1.8888… → 1.8889.
	requirePosition(t, want{qty: 9, fifo: "17.0000", avgCost: "1.8889", avgValue: "17.0001",
		layers: []string{"7@1.00", "2@5.00~last"}, warnings: []string{valuation.WarnCostFromLast}}, got[0])
	// South: 4 @ 5.00 + 2 @ 5.00 (last) − 5 → 1 @ 5.00; an issue at south never
	// touches north's layers.
	requirePosition(t, want{qty: 1, fifo: "5.0000", avgCost: "5.0000", avgValue: "5.0000",
		layers: []string{"1@5.00~last"}, warnings: []string{valuation.WarnCostFromLast}}, got[1])
}

func TestCalculateOrdersTheLedger(t *testing.T) {
	t.Parallel()
	l := new(ledger).in(10, "1.00").in(5, "1.30").out(12)
	shuffled := []valuation.Entry{l.entries[2], l.entries[0], l.entries[1]}
	requirePosition(t, want{qty: 3, fifo: "3.9000", avgCost: "1.1000", avgValue: "3.3000", layers: []string{"3@1.30"}},
		valuation.Calculate(shuffled)[0])
	// Same time stamp: the movement id decides.
	same := []valuation.Entry{l.entries[2], l.entries[1], l.entries[0]}
	for i := range same {
		same[i].At = t0
	}
	requirePosition(t, want{qty: 3, fifo: "3.9000", avgCost: "1.1000", avgValue: "3.3000", layers: []string{"3@1.30"}},
		valuation.Calculate(same)[0])
	require.Empty(t, valuation.Calculate(nil))
}

// TestRandomLedgersBalance drives random valid ledgers (never below zero)
// and checks the invariants: on hand = Σ layers, FIFO value = Σ layers at
// their receipts' costs, every layer comes from a real receipt, no warnings.
func TestRandomLedgersBalance(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	for run := range 200 {
		l := new(ledger)
		onHand := map[string]int64{}
		costs := map[string]decimal.Decimal{}
		for range 1 + rng.IntN(40) {
			loc := []string{"a", "b"}[rng.IntN(2)]
			batch := []string{"", "X", "Y"}[rng.IntN(3)]
			if onHand[loc] == 0 || rng.IntN(2) == 0 {
				q := 1 + rng.Int64N(50)
				cost := decimal.New(rng.Int64N(1_000_000), -4)
				l.add(loc, q, cost.String(), batch, "")
				costs[l.entries[len(l.entries)-1].MovementID] = cost
				onHand[loc] += q
			} else {
				q := 1 + rng.Int64N(onHand[loc])
				l.add(loc, -q, "", batch, "")
				onHand[loc] -= q
			}
		}
		for _, p := range valuation.Calculate(l.entries) {
			require.Equal(t, onHand[p.LocationID], p.Quantity, "run %d", run)
			var n int64
			for _, layer := range p.Layers {
				require.Positive(t, layer.Quantity)
				require.True(t, costs[layer.MovementID].Equal(layer.UnitCost), "run %d: a layer keeps its receipt's cost", run)
				n += layer.Quantity
			}
			require.Equal(t, p.Quantity, n, "run %d: on hand is what the layers hold", run)
			require.Empty(t, p.Warnings, "run %d", run)
			require.True(t, p.AverageValue.Equal(p.AverageCost.Mul(decimal.NewFromInt(p.Quantity))))
		}
	}
}

func TestWarningsSayWhatHappened(t *testing.T) {
	t.Parallel()
	got := valuation.Calculate(new(ledger).out(4).in(3, "").in(3, "").in(1, "2.00").in(2, "").entries)[0]
	msgs := make([]string, len(got.Warnings))
	for i, w := range got.Warnings {
		msgs[i] = w.Message
	}
	all := strings.Join(msgs, "\n")
	require.Contains(t, all, "1 movement(s) in without a unit cost were valued at the product's last known unit cost")
	require.Contains(t, all, "2 movement(s) in without a unit cost, and no earlier cost to go by, were valued at 0")
	require.Contains(t, all, "4 unit(s) moved out before the receipt")
}
