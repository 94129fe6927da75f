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
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/web/auth"
)

// insertRaw stores a notification straight through the store, bypassing the
// service's checks: the page must stay safe even for rows that got in some
// other way (older versions, direct SQL, a future bug).
func insertRaw(t testing.TB, st *sqlstore.Store, n domain.Notification) domain.Notification {
	t.Helper()
	if n.ID == "" {
		n.ID = domain.NewID()
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = time.Now().UTC()
	}
	if n.Type == "" {
		n.Type = "AlertNotification"
	}
	if n.Data == nil {
		n.Data = json.RawMessage(`{}`)
	}
	require.NoError(t, st.InsertNotification(context.Background(), &n))
	return n
}

func TestCenterPage(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		ctx := context.Background()
		tok, err := auth.Issue(testSecret, domain.User{TenantID: "acme", ID: "alice", Name: `Alice <img src=x onerror=alert(1)>`, Perms: []string{}}, time.Hour, time.Now())
		require.NoError(t, err)

		older := insertRaw(t, f.store, domain.Notification{TenantID: "acme", UserID: "alice", Severity: domain.SeverityWarning,
			Title: "Low stock", Body: "Widget is low", ActionURL: "/products/1", CreatedAt: time.Now().Add(-3 * time.Hour).UTC()})
		evil := insertRaw(t, f.store, domain.Notification{TenantID: "acme", UserID: "alice", Severity: domain.SeverityCritical,
			Title: `<script>alert("pwned")</script>`, Body: `<b onmouseover=alert(1)>hi</b>`, ActionURL: "javascript:alert(document.cookie)"})
		external := insertRaw(t, f.store, domain.Notification{TenantID: "acme", UserID: "alice", Severity: "bogus",
			Title: "Report ready", ActionURL: "https://reports.example.com/r/1"})
		// Another user's and another tenant's notifications must not show.
		insertRaw(t, f.store, domain.Notification{TenantID: "acme", UserID: "bob", Severity: domain.SeverityInfo, Title: "for bob"})
		insertRaw(t, f.store, domain.Notification{TenantID: "globex", UserID: "alice", Severity: domain.SeverityInfo, Title: "for globex alice"})
		_, err = f.store.MarkRead(ctx, "acme", "alice", older.ID, time.Now())
		require.NoError(t, err)

		rec := f.do(t, req{method: http.MethodGet, path: "/", cookie: tok})
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Contains(t, rec.Header().Get("Content-Security-Policy"), "script-src 'self'")
		d := doc(t, rec)

		require.Equal(t, `Alice <img src=x onerror=alert(1)>`, d.Find(`[data-testid="viewer-name"]`).Text())
		require.Zero(t, d.Find(`img`).Length(), "the name is text, not markup")
		require.Equal(t, "acme", d.Find(`[data-testid="viewer-tenant"]`).Text())
		require.Equal(t, "2", d.Find(`[data-testid="unread-badge"]`).Text())
		require.Equal(t, "reconnecting", d.Find(`[data-testid="connection-status"]`).Text())

		items := d.Find(`#notifications [data-testid="notification"]`)
		var gotIDs, reads []string
		items.Each(func(_ int, s *goquery.Selection) {
			gotIDs = append(gotIDs, s.AttrOr("data-id", ""))
			reads = append(reads, s.AttrOr("data-read", ""))
		})
		require.Equal(t, []string{external.ID, evil.ID, older.ID}, gotIDs, "newest first, only alice@acme")
		require.Equal(t, []string{"false", "false", "true"}, reads)
		require.Equal(t, external.ID, d.Find("#notifications").AttrOr("data-since", ""))

		// Escaping: the title is text; no script element came from data.
		ev := items.Eq(1)
		require.Equal(t, `<script>alert("pwned")</script>`, ev.Find(`[data-field="title"]`).Text())
		require.Equal(t, `<b onmouseover=alert(1)>hi</b>`, ev.Find(`[data-field="body"]`).Text())
		require.Zero(t, d.Find("b").Length())
		d.Find("script").Each(func(_ int, s *goquery.Selection) {
			require.True(t, strings.HasPrefix(s.AttrOr("src", ""), "/static/center."), "only our own script")
			require.Empty(t, strings.TrimSpace(s.Text()))
		})
		// javascript: is never a link; safe URLs are.
		require.Zero(t, ev.Find("a").Length())
		d.Find("a").Each(func(_ int, s *goquery.Selection) {
			require.NotContains(t, strings.ToLower(s.AttrOr("href", "")), "javascript:")
		})
		require.Equal(t, "https://reports.example.com/r/1", items.Eq(0).Find(`a[data-field="action"]`).AttrOr("href", ""))
		require.Equal(t, "/products/1", items.Eq(2).Find(`a[data-field="action"]`).AttrOr("href", ""))

		// Severity as colour class and text; an unknown one shows as info.
		require.True(t, ev.HasClass("n--critical"))
		require.Equal(t, "Critical", ev.Find(`[data-field="severity"]`).Text())
		require.Equal(t, "info", items.Eq(0).AttrOr("data-severity", ""))
		require.Equal(t, "Warning", items.Eq(2).Find(`[data-field="severity"]`).Text())
		require.Equal(t, "3 h ago", items.Eq(2).Find("time").Text())
		_, err = time.Parse(time.RFC3339, items.Eq(2).Find("time").AttrOr("datetime", ""))
		require.NoError(t, err)

		// Read state drives which button is offered.
		_, hidden := items.Eq(0).Find(`[data-testid="mark-read"]`).Attr("hidden")
		require.False(t, hidden)
		_, hidden = items.Eq(0).Find(`[data-testid="mark-unread"]`).Attr("hidden")
		require.True(t, hidden)
		_, hidden = items.Eq(2).Find(`[data-testid="mark-read"]`).Attr("hidden")
		require.True(t, hidden)
		require.Equal(t, 1, d.Find(`[data-testid="mark-all-read"]`).Length())
		_, hidden = d.Find(`[data-testid="load-more"]`).Attr("hidden")
		require.True(t, hidden, "a single page has no load more")

		// The unread filter.
		d = doc(t, f.do(t, req{method: http.MethodGet, path: "/?status=unread", cookie: tok}))
		gotIDs = nil
		d.Find(`#notifications [data-testid="notification"]`).Each(func(_ int, s *goquery.Selection) {
			gotIDs = append(gotIDs, s.AttrOr("data-id", ""))
		})
		require.Equal(t, []string{external.ID, evil.ID}, gotIDs)
		require.Equal(t, "page", d.Find(`[data-testid="filter-unread"]`).AttrOr("aria-current", ""))
		require.Equal(t, external.ID, d.Find("#notifications").AttrOr("data-since", ""))
	})
}

