package notification_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain/notification"
)

// TestRegistryIsDocumented keeps the README's table of notification types in
// step with the registry: every type, its label and its default severity.
func TestRegistryIsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	rows := map[string]string{}
	for line := range strings.SplitSeq(string(readme), "\n") {
		if strings.HasPrefix(line, "| `") && strings.HasSuffix(strings.Fields(line)[1], "Notification`") {
			rows[strings.Trim(strings.Fields(line)[1], "`")] = line
		}
	}
	require.Len(t, rows, len(notification.Registry), "the README lists another set of types")
	for _, k := range notification.Registry {
		row, ok := rows[k.Type]
		require.True(t, ok, "%s is missing from the README", k.Type)
		require.Contains(t, row, "| "+k.Label+" | "+string(k.Severity)+" |", k.Type)
	}
}

func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range notification.Registry {
		require.False(t, seen[k.Type], "%s listed twice", k.Type)
		seen[k.Type] = true
		require.True(t, k.Severity.Valid(), k.Type)
		require.NotEmpty(t, k.Label, k.Type)
		require.NotEmpty(t, k.About, k.Type)
		got, ok := notification.Lookup(k.Type)
		require.True(t, ok)
		require.Equal(t, k, got)
	}
	_, ok := notification.Lookup("NoSuchNotification")
	require.False(t, ok)
}
