package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/report"
	"github.com/notifyhub/notifyhub/domain/report/reportfs"
	"github.com/notifyhub/notifyhub/workers/jobs"
	"github.com/notifyhub/notifyhub/workers/runner"
)

// The figures each report must give for acme, March 2026, worked out by
// hand from buildDataset. {NAME} stands for the id of that row.
//
// Orders created in March: SO-2 (beta, 4 APL × 2.50 + 2 BRD × 3.20 =
// 16.40, fulfilled on the 4th), SO-3 (alpha, 3 CHS × 7.125 = 21.375,
// approved), SO-4 (alpha, 1 APL × 2.40, pending), SO-5 (beta, 1 BRD ×
// 3.20, created in the last microsecond, approved only on April 1st, so
// pending at the end). SO-1 (February) and SO-6 (April 1st, 00:00) are out.
var wantSales = `{
  "summary": {"orders": 4, "total": "43.375", "units": 11},
  "by_status": [
    {"status": "pending", "count": 2, "total": "5.60"},
    {"status": "approved", "count": 1, "total": "21.375"},
    {"status": "fulfilled", "count": 1, "total": "16.40"}
  ],
  "by_day": %s,
  "top_products_by_quantity": [
    {"product_id": "{APL}", "sku": "APL", "name": "Apple Juice", "quantity": 5, "revenue": "12.40", "orders": 2},
    {"product_id": "{CHS}", "sku": "CHS", "name": "Cheese", "quantity": 3, "revenue": "21.375", "orders": 1},
    {"product_id": "{BRD}", "sku": "BRD", "name": "Bread", "quantity": 3, "revenue": "9.60", "orders": 2}
  ],
  "top_products_by_revenue": [
    {"product_id": "{CHS}", "sku": "CHS", "name": "Cheese", "quantity": 3, "revenue": "21.375", "orders": 1},
    {"product_id": "{APL}", "sku": "APL", "name": "Apple Juice", "quantity": 5, "revenue": "12.40", "orders": 2},
    {"product_id": "{BRD}", "sku": "BRD", "name": "Bread", "quantity": 3, "revenue": "9.60", "orders": 2}
  ]
}`

// salesDays is by_day: every day of March, three with orders.
func salesDays() string {
	busy := map[string]string{
		"2026-03-02": `"count": 1, "total": "16.40"`,
		"2026-03-05": `"count": 2, "total": "23.775"`,
		"2026-03-31": `"count": 1, "total": "3.20"`,
	}
	var days []string
	for d := 1; d <= 31; d++ {
		date := fmt.Sprintf("2026-03-%02d", d)
		v, ok := busy[date]
		if !ok {
			v = `"count": 0, "total": "0.00"`
		}
		days = append(days, `{"date": "`+date+`", `+v+`}`)
	}
	return "[" + strings.Join(days, ",") + "]"
}

// Stock at April 1st, 00:00 from the ledger: APL 100 − 30 + 50 received =
// 120 (the −65 of April 3rd comes later; 120 ≥ 60, not low, though it is
// low today); BRD 4 + 10 received = 14 < 20, low; CHS 20 + 5 + 7 + 30
// received = 62; FIG, deleted on April 2nd, still listed; EGG, deleted on
// March 20th, and DTS, created in April, are not. Batches expiring by April
// 30th: L0 (expired on March 20th) and L1; L9 (June) is not.
const wantInventory = `{
  "summary": {"products": 4, "low_stock": 1, "units_on_hand": 196, "units_in": 126, "units_out": 30,
              "expiring_batches": 2, "expiring_units": 25},
  "products": [
    {"product_id": "{APL}", "sku": "APL", "name": "Apple Juice", "on_hand": 120, "reorder_level": 60, "low_stock": false,
     "movements_in": 1, "movements_out": 1, "units_in": 50, "units_out": 30},
    {"product_id": "{BRD}", "sku": "BRD", "name": "Bread", "on_hand": 14, "reorder_level": 20, "low_stock": true,
     "movements_in": 2, "movements_out": 0, "units_in": 14, "units_out": 0},
    {"product_id": "{CHS}", "sku": "CHS", "name": "Cheese", "on_hand": 62, "reorder_level": 0, "low_stock": false,
     "movements_in": 4, "movements_out": 0, "units_in": 62, "units_out": 0},
    {"product_id": "{FIG}", "sku": "FIG", "name": "Figs", "on_hand": 0, "reorder_level": 0, "low_stock": false,
     "movements_in": 0, "movements_out": 0, "units_in": 0, "units_out": 0}
  ],
  "expiring_batches": [
    {"product_id": "{CHS}", "sku": "CHS", "name": "Cheese", "location_id": "{MAIN}", "location_code": "main",
     "batch_number": "L0", "expiry_date": "2026-03-20", "quantity": 5, "days_remaining": -11, "expired": true},
    {"product_id": "{CHS}", "sku": "CHS", "name": "Cheese", "location_id": "{COLD}", "location_code": "cold",
     "batch_number": "L1", "expiry_date": "2026-04-15", "quantity": 20, "days_remaining": 15, "expired": false}
  ]
}`

