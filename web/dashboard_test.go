package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/web/view"
)

// admin acts for tenant with every permission.
func admin(tenant domain.TenantID) domain.Actor {
	return domain.Actor{TenantID: tenant, UserID: "ops", Perms: []string{domain.PermAdmin}}
}

// mkProduct creates a product through the real service.
func (f *fixture) mkProduct(t testing.TB, tenant domain.TenantID, sku, name string, reorder int64) product.Product {
	t.Helper()
	price := decimal.RequireFromString("9.99")
	p, err := f.products.Create(context.Background(), admin(tenant), product.CreateInput{SKU: sku, Name: name, Price: &price, ReorderLevel: &reorder})
	require.NoError(t, err)
	return p
}

// move records a stock movement through the real service.
func (f *fixture) move(t testing.TB, tenant domain.TenantID, productID string, qty int64) {
	t.Helper()
	_, err := inventory.NewService(f.store, nil).Record(context.Background(), admin(tenant), inventory.RecordInput{
		ProductID: productID, Quantity: qty, Reason: "test",
	})
	require.NoError(t, err)
}

// appendEvent writes one event of any type straight to the outbox.
func (f *fixture) appendEvent(t testing.TB, tenant domain.TenantID, typ, payload string) domain.Event {
	t.Helper()
	e := domain.Event{
		ID: domain.NewID(), TenantID: tenant, ActorID: "ops", Type: typ,
		AggregateType: "thing", AggregateID: domain.NewID(), OccurredAt: time.Now().UTC(), Payload: json.RawMessage(payload),
	}
	require.NoError(t, f.store.AppendEvents(context.Background(), e))
	return e
}

type stockView struct{ sku, low, onHand, name string }

func stockRows(d *goquery.Document) []stockView {
	var out []stockView
	d.Find(`[data-testid="stock-row"]`).Each(func(_ int, s *goquery.Selection) {
		out = append(out, stockView{
			sku: s.AttrOr("data-sku", ""), low: s.AttrOr("data-low", ""),
			onHand: s.Find(`[data-field="on-hand"]`).Text(), name: s.Find(`[data-field="name"]`).Text(),
		})
	})
	return out
}

func eventIDs(d *goquery.Document) []string {
	var out []string
	d.Find(`[data-testid="event-row"]`).Each(func(_ int, s *goquery.Selection) {
		out = append(out, s.AttrOr("data-id", ""))
	})
	return out
}

