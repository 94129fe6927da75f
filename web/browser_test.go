package web_test

import (
	"context"
	"net/http/httptest"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/hub"
	"github.com/notifyhub/notifyhub/web"
)

// chromiumPath finds Debian's Chromium (.ci/run installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on PATH (apt-get install -y chromium): skipping the browser test")
	return ""
}

// TestCenterInBrowser drives center.js in headless Chromium: demo sign-in,
// the live socket, a pushed notification rendered as text, mark read and
// mark all read reflected in the items and the badge.
func TestCenterInBrowser(t *testing.T) {
	t.Parallel()
	exe := chromiumPath(t)

	var h *hub.Hub
	f := newFixture(t, storetest.OpenSQLite, func(c *web.Config, d *web.Deps) {
		c.DemoTenant = "demo"
		var err error
		h, err = hub.New(hub.Config{}, d.Events.(*sqlstore.Store))
		require.NoError(t, err)
		d.Hub = h
	})
	t.Cleanup(h.Close)
	f.fanout.mu.Lock()
	f.fanout.deliver = h.Deliver
	f.fanout.mu.Unlock()
	require.NoError(t, f.store.UpsertUser(context.Background(), domain.User{TenantID: "demo", ID: "maria", Name: "Maria", Perms: []string{}}))
	f.send(t, "demo", "maria", "first", "second")

	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	// The first run starts the browser and must not carry a timeout (it
	// would stop the browser); later steps are bounded.
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/login")))
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	t.Cleanup(cancel)

	poll := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second))
	}
	badgeIs := func(n string) chromedp.Action[chromedp.Void] {
		return poll(`document.querySelector('[data-testid="unread-badge"]').textContent === "` + n + `"`)
	}
	const items = `#notifications [data-testid="notification"]`

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-testid="demo-user"][data-user="maria"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="notification-list"]`)),
		poll(`document.querySelector('[data-testid="connection-status"]').textContent === "live"`),
		badgeIs("2"),
	))

	// A live notification with markup in its title arrives as text.
	hostile := `<img src=x onerror="document.body.dataset.pwned=1">`
	pushed := f.send(t, "demo", "maria", hostile)[0]
	require.NoError(t, chromedp.Do(ctx,
		poll(`document.querySelectorAll('`+items+`').length === 3`),
		badgeIs("3"),
	))
	title, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(items+`:first-child [data-field="title"]`)))
	require.NoError(t, err)
	require.Equal(t, hostile, title)
	imgs, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#notifications img').length`))
	require.NoError(t, err)
	require.Zero(t, imgs)
	first, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(items+`:first-child`), "data-id"))
	require.NoError(t, err)
	require.Equal(t, pushed.ID, first.Value)

	// Mark read, then unread, then all read.
	item := `#notifications [data-id="` + pushed.ID + `"]`
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(item+` [data-testid="mark-read"]`)),
		poll(`document.querySelector('`+item+`').dataset.read === "true"`),
		badgeIs("2"),
		chromedp.Click(chromedp.CSS(item+` [data-testid="mark-unread"]`)),
		poll(`document.querySelector('`+item+`').dataset.read === "false"`),
		badgeIs("3"),
		chromedp.Click(chromedp.CSS(`[data-testid="mark-all-read"]`)),
		badgeIs("0"),
		poll(`[...document.querySelectorAll('`+items+`')].every(e => e.dataset.read === "true")`),
	))
	n, err := f.store.UnreadCount(context.Background(), "demo", "maria")
	require.NoError(t, err)
	require.Zero(t, n)
	pwned, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.pwned || ""`))
	require.NoError(t, err)
	require.Empty(t, pwned)
}
