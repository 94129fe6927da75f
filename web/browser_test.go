package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/hub"
	"github.com/notifyhub/notifyhub/web"
	"github.com/notifyhub/notifyhub/web/browsertest"
	"github.com/notifyhub/notifyhub/web/view"
)

func poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second))
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	require.NoError(t, err, expr)
	return v
}

// liveFixture is the router over real services with a real hub, in demo
// mode with the given demo users, served over HTTP.
func liveFixture(t *testing.T, users []domain.UserID, opts ...option) (*fixture, *httptest.Server) {
	t.Helper()
	var h *hub.Hub
	f := newFixture(t, storetest.OpenSQLite, append([]option{func(c *web.Config, d *web.Deps) {
		c.DemoTenant = "demo"
		var err error
		h, err = hub.New(hub.Config{}, d.Events.(*sqlstore.Store))
		require.NoError(t, err)
		d.Hub = h
	}}, opts...)...)
	t.Cleanup(h.Close)
	f.fanout.mu.Lock()
	f.fanout.deliver = h.Deliver
	f.fanout.mu.Unlock()
	for _, u := range users {
		require.NoError(t, f.store.UpsertUser(context.Background(), domain.User{TenantID: "demo", ID: u, Name: string(u), Perms: []string{}}))
	}
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	return f, srv
}

// signInAs uses the demo login of the page at base.
func signInAs(t *testing.T, ctx context.Context, base, user string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.Click(chromedp.CSS(`[data-testid="demo-user"][data-user="`+user+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="notification-list"]`)),
	))
}

const (
	items        = `#notifications [data-testid="notification"]`
	centerIsLive = `document.querySelector('[data-testid="connection-status"]').textContent === "live"`
	// orderedIDs holds when the center's items are strictly newest first
	// by id (UUID v7), which also rules out duplicates.
	orderedIDs = `(() => { const ids = [...document.querySelectorAll('` + items + `')].map(e => e.dataset.id);
		return ids.every((id, i) => i === 0 || ids[i-1] > id); })()`
)

func badgeIs(n int) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`document.querySelector('[data-testid="unread-badge"]').textContent === "%d"`, n))
}

func readIs(id string, read bool) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`(document.querySelector('#notifications [data-id="%s"]') || {dataset: {}}).dataset.read === "%t"`, id, read))
}

// TestCenterInBrowser drives center.js in headless Chromium: demo sign-in,
// the live socket, a pushed notification rendered as text, mark read and
// mark all read reflected in the items and the badge.
func TestCenterInBrowser(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	f, srv := liveFixture(t, []domain.UserID{"maria"})
	f.send(t, "demo", "maria", "first", "second")

	signInAs(t, ctx, srv.URL, "maria")
	require.NoError(t, chromedp.Do(ctx, poll(centerIsLive), badgeIs(2)))

	// A live notification with markup in its title arrives as text.
	hostile := `<img src=x onerror="document.body.dataset.pwned=1">`
	pushed := f.send(t, "demo", "maria", hostile)[0]
	require.NoError(t, chromedp.Do(ctx,
		poll(`document.querySelectorAll('`+items+`').length === 3`),
		badgeIs(3),
	))
	title, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(items+`:first-child [data-field="title"]`)))
	require.NoError(t, err)
	require.Equal(t, hostile, title)
	require.Zero(t, eval[int](t, ctx, `document.querySelectorAll('#notifications img').length`))
	first, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(items+`:first-child`), "data-id"))
	require.NoError(t, err)
	require.Equal(t, pushed.ID, first.Value)
	// Pushed and server-rendered items carry the registry's type label.
	require.Equal(t, []string{"Announcement", "Announcement", "Announcement"},
		eval[[]string](t, ctx, `[...document.querySelectorAll('`+items+` [data-field="type"]')].map(e => e.textContent)`))

	// Mark read, then unread, then all read.
	item := `#notifications [data-id="` + pushed.ID + `"]`
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(item+` [data-testid="mark-read"]`)),
		readIs(pushed.ID, true),
		badgeIs(2),
		chromedp.Click(chromedp.CSS(item+` [data-testid="mark-unread"]`)),
		readIs(pushed.ID, false),
		badgeIs(3),
		chromedp.Click(chromedp.CSS(`[data-testid="mark-all-read"]`)),
		badgeIs(0),
		poll(`[...document.querySelectorAll('`+items+`')].every(e => e.dataset.read === "true")`),
	))
	n, err := f.store.UnreadCount(context.Background(), "demo", "maria")
	require.NoError(t, err)
	require.Zero(t, n)
	require.Empty(t, eval[string](t, ctx, `document.body.dataset.pwned || ""`))
	require.True(t, eval[bool](t, ctx, orderedIDs))
}