func TestDashboardPage(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		ctx := context.Background()

		fine := f.mkProduct(t, "acme", "A-FINE", "Plenty", 2)
		f.move(t, "acme", fine.ID, 10)
		hostile := f.mkProduct(t, "acme", "A-EVIL", `<img src=x onerror="alert(1)">Bolt`, 5)
		f.move(t, "acme", hostile.ID, 10)
		f.move(t, "acme", hostile.ID, -7) // crosses below 5: LowStockDetected
		empty := f.mkProduct(t, "acme", "A-ZERO", "Nothing left", 1)
		custom := f.appendEvent(t, "acme", "CustomThing", `{"note":"<script>alert(1)</script>"}`)
		f.mkProduct(t, "globex", "G-ONLY", "Globex secret", 100)
		f.send(t, "acme", "alice", "one", "two")
		all, err := f.store.ListEvents(ctx, "acme", "", "", 500)
		require.NoError(t, err)

		tok := token(t, "acme", "alice")
		rec := f.do(t, req{method: http.MethodGet, path: "/dashboard", cookie: tok})
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Contains(t, rec.Header().Get("Content-Security-Policy"), "script-src 'self'")
		d := doc(t, rec)

		// Stock: low ones first (the largest shortfall first), then by SKU.
		require.Equal(t, []stockView{
			{"A-EVIL", "true", "3", `<img src=x onerror="alert(1)">Bolt`},
			{"A-ZERO", "true", "0", "Nothing left"},
			{"A-FINE", "false", "10", "Plenty"},
		}, stockRows(d))
		require.Equal(t, empty.ID, d.Find(`[data-sku="A-ZERO"]`).AttrOr("data-product-id", ""))
		require.True(t, d.Find(`[data-sku="A-EVIL"]`).HasClass("stock__row--low"))
		require.False(t, d.Find(`[data-sku="A-FINE"]`).HasClass("stock__row--low"))
		require.Equal(t, "2", d.Find(`[data-testid="low-count"]`).Text())
		require.Zero(t, d.Find("img").Length(), "names are text, not markup")

		// Feed: the tenant's events, newest first.
		var want []string
		for i := len(all) - 1; i >= 0; i-- {
			want = append(want, all[i].ID)
		}
		require.Equal(t, want, eventIDs(d))
		require.Equal(t, custom.ID, want[0])
		first := d.Find(`[data-testid="event-row"]`).First()
		require.Equal(t, "CustomThing", first.AttrOr("data-type", ""))
		require.Equal(t, `note <script>alert(1)</script>`, first.Find(`[data-field="summary"]`).Text())
		require.Equal(t, "ops", first.Find(`[data-field="actor"]`).Text())
		require.Equal(t, "just now", first.Find("time").Text())
		require.Equal(t, custom.ID, d.Find("#feed").AttrOr("data-cursor", ""))
		require.Equal(t, "100", d.Find("#feed").AttrOr("data-limit", ""))
		d.Find("script").Each(func(_ int, s *goquery.Selection) {
			require.True(t, strings.HasPrefix(s.AttrOr("src", ""), "/static/dashboard."), "only our own script")
			require.Empty(t, strings.TrimSpace(s.Text()))
		})

		// Counters over the feed, and the viewer's unread badge.
		counts := map[string]string{}
		d.Find(`[data-testid="type-count"]`).Each(func(_ int, s *goquery.Selection) {
			counts[s.AttrOr("data-type", "")] = s.AttrOr("data-count", "")
		})
		require.Equal(t, map[string]string{"ProductCreated": "3", "StockMovementRecorded": "3", "LowStockDetected": "1", "CustomThing": "1"}, counts)
		require.Equal(t, fmt.Sprint(len(all)), d.Find(`[data-testid="feed-count"]`).Text())
		require.Equal(t, "2", d.Find(`[data-testid="unread-badge"]`).Text())
		require.Equal(t, "connecting", d.Find(`[data-testid="feed-status"]`).Text())

		// Each page links to the other.
		require.Equal(t, "page", d.Find(`[data-testid="nav-dashboard"]`).AttrOr("aria-current", ""))
		require.Equal(t, "/", d.Find(`[data-testid="nav-center"]`).AttrOr("href", ""))
		center := doc(t, f.do(t, req{method: http.MethodGet, path: "/", cookie: tok}))
		require.Equal(t, "/dashboard", center.Find(`[data-testid="nav-dashboard"]`).AttrOr("href", ""))
		require.Equal(t, "page", center.Find(`[data-testid="nav-center"]`).AttrOr("aria-current", ""))

		// Another tenant sees only its own product and events.
		d = doc(t, f.do(t, req{method: http.MethodGet, path: "/dashboard", cookie: token(t, "globex", "alice")}))
		require.Equal(t, []stockView{{"G-ONLY", "true", "0", "Globex secret"}}, stockRows(d))
		require.Len(t, eventIDs(d), 1)
		require.Equal(t, "ProductCreated", d.Find(`[data-testid="event-row"]`).AttrOr("data-type", ""))
		require.NotContains(t, d.Text(), "A-EVIL")
		require.NotContains(t, d.Text(), "Plenty")
		require.Equal(t, "0", d.Find(`[data-testid="unread-badge"]`).Text())

		// A tenant with nothing yet.
		d = doc(t, f.do(t, req{method: http.MethodGet, path: "/dashboard", cookie: token(t, "initech", "bob")}))
		require.Zero(t, d.Find(`[data-testid="stock-row"]`).Length())
		require.Zero(t, d.Find(`[data-testid="event-row"]`).Length())
		_, hidden := d.Find(`[data-testid="feed-empty"]`).Attr("hidden")
		require.False(t, hidden)
		_, hidden = d.Find(`[data-testid="stock-empty"]`).Attr("hidden")
		require.False(t, hidden)
		require.Empty(t, d.Find("#feed").AttrOr("data-cursor", "x"))
	})
}