// Invoices by April 1st: INV-1 (SO-1, 25.00, due March 23rd, paid 10.00 in
// February and 5.00 in March), INV-2 (SO-2, 16.40, due April 1st, paid
// 6.40 in March), INV-3 (SO-3, 21.375, due March 16th; its 5.00 comes in
// April). INV-4 (SO-5) was made on April 1st.
const wantFinancial = `{
  "invoiced": {"count": 2, "total": "37.775"},
  "paid": {"count": 2, "total": "11.40"},
  "outstanding": {"count": 3, "total": "41.375"},
  "overdue": {"count": 2, "total": "31.375"},
  "customers": [
    {"customer_id": "{ALPHA}", "name": "Alpha Mart", "invoices": 1, "outstanding": "21.375", "overdue": "21.375"},
    {"customer_id": "{BETA}", "name": "Beta Foods", "invoices": 2, "outstanding": "20.00", "overdue": "10.00"}
  ]
}`

const wantCustomer = `{
  "summary": {"customers": 3, "new_customers": 2, "orders": 4, "order_total": "43.375", "payments": 2, "payment_total": "11.40"},
  "new_customers": [
    {"customer_id": "{ALPHA}", "name": "Alpha Mart", "email": "", "created_at": "2026-03-03T10:00:00Z"},
    {"customer_id": "{GAMMA}", "name": "Gamma Co", "email": "", "created_at": "2026-03-25T10:00:00Z"}
  ],
  "customers": [
    {"customer_id": "{ALPHA}", "name": "Alpha Mart", "email": "", "created_at": "2026-03-03T10:00:00Z",
     "statistics": {"total_orders": 2, "total_spent": "0.00", "outstanding_balance": "21.375",
                    "last_order_at": "2026-03-05T15:00:00Z", "last_payment_at": null},
     "in_range": {"orders": 2, "order_total": "23.775", "payments": 0, "payment_total": "0.00"}},
    {"customer_id": "{BETA}", "name": "Beta Foods", "email": "", "created_at": "2026-02-01T10:00:00Z",
     "statistics": {"total_orders": 3, "total_spent": "21.40", "outstanding_balance": "20.00",
                    "last_order_at": "2026-03-31T23:59:59.999999Z", "last_payment_at": "2026-03-20T10:00:00Z"},
     "in_range": {"orders": 2, "order_total": "19.60", "payments": 2, "payment_total": "11.40"}},
    {"customer_id": "{GAMMA}", "name": "Gamma Co", "email": "", "created_at": "2026-03-25T10:00:00Z",
     "statistics": {"total_orders": 0, "total_spent": "0.00", "outstanding_balance": "0.00",
                    "last_order_at": null, "last_payment_at": null},
     "in_range": {"orders": 0, "order_total": "0.00", "payments": 0, "payment_total": "0.00"}}
  ]
}`