// TestCenterReconcilesAfterReconnect takes the page's socket down, changes
// the inbox meanwhile (as another tab or a Redis blip would hide from it),
// and checks the page catches up when the socket is back: read state,
// missing items, their order and the badge.
func TestCenterReconcilesAfterReconnect(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	f, srv := liveFixture(t, []domain.UserID{"maria"})
	bg := context.Background()
	sent := f.send(t, "demo", "maria", "n1", "n2", "n3", "n4", "n5")

	signInAs(t, ctx, srv.URL, "maria")
	require.NoError(t, chromedp.Do(ctx, poll(centerIsLive), badgeIs(5)))

	disconnect := func() {
		t.Helper()
		eval[any](t, ctx, `window.__notifyhub.disconnect()`)
		require.NoError(t, chromedp.Do(ctx, poll(`!window.__notifyhub.state().connected`)))
	}
	reconnect := func(since string) {
		t.Helper()
		arg := ""
		if since != "" {
			arg = `"` + since + `"`
		}
		eval[any](t, ctx, `window.__notifyhub.reconnect(`+arg+`)`)
	}

	// Offline, another tab reads three, a new one arrives.
	disconnect()
	for _, n := range sent[:3] {
		require.NoError(t, f.notes.MarkRead(bg, "demo", "maria", n.ID))
	}
	fresh := f.send(t, "demo", "maria", "while offline")[0]
	require.Equal(t, 5, eval[int](t, ctx, `document.querySelectorAll('`+items+`[data-read="false"]').length`), "nothing reached the page")
	reconnect("")
	require.NoError(t, chromedp.Do(ctx,
		poll(centerIsLive),
		readIs(sent[0].ID, true), readIs(sent[1].ID, true), readIs(sent[2].ID, true),
		readIs(sent[3].ID, false), readIs(fresh.ID, false),
		badgeIs(3),
		poll(`document.querySelector('`+items+`').dataset.id === "`+fresh.ID+`"`),
	))
	require.True(t, eval[bool](t, ctx, orderedIDs))
	require.Equal(t, 6, eval[int](t, ctx, `document.querySelectorAll('`+items+`').length`))

	// Offline again: one is marked unread, then everything read.
	disconnect()
	require.NoError(t, f.notes.MarkUnread(bg, "demo", "maria", sent[0].ID))
	reconnect("")
	require.NoError(t, chromedp.Do(ctx, poll(centerIsLive), readIs(sent[0].ID, false), badgeIs(4)))
	disconnect()
	require.NoError(t, f.notes.MarkAllRead(bg, "demo", "maria"))
	reconnect("")
	require.NoError(t, chromedp.Do(ctx,
		poll(centerIsLive), badgeIs(0),
		poll(`[...document.querySelectorAll('`+items+`')].every(e => e.dataset.read === "true")`),
	))

	// A resume point the server refuses (400 before the upgrade) is
	// dropped after a few tries: the page reloads its list instead and
	// goes live without it, with what changed meanwhile.
	disconnect()
	require.NoError(t, f.notes.MarkUnread(bg, "demo", "maria", fresh.ID))
	bogus := domain.NewID()
	reconnect(bogus)
	require.NoError(t, chromedp.Do(ctx, poll(centerIsLive), readIs(fresh.ID, false), badgeIs(1)))
	require.NotEqual(t, bogus, eval[string](t, ctx, `window.__notifyhub.state().since`))
	require.True(t, eval[bool](t, ctx, orderedIDs))
	require.Equal(t, 6, eval[int](t, ctx, `document.querySelectorAll('`+items+`').length`))
	// And it is really live again.
	later := f.send(t, "demo", "maria", "after the reset")[0]
	require.NoError(t, chromedp.Do(ctx,
		poll(`document.querySelector('`+items+`').dataset.id === "`+later.ID+`"`),
		badgeIs(2),
	))

	// A session that ended while the socket was down (expired token,
	// signed out elsewhere): the handshake's 401 is invisible to the
	// page, so it probes the API and goes to the login page instead of
	// retrying forever.
	disconnect()
	require.True(t, eval[bool](t, ctx, `fetch("/logout", {method: "POST", credentials: "same-origin"}).then(r => r.ok)`))
	// Deferred: the page may leave before an evaluation would return.
	eval[any](t, ctx, `setTimeout(() => window.__notifyhub.reconnect(), 0)`)
	// Polled from here: a poll inside the page ends with the page.
	require.Eventually(t, func() bool {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		return err == nil && strings.HasSuffix(loc, "/login")
	}, 20*time.Second, 50*time.Millisecond)
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`[data-testid="token-input"]`))))
}

