package report

import (
	"cmp"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// Header starts every report document.
type Header struct {
	ReportID string          `json:"report_id"`
	Type     Type            `json:"type"`
	Tenant   domain.TenantID `json:"tenant"`
	From     string          `json:"from"`
	To       string          `json:"to"`
	// AsOf is the end of the range (midnight after To, UTC): balances,
	// stock and statuses are those at that instant.
	AsOf        time.Time `json:"as_of"`
	GeneratedAt time.Time `json:"generated_at"`
}

// Money is an exact amount as JSON text with at least two decimals:
// "12.50", "0.00", "1.2345".
type Money string

func money(d decimal.Decimal) Money {
	s := d.String()
	switch i := strings.IndexByte(s, '.'); {
	case i < 0:
		s += ".00"
	case len(s)-i-1 == 1:
		s += "0"
	}
	return Money(s)
}

// CountTotal is how many of something and their amount.
type CountTotal struct {
	Count int64 `json:"count"`
	Total Money `json:"total"`
}

// tally accumulates a CountTotal exactly.
type tally struct {
	count int64
	total decimal.Decimal
}

func (t *tally) add(d decimal.Decimal) {
	t.count++
	t.total = t.total.Add(d)
}

func (t tally) out() CountTotal { return CountTotal{Count: t.count, Total: money(t.total)} }

// date formats a date (UTC midnight) as YYYY-MM-DD.
func date(t time.Time) string { return t.UTC().Format(dateLayout) }

// before reports whether t is set and earlier than end.
func before(t *time.Time, end time.Time) bool { return t != nil && t.Before(end) }

// byNameThenID orders rows by a display name, then an id, so equal names
// still sort the same way every time.
func byNameThenID(aName, aID, bName, bID string) int {
	return cmp.Or(cmp.Compare(aName, bName), cmp.Compare(aID, bID))
}
