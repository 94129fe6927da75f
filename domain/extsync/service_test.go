package extsync_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/extsync"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/sales"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	each(t, extsync.Options{}, func(t *testing.T, w world) {
		ctx := context.Background()
		_, err := w.syncs.GetConfig(ctx, admin("acme"))
		require.ErrorIs(t, err, domain.ErrNotFound)

		v, err := w.syncs.PutConfig(ctx, admin("acme"), extsync.ConfigInput{
			BaseURL: " HTTP://127.0.0.1:8080/Erp/v1/ ", AuthHeader: ptr("Bearer s3cret"),
		})
		require.NoError(t, err)
		require.Equal(t, "http://127.0.0.1:8080/Erp/v1", v.BaseURL, "scheme and host lower-cased, trailing slash dropped")
		require.True(t, v.AuthHeaderSet)
		require.Equal(t, extsync.DefaultTimeoutSeconds, v.TimeoutSeconds)
		require.Equal(t, extsync.BreakerClosed, v.Breaker.State)
		require.NotContains(t, fmt.Sprintf("%+v", v), "s3cret", "the auth header is never shown")

		// Left out, the auth header stays; "" removes it.
		v, err = w.syncs.PutConfig(ctx, admin("acme"), extsync.ConfigInput{BaseURL: "http://127.0.0.1:8080/erp", TimeoutSeconds: ptr(30)})
		require.NoError(t, err)
		require.True(t, v.AuthHeaderSet)
		require.Equal(t, 30, v.TimeoutSeconds)
		stored, err := w.store.GetSyncConfig(ctx, "acme")
		require.NoError(t, err)
		require.Equal(t, "Bearer s3cret", stored.AuthHeader)
		v, err = w.syncs.PutConfig(ctx, admin("acme"), extsync.ConfigInput{BaseURL: "http://127.0.0.1:8080/erp", AuthHeader: ptr("")})
		require.NoError(t, err)
		require.False(t, v.AuthHeaderSet)

		got, err := w.syncs.GetConfig(ctx, admin("acme"))
		require.NoError(t, err)
		require.Equal(t, "http://127.0.0.1:8080/erp", got.BaseURL)
		require.Equal(t, domain.UserID("alice"), got.UpdatedBy)

		// Another tenant sees nothing of it.
		_, err = w.syncs.GetConfig(ctx, admin("globex"))
		require.ErrorIs(t, err, domain.ErrNotFound)
		// Only admins configure or read it.
		clerk := domain.Actor{TenantID: "acme", UserID: "bob", Perms: []string{domain.PermImportsRun}}
		_, err = w.syncs.PutConfig(ctx, clerk, extsync.ConfigInput{BaseURL: "http://127.0.0.1/"})
		require.ErrorIs(t, err, domain.ErrForbidden)
		_, err = w.syncs.GetConfig(ctx, clerk)
		require.ErrorIs(t, err, domain.ErrForbidden)

		for field, in := range map[string]extsync.ConfigInput{
			"base_url":        {},
			"timeout_seconds": {BaseURL: "http://127.0.0.1/", TimeoutSeconds: ptr(0)},
			"auth_header":     {BaseURL: "http://127.0.0.1/", AuthHeader: ptr("Bearer x\r\nX-Evil: 1")},
		} {
			_, err := w.syncs.PutConfig(ctx, admin("acme"), in)
			var ve *domain.ValidationError
			require.ErrorAs(t, err, &ve, field)
			require.Contains(t, ve.Fields, field)
		}
		for raw, why := range map[string]string{
			"ftp://127.0.0.1/":                   "http or https",
			"/relative":                          "absolute",
			"http://127.0.0.1/erp?x=1":           "query",
			"http://127.0.0.1/erp#frag":          "fragment",
			"http://169.254.169.254/latest/":     "never reachable",
			"http://10.0.0.1/":                   "private",
			"http://127.0.0.2/":                  "loopback",
			"http://u:p@127.0.0.1/":              "credentials",
			"http://" + strings.Repeat("a", 600): "at most 500",
		} {
			_, err := w.syncs.PutConfig(ctx, admin("acme"), extsync.ConfigInput{BaseURL: raw})
			var ve *domain.ValidationError
			require.ErrorAs(t, err, &ve, raw)
			require.Contains(t, ve.Fields["base_url"], why, raw)
		}
	})
}