// gatedNotes holds List calls while its gate is set, so a test can have
// live notifications arrive while the page's reconcile is in flight.
type gatedNotes struct {
	web.NotificationService
	mu      sync.Mutex
	gate    chan struct{}
	waiting chan struct{} // one value per List call that blocked
}

func (g *gatedNotes) hold() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
	return g.gate
}

func (g *gatedNotes) List(ctx context.Context, tenant domain.TenantID, user domain.UserID, p notification.ListParams) (notification.Page, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		select {
		case g.waiting <- struct{}{}:
		case <-ctx.Done():
			return notification.Page{}, ctx.Err()
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return notification.Page{}, ctx.Err()
		}
	}
	return g.NotificationService.List(ctx, tenant, user, p)
}

// TestCenterKeepsOrder: items that reach the page late (a reconcile that
// finds what the socket could not replay, older pages) go below the live
// items that arrived first, never above them.
func TestCenterKeepsOrder(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	gated := &gatedNotes{waiting: make(chan struct{}, 8)}
	f, srv := liveFixture(t, []domain.UserID{"kim", "jon"}, func(_ *web.Config, d *web.Deps) {
		gated.NotificationService = d.Notifications
		d.Notifications = gated
	})

	// kim has nothing yet, so the page has no resume point: what arrives
	// while it is offline is found by the reconcile after reconnecting,
	// and a live one can overtake that reconcile.
	signInAs(t, ctx, srv.URL, "kim")
	settled := poll(`!window.__notifyhub.state().reconciling`)
	require.NoError(t, chromedp.Do(ctx, poll(centerIsLive), settled))
	eval[any](t, ctx, `window.__notifyhub.disconnect()`)
	offline := f.send(t, "demo", "kim", "sent while offline")[0]
	gate := gated.hold()
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release) // a failed test must not leave a request hanging
	eval[any](t, ctx, `window.__notifyhub.reconnect()`)
	select {
	case <-gated.waiting:
	case <-ctx.Done():
		t.Fatal("the page never reconciled after reconnecting")
	}
	// The reconcile starts once the socket's catch-up is over, so the
	// socket delivers what is sent from now on.
	require.True(t, eval[bool](t, ctx, `window.__notifyhub.state().live`))
	live := f.send(t, "demo", "kim", "live while reconciling")[0]
	require.NoError(t, chromedp.Do(ctx, poll(`document.querySelectorAll('`+items+`').length === 1`)))
	release()
	require.NoError(t, chromedp.Do(ctx, poll(`document.querySelectorAll('`+items+`').length === 2`), badgeIs(2)))
	require.Equal(t, []string{live.ID, offline.ID}, eval[[]string](t, ctx, `[...document.querySelectorAll('`+items+`')].map(e => e.dataset.id)`))
	gated.mu.Lock()
	gated.gate = nil
	gated.mu.Unlock()

	// jon has more than a page: load more puts the older page below the
	// live items that came first.
	titles := make([]string, 55)
	for i := range titles {
		titles[i] = fmt.Sprintf("old %02d", i)
	}
	sent := f.send(t, "demo", "jon", titles...)
	signInAs(t, ctx, srv.URL, "jon")
	require.NoError(t, chromedp.Do(ctx,
		poll(centerIsLive),
		poll(`document.querySelectorAll('`+items+`').length === 50`),
	))
	fresh := f.send(t, "demo", "jon", "live one", "live two")
	require.NoError(t, chromedp.Do(ctx,
		poll(`document.querySelectorAll('`+items+`').length === 52`),
		chromedp.Click(chromedp.CSS(`[data-testid="load-more"]`)),
		poll(`document.querySelectorAll('`+items+`').length === 57`),
		poll(`document.querySelector('[data-testid="load-more"]').hidden`),
	))
	require.True(t, eval[bool](t, ctx, orderedIDs))
	ids := eval[[]string](t, ctx, `[...document.querySelectorAll('`+items+`')].map(e => e.dataset.id)`)
	require.Equal(t, fresh[1].ID, ids[0])
	require.Equal(t, fresh[0].ID, ids[1])
	require.Equal(t, sent[0].ID, ids[len(ids)-1])
}

