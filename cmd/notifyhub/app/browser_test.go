package app_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/web/browsertest"
)

// waitJS polls a JavaScript expression until it is true.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second))
}

const badge = `parseInt(document.querySelector('[data-testid="unread-badge"]').textContent.trim() || "0", 10)`

// TestBrowserNotificationCenter signs in as a demo user in a real browser,
// triggers a low-stock movement through the API, sees the notification
// arrive without a reload, marks it read and sees the badge drop.
func TestBrowserNotificationCenter(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	cfg := embedded().cfg(t)
	cfg.Demo = true
	cfg.DemoInterval = time.Hour // seed only: the test makes its own traffic
	a := start(t, cfg)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(a.URL()+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="demo-user"][data-user="bob"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="demo-user"][data-user="bob"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="unread-badge"]`)),
		waitJS(`document.querySelector('[data-testid="connection-status"]').textContent.trim() === "live"`),
	))
	// The demo seeding's own alerts may still be arriving; settle on the
	// server's count before the test's movement.
	user := token(t, a, "acme", "bob", domain.PermInventoryManage, domain.PermInventoryAlerts, domain.PermProductsManage)
	var before struct {
		UnreadCount int `json:"unread_count"`
	}
	require.Eventually(t, func() bool {
		call(t, a, user, "GET", "/api/v1/notifications/unread-count", nil, http.StatusOK, &before)
		return before.UnreadCount == 2 // the two seeded crossings
	}, 30*time.Second, 20*time.Millisecond)
	require.NoError(t, chromedp.Do(ctx, waitJS(badge+` === `+strconv.Itoa(before.UnreadCount))))

	admin := token(t, a, "acme", "alice", domain.PermAdmin)
	var p productJSON
	call(t, a, admin, "POST", "/api/v1/products", map[string]any{
		"sku": "BRW-1", "name": "Browser <b>chair</b>", "price": "10.00", "reorder_level": 5,
	}, http.StatusCreated, &p)
	movement(t, a, admin, p.ID, 6)
	movement(t, a, admin, p.ID, -2) // 6 → 4: below 5

	const newest = `#notifications [data-testid="notification"]:first-child`
	require.NoError(t, chromedp.Do(ctx,
		waitJS(`(document.querySelector('`+newest+`')?.textContent || "").includes("BRW-1")`),
		waitJS(badge+` === `+strconv.Itoa(before.UnreadCount+1)),
	))
	// The product name is shown as text, never as markup.
	title, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(newest)))
	require.NoError(t, err)
	require.Contains(t, title, "Browser <b>chair</b>")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(newest+` [data-testid="mark-read"]`)),
		waitJS(`document.querySelector('`+newest+`').dataset.read === "true"`),
		waitJS(badge+` === `+strconv.Itoa(before.UnreadCount)),
	))
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	if dir := os.Getenv("NOTIFYHUB_TEST_SCREENSHOTS"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "center.png"), shot, 0o644))
	}
}