func TestRequestNeedsAConfigAndAdmin(t *testing.T) {
	t.Parallel()
	each(t, extsync.Options{}, func(t *testing.T, w world) {
		ctx := context.Background()
		_, err := w.syncs.Request(ctx, admin("acme"), extsync.RequestInput{Type: extsync.Products})
		var re *domain.RuleError
		require.ErrorAs(t, err, &re)
		require.Equal(t, "sync_not_configured", re.Code)
		require.Empty(t, w.jobs.list(), "no run, no job")

		w.configure(t, "acme", "http://127.0.0.1:1/erp", nil, 1)
		_, err = w.syncs.Request(ctx, admin("acme"), extsync.RequestInput{Type: "vendors"})
		var ve *domain.ValidationError
		require.ErrorAs(t, err, &ve)
		_, err = w.syncs.Request(ctx, domain.Actor{TenantID: "acme", UserID: "bob", Perms: []string{domain.PermProductsManage}},
			extsync.RequestInput{Type: extsync.Products})
		require.ErrorIs(t, err, domain.ErrForbidden)

		r, err := w.syncs.Request(ctx, admin("acme"), extsync.RequestInput{Type: extsync.Orders})
		require.NoError(t, err)
		require.Equal(t, extsync.StatusPending, r.Status)
		require.Equal(t, []string{`SyncExternalData acme {"sync_id":"` + r.ID + `"}`}, w.jobs.list(), "the run and its job commit together")

		_, err = w.syncs.Get(ctx, "globex", r.ID)
		require.ErrorIs(t, err, domain.ErrNotFound, "another tenant's sync")
		_, err = w.syncs.Get(ctx, "acme", "nope")
		require.ErrorIs(t, err, domain.ErrNotFound)
		list, err := w.syncs.List(ctx, "globex", extsync.ListParams{})
		require.NoError(t, err)
		require.Empty(t, list)
		require.ErrorIs(t, w.syncs.Run(ctx, "globex", r.ID), domain.ErrPermanent, "a job of another tenant finds nothing")
	})
}