// Purchase orders created in March: PO-2 (Fresh Farms, 50 APL × 1.10 + 20
// BRD × 0.80 = 71.00, 60 of 70 received in March, the other 10 in April:
// partially received at the end), PO-3 (Dairy Direct, 30 CHS × 4.0000,
// received), PO-4 (Dairy Direct, 10 CHS × 4.25, approved only in April:
// pending), PO-5 (Fresh Farms, 5 APL × 1.10, approved). PO-1 (February)
// and PO-6 (April) are out.
const wantProcurement = `{
  "summary": {"purchase_orders": 4, "total": "239.00", "ordered_quantity": 115, "received_quantity": 90, "outstanding_quantity": 25},
  "by_status": [
    {"status": "pending", "count": 1, "total": "42.50"},
    {"status": "approved", "count": 1, "total": "5.50"},
    {"status": "partially_received", "count": 1, "total": "71.00"},
    {"status": "received", "count": 1, "total": "120.00"}
  ],
  "by_vendor": [
    {"vendor_id": "{DAIRY}", "name": "Dairy Direct", "purchase_orders": 2, "total": "162.50",
     "ordered_quantity": 40, "received_quantity": 30, "outstanding_quantity": 10},
    {"vendor_id": "{FRESH}", "name": "Fresh Farms", "purchase_orders": 2, "total": "76.50",
     "ordered_quantity": 75, "received_quantity": 60, "outstanding_quantity": 15}
  ],
  "products": [
    {"product_id": "{APL}", "sku": "APL", "name": "Apple Juice", "ordered_quantity": 55, "received_quantity": 50, "outstanding_quantity": 5, "cost": "60.50"},
    {"product_id": "{BRD}", "sku": "BRD", "name": "Bread", "ordered_quantity": 20, "received_quantity": 10, "outstanding_quantity": 10, "cost": "16.00"},
    {"product_id": "{CHS}", "sku": "CHS", "name": "Cheese", "ordered_quantity": 40, "received_quantity": 30, "outstanding_quantity": 10, "cost": "162.50"}
  ]
}`

func (d dataset) expected() map[report.Type]string {
	ids := strings.NewReplacer("{APL}", d.apl, "{BRD}", d.brd, "{CHS}", d.chs, "{FIG}", d.fig,
		"{MAIN}", d.main, "{COLD}", d.cold, "{ALPHA}", d.alpha, "{BETA}", d.beta, "{GAMMA}", d.gamma,
		"{FRESH}", d.freshFarms, "{DAIRY}", d.dairyDirect)
	return map[report.Type]string{
		report.TypeSales:       ids.Replace(fmt.Sprintf(wantSales, salesDays())),
		report.TypeInventory:   ids.Replace(wantInventory),
		report.TypeFinancial:   ids.Replace(wantFinancial),
		report.TypeCustomer:    ids.Replace(wantCustomer),
		report.TypeProcurement: ids.Replace(wantProcurement),
	}
}

// reportEnv is a wired job system with the report service.
type reportEnv struct {
	*env
	reports *report.Service
	notes   *notification.Service
	files   *switchFiles
	dataDir string
}

// switchFiles is the real file store, or one whose writes fail (a full
// disk) while broken is set.
type switchFiles struct {
	report.Files
	broken atomic.Bool
}

func (f *switchFiles) Write(ctx context.Context, tenant domain.TenantID, id string, write func(io.Writer) error) (string, error) {
	if f.broken.Load() {
		return "", errors.New("write report file: no space left on device")
	}
	return f.Files.Write(ctx, tenant, id, write)
}

func newReportEnv(t *testing.T, b backend) *reportEnv {
	t.Helper()
	ctx := context.Background()
	for _, u := range []domain.User{
		{TenantID: "acme", ID: "alice", Perms: []string{domain.PermReportsRun}},
		{TenantID: "acme", ID: "bob", Perms: []string{domain.PermAdmin}},
		{TenantID: "globex", ID: "alice", Perms: []string{domain.PermAdmin}},
	} {
		require.NoError(t, b.store.UpsertUser(ctx, u))
	}
	e := newEnv(t, b)
	dir := t.TempDir()
	disk, err := reportfs.New(dir)
	require.NoError(t, err)
	files := &switchFiles{Files: disk}
	notes := notification.NewService(b.store, noFanout{}, nil, logger())
	svc := report.NewService(b.store, files, notes, e.disp, nil, logger())
	require.NoError(t, e.reg.Register(jobs.GenerateReports(svc)))
	return &reportEnv{env: e, reports: svc, notes: notes, files: files, dataDir: dir}
}

