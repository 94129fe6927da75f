package web_test

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/report/reportfs"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

type reportJSON struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Parameters map[string]string `json:"parameters"`
	Status     string            `json:"status"`
	File       *string           `json:"file"`
	Error      *string           `json:"error"`
	CreatedAt  string            `json:"created_at"`
	Generated  *string           `json:"generated_at"`
	FailedAt   *string           `json:"failed_at"`
	By         string            `json:"requested_by"`
}

func TestReportsAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		ctx := context.Background()
		alice := known(t, f, "acme", "alice", domain.PermReportsRun)
		bob := known(t, f, "acme", "bob")                                  // may read, not run or download
		root := known(t, f, "acme", "root", domain.PermAdmin)              // admin implies reports.run
		mallory := known(t, f, "globex", "mallory", domain.PermReportsRun) // another tenant

		rec := f.call(t, http.MethodPost, "/api/v1/reports", alice, `{"type": "sales", "from": "2026-03-01", "to": "2026-03-31"}`)
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
		created := decode[reportJSON](t, rec)
		require.Equal(t, "/api/v1/reports/"+created.ID, rec.Header().Get("Location"))
		require.Equal(t, "pending", created.Status)
		require.Equal(t, "sales", created.Type)
		require.Equal(t, map[string]string{"from": "2026-03-01", "to": "2026-03-31"}, created.Parameters)
		require.Nil(t, created.File)
		require.Nil(t, created.Error)
		require.Nil(t, created.Generated)
		require.Equal(t, "alice", created.By)
		path := "/api/v1/reports/" + created.ID

		// Not generated yet: readable by the tenant, not downloadable.
		rec = f.call(t, http.MethodGet, path, bob, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Equal(t, "pending", decode[reportJSON](t, rec).Status)
		e := requireError(t, f.call(t, http.MethodGet, path+"/download", alice, ""), http.StatusConflict, "report_not_ready")
		require.Contains(t, e.Message, "pending")
		requireError(t, f.call(t, http.MethodGet, path, mallory, ""), http.StatusNotFound, "not_found")

		// The job runs (as a worker would).
		require.NoError(t, f.reports.Generate(ctx, "acme", created.ID))
		rec = f.call(t, http.MethodGet, path, alice, "")
		got := decode[reportJSON](t, rec)
		require.Equal(t, "completed", got.Status)
		require.Equal(t, path+"/download", *got.File)
		require.NotNil(t, got.Generated)

		for _, tok := range []string{alice, root} {
			rec = f.call(t, http.MethodGet, path+"/download", tok, "")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			disp, params, err := mime.ParseMediaType(rec.Header().Get("Content-Disposition"))
			require.NoError(t, err)
			require.Equal(t, "attachment", disp)
			require.Equal(t, "sales-report-2026-03-01-to-2026-03-31.json", params["filename"])
			require.Contains(t, rec.Header().Get("Cache-Control"), "no-store")
			var doc struct {
				ReportID string `json:"report_id"`
				Tenant   string `json:"tenant"`
				From, To string
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
			require.Equal(t, created.ID, doc.ReportID)
			require.Equal(t, "acme", doc.Tenant)
		}
		requireError(t, f.call(t, http.MethodGet, path+"/download", bob, ""), http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodGet, path+"/download", mallory, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/reports/"+domain.NewID()+"/download", alice, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/reports/..%2F..%2Fetc/download", alice, ""), http.StatusBadRequest, "invalid_input")
		requireError(t, f.call(t, http.MethodGet, path+"/download", "", ""), http.StatusUnauthorized, "unauthenticated")

		// The requester, and only they, heard about it.
		rec = f.call(t, http.MethodGet, "/api/v1/notifications", alice, "")
		var inbox struct {
			Data []struct {
				Type      string `json:"type"`
				Severity  string `json:"severity"`
				ActionURL string `json:"action_url"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &inbox))
		require.Len(t, inbox.Data, 1)
		require.Equal(t, "ReportGeneratedNotification", inbox.Data[0].Type)
		require.Equal(t, "success", inbox.Data[0].Severity)
		require.Equal(t, path+"/download", inbox.Data[0].ActionURL)
		for _, tok := range []string{bob, root, mallory} {
			rec = f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", tok, "")
			require.JSONEq(t, `{"unread_count": 0}`, rec.Body.String())
		}

		// A file that vanished (data directory not shared, or cleaned up)
		// is reported as gone, not as a server fault.
		require.NoError(t, os.RemoveAll(filepath.Join(f.dataDir, "reports")))
		requireError(t, f.call(t, http.MethodGet, path+"/download", alice, ""), http.StatusGone, "report_file_missing")
	})
}

func TestReportRequestsAreValidated(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		alice := known(t, f, "acme", "alice", domain.PermReportsRun)
		bob := known(t, f, "acme", "bob", domain.PermSalesManage)

		for name, tc := range map[string]struct {
			body, field, says string
		}{
			"reversed":       {`{"type": "sales", "from": "2026-03-31", "to": "2026-03-01"}`, "range", "must not be after"},
			"unknown type":   {`{"type": "payroll", "from": "2026-03-01", "to": "2026-03-31"}`, "type", "sales, inventory, financial, customer, procurement"},
			"too long":       {`{"type": "inventory", "from": "2025-01-01", "to": "2026-12-31"}`, "range", "at most 366 days"},
			"malformed from": {`{"type": "financial", "from": "31/03/2026", "to": "2026-03-31"}`, "from", "YYYY-MM-DD"},
			"impossible day": {`{"type": "customer", "from": "2026-02-29", "to": "2026-03-31"}`, "from", "YYYY-MM-DD"},
			"missing to":     {`{"type": "procurement", "from": "2026-03-01"}`, "to", "required"},
			"unknown field":  {`{"type": "sales", "from": "2026-03-01", "to": "2026-03-31", "tenant": "globex"}`, "tenant", "not a known field"},
			"number date":    {`{"type": "sales", "from": 20260301, "to": "2026-03-31"}`, "from", ""},
			"array":          {`[]`, "body", ""},
		} {
			t.Run(name, func(t *testing.T) {
				e := requireError(t, f.call(t, http.MethodPost, "/api/v1/reports", alice, tc.body), http.StatusBadRequest, "invalid_input")
				require.Contains(t, e.Fields, tc.field, e.Fields)
				require.Contains(t, e.Fields[tc.field], tc.says)
			})
		}
		requireError(t, f.call(t, http.MethodPost, "/api/v1/reports", bob, `{"type": "sales", "from": "2026-03-01", "to": "2026-03-31"}`),
			http.StatusForbidden, "forbidden")
		requireError(t, f.do(t, req{method: http.MethodPost, path: "/api/v1/reports", token: alice, body: "type=sales",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}), http.StatusUnsupportedMediaType, "")

		// Nothing was stored by any of them.
		rec := f.call(t, http.MethodGet, "/api/v1/reports", alice, "")
		require.JSONEq(t, `{"data": [], "next": null}`, rec.Body.String())
	})
}

func TestReportsListIsTheTenantsNewestFirst(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		alice := known(t, f, "acme", "alice", domain.PermReportsRun)
		bob := known(t, f, "acme", "bob")
		mallory := known(t, f, "globex", "mallory", domain.PermReportsRun)
		var ids []string
		for _, typ := range []string{"sales", "inventory", "sales"} {
			rec := f.call(t, http.MethodPost, "/api/v1/reports", alice, `{"type": "`+typ+`", "from": "2026-01-01", "to": "2026-01-31"}`)
			require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
			ids = append(ids, decode[reportJSON](t, rec).ID)
		}
		require.Equal(t, http.StatusAccepted, f.call(t, http.MethodPost, "/api/v1/reports", mallory,
			`{"type": "sales", "from": "2026-01-01", "to": "2026-01-31"}`).Code)

		type page struct {
			Data []reportJSON `json:"data"`
			Next *string      `json:"next"`
		}
		listIDs := func(p page) []string {
			var out []string
			for _, r := range p.Data {
				out = append(out, r.ID)
			}
			return out
		}
		p := decode[page](t, f.call(t, http.MethodGet, "/api/v1/reports", bob, ""))
		require.Equal(t, []string{ids[2], ids[1], ids[0]}, listIDs(p))
		require.Nil(t, p.Next)
		p = decode[page](t, f.call(t, http.MethodGet, "/api/v1/reports?limit=2", bob, ""))
		require.Equal(t, []string{ids[2], ids[1]}, listIDs(p))
		require.NotNil(t, p.Next)
		p = decode[page](t, f.call(t, http.MethodGet, "/api/v1/reports?limit=2&before="+*p.Next, bob, ""))
		require.Equal(t, []string{ids[0]}, listIDs(p))
		p = decode[page](t, f.call(t, http.MethodGet, "/api/v1/reports?type=inventory&status=pending", bob, ""))
		require.Equal(t, []string{ids[1]}, listIDs(p))
		for _, q := range []string{"type=payroll", "status=done", "before=nope", "limit=-1"} {
			requireError(t, f.call(t, http.MethodGet, "/api/v1/reports?"+q, bob, ""), http.StatusBadRequest, "invalid_input")
		}
		p = decode[page](t, f.call(t, http.MethodGet, "/api/v1/reports", mallory, ""))
		require.Len(t, p.Data, 1, "globex sees its own report only")
		require.NotContains(t, ids, p.Data[0].ID)
	})
}

// Tenant ids such as ".." are valid in a token: their reports still land
// in a folder of their own inside the data directory.
func TestHostileTenantReportsStayInTheirFolder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.OpenSQLite)
	ctx := context.Background()
	for _, tenant := range []string{"..", "...", ".", "ACME", "acme"} {
		tok := known(t, f, tenant, "alice", domain.PermReportsRun)
		rec := f.call(t, http.MethodPost, "/api/v1/reports", tok, `{"type": "financial", "from": "2026-03-01", "to": "2026-03-31"}`)
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
		id := decode[reportJSON](t, rec).ID
		require.NoError(t, f.reports.Generate(ctx, domain.TenantID(tenant), id))
		rec = f.call(t, http.MethodGet, "/api/v1/reports/"+id+"/download", tok, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var doc struct {
			Tenant string `json:"tenant"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
		require.Equal(t, tenant, doc.Tenant)
		_, err := os.Stat(filepath.Join(f.dataDir, "reports", reportfs.TenantFolder(domain.TenantID(tenant)), id+".json"))
		require.NoError(t, err)
	}
	entries, err := os.ReadDir(f.dataDir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the reports folder")
	folders, err := os.ReadDir(filepath.Join(f.dataDir, "reports"))
	require.NoError(t, err)
	require.Len(t, folders, 5, "one folder per tenant, ACME and acme apart")
	for _, d := range folders {
		require.True(t, d.IsDir())
		files, err := os.ReadDir(filepath.Join(f.dataDir, "reports", d.Name()))
		require.NoError(t, err)
		require.Len(t, files, 1)
	}
}