// TestSyncProductsOverThreePages: pages come by number, the auth header
// goes with each request, invalid records are counted and listed, and a
// second run updates by SKU without duplicating anything.
func TestSyncProductsOverThreePages(t *testing.T) {
	t.Parallel()
	each(t, extsync.Options{}, func(t *testing.T, w world) {
		ctx := context.Background()
		e := newEndpoint(t)
		e.set(extsync.Products,
			`{"data": [{"sku": "A-1", "name": "Anvil", "price": "12.50", "reorder_level": 3, "extra": true},
			           {"sku": "B-2", "name": "Bolt", "price": 0.25}], "next": 2}`,
			`{"data": [{"sku": "", "name": "No key", "price": "1"},
			           {"sku": "C-3", "name": "Cog"},
			           "not an object",
			           {"sku": "D-4", "name": "Drill", "price": "-5"}], "next": 3}`,
			`{"data": [{"sku": "E-5", "name": "Eel", "price": {"amount": 1}}, {"sku": "F-6", "name": "Fan", "price": "99.9999"}], "next": null}`)
		w.configure(t, "acme", e.base(), ptr("Bearer t0ken"), 5)

		r, err := w.sync(t, "acme", extsync.Products)
		require.NoError(t, err)
		require.Equal(t, extsync.StatusCompleted, r.Status)
		require.Equal(t, []int64{3, 8, 3, 5}, []int64{int64(r.Pages), r.Fetched, r.Upserted, r.Failed})
		require.Equal(t, []string{"/erp/products?page=1", "/erp/products?page=2", "/erp/products?page=3"}, e.hits())
		require.Equal(t, "Bearer t0ken", e.lastAuth())
		require.NotNil(t, r.StartedAt)
		require.NotNil(t, r.CompletedAt)
		require.Nil(t, r.FailedAt)
		require.Equal(t, 1, r.Attempts)
		require.Len(t, r.Errors, 5)
		want := []extsync.RowError{
			{Page: 2, Row: 1, Message: "sku is required (it is the product's key)"},
			{Page: 2, Row: 2, Key: "C-3", Message: "price is required"},
			{Page: 2, Row: 3, Message: "the record is not a JSON object"},
			{Page: 2, Row: 4, Key: "D-4", Message: "price must not be negative"},
		}
		require.Equal(t, want, r.Errors[:4])
		require.Equal(t, 3, r.Errors[4].Page)
		require.Contains(t, r.Errors[4].Message, "price")

		list, err := w.products.List(ctx, "acme", product.ListParams{Limit: 100})
		require.NoError(t, err)
		require.Len(t, list, 3)
		require.Equal(t, "A-1", list[0].SKU)
		require.True(t, decimal.RequireFromString("12.5").Equal(list[0].Price))
		require.EqualValues(t, 3, list[0].ReorderLevel)
		require.Len(t, events(t, w.store, "acme", "ProductCreated"), 3)

		// Again, with a new price for A-1: updated in place, one event.
		e.set(extsync.Products, `{"data": [{"sku": "A-1", "price": "13.00"}, {"sku": "B-2", "name": "Bolt", "price": "0.25"}]}`)
		r, err = w.sync(t, "acme", extsync.Products)
		require.NoError(t, err)
		require.Equal(t, []int64{1, 2, 2, 0}, []int64{int64(r.Pages), r.Fetched, r.Upserted, r.Failed})
		list, err = w.products.List(ctx, "acme", product.ListParams{Limit: 100})
		require.NoError(t, err)
		require.Len(t, list, 3, "no duplicates")
		require.True(t, decimal.RequireFromString("13").Equal(list[0].Price))
		require.Equal(t, "Anvil", list[0].Name, "fields the record leaves out stay")
		updated := events(t, w.store, "acme", "ProductUpdated")
		require.Len(t, updated, 1, "B-2 did not change, so no event")

		runs, err := w.syncs.List(ctx, "acme", extsync.ListParams{Type: extsync.Products})
		require.NoError(t, err)
		require.Len(t, runs, 2)
		require.Equal(t, r.ID, runs[0].ID, "newest first")
		require.NoError(t, w.syncs.Run(ctx, "acme", r.ID), "a completed run returns at once")
		require.Len(t, e.hits(), 4, "without fetching")
	})
}

// TestCursorsAndLinks: next may be a cursor or a URL on the same origin.
func TestCursorsAndLinks(t *testing.T) {
	t.Parallel()
	each(t, extsync.Options{}, func(t *testing.T, w world) {
		e := newEndpoint(t)
		e.answer(func(rw http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			switch {
			case q.Get("page") == "1":
				fmt.Fprint(rw, `{"data": [{"email": "Ann@Example.com", "name": "Ann"}], "next": "c/2=?"}`)
			case q.Get("cursor") == "c/2=?":
				fmt.Fprint(rw, `{"data": [{"email": "bo@example.com", "name": "Bo"}], "next": "/erp/customers?after=bo"}`)
			case q.Get("after") == "bo":
				fmt.Fprint(rw, `{"data": [{"email": "cy@example.com", "name": "Cy"}], "next": "`+e.srv.URL+`/erp/customers?after=cy"}`)
			case q.Get("after") == "cy":
				fmt.Fprint(rw, `{"data": [], "next": "http://127.0.0.1:1/elsewhere"}`)
			default:
				http.NotFound(rw, r)
			}
		})
		w.configure(t, "acme", e.base(), nil, 5)
		r, err := w.sync(t, "acme", extsync.Customers)
		require.ErrorIs(t, err, domain.ErrPermanent, "a link off the endpoint is refused")
		require.ErrorContains(t, err, "leaves the configured endpoint")
		require.Equal(t, 3, r.Pages, "the pages before it were committed")
		require.EqualValues(t, 3, r.Upserted)
		require.Contains(t, r.LastError, "leaves the configured endpoint")
		require.Empty(t, e.lastAuth(), "no auth header configured, none sent")
		require.NoError(t, w.syncs.MarkFailed(context.Background(), "acme", r.ID, err))
		got, err := w.syncs.Get(context.Background(), "acme", r.ID)
		require.NoError(t, err)
		require.Equal(t, extsync.StatusFailed, got.Status)
		require.NotNil(t, got.FailedAt)
		require.Nil(t, got.CompletedAt)
	})
}

