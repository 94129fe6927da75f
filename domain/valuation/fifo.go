package valuation

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// The calculation. Pure: no I/O, no clock, exact decimal arithmetic
// (shopspring/decimal, never float).
//
// Rounding rules:
//   - Unit costs come from the ledger with at most 4 decimal places and
//     quantities are integers, so every FIFO layer value and every sum of
//     them is exact: FIFO is never rounded.
//   - The average cost is recomputed at each movement in, as
//     (on hand before × average before + quantity in × unit cost) /
//     (on hand before + quantity in), rounded to 4 decimal places, half
//     away from zero (computed exactly, no intermediate rounding).
//     Movements out leave it unchanged. Average value = on hand × average
//     cost, exact. FIFO and average values may therefore differ in the
//     last places even for a single receipt price history.
//   - Everything is stored with 4 decimal places (numeric(20,4)).

// costPlaces is the number of decimal places of every stored cost.
const costPlaces = 4

// CostSource says where a layer's unit cost came from.
type CostSource string

const (
	// CostFromMovement: the movement in carried a unit cost.
	CostFromMovement CostSource = "movement"
	// CostFromLast: the movement in had no unit cost; the product's last
	// known unit cost (from an earlier movement in with one, at any
	// location) stands in.
	CostFromLast CostSource = "last_cost"
	// CostMissing: no unit cost and none known before: valued at zero,
	// with a warning on the line.
	CostMissing CostSource = "none"
)

// Warning codes on a result line.
const (
	WarnCostFromLast      = "cost_from_last_receipt"
	WarnCostMissing       = "cost_missing"
	WarnIssueBeforeCover  = "issue_before_receipt"
	WarnIssueNeverCovered = "issue_uncovered"
)

// Entry is one ledger movement as the calculation sees it. Entries of one
// product are applied in ledger order: by time, then movement id.
type Entry struct {
	MovementID  string
	LocationID  string
	Quantity    int64            // + in, − out
	UnitCost    *decimal.Decimal // movements in; nil when not given
	BatchNumber string
	ExpiryDate  *time.Time // a date
	At          time.Time
}

// Layer is what is left of one movement in: its remaining quantity at its
// unit cost.
type Layer struct {
	Quantity    int64           `json:"quantity"`
	UnitCost    decimal.Decimal `json:"unit_cost"`
	ReceivedAt  time.Time       `json:"received_at"`
	BatchNumber string          `json:"batch_number"`
	ExpiryDate  string          `json:"expiry_date,omitempty"` // YYYY-MM-DD
	MovementID  string          `json:"movement_id"`
	CostSource  CostSource      `json:"cost_source"`
}

// Value is the layer's quantity times its unit cost (exact).
func (l Layer) Value() decimal.Decimal { return l.UnitCost.Mul(decimal.NewFromInt(l.Quantity)) }

// Warning is something about a line's ledger the reader should know: the
// figures are computed anyway.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Position is the valuation of one product at one location after its
// ledger.
type Position struct {
	LocationID   string
	Quantity     int64           // on hand: Σ movements
	FIFOValue    decimal.Decimal // Σ layers' value
	AverageCost  decimal.Decimal // weighted moving average, 4 dp
	AverageValue decimal.Decimal // Quantity × AverageCost (0 when Quantity ≤ 0)
	Layers       []Layer         // oldest first
	Warnings     []Warning
}

// position is the running state of one location.
type position struct {
	id     string
	qty    int64
	avg    decimal.Decimal
	layers []Layer
	short  int64 // units moved out that no layer covered yet (ledger order)
	early  int64 // units moved out before any layer covered them
	// Movements in costed from the last known cost, and at zero.
	fromLast, missing int
}

// Calculator values one product's ledger at every location: Apply each of
// its entries in ledger order, then read Positions. The zero value is
// ready to use.
type Calculator struct {
	lastCost *decimal.Decimal // of the product, any location
	locs     map[string]*position
	order    []string // locations in order of first appearance
}

// Apply applies the next entry of the ledger. A movement in adds a cost
// layer (first covering units moved out before it, if any) and updates the
// average cost; a movement out consumes layers: those of the batch it
// names first (batch number and/or expiry date, oldest first), then the
// oldest. Units moved out beyond every layer (impossible while on hand
// never goes below zero and the ledger is in order, but ledger order is by
// time stamp and stamps may commit out of order) are remembered and taken
// from the next movement in, at its cost, with a warning.
func (c *Calculator) Apply(e Entry) {
	p := c.position(e.LocationID)
	switch {
	case e.Quantity > 0:
		c.receive(p, e)
	case e.Quantity < 0:
		p.issue(e)
	}
}

func (c *Calculator) position(loc string) *position {
	if c.locs == nil {
		c.locs = map[string]*position{}
	}
	p, ok := c.locs[loc]
	if !ok {
		p = &position{id: loc}
		c.locs[loc] = p
		c.order = append(c.order, loc)
	}
	return p
}

