package web

import (
	"context"
	"fmt"
	"net/http"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/web/view"
)

const (
	// dashboardEvents is how many of the newest events the page renders;
	// dashboard.js then keeps at most dashboardFeedLimit.
	dashboardEvents    = 50
	dashboardFeedLimit = 100
	// dashboardProducts bounds the stock overview; a tenant with more sees
	// the first ones (by id) and a note saying so.
	dashboardProducts = 1000
	productPage       = 200 // the product service's largest page
)

// dashboardPage renders the live operations dashboard of the viewer's
// tenant: the stock overview, the newest events and the counters over
// them. dashboard.js keeps it live by polling the event log.
func (s *server) dashboardPage(w http.ResponseWriter, r *http.Request) {
	c, err := mustClaims(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	ctx := r.Context()
	// Events before products: the stock snapshot is then at least as new as
	// the feed, and the stock changes dashboard.js applies from later events
	// carry absolute values, so applying one twice changes nothing.
	events, err := s.deps.Events.LatestEvents(ctx, c.TenantID, dashboardEvents)
	if err != nil {
		s.renderError(w, r, fmt.Errorf("dashboard: latest events: %w", err))
		return
	}
	products, truncated, err := s.stockSnapshot(ctx, c.TenantID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	unread, err := s.deps.Notifications.UnreadCount(ctx, c.TenantID, c.UserID())
	if err != nil {
		s.renderError(w, r, fmt.Errorf("dashboard: unread count: %w", err))
		return
	}

	now := s.cfg.Now()
	props := view.DashboardProps{
		Viewer:         view.Viewer{UserID: c.Subject, TenantID: string(c.TenantID), Name: c.Name, Email: c.Email},
		UnreadCount:    unread,
		Stock:          make([]view.StockRow, 0, len(products)),
		StockTruncated: truncated,
		Events:         make([]view.EventRow, 0, len(events)),
		FeedLimit:      dashboardFeedLimit,
	}
	for _, p := range products {
		props.Stock = append(props.Stock, view.NewStockRow(p.ID, p.SKU, p.Name, p.OnHand, p.ReorderLevel))
	}
	view.SortStock(props.Stock)
	for _, e := range events {
		props.Events = append(props.Events, view.NewEventRow(e, now))
	}
	if len(events) > 0 {
		props.Cursor = events[0].ID
	}
	s.render(w, r, http.StatusOK, view.Dashboard(props))
}

// stockSnapshot reads the tenant's products, up to dashboardProducts, and
// reports whether there are more.
func (s *server) stockSnapshot(ctx context.Context, tenant domain.TenantID) ([]product.Product, bool, error) {
	var (
		out   []product.Product
		after string
	)
	for len(out) < dashboardProducts {
		page, err := s.deps.Products.List(ctx, tenant, product.ListParams{After: after, Limit: productPage})
		if err != nil {
			return nil, false, fmt.Errorf("dashboard: list products: %w", err)
		}
		out = append(out, page...)
		if len(page) < productPage {
			return out, false, nil
		}
		after = page[len(page)-1].ID
	}
	if len(out) > dashboardProducts {
		return out[:dashboardProducts], true, nil
	}
	more, err := s.deps.Products.List(ctx, tenant, product.ListParams{After: after, Limit: 1})
	if err != nil {
		return nil, false, fmt.Errorf("dashboard: list products: %w", err)
	}
	return out, len(more) > 0, nil
}