// TestSyncCustomersInventoryAndOrders: customers by email (renamed in
// place), stock set through a movement of the difference, orders created
// once per external number, for known customers and products only.
func TestSyncCustomersInventoryAndOrders(t *testing.T) {
	t.Parallel()
	each(t, extsync.Options{}, func(t *testing.T, w world) {
		ctx := context.Background()
		e := newEndpoint(t)
		w.configure(t, "acme", e.base(), nil, 5)
		e.set(extsync.Products, `{"data": [{"sku": "A-1", "name": "Anvil", "price": "10"}, {"sku": "B-2", "name": "Bolt", "price": "2"}]}`)
		_, err := w.sync(t, "acme", extsync.Products)
		require.NoError(t, err)

		e.set(extsync.Customers, `{"data": [{"email": "ann@example.com", "name": "Ann"}, {"email": "not-an-email", "name": "X"},
			{"name": "No email"}, {"email": "bo@example.com", "name": "`+strings.Repeat("b", 201)+`"}]}`)
		r, err := w.sync(t, "acme", extsync.Customers)
		require.NoError(t, err)
		require.Equal(t, []int64{4, 1, 3}, []int64{r.Fetched, r.Upserted, r.Failed})
		require.Contains(t, r.Errors[0].Message, "email must be an email address")
		require.Contains(t, r.Errors[1].Message, "email is required")
		require.Contains(t, r.Errors[2].Message, "name must be at most 200")

		e.set(extsync.Customers, `{"data": [{"email": "ANN@example.com", "name": "Ann Smith"}]}`)
		_, err = w.sync(t, "acme", extsync.Customers)
		require.NoError(t, err)
		customers, err := w.customers.ListCustomers(ctx, "acme", crm.ListParams{})
		require.NoError(t, err)
		require.Len(t, customers, 1)
		require.Equal(t, "Ann Smith", customers[0].Name)
		renamed := events(t, w.store, "acme", "CustomerUpdated")
		require.Len(t, renamed, 1)
		var ev crm.CustomerUpdated
		require.NoError(t, renamed[0].Decode(&ev))
		require.Equal(t, crm.FieldChange{Old: "Ann", New: "Ann Smith"}, ev.Changes["name"])

		// Stock: set, then set lower, then unchanged.
		for i, level := range []int64{40, 15, 15} {
			e.set(extsync.Inventory, fmt.Sprintf(`{"data": [{"sku": "A-1", "on_hand": %d}, {"sku": "ZZZ", "on_hand": 1},
				{"sku": "B-2", "on_hand": -1}, {"sku": "B-2"}]}`, level))
			r, err := w.sync(t, "acme", extsync.Inventory)
			require.NoError(t, err)
			require.Equal(t, []int64{1, 3}, []int64{r.Upserted, r.Failed}, "run %d", i)
			require.Contains(t, r.Errors[0].Message, `unknown product SKU "ZZZ"`)
			require.Contains(t, r.Errors[1].Message, "on_hand must be between 0")
			require.Contains(t, r.Errors[2].Message, "on_hand is required")
		}
		anvil := findProduct(t, w, "A-1")
		require.EqualValues(t, 15, anvil.OnHand)
		moves, err := w.stock.ListMovements(ctx, "acme", inventory.MovementFilter{ProductID: anvil.ID})
		require.NoError(t, err)
		require.Len(t, moves, 2, "the third run found the level right and moved nothing")
		require.EqualValues(t, -25, moves[0].Quantity)
		require.EqualValues(t, 40, moves[1].Quantity)
		require.Contains(t, moves[0].Reason, "on hand set to 15")

		// Orders.
		body := `{"data": [
			{"number": "EXT-1", "customer_email": "ann@example.com", "lines": [{"sku": "A-1", "quantity": 2}, {"sku": "B-2", "quantity": 1, "unit_price": "1.50"}]},
			{"number": "EXT-2", "customer_email": "nobody@example.com", "lines": [{"sku": "A-1", "quantity": 1}]},
			{"number": "EXT-3", "customer_email": "ann@example.com", "lines": [{"sku": "NOPE", "quantity": 1}]},
			{"number": "EXT-4", "customer_email": "ann@example.com", "lines": [{"sku": "A-1", "quantity": 0}]},
			{"number": "EXT-5", "customer_email": "ann@example.com", "lines": []},
			{"customer_email": "ann@example.com", "lines": [{"sku": "A-1", "quantity": 1}]}]}`
		e.set(extsync.Orders, body)
		r, err = w.sync(t, "acme", extsync.Orders)
		require.NoError(t, err)
		require.Equal(t, []int64{6, 1, 5}, []int64{r.Fetched, r.Upserted, r.Failed})
		msgs := make([]string, len(r.Errors))
		for i, re := range r.Errors {
			msgs[i] = re.Key + ": " + re.Message
		}
		require.Equal(t, []string{
			`EXT-2: unknown customer "nobody@example.com" (sync customers first)`,
			`EXT-3: lines[0]: unknown product SKU "NOPE" (sync products first)`,
			`EXT-4: lines[0].quantity must be between 1 and 1000000000`,
			`EXT-5: lines must have between 1 and 100 lines`,
			`: number is required (it is the order's key)`,
		}, msgs)
		r, err = w.sync(t, "acme", extsync.Orders)
		require.NoError(t, err)
		require.EqualValues(t, 1, r.Upserted, "EXT-1 is already synced")
		orders, err := w.orders.List(ctx, "acme", sales.Filter{})
		require.NoError(t, err)
		require.Len(t, orders, 1, "one order per external number")
		require.True(t, decimal.RequireFromString("21.5").Equal(orders[0].Total))
		require.Equal(t, sales.StatusPending, orders[0].Status)
		require.Len(t, events(t, w.store, "acme", "OrderCreated"), 1)
	})
}