func TestCenterPageLoadMoreAndEmpty(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		tok := token(t, "acme", "carol")

		d := doc(t, f.do(t, req{method: http.MethodGet, path: "/", cookie: tok}))
		require.Zero(t, d.Find(`#notifications [data-testid="notification"]`).Length())
		_, hidden := d.Find(`[data-testid="empty"]`).Attr("hidden")
		require.False(t, hidden)
		require.Equal(t, "0", d.Find(`[data-testid="unread-badge"]`).Text())
		require.Empty(t, d.Find("#notifications").AttrOr("data-since", "x"))

		titles := make([]string, 51)
		for i := range titles {
			titles[i] = fmt.Sprintf("n%02d", i)
		}
		sent := f.send(t, "acme", "carol", titles...)
		d = doc(t, f.do(t, req{method: http.MethodGet, path: "/", cookie: tok}))
		require.Equal(t, 50, d.Find(`#notifications [data-testid="notification"]`).Length())
		more := d.Find(`[data-testid="load-more"]`)
		_, hidden = more.Attr("hidden")
		require.False(t, hidden)
		require.Equal(t, sent[1].ID, more.AttrOr("data-next-before", ""))
		require.Equal(t, "51", d.Find(`[data-testid="unread-badge"]`).Text())
	})
}