func (c *Calculator) receive(p *position, e Entry) {
	cost, source := decimal.Zero, CostMissing
	switch {
	case e.UnitCost != nil:
		cost, source = *e.UnitCost, CostFromMovement
		last := cost
		c.lastCost = &last
	case c.lastCost != nil:
		cost, source = *c.lastCost, CostFromLast
		p.fromLast++
	default:
		p.missing++
	}
	// Average cost over the stock on hand before (what was moved out
	// uncovered is not stock: it takes this receipt's cost).
	before := max(p.qty, 0)
	if before == 0 {
		p.avg = cost
	} else {
		total := p.avg.Mul(decimal.NewFromInt(before)).Add(cost.Mul(decimal.NewFromInt(e.Quantity)))
		p.avg = total.DivRound(decimal.NewFromInt(before+e.Quantity), costPlaces)
	}
	p.qty += e.Quantity

	qty := e.Quantity
	if p.short > 0 {
		covered := min(p.short, qty)
		p.short -= covered
		qty -= covered
	}
	if qty == 0 {
		return
	}
	l := Layer{Quantity: qty, UnitCost: cost, ReceivedAt: e.At, BatchNumber: e.BatchNumber,
		MovementID: e.MovementID, CostSource: source}
	if e.ExpiryDate != nil {
		l.ExpiryDate = e.ExpiryDate.Format(time.DateOnly)
	}
	p.layers = append(p.layers, l)
}

func (p *position) issue(e Entry) {
	need := -e.Quantity
	p.qty -= need
	named := func(l Layer) bool {
		if e.BatchNumber == "" && e.ExpiryDate == nil {
			return false
		}
		return (e.BatchNumber == "" || l.BatchNumber == e.BatchNumber) &&
			(e.ExpiryDate == nil || l.ExpiryDate == e.ExpiryDate.Format(time.DateOnly))
	}
	// The named batch's layers first, oldest first; then every layer,
	// oldest first. Layers are kept oldest first, so one pass each.
	for _, pass := range []func(Layer) bool{named, func(Layer) bool { return true }} {
		for i := range p.layers {
			if need == 0 {
				break
			}
			if l := &p.layers[i]; l.Quantity > 0 && pass(*l) {
				take := min(need, l.Quantity)
				l.Quantity -= take
				need -= take
			}
		}
	}
	p.layers = slices.DeleteFunc(p.layers, func(l Layer) bool { return l.Quantity == 0 })
	if need > 0 {
		p.short += need
		p.early += need
	}
}

// Positions returns the valuation at every location the ledger touched,
// in order of first appearance. It does not change the calculator.
func (c *Calculator) Positions() []Position {
	out := make([]Position, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.locs[id].result())
	}
	return out
}

func (p *position) result() Position {
	r := Position{LocationID: p.id, Quantity: p.qty, FIFOValue: decimal.Zero, AverageCost: p.avg,
		AverageValue: decimal.Zero, Layers: slices.Clone(p.layers)}
	for _, l := range p.layers {
		r.FIFOValue = r.FIFOValue.Add(l.Value())
	}
	if p.qty > 0 {
		r.AverageValue = p.avg.Mul(decimal.NewFromInt(p.qty))
	}
	if r.Layers == nil {
		r.Layers = []Layer{}
	}
	if p.fromLast > 0 {
		r.Warnings = append(r.Warnings, Warning{WarnCostFromLast, fmt.Sprintf(
			"%d movement(s) in without a unit cost were valued at the product's last known unit cost", p.fromLast)})
	}
	if p.missing > 0 {
		r.Warnings = append(r.Warnings, Warning{WarnCostMissing, fmt.Sprintf(
			"%d movement(s) in without a unit cost, and no earlier cost to go by, were valued at 0", p.missing)})
	}
	if covered := p.early - p.short; covered > 0 {
		r.Warnings = append(r.Warnings, Warning{WarnIssueBeforeCover, fmt.Sprintf(
			"%d unit(s) moved out before the receipt that covered them (in ledger order) were costed at that later receipt", covered)})
	}
	if p.short > 0 {
		r.Warnings = append(r.Warnings, Warning{WarnIssueNeverCovered, fmt.Sprintf(
			"%d unit(s) moved out were never covered by a receipt: the ledger does not balance", p.short)})
	}
	if r.Warnings == nil {
		r.Warnings = []Warning{}
	}
	return r
}

// Calculate values a product's ledger: it applies entries in ledger order
// (by At, then MovementID; entries may come in any order) and returns the
// positions, one per location, ordered by location id.
func Calculate(entries []Entry) []Position {
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b Entry) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return cmp.Compare(a.MovementID, b.MovementID)
	})
	var c Calculator
	for _, e := range sorted {
		c.Apply(e)
	}
	out := c.Positions()
	slices.SortFunc(out, func(a, b Position) int { return cmp.Compare(a.LocationID, b.LocationID) })
	return out
}