func TestDashboardNeedsSignIn(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		for _, r := range []req{
			{method: http.MethodGet, path: "/dashboard"},
			{method: http.MethodGet, path: "/dashboard", cookie: "stale.token.value"},
		} {
			rec := f.do(t, r)
			require.Equal(t, http.StatusSeeOther, rec.Code)
			require.Equal(t, "/login", rec.Header().Get("Location"))
		}
	})
}

// The page shows the newest events of a long log, not its start.
func TestDashboardShowsNewestEvents(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		var ids []string
		for i := range 70 {
			ids = append(ids, f.appendEvent(t, "acme", "Tick", fmt.Sprintf(`{"n":%d}`, i)).ID)
		}
		d := doc(t, f.do(t, req{method: http.MethodGet, path: "/dashboard", cookie: token(t, "acme", "alice")}))
		got := eventIDs(d)
		require.Len(t, got, 50)
		for i, id := range got {
			require.Equal(t, ids[69-i], id)
		}
		require.Equal(t, "n 69", d.Find(`[data-testid="event-row"] [data-field="summary"]`).First().Text())
	})
}

// A tenant with more products than the overview holds sees the first ones
// and a note; low ones among them still come first.
func TestDashboardStockIsBounded(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("creates over a thousand products")
	}
	f := newFixture(t, storetest.OpenSQLite)
	for i := range 1001 {
		f.mkProduct(t, "acme", fmt.Sprintf("S-%04d", i), "p", 0)
	}
	d := doc(t, f.do(t, req{method: http.MethodGet, path: "/dashboard", cookie: token(t, "acme", "alice")}))
	require.Equal(t, 1000, d.Find(`[data-testid="stock-row"]`).Length())
	require.Equal(t, 1, d.Find(`[data-testid="stock-truncated"]`).Length())
}

func TestEventsNewestFirst(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		a := token(t, "acme", "alice")
		var ids []string
		for i := range 5 {
			ids = append(ids, f.appendEvent(t, "acme", "Tick", fmt.Sprintf(`{"n":%d}`, i)).ID)
		}
		f.appendEvent(t, "globex", "Tick", `{"n":99}`)

		page := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events?order=desc&limit=3", a, ""))
		require.Equal(t, []string{ids[4], ids[3], ids[2]}, listIDs(page))
		require.Nil(t, page.Next, "one page, no cursor")
		page = decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events?order=asc&limit=2", a, ""))
		require.Equal(t, []string{ids[0], ids[1]}, listIDs(page))

		b := decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events?order=desc", token(t, "globex", "bob"), ""))
		require.Len(t, b.Data, 1)
		require.Empty(t, decode[listPage](t, f.call(t, http.MethodGet, "/api/v1/events?order=desc", token(t, "initech", "bob"), "")).Data)

		for q, field := range map[string]string{
			"order=sideways":               "order",
			"order=desc&type=Tick":         "type",
			"order=desc&after=" + ids[0]:   "after",
			"order=desc&limit=x":           "limit",
			"order=DESC":                   "order",
			"order=desc&after=not-an-uuid": "after",
		} {
			e := requireError(t, f.call(t, http.MethodGet, "/api/v1/events?"+q, a, ""), http.StatusBadRequest, "invalid_input")
			require.Contains(t, e.Fields, field, q)
		}
	})
}

// The summary the page renders is the view's.
func TestDashboardSummaryIsTheViews(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.OpenSQLite)
	p := f.mkProduct(t, "acme", "W-1", "Widget", 5)
	f.move(t, "acme", p.ID, 2)
	events, err := f.store.LatestEvents(context.Background(), "acme", 10)
	require.NoError(t, err)
	d := doc(t, f.do(t, req{method: http.MethodGet, path: "/dashboard", cookie: token(t, "acme", "alice")}))
	rows := d.Find(`[data-testid="event-row"]`)
	require.Equal(t, len(events), rows.Length())
	rows.Each(func(i int, s *goquery.Selection) {
		require.Equal(t, view.EventSummary(events[i].Type, events[i].Payload), s.Find(`[data-field="summary"]`).Text())
	})
	require.Equal(t, "W-1 +2 · test · on hand 2", rows.First().Find(`[data-field="summary"]`).Text())
}
