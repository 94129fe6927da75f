package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// Run runs the conformance suite against a backend: every subtest opens its
// own store with open.
func Run(t *testing.T, open Opener) {
	t.Helper()
	suites := []struct {
		name  string
		tests map[string]func(t *testing.T, s *sqlstore.Store)
	}{
		{"Tx", txTests},
		{"Product", productTests},
		{"Inventory", inventoryTests},
		{"BusinessStock", businessStockTests},
		{"Event", eventTests},
		{"Notification", notificationTests},
		{"UnreadCounter", unreadCounterTests},
		{"NotificationUserRow", notificationUserRowTests},
		{"BroadcastOnce", broadcastOnceTests},
		{"BroadcastBulk", broadcastBulkTests},
		{"User", userTests},
		{"UserPerms", userPermsTests},
		{"Job", jobTests},
		{"FailedJob", failedJobTests},
		{"Bulk", bulkTests},
		{"Direct", directTests},
		{"Setting", settingTests},
		{"Counter", counterTests},
		{"CRM", crmTests},
		{"Sales", salesTests},
		{"Procurement", procurementTests},
		{"Batch", batchTests},
		{"Detector", detectorTests},
		{"Invoice", invoiceTests},
		{"Ops", opsTests},
		{"Sync", syncTests},
		{"Report", reportTests},
		{"Valuation", valuationTests},
		{"Import", importTests},
		{"Hubconn", hubconnTests},
		{"BroadcastSeq", broadcastSeqTests},
	}
	for _, suite := range suites {
		t.Run(suite.name, func(t *testing.T) {
			t.Parallel()
			for name, test := range suite.tests {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					test(t, open(t))
				})
			}
		})
	}
}

// Fixtures shared by the tests.
const (
	tenantA = domain.TenantID("tenant-a")
	tenantB = domain.TenantID("tenant-b")
	userA   = domain.UserID("user-a")
	userB   = domain.UserID("user-b")
)

var errBoom = errors.New("boom")

// hostile are strings that break naive quoting, encodings or placeholders;
// each must come back byte for byte.
var hostile = []string{
	`Robert'); DROP TABLE products; --`,
	`' OR '1'='1`,
	`"double" and 'single' quotes, \backslash\ and a trailing \`,
	`? $1 :name @p1 %s %_ -- /* */ ;`,
	"Zażółć gęślą jaźń — 日本語 — 🚀👩🏽‍💻 — \u202eRTL",
	"tabs\tnewlines\n\r\ncarriage",
	`<script>alert("x")</script>&amp;`,
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// at returns a fixed instant with nanoseconds and a non-UTC zone, to check
// the store's normalisation (UTC, microseconds).
func at(offset time.Duration) time.Time {
	zone := time.FixedZone("UTC+2", 2*60*60)
	return time.Date(2026, 3, 14, 15, 9, 26, 535897932, zone).Add(offset)
}

// stored is what a time looks like after a round trip.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func newProduct(tenant domain.TenantID, sku string) product.Product {
	return product.Product{
		ID:           domain.NewID(),
		TenantID:     tenant,
		SKU:          sku,
		Name:         "Product " + sku,
		Price:        decimal.RequireFromString("12.3456"),
		ReorderLevel: 5,
		CreatedAt:    at(0),
		UpdatedAt:    at(0),
	}
}

func insertProduct(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, sku string) product.Product {
	t.Helper()
	p := newProduct(tenant, sku)
	require.NoError(t, s.InsertProduct(ctxFor(t), p))
	return p
}

func insertLocation(t *testing.T, s *sqlstore.Store, tenant domain.TenantID, code string) inventory.Location {
	t.Helper()
	l := inventory.Location{ID: domain.NewID(), TenantID: tenant, Code: code, Name: "Location " + code}
	require.NoError(t, s.InsertLocation(ctxFor(t), l))
	return l
}

func newEvent(t *testing.T, tenant domain.TenantID, typ string, offset time.Duration) domain.Event {
	t.Helper()
	return domain.Event{
		ID:            domain.NewID(),
		TenantID:      tenant,
		ActorID:       userA,
		Type:          typ,
		AggregateType: "product",
		AggregateID:   domain.NewID(),
		OccurredAt:    at(offset),
		Payload:       []byte(`{"n": 1, "s": "it's \"quoted\""}`),
	}
}

func eventIDs(events []domain.Event) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

// requireNotFound asserts err is domain.ErrNotFound.
func requireNotFound(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	require.ErrorIs(t, err, domain.ErrNotFound, msgAndArgs...)
}

// requireInvalid asserts err is a *domain.ValidationError.
func requireInvalid(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	var v *domain.ValidationError
	require.ErrorAs(t, err, &v, msgAndArgs...)
}

// signalled reports whether the store's EventSignal is pending, consuming it.
func signalled(s *sqlstore.Store) bool {
	select {
	case <-s.EventSignal():
		return true
	default:
		return false
	}
}
