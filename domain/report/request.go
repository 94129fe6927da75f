package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// MaxRangeDays is the longest range a report covers, both days counted: a
// leap year.
const MaxRangeDays = 366

const dateLayout = time.DateOnly

// Dates a report may cover. The upper bound keeps "the day after to" a
// four-digit year.
var (
	minDate = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDate = time.Date(9998, 12, 31, 0, 0, 0, 0, time.UTC)
)

// RequestInput is the body of POST /api/v1/reports.
type RequestInput struct {
	Type string `json:"type"`
	From string `json:"from"` // YYYY-MM-DD
	To   string `json:"to"`   // YYYY-MM-DD, on or after from
}

// typeNames is the list of types for error messages.
func typeNames() string {
	names := make([]string, len(Types))
	for i, t := range Types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// validate checks the request and returns its type and parameters.
func (in RequestInput) validate() (Type, Parameters, error) {
	v := &domain.ValidationError{}
	typ := Type(in.Type)
	switch {
	case in.Type == "":
		v.Add("type", "is required: one of "+typeNames())
	case !typ.Valid():
		v.Add("type", "must be one of "+typeNames())
	}
	from, fromOK := parseDate(v, "from", in.From)
	to, toOK := parseDate(v, "to", in.To)
	if fromOK && toOK {
		switch days := domain.DaysBetween(from, to) + 1; {
		case to.Before(from):
			v.Add("range", fmt.Sprintf("from (%s) must not be after to (%s)", in.From, in.To))
		case days > MaxRangeDays:
			v.Add("range", fmt.Sprintf("a report covers at most %d days; %s to %s is %d days", MaxRangeDays, in.From, in.To, days))
		}
	}
	return typ, Parameters{From: in.From, To: in.To}, v.Err()
}

// parseDate reads a YYYY-MM-DD date into v's field.
func parseDate(v *domain.ValidationError, field, s string) (time.Time, bool) {
	if s == "" {
		v.Add(field, "is required (YYYY-MM-DD)")
		return time.Time{}, false
	}
	d, err := time.Parse(dateLayout, s)
	if err != nil || len(s) != len(dateLayout) {
		v.Add(field, "must be a date as YYYY-MM-DD, e.g. 2026-03-31")
		return time.Time{}, false
	}
	if d.Before(minDate) || d.After(maxDate) {
		v.Add(field, fmt.Sprintf("must be between %s and %s", minDate.Format(dateLayout), maxDate.Format(dateLayout)))
		return time.Time{}, false
	}
	return d, true
}

// Window is the time a report covers: [Start, End), UTC, End being
// midnight after the last day. Figures "as of" the report are as of End.
type Window struct {
	Start time.Time
	End   time.Time
}

// window turns stored parameters into the instants they cover.
func (p Parameters) window() (Window, error) {
	v := &domain.ValidationError{}
	from, ok1 := parseDate(v, "from", p.From)
	to, ok2 := parseDate(v, "to", p.To)
	if !ok1 || !ok2 || to.Before(from) {
		return Window{}, fmt.Errorf("report parameters %+v: %w: %w", p, domain.ErrPermanent, v)
	}
	return Window{Start: from, End: to.AddDate(0, 0, 1)}, nil
}
