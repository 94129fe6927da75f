package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/crm"
	"github.com/notifyhub/notifyhub/domain/extsync"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/sales"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/workers/httpsource"
	"github.com/notifyhub/notifyhub/workers/jobs"
)

// newSyncs builds the sync service of the fixture: it may reach test
// servers on 127.0.0.1 only.
func (f *fixture) newSyncs(t testing.TB, st *sqlstore.Store, reg *jobs.Registry, stock *inventory.Service) *extsync.Service {
	t.Helper()
	policy, err := extsync.ParseHostPolicy([]string{"127.0.0.1"})
	require.NoError(t, err)
	fetch, err := httpsource.New(httpsource.Config{Policy: &policy})
	require.NoError(t, err)
	f.syncs = extsync.NewService(st, fetch, jobs.NewDispatcher(st, reg, nil), extsync.Writers{
		Products: f.products, Customers: crm.NewService(st, nil), Stock: stock, Orders: sales.NewService(st, nil),
	}, extsync.Options{Policy: &policy})
	require.NoError(t, reg.Register(jobs.SyncExternalData(f.syncs)))
	return f.syncs
}

type syncConfigJSON struct {
	BaseURL        string `json:"base_url"`
	AuthHeaderSet  bool   `json:"auth_header_set"`
	TimeoutSeconds int    `json:"timeout_seconds"`
	Breaker        struct {
		State    string `json:"state"`
		Failures int    `json:"failures"`
	} `json:"breaker"`
}

type syncJSON struct {
	ID          string  `json:"id"`
	Type        string  `json:"type"`
	Status      string  `json:"status"`
	Pages       int     `json:"pages"`
	Fetched     int64   `json:"fetched"`
	Upserted    int64   `json:"upserted"`
	Failed      int64   `json:"failed"`
	StartedAt   *string `json:"started_at"`
	CompletedAt *string `json:"completed_at"`
	FailedAt    *string `json:"failed_at"`
	Errors      []struct {
		Page    int    `json:"page"`
		Row     int    `json:"row"`
		Key     string `json:"key"`
		Message string `json:"message"`
	} `json:"errors"`
}

func TestSyncConfigAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		admin := token(t, "acme", "alice", domain.PermAdmin)
		clerk := token(t, "acme", "bob", domain.PermProductsManage)
		stranger := token(t, "globex", "gina", domain.PermAdmin)

		requireError(t, f.call(t, http.MethodGet, "/api/v1/sync-config", admin, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodPut, "/api/v1/sync-config", clerk, `{"base_url": "http://127.0.0.1:9/erp"}`),
			http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPut, "/api/v1/sync-config", admin, `{"base_url": `), http.StatusBadRequest, "invalid_input")
		e := requireError(t, f.call(t, http.MethodPut, "/api/v1/sync-config", admin, `{"base_url": "http://127.0.0.1/", "token": "x"}`),
			http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields, "token")
		for body, field := range map[string]string{
			`{"base_url": "http://169.254.169.254/latest/meta-data"}`:     "base_url",
			`{"base_url": "http://10.0.0.5/erp"}`:                         "base_url",
			`{"base_url": "gopher://127.0.0.1/"}`:                         "base_url",
			`{"base_url": "http://127.0.0.1/", "timeout_seconds": 3600}`:  "timeout_seconds",
			`{"base_url": "http://127.0.0.1/", "timeout_seconds": "10"}`:  "timeout_seconds",
			`{"base_url": "http://127.0.0.1/", "auth_header": "a\nb: c"}`: "auth_header",
		} {
			e := requireError(t, f.call(t, http.MethodPut, "/api/v1/sync-config", admin, body), http.StatusBadRequest, "invalid_input")
			require.Contains(t, e.Fields, field, body)
		}

		rec := f.call(t, http.MethodPut, "/api/v1/sync-config", admin,
			`{"base_url": "http://127.0.0.1:9/erp/", "auth_header": "Bearer top-secret-token", "timeout_seconds": 15}`)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.NotContains(t, rec.Body.String(), "top-secret-token")
		got := decode[syncConfigJSON](t, rec)
		require.Equal(t, "http://127.0.0.1:9/erp", got.BaseURL)
		require.True(t, got.AuthHeaderSet)
		require.Equal(t, 15, got.TimeoutSeconds)
		require.Equal(t, "closed", got.Breaker.State)

		rec = f.call(t, http.MethodGet, "/api/v1/sync-config", admin, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.NotContains(t, rec.Body.String(), "top-secret-token", "the auth header is never echoed")
		require.True(t, decode[syncConfigJSON](t, rec).AuthHeaderSet)
		requireError(t, f.call(t, http.MethodGet, "/api/v1/sync-config", clerk, ""), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/sync-config", stranger, ""), http.StatusNotFound, "not_found")
	})
}

func TestSyncsAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		ctx := context.Background()
		admin := token(t, "acme", "alice", domain.PermAdmin)
		clerk := token(t, "acme", "bob")
		stranger := token(t, "globex", "gina", domain.PermAdmin)

		acmeERP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Query().Get("page") {
			case "1":
				fmt.Fprint(w, `{"data": [{"sku": "A-1", "name": "Anvil", "price": "10.00"}], "next": 2}`)
			default:
				fmt.Fprint(w, `{"data": [{"sku": "B-2", "name": "Bolt"}], "next": null}`)
			}
		}))
		defer acmeERP.Close()
		globexERP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"data": [{"sku": "A-1", "name": "Globex anvil", "price": "99"}]}`)
		}))
		defer globexERP.Close()

		e := requireError(t, f.call(t, http.MethodPost, "/api/v1/syncs", admin, `{"type": "products"}`),
			http.StatusUnprocessableEntity, "sync_not_configured")
		require.Contains(t, e.Message, "PUT /api/v1/sync-config")
		require.Equal(t, http.StatusOK, f.call(t, http.MethodPut, "/api/v1/sync-config", admin,
			`{"base_url": "`+acmeERP.URL+`"}`).Code)
		requireError(t, f.call(t, http.MethodPost, "/api/v1/syncs", clerk, `{"type": "products"}`), http.StatusForbidden, "forbidden")
		e = requireError(t, f.call(t, http.MethodPost, "/api/v1/syncs", admin, `{"type": "vendors"}`), http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields, "type")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/syncs", admin, `{}`), http.StatusBadRequest, "invalid_input")

		rec := f.call(t, http.MethodPost, "/api/v1/syncs", admin, `{"type": "products"}`)
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
		created := decode[syncJSON](t, rec)
		require.NotEmpty(t, created.ID)
		require.Equal(t, "pending", created.Status)
		require.Equal(t, "/api/v1/syncs/"+created.ID, rec.Header().Get("Location"))
		require.NotNil(t, created.Errors, "errors is an array, never null")

		// The queued job runs (as a worker would).
		require.NoError(t, f.syncs.Run(ctx, "acme", created.ID))
		rec = f.call(t, http.MethodGet, "/api/v1/syncs/"+created.ID, clerk, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		got := decode[syncJSON](t, rec)
		require.Equal(t, "completed", got.Status)
		require.Equal(t, []int64{2, 2, 1, 1}, []int64{int64(got.Pages), got.Fetched, got.Upserted, got.Failed})
		require.Len(t, got.Errors, 1)
		require.Equal(t, 2, got.Errors[0].Page)
		require.Equal(t, "B-2", got.Errors[0].Key)
		require.Equal(t, "price is required", got.Errors[0].Message)
		require.NotNil(t, got.StartedAt)
		require.NotNil(t, got.CompletedAt)
		require.Nil(t, got.FailedAt)

		requireError(t, f.call(t, http.MethodGet, "/api/v1/syncs/"+created.ID, stranger, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/syncs/"+domain.NewID(), admin, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/syncs/nope", admin, ""), http.StatusBadRequest, "invalid_input")

		list := decode[struct {
			Data []syncJSON `json:"data"`
			Next *string    `json:"next"`
		}](t, f.call(t, http.MethodGet, "/api/v1/syncs?type=products&limit=10", clerk, ""))
		require.Len(t, list.Data, 1)
		require.Equal(t, created.ID, list.Data[0].ID)
		require.Nil(t, list.Next)
		empty := decode[struct {
			Data []syncJSON `json:"data"`
		}](t, f.call(t, http.MethodGet, "/api/v1/syncs", stranger, ""))
		require.Empty(t, empty.Data, "another tenant's syncs are not listed")
		for _, q := range []string{"?type=vendors", "?before=nope", "?limit=-1"} {
			requireError(t, f.call(t, http.MethodGet, "/api/v1/syncs"+q, admin, ""), http.StatusBadRequest, "invalid_input")
		}

		// Globex syncs from its own endpoint into its own products only.
		require.Equal(t, http.StatusOK, f.call(t, http.MethodPut, "/api/v1/sync-config", stranger,
			`{"base_url": "`+globexERP.URL+`"}`).Code)
		rec = f.call(t, http.MethodPost, "/api/v1/syncs", stranger, `{"type": "products"}`)
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
		theirs := decode[syncJSON](t, rec)
		requireError(t, f.call(t, http.MethodGet, "/api/v1/syncs/"+theirs.ID, admin, ""), http.StatusNotFound, "not_found")
		require.NoError(t, f.syncs.Run(ctx, "globex", theirs.ID))
		products := decode[struct {
			Data []struct {
				SKU  string `json:"sku"`
				Name string `json:"name"`
			} `json:"data"`
		}](t, f.call(t, http.MethodGet, "/api/v1/products", admin, ""))
		require.Len(t, products.Data, 1)
		require.Equal(t, "Anvil", products.Data[0].Name, "globex's sync never wrote into acme")
		cfg := decode[syncConfigJSON](t, f.call(t, http.MethodGet, "/api/v1/sync-config", admin, ""))
		require.Equal(t, acmeERP.URL, cfg.BaseURL, "each tenant keeps its own endpoint")
	})
}