func findProduct(t *testing.T, w world, sku string) product.Product {
	t.Helper()
	list, err := w.products.List(context.Background(), "acme", product.ListParams{Limit: 200})
	require.NoError(t, err)
	for _, p := range list {
		if p.SKU == sku {
			return p
		}
	}
	t.Fatalf("no product %s", sku)
	return product.Product{}
}

// TestResumesAtTheFirstUncommittedPage: a 500 on page 2 ends the attempt
// with a transient error; the retry starts at page 2.
func TestResumesAtTheFirstUncommittedPage(t *testing.T) {
	t.Parallel()
	each(t, extsync.Options{}, func(t *testing.T, w world) {
		ctx := context.Background()
		e := newEndpoint(t)
		w.configure(t, "acme", e.base(), nil, 5)
		e.set(extsync.Customers,
			`{"data": [{"email": "a@example.com", "name": "A"}], "next": 2}`,
			`{"data": [{"email": "b@example.com", "name": "B"}], "next": null}`)
		failing := true
		e.answer(func(rw http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("page") == "2" && failing {
				http.Error(rw, "down", http.StatusInternalServerError)
				return
			}
			e.servePage(rw, r)
		})
		r, err := w.sync(t, "acme", extsync.Customers)
		require.Error(t, err)
		require.False(t, domain.Permanent(err), "a 500 is retried")
		require.Contains(t, err.Error(), "500 Internal Server Error")
		require.Equal(t, extsync.StatusProcessing, r.Status)
		require.Equal(t, 1, r.Pages)
		require.Contains(t, r.LastError, "500")

		failing = false
		require.NoError(t, w.syncs.Run(ctx, "acme", r.ID))
		got, err := w.syncs.Get(ctx, "acme", r.ID)
		require.NoError(t, err)
		require.Equal(t, extsync.StatusCompleted, got.Status)
		require.Equal(t, []int64{2, 2, 2}, []int64{int64(got.Pages), got.Fetched, got.Upserted})
		require.Equal(t, 2, got.Attempts)
		require.Empty(t, got.LastError)
		require.Equal(t, []string{"/erp/customers?page=1", "/erp/customers?page=2", "/erp/customers?page=2"}, e.hits(),
			"page 1 was not fetched again")
		b, err := w.store.GetBreaker(ctx, "acme", e.base())
		require.NoError(t, err)
		require.Equal(t, extsync.BreakerClosed, b.State)
		require.Zero(t, b.Failures, "the success reset the count")
	})
}