var alice = domain.Actor{TenantID: "acme", UserID: "alice", Perms: []string{domain.PermReportsRun}}

// waitReport waits until the report reaches status.
func (e *reportEnv) waitReport(t *testing.T, id string, status report.Status) report.Report {
	t.Helper()
	var r report.Report
	eventually(t, func() bool {
		var err error
		r, err = e.reports.Get(context.Background(), "acme", id)
		require.NoError(t, err)
		return r.Status == status
	}, "the report becomes "+string(status))
	return r
}

// readReport reads a report's file as a download would.
func (e *reportEnv) readReport(t *testing.T, id string) []byte {
	t.Helper()
	_, dl, err := e.reports.Open(context.Background(), alice, id)
	require.NoError(t, err)
	defer dl.Content.Close()
	raw, err := io.ReadAll(dl.Content)
	require.NoError(t, err)
	return raw
}

func inbox(t *testing.T, n *notification.Service, tenant domain.TenantID, user domain.UserID) []domain.Notification {
	t.Helper()
	page, err := n.List(context.Background(), tenant, user, notification.ListParams{Limit: 200})
	require.NoError(t, err)
	return page.Data
}

// TestGenerateReportsThroughTheQueue: the five reports of a hand-built
// dataset, requested, relayed to the low queue and generated by a real
// worker, on every backend, give exactly the figures worked out by hand;
// the files land in acme's folder only; the requester alone is notified;
// generating again (a redelivered or retried job) writes the same bytes
// and notifies nobody.
func TestGenerateReportsThroughTheQueue(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		d := buildDataset(t, b.store)
		e := newReportEnv(t, b)
		ids := map[report.Type]string{}
		for _, typ := range report.Types {
			r, err := e.reports.Request(ctx, alice, report.RequestInput{Type: string(typ), From: "2026-03-01", To: "2026-03-31"})
			require.NoError(t, err)
			require.Equal(t, report.StatusPending, r.Status)
			ids[typ] = r.ID
		}
		require.EqualValues(t, 0, e.backlog(t, runner.QueueLow), "nothing is queued before the relay runs")
		e.flush(t)
		require.EqualValues(t, len(report.Types), e.backlog(t, runner.QueueLow), "reports go to the low queue")
		e.start(t, runner.QueueConfig{})

		for typ, want := range d.expected() {
			r := e.waitReport(t, ids[typ], report.StatusCompleted)
			require.NotNil(t, r.GeneratedAt)
			require.Empty(t, r.Error)
			raw := e.readReport(t, r.ID)
			var doc map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &doc))
			header := map[string]string{}
			for _, k := range []string{"report_id", "type", "tenant", "from", "to", "as_of", "generated_at"} {
				var v string
				require.NoError(t, json.Unmarshal(doc[k], &v), "%s: header %s", typ, k)
				header[k] = v
				delete(doc, k)
			}
			require.Equal(t, map[string]string{
				"report_id": r.ID, "type": string(typ), "tenant": "acme", "from": "2026-03-01", "to": "2026-03-31",
				"as_of": "2026-04-01T00:00:00Z", "generated_at": r.GeneratedAt.Format(time.RFC3339Nano),
			}, header)
			body, err := json.Marshal(doc)
			require.NoError(t, err)
			require.JSONEq(t, want, string(body), "%s report", typ)
			require.Equal(t, "reports/"+reportfs.TenantFolder("acme")+"/"+r.ID+".json", r.File)
		}

		// Every file is in acme's folder, and nothing else was written.
		var files []string
		require.NoError(t, filepath.WalkDir(e.dataDir, func(path string, de fs.DirEntry, err error) error {
			if err == nil && !de.IsDir() {
				rel, _ := filepath.Rel(e.dataDir, path)
				files = append(files, filepath.ToSlash(rel))
			}
			return err
		}))
		var want []string
		for _, id := range ids {
			want = append(want, "reports/"+reportfs.TenantFolder("acme")+"/"+id+".json")
		}
		require.ElementsMatch(t, want, files)

		// The requester is told once per report, with the download link;
		// nobody else is.
		notes := inbox(t, e.notes, "acme", "alice")
		require.Len(t, notes, len(report.Types))
		for _, n := range notes {
			require.Equal(t, notification.TypeReportGenerated, n.Type)
			require.Equal(t, domain.SeveritySuccess, n.Severity)
			var data map[string]string
			require.NoError(t, json.Unmarshal(n.Data, &data))
			require.Equal(t, ids[report.Type(data["type"])], data["report_id"])
			require.Equal(t, "/api/v1/reports/"+data["report_id"]+"/download", n.ActionURL)
			require.Equal(t, "2026-03-01", data["from"])
			require.Equal(t, "2026-03-31", data["to"])
		}
		require.Empty(t, inbox(t, e.notes, "acme", "bob"))
		require.Empty(t, inbox(t, e.notes, "globex", "alice"))

		// Generating again overwrites the file with the same bytes.
		for _, id := range ids {
			before := e.readReport(t, id)
			require.NoError(t, e.reports.Generate(ctx, "acme", id))
			require.Equal(t, string(before), string(e.readReport(t, id)))
		}
		require.Len(t, inbox(t, e.notes, "acme", "alice"), len(report.Types), "a second run notifies nobody")
	})
}

