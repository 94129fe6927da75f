package report

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	ok := RequestInput{Type: "sales", From: "2026-03-01", To: "2026-03-31"}
	typ, p, err := ok.validate()
	require.NoError(t, err)
	require.Equal(t, TypeSales, typ)
	require.Equal(t, Parameters{From: "2026-03-01", To: "2026-03-31"}, p)

	for name, tc := range map[string]struct {
		in    RequestInput
		field string
		says  string
	}{
		"unknown type":      {RequestInput{Type: "payroll", From: "2026-03-01", To: "2026-03-31"}, "type", "sales, inventory, financial, customer, procurement"},
		"no type":           {RequestInput{From: "2026-03-01", To: "2026-03-31"}, "type", "required"},
		"type case":         {RequestInput{Type: "Sales", From: "2026-03-01", To: "2026-03-31"}, "type", "must be one of"},
		"reversed":          {RequestInput{Type: "sales", From: "2026-03-31", To: "2026-03-01"}, "range", "must not be after"},
		"too long":          {RequestInput{Type: "sales", From: "2025-01-01", To: "2026-01-02"}, "range", "at most 366 days; 2025-01-01 to 2026-01-02 is 367 days"},
		"no from":           {RequestInput{Type: "sales", To: "2026-03-01"}, "from", "required"},
		"no to":             {RequestInput{Type: "sales", From: "2026-03-01"}, "to", "required"},
		"slashes":           {RequestInput{Type: "sales", From: "2026/03/01", To: "2026-03-31"}, "from", "YYYY-MM-DD"},
		"short month":       {RequestInput{Type: "sales", From: "2026-3-01", To: "2026-03-31"}, "from", "YYYY-MM-DD"},
		"february 30":       {RequestInput{Type: "sales", From: "2026-02-30", To: "2026-03-31"}, "from", "YYYY-MM-DD"},
		"a timestamp":       {RequestInput{Type: "sales", From: "2026-03-01T00:00:00Z", To: "2026-03-31"}, "from", "YYYY-MM-DD"},
		"trailing space":    {RequestInput{Type: "sales", From: "2026-03-01", To: "2026-03-31 "}, "to", "YYYY-MM-DD"},
		"year 10000":        {RequestInput{Type: "sales", From: "2026-03-01", To: "10000-01-01"}, "to", "YYYY-MM-DD"},
		"year 9999":         {RequestInput{Type: "sales", From: "9999-01-01", To: "9999-01-02"}, "from", "between 1900-01-01 and 9998-12-31"},
		"ancient":           {RequestInput{Type: "sales", From: "0001-01-01", To: "0001-01-02"}, "from", "between"},
		"injection in date": {RequestInput{Type: "sales", From: "2026-03-01'; --", To: "2026-03-31"}, "from", "YYYY-MM-DD"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := tc.in.validate()
			var v *domain.ValidationError
			require.ErrorAs(t, err, &v)
			require.Contains(t, v.Fields[tc.field], tc.says, v.Fields)
		})
	}

	// The longest ranges: a leap year, and 366 days across years.
	for _, r := range [][2]string{{"2024-01-01", "2024-12-31"}, {"2025-03-01", "2026-03-01"}, {"2026-03-01", "2026-03-01"}} {
		_, _, err := RequestInput{Type: "financial", From: r[0], To: r[1]}.validate()
		require.NoError(t, err, r)
	}
}

func TestWindowCoversWholeDays(t *testing.T) {
	t.Parallel()
	w, err := Parameters{From: "2026-03-01", To: "2026-03-31"}.window()
	require.NoError(t, err)
	require.Equal(t, "2026-03-01T00:00:00Z", w.Start.Format("2006-01-02T15:04:05Z07:00"))
	require.Equal(t, "2026-04-01T00:00:00Z", w.End.Format("2006-01-02T15:04:05Z07:00"))
	_, err = Parameters{From: "2026-03-31", To: "2026-03-01"}.window()
	require.True(t, domain.Permanent(err), "stored parameters that make no window fail for good")
}

func TestMoneyHasAtLeastTwoDecimals(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Money{
		"0": "0.00", "12": "12.00", "12.5": "12.50", "12.50": "12.50", "12.5000": "12.50",
		"1.2345": "1.2345", "-3.1": "-3.10", "0.001": "0.001", "1234567890123456.7891": "1234567890123456.7891",
	} {
		require.Equal(t, want, money(decimal.RequireFromString(in)), in)
	}
}

func TestViewShowsTheDownloadPathOnlyWhenCompleted(t *testing.T) {
	t.Parallel()
	r := Report{ID: "0190b6a0-0000-7000-8000-000000000001", Status: StatusPending, File: "reports/acme-x/y.json"}
	require.Nil(t, r.View().File, "the server path is never shown")
	require.Nil(t, r.View().Error)
	r.Status, r.Error = StatusCompleted, ""
	require.Equal(t, "/api/v1/reports/0190b6a0-0000-7000-8000-000000000001/download", *r.View().File)
	r.Status, r.Error = StatusFailed, "boom"
	require.Nil(t, r.View().File)
	require.Equal(t, "boom", *r.View().Error)
}