// TestBadPagesFailPermanently: malformed JSON, an oversized body, a page
// with too many records and a 404 fail the run at once, with a clear error.
func TestBadPagesFailPermanently(t *testing.T) {
	t.Parallel()
	opts := extsync.Options{MaxPageBytes: 1024, MaxPageRows: 3, Breaker: extsync.BreakerPolicy{Threshold: 100}}
	each(t, opts, func(t *testing.T, w world) {
		e := newEndpoint(t)
		w.configure(t, "acme", e.base(), nil, 5)
		for body, want := range map[string]string{
			`{"data": [{"sku": "A"`:      "body is empty or truncated",
			`<html>Gateway</html>`:       "malformed JSON at byte 1",
			`{"rows": []}`:               `"data" (an array of records) is missing`,
			`{"data": [{}, {}, {}, {}]}`: "4 records in one page; at most 3",
			`{"data": [], "pad": "` + strings.Repeat("x", 2000) + `"}`: "larger than the limit of 1024 bytes",
			"404": "404 Not Found",
		} {
			e.answer(func(rw http.ResponseWriter, r *http.Request) {
				if body == "404" {
					http.NotFound(rw, r)
					return
				}
				fmt.Fprint(rw, body)
			})
			r, err := w.sync(t, "acme", extsync.Products)
			require.ErrorIs(t, err, domain.ErrPermanent, want)
			require.ErrorContains(t, err, want)
			require.Contains(t, r.LastError, want)
			require.Zero(t, r.Pages)
		}
	})
}

