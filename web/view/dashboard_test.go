package view

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

func TestEventSummary(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		typ, payload, want string
	}{
		{"ProductCreated", `{"product_id":"p","sku":"W-1","name":"Widget","price":"12.50","reorder_level":5}`, "W-1 Widget · created · reorder level 5"},
		{"ProductUpdated", `{"product_id":"p","sku":"W-1","changes":{"price":{"old":"1","new":"2"},"name":{"old":"a","new":"b"}}}`, "W-1 · changed name, price"},
		{"ProductUpdated", `{"sku":"W-1","changes":{}}`, "W-1"},
		{"ProductDeleted", `{"product_id":"p","sku":"W-1","name":"Widget"}`, "W-1 Widget · deleted"},
		{"StockMovementRecorded", `{"sku":"W-1","quantity":5,"reason":"received","on_hand":12}`, "W-1 +5 · received · on hand 12"},
		{"StockMovementRecorded", `{"sku":"W-1","quantity":-3,"reason":"","on_hand":0}`, "W-1 -3 · on hand 0"},
		{"LowStockDetected", `{"sku":"W-1","name":"Widget","on_hand":2,"reorder_level":5}`, "W-1 Widget · on hand 2 · reorder level 5"},
		{"StockExpiring", `{"sku":"W-1","batch_number":"L-7","expiry_date":"2027-01-31","days_remaining":6}`, "W-1 batch L-7 · expires 2027-01-31 · days left 6"},
		{"OrderCreated", `{"number":"SO-000001","total":"12.50"}`, "SO-000001 created · total 12.50"},
		{"OrderApproved", `{"number":"SO-000001","total":"12.50"}`, "SO-000001 approved · total 12.50"},
		{"OrderFulfilled", `{"number":"SO-000001"}`, "SO-000001 fulfilled"},
		{"InvoiceGenerated", `{"number":"INV-000001","order_number":"SO-000001","total":"12.50","due_date":"2027-01-31"}`, "INV-000001 for SO-000001 · total 12.50 · due 2027-01-31"},
		{"InvoicePaymentReceived", `{"invoice_id":"i","number":"INV-000001","amount":"10.00","outstanding":"2.50"}`, "INV-000001 paid 10.00 · outstanding 2.50"},
		{"InvoiceOverdue", `{"number":"INV-000001","days_overdue":8,"outstanding":"2.50"}`, "INV-000001 overdue · days 8 · outstanding 2.50"},
		{"CustomerCreated", `{"customer_id":"c","name":"Initech"}`, "Initech new customer"},
		{"LeadConverted", `{"name":"Umbrella"}`, "Umbrella lead converted"},
		{"PurchaseOrderApproved", `{"number":"PO-000001","vendor_name":"Nordic","total":"99"}`, "PO-000001 approved · Nordic · total 99"},
		{"GoodsReceived", `{"number":"PO-000001","fully_received":true}`, "PO-000001 goods received · complete true"},
		// Unknown types: up to three scalar fields by key, ids skipped.
		{"SomethingElse", `{"invoice_id":"i","amount":"10.00","method":"card","reference":"R-1","zeta":"z"}`, "amount 10.00 · method card · reference R-1"},
		{"Custom", `{"id":"x","nested":{"a":1},"list":[1],"flag":true,"none":null}`, "flag true"},
		// Not an object, or broken: no summary rather than an error.
		{"Custom", `[1,2]`, ""},
		{"Custom", `null`, ""},
		{"Custom", `{"a":`, ""},
		{"Custom", ``, ""},
		// Missing fields leave no dangling words.
		{"ProductCreated", `{}`, "created"},
	} {
		require.Equal(t, c.want, EventSummary(c.typ, json.RawMessage(c.payload)), c.typ+" "+c.payload)
	}

	long := EventSummary("Custom", json.RawMessage(`{"note":"`+strings.Repeat("é", 300)+`"}`))
	require.Len(t, []rune(long), maxSummaryRunes)
	require.True(t, strings.HasSuffix(long, "…"))
}

func TestSortStockLowFirst(t *testing.T) {
	t.Parallel()
	rows := []StockRow{
		NewStockRow("1", "B", "fine", 10, 5),
		NewStockRow("2", "C", "a bit low", 4, 5),
		NewStockRow("3", "A", "fine too", 5, 5), // at the level is not low
		NewStockRow("4", "D", "very low", 0, 8),
		NewStockRow("5", "E", "as low as C", 9, 10),
	}
	SortStock(rows)
	var skus []string
	for _, r := range rows {
		skus = append(skus, r.SKU)
	}
	require.Equal(t, []string{"D", "C", "E", "A", "B"}, skus)
	require.Equal(t, 3, DashboardProps{Stock: rows}.LowCount())
}

func TestEventRowAndCounts(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	r := NewEventRow(domain.Event{
		ID: "e1", Type: "ProductCreated", AggregateType: "product", AggregateID: "0190a1b2-c3d4-7000-8000-000000000000",
		OccurredAt: now.Add(-5 * time.Minute), Payload: json.RawMessage(`{"sku":"W-1","name":"Widget"}`),
	}, now)
	require.Equal(t, "product 0190a1b2", r.Aggregate)
	require.Equal(t, "system", r.Actor)
	require.Equal(t, "5 min ago", r.Ago)
	require.Equal(t, "W-1 Widget · created", r.Summary)
	require.Equal(t, "", AggregateLabel("", ""))
	require.Equal(t, "alice", ActorLabel("alice"))

	p := DashboardProps{Events: []EventRow{{Type: "B"}, {Type: "A"}, {Type: "B"}, {Type: "C"}}}
	require.Equal(t, []TypeCount{{"B", 2}, {"A", 1}, {"C", 1}}, p.TypeCounts())
}