// TestGenerateReportsFailureIsReportedAndRetryRecovers: a report whose
// file cannot be written uses up its tries, is marked failed with the
// cause, and its requester gets a critical notification; retrying the
// failed job once the disk is fixed completes it.
func TestGenerateReportsFailureIsReportedAndRetryRecovers(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newReportEnv(t, b)
		e.files.broken.Store(true)
		r, err := e.reports.Request(ctx, alice, report.RequestInput{Type: "inventory", From: "2026-01-01", To: "2026-01-31"})
		require.NoError(t, err)
		e.flush(t)
		e.start(t, runner.QueueConfig{Override: runner.Policy{Tries: 2, Backoff: []time.Duration{time.Millisecond}}})

		failed := e.waitReport(t, r.ID, report.StatusFailed)
		require.Contains(t, failed.Error, "no space left on device")
		require.NotNil(t, failed.FailedAt)
		require.Nil(t, failed.GeneratedAt)
		_, _, err = e.reports.Open(ctx, alice, r.ID)
		require.ErrorIs(t, err, report.ErrNotReady)
		notes := inbox(t, e.notes, "acme", "alice")
		require.Len(t, notes, 1)
		require.Equal(t, domain.SeverityCritical, notes[0].Severity)
		require.Equal(t, notification.TypeReportGenerated, notes[0].Type)
		require.Contains(t, notes[0].Body, "no space left on device")
		var data map[string]string
		require.NoError(t, json.Unmarshal(notes[0].Data, &data))
		require.Equal(t, r.ID, data["report_id"])
		require.Contains(t, data["error"], "no space left on device")

		list := e.failedJobs(t)
		require.Len(t, list, 1)
		require.Equal(t, report.Job, list[0].Job)
		require.Equal(t, runner.QueueLow, list[0].Queue)
		require.Equal(t, 2, list[0].Attempts)

		e.files.broken.Store(false)
		require.NoError(t, e.failed.Retry(ctx, domain.FailedJobScope{Tenant: "acme"}, list[0].ID))
		e.flush(t)
		done := e.waitReport(t, r.ID, report.StatusCompleted)
		require.Empty(t, done.Error)
		require.Nil(t, done.FailedAt)
		require.NotEmpty(t, e.readReport(t, r.ID))
		notes = inbox(t, e.notes, "acme", "alice")
		require.Len(t, notes, 2)
		require.Equal(t, domain.SeveritySuccess, notes[0].Severity, "newest first: the report is ready")
		require.Empty(t, inbox(t, e.notes, "acme", "bob"))
	})
}