// TestBreakerOpensAndFailsFast: consecutive failed requests open the
// endpoint's breaker; syncs then fail at once without a request; after the
// cool-down one trial goes out and its success closes the breaker.
func TestBreakerOpensAndFailsFast(t *testing.T) {
	t.Parallel()
	each(t, extsync.Options{Breaker: extsync.BreakerPolicy{Threshold: 2, Cooldown: time.Minute}}, func(t *testing.T, w world) {
		ctx := context.Background()
		e := newEndpoint(t)
		w.configure(t, "acme", e.base(), nil, 5)
		e.answer(func(rw http.ResponseWriter, _ *http.Request) { http.Error(rw, "busy", http.StatusServiceUnavailable) })
		r, err := w.sync(t, "acme", extsync.Products)
		require.Error(t, err)
		require.False(t, domain.Permanent(err))
		require.Error(t, w.syncs.Run(ctx, "acme", r.ID), "second attempt fails too")

		cfg, err := w.syncs.GetConfig(ctx, admin("acme"))
		require.NoError(t, err)
		require.Equal(t, extsync.BreakerOpen, cfg.Breaker.State)
		require.Equal(t, 2, cfg.Breaker.Failures)
		require.Contains(t, cfg.Breaker.LastError, "503")

		err = w.syncs.Run(ctx, "acme", r.ID)
		var open *extsync.OpenError
		require.ErrorAs(t, err, &open)
		require.True(t, domain.Permanent(err), "not retried while open")
		_, err = w.sync(t, "acme", extsync.Customers)
		require.ErrorAs(t, err, &open, "a new sync fails fast")
		require.Len(t, e.hits(), 2, "no request while open")

		// Another tenant's endpoint has its own breaker.
		other := newEndpoint(t)
		other.set(extsync.Products, `{"data": []}`)
		w.configure(t, "globex", other.base(), nil, 5)
		_, err = w.sync(t, "globex", extsync.Products)
		require.NoError(t, err)

		// After the cool-down: one trial; it succeeds and closes.
		w.clock.advance(time.Minute)
		e.answer(nil)
		e.set(extsync.Products, `{"data": [{"sku": "A", "name": "A", "price": "1"}]}`)
		require.NoError(t, w.syncs.Run(ctx, "acme", r.ID))
		cfg, err = w.syncs.GetConfig(ctx, admin("acme"))
		require.NoError(t, err)
		require.Equal(t, extsync.BreakerClosed, cfg.Breaker.State)

		// Saving the configuration resets an open breaker.
		e.answer(func(rw http.ResponseWriter, _ *http.Request) { http.Error(rw, "busy", http.StatusBadGateway) })
		for range 2 {
			_, _ = w.sync(t, "acme", extsync.Products)
		}
		cfg, err = w.syncs.GetConfig(ctx, admin("acme"))
		require.NoError(t, err)
		require.Equal(t, extsync.BreakerOpen, cfg.Breaker.State)
		w.configure(t, "acme", e.base(), nil, 5)
		cfg, err = w.syncs.GetConfig(ctx, admin("acme"))
		require.NoError(t, err)
		require.Equal(t, extsync.BreakerClosed, cfg.Breaker.State)
	})
}

// TestTenantIsolation: each tenant's sync reads its own endpoint and
// writes only its own rows.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	each(t, extsync.Options{}, func(t *testing.T, w world) {
		ctx := context.Background()
		a, b := newEndpoint(t), newEndpoint(t)
		a.set(extsync.Products, `{"data": [{"sku": "SAME", "name": "Acme's", "price": "1"}]}`)
		b.set(extsync.Products, `{"data": [{"sku": "SAME", "name": "Globex's", "price": "2"}, {"sku": "B-ONLY", "name": "B", "price": "3"}]}`)
		w.configure(t, "acme", a.base(), ptr("Bearer acme"), 5)
		w.configure(t, "globex", b.base(), ptr("Bearer globex"), 5)

		ra, err := w.sync(t, "acme", extsync.Products)
		require.NoError(t, err)
		rb, err := w.sync(t, "globex", extsync.Products)
		require.NoError(t, err)
		require.Equal(t, "Bearer acme", a.lastAuth())
		require.Equal(t, "Bearer globex", b.lastAuth())
		require.Len(t, a.hits(), 1)
		require.Len(t, b.hits(), 1)

		acme, err := w.products.List(ctx, "acme", product.ListParams{})
		require.NoError(t, err)
		require.Len(t, acme, 1)
		require.Equal(t, "Acme's", acme[0].Name, "globex's sync never wrote into acme")
		globex, err := w.products.List(ctx, "globex", product.ListParams{})
		require.NoError(t, err)
		require.Len(t, globex, 2)

		_, err = w.syncs.Get(ctx, "acme", rb.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = w.syncs.Get(ctx, "globex", ra.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)
		list, err := w.syncs.List(ctx, "acme", extsync.ListParams{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, ra.ID, list[0].ID)
		cfg, err := w.syncs.GetConfig(ctx, admin("acme"))
		require.NoError(t, err)
		require.Equal(t, a.base(), cfg.BaseURL)
	})
}