// TestDashboardInBrowser drives dashboard.js: new events of the tenant
// appear in the feed without a reload, newest first, with the stock table,
// the counters and the badge following; another tenant's never do.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	f, srv := liveFixture(t, []domain.UserID{"maria"})
	bg := context.Background()
	bolt := f.mkProduct(t, "demo", "BOLT", "Bolt", 5)
	f.move(t, "demo", bolt.ID, 10)

	signInAs(t, ctx, srv.URL, "maria")
	const (
		rows   = `[data-testid="event-row"]`
		isLive = `document.querySelector('[data-testid="feed-status"]').textContent === "live"`
	)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-testid="nav-dashboard"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="event-feed"]`)),
		poll(isLive),
		poll(`document.querySelectorAll('`+rows+`').length === 2`),
	))
	topIs := func(id string) chromedp.Action[chromedp.Void] {
		return poll(`(document.querySelector('` + rows + `') || {dataset: {}}).dataset.id === "` + id + `"`)
	}
	latest := func() domain.Event {
		t.Helper()
		es, err := f.store.LatestEvents(bg, "demo", 1)
		require.NoError(t, err)
		require.Len(t, es, 1)
		return es[0]
	}

	// Another tenant's event first, then one of ours: once ours shows, the
	// foreign one would have too.
	foreign := f.appendEvent(t, "globex", "Secret", `{"note":"globex only"}`)
	nut := f.mkProduct(t, "demo", "NUT", "Nut <b>M8</b>", 3)
	created := latest()
	require.NoError(t, chromedp.Do(ctx,
		topIs(created.ID),
		poll(`document.querySelector('[data-testid="stock-row"][data-sku="NUT"]') !== null`),
	))
	require.Zero(t, eval[int](t, ctx, `document.querySelectorAll('[data-id="`+foreign.ID+`"]').length`))
	require.Equal(t, "Nut <b>M8</b>", eval[string](t, ctx, `document.querySelector('[data-sku="NUT"] [data-field="name"]').textContent`))
	require.Equal(t, nut.ID, eval[string](t, ctx, `document.querySelector('[data-sku="NUT"]').dataset.productId`))
	require.Equal(t, "true", eval[string](t, ctx, `document.querySelector('[data-sku="NUT"]').dataset.low`), "0 on hand < 3")

	// Stock falls below the reorder level: the row follows, low rows first.
	f.move(t, "demo", bolt.ID, -7)
	require.NoError(t, chromedp.Do(ctx,
		topIs(latest().ID),
		poll(`document.querySelector('[data-sku="BOLT"]').dataset.low === "true"`),
		poll(`document.querySelector('[data-testid="low-count"]').textContent === "2"`),
	))
	require.Equal(t, "3", eval[string](t, ctx, `document.querySelector('[data-sku="BOLT"] [data-field="on-hand"]').textContent`))
	require.Equal(t, []string{"NUT", "BOLT"}, eval[[]string](t, ctx, `[...document.querySelectorAll('[data-testid="stock-row"]')].map(e => e.dataset.sku)`), "largest shortfall first")

	// Markup in a payload is text.
	f.appendEvent(t, "demo", "CustomThing", `{"note":"<img src=x onerror=\"document.body.dataset.pwned=1\">"}`)
	require.NoError(t, chromedp.Do(ctx, topIs(latest().ID)))
	require.Zero(t, eval[int](t, ctx, `document.querySelectorAll('#feed img').length`))
	require.Empty(t, eval[string](t, ctx, `document.body.dataset.pwned || ""`))

	// Every ERP event type arrives live summarised as the server would.
	for _, e := range []struct{ typ, payload string }{
		{"StockExpiring", `{"sku":"W-1","batch_number":"L-7","expiry_date":"2027-01-31","days_remaining":6}`},
		{"OrderCreated", `{"number":"SO-000001","total":"12.50"}`},
		{"OrderApproved", `{"number":"SO-000001","total":"12.50"}`},
		{"OrderFulfilled", `{"number":"SO-000001"}`},
		{"InvoiceGenerated", `{"number":"INV-000001","order_number":"SO-000001","total":"12.50","due_date":"2027-01-31"}`},
		{"InvoicePaymentReceived", `{"number":"INV-000001","amount":"10.00","outstanding":"2.50"}`},
		{"InvoiceOverdue", `{"number":"INV-000001","days_overdue":8,"outstanding":"2.50"}`},
		{"CustomerCreated", `{"name":"Initech <b>"}`},
		{"LeadConverted", `{"name":"Umbrella"}`},
		{"PurchaseOrderApproved", `{"number":"PO-000001","vendor_name":"Nordic","total":"99"}`},
		{"GoodsReceived", `{"number":"PO-000001","fully_received":false}`},
	} {
		f.appendEvent(t, "demo", e.typ, e.payload)
	}
	require.NoError(t, chromedp.Do(ctx, topIs(latest().ID)))

	// The feed is the tenant's log, newest first, each row summarised as
	// the server would; the counters are over it.
	events, err := f.store.LatestEvents(bg, "demo", 100)
	require.NoError(t, err)
	type shown struct{ ID, Type, Summary string }
	got := eval[[]shown](t, ctx, `[...document.querySelectorAll('`+rows+`')].map(e => ({ID: e.dataset.id, Type: e.dataset.type, Summary: e.querySelector('[data-field="summary"]').textContent}))`)
	want := make([]shown, len(events))
	byType := map[string]int{}
	for i, e := range events {
		want[i] = shown{e.ID, e.Type, view.EventSummary(e.Type, e.Payload)}
		byType[e.Type]++
	}
	require.Equal(t, want, got)
	counts := eval[map[string]string](t, ctx, `Object.fromEntries([...document.querySelectorAll('[data-testid="type-count"]')].map(e => [e.dataset.type, e.dataset.count]))`)
	require.Len(t, counts, len(byType))
	for typ, n := range byType {
		require.Equal(t, fmt.Sprint(n), counts[typ], typ)
	}
	require.Equal(t, fmt.Sprint(len(events)), eval[string](t, ctx, `document.querySelector('[data-testid="feed-count"]').textContent`))

	// The badge follows the viewer's inbox.
	f.send(t, "demo", "maria", "hello")
	require.NoError(t, chromedp.Do(ctx, badgeIs(1)))

	// A burst the feed cannot hold keeps the newest 100 in order; one too
	// big to page through is caught up by jumping to the newest.
	for _, burst := range []int{120, 250} {
		eval[any](t, ctx, `performance.clearResourceTimings()`)
		ids := appendTicks(t, f, burst)
		require.NoError(t, chromedp.Do(ctx,
			topIs(ids[len(ids)-1]),
			poll(`document.querySelectorAll('`+rows+`').length === 100`),
		))
		gotIDs := eval[[]string](t, ctx, `[...document.querySelectorAll('`+rows+`')].map(e => e.dataset.id)`)
		for i, id := range gotIDs {
			require.Equal(t, ids[len(ids)-1-i], id, "burst %d row %d", burst, i)
		}
		require.Equal(t, "100", eval[string](t, ctx, `document.querySelector('[data-type="Tick"][data-testid="type-count"]').dataset.count`))
		jumped := eval[bool](t, ctx, `performance.getEntriesByType("resource").some(e => e.name.includes("order=desc"))`)
		require.Equal(t, burst > 200, jumped, "burst %d: only a burst over a page jumps to the newest", burst)
	}
	require.True(t, eval[bool](t, ctx, isLive))
}

// appendTicks appends n events of type Tick to the demo tenant at once.
func appendTicks(t *testing.T, f *fixture, n int) []string {
	t.Helper()
	events := make([]domain.Event, n)
	ids := make([]string, n)
	for i := range events {
		payload, err := json.Marshal(map[string]any{"n": i, "note": strings.Repeat("x", i%5)})
		require.NoError(t, err)
		events[i] = domain.Event{ID: domain.NewID(), TenantID: "demo", Type: "Tick", OccurredAt: time.Now().UTC(), Payload: payload}
		ids[i] = events[i].ID
	}
	require.NoError(t, f.store.AppendEvents(context.Background(), events...))
	return ids
}
