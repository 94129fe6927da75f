package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

func TestDaysBetweenCountsUTCCalendarDays(t *testing.T) {
	t.Parallel()
	late := time.Date(2026, 5, 10, 23, 59, 0, 0, time.UTC)
	require.Equal(t, 0, domain.DaysBetween(late, time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)))
	require.Equal(t, 1, domain.DaysBetween(late, time.Date(2026, 5, 11, 0, 0, 0, 0, time.UTC)), "one minute later, the next day")
	require.Equal(t, -40, domain.DaysBetween(late, late.AddDate(0, 0, -40)))
	// A zone east of UTC: 01:00 on the 11th there is still the 10th in UTC.
	east := time.Date(2026, 5, 11, 1, 0, 0, 0, time.FixedZone("UTC+2", 2*3600))
	require.Equal(t, 0, domain.DaysBetween(late, east))
	// Far dates do not overflow (time.Duration would past 292 years).
	far := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	require.Equal(t, 2914634, domain.DaysBetween(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), far))
}

func TestCheckThresholds(t *testing.T) {
	t.Parallel()
	got, err := domain.CheckThresholds([]int{90, 0, 30, 7}, 0, 3650)
	require.NoError(t, err)
	require.Equal(t, []int{0, 7, 30, 90}, got)
	for _, bad := range [][]int{nil, {}, {-1}, {3651}, {7, 30, 7}} {
		_, err := domain.CheckThresholds(bad, 0, 3650)
		require.Error(t, err, "%v", bad)
	}
}