// TestLongSyncHandsOffToANewJob: near the attempt's deadline the run
// commits its page and queues a job for the rest, which resumes there.
func TestLongSyncHandsOffToANewJob(t *testing.T) {
	t.Parallel()
	each(t, extsync.Options{HandoffMargin: time.Hour}, func(t *testing.T, w world) {
		e := newEndpoint(t)
		w.configure(t, "acme", e.base(), nil, 5)
		e.set(extsync.Customers,
			`{"data": [{"email": "a@example.com", "name": "A"}], "next": 2}`,
			`{"data": [{"email": "b@example.com", "name": "B"}], "next": 3}`,
			`{"data": [{"email": "c@example.com", "name": "C"}]}`)
		r, err := w.syncs.Request(context.Background(), admin("acme"), extsync.RequestInput{Type: extsync.Customers})
		require.NoError(t, err)
		for i := 1; i <= 3; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			require.NoError(t, w.syncs.Run(ctx, "acme", r.ID), "attempt %d", i)
			cancel()
			got, err := w.syncs.Get(context.Background(), "acme", r.ID)
			require.NoError(t, err)
			require.Equal(t, i, got.Pages, "one page per job")
			require.Len(t, w.jobs.list(), min(i+1, 3), "a job for the rest, until the last page")
			if i < 3 {
				require.Equal(t, extsync.StatusProcessing, got.Status)
			} else {
				require.Equal(t, extsync.StatusCompleted, got.Status)
				require.EqualValues(t, 3, got.Upserted)
			}
		}
		require.Len(t, e.hits(), 3, "no page fetched twice")
	})
}

// TestPageLimit: a sync stops at MaxPages and says so.
func TestPageLimit(t *testing.T) {
	t.Parallel()
	each(t, extsync.Options{MaxPages: 2}, func(t *testing.T, w world) {
		e := newEndpoint(t)
		w.configure(t, "acme", e.base(), nil, 5)
		e.set(extsync.Products,
			`{"data": [{"sku": "A", "name": "A", "price": "1"}], "next": 2}`,
			`{"data": [{"sku": "B", "name": "B", "price": "1"}], "next": 3}`,
			`{"data": [{"sku": "C", "name": "C", "price": "1"}]}`)
		r, err := w.sync(t, "acme", extsync.Products)
		require.NoError(t, err)
		require.Equal(t, extsync.StatusCompleted, r.Status)
		require.Equal(t, 2, r.Pages)
		require.EqualValues(t, 2, r.Upserted)
		require.Len(t, r.Errors, 1)
		require.Contains(t, r.Errors[0].Message, "stopped after 2 pages")
		require.Len(t, e.hits(), 2, "the third page is never fetched")
	})
}

// TestHostileRecords: quoting, placeholders and odd scripts come through
// byte for byte; control characters are a row error, not a crash.
func TestHostileRecords(t *testing.T) {
	t.Parallel()
	each(t, extsync.Options{}, func(t *testing.T, w world) {
		ctx := context.Background()
		e := newEndpoint(t)
		w.configure(t, "acme", e.base(), nil, 5)
		clean := []string{`Robert'); DROP TABLE products; --`, `? $1 :name %s %_ /* */`, "Zażółć 日本語 🚀 \u202eRTL", `<script>x</script>&amp;`}
		var recs []string
		for _, h := range clean {
			recs = append(recs, fmt.Sprintf(`{"sku": %q, "name": %q, "price": "1"}`, h, h))
		}
		recs = append(recs, `{"sku": "tab\there", "name": "x", "price": "1"}`, `{"sku": "ok", "name": "new\nline", "price": "1"}`)
		body := `{"data": [` + strings.Join(recs, ",") + `]}`
		e.set(extsync.Products, body)
		for range 2 {
			r, err := w.sync(t, "acme", extsync.Products)
			require.NoError(t, err)
			require.Equal(t, []int64{4, 2}, []int64{r.Upserted, r.Failed})
			require.Contains(t, r.Errors[0].Message, "sku must not contain control characters")
			require.Contains(t, r.Errors[1].Message, "name must not contain control characters")
		}
		list, err := w.products.List(ctx, "acme", product.ListParams{Limit: 100})
		require.NoError(t, err)
		require.Len(t, list, 4, "no duplicates on the second run")
		got := map[string]string{}
		for _, p := range list {
			got[p.SKU] = p.Name
		}
		for _, h := range clean {
			require.Equal(t, h, got[h])
		}
	})
}
