package view

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSafeActionURL(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"/products/1", "/orders?id=3#x", "https://erp.example.com/x", "http://localhost:8080/a"} {
		require.Equal(t, ok, SafeActionURL(ok), ok)
	}
	for _, bad := range []string{
		"", "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\nscript:alert(1)",
		"data:text/html,<script>alert(1)</script>", "vbscript:msgbox", "//evil.example/x", "/\\evil.example",
		"relative/path", "https://", "ftp://example.com/f", "mailto:a@b.c", "/path with space",
	} {
		require.Empty(t, SafeActionURL(bad), bad)
	}
}

func TestAgo(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		0:                   "just now",
		59 * time.Second:    "just now",
		3 * time.Minute:     "3 min ago",
		59 * time.Minute:    "59 min ago",
		5 * time.Hour:       "5 h ago",
		2 * 24 * time.Hour:  "2 d ago",
		-time.Minute:        "just now", // a clock a little ahead
		30 * 24 * time.Hour: "11 May 2025",
	} {
		require.Equal(t, want, Ago(now.Add(-d), now), d.String())
	}
}
