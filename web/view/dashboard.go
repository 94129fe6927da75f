package view

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// DashboardProps is the live operations dashboard of the viewer's tenant.
type DashboardProps struct {
	Viewer      Viewer
	UnreadCount int
	// Stock is the tenant's products, low ones first (SortStock).
	Stock []StockRow
	// StockTruncated says the tenant has more products than Stock shows.
	StockTruncated bool
	// Events is the newest part of the tenant's event log, newest first.
	Events []EventRow
	// Cursor is the newest event's id, from which dashboard.js polls for
	// newer ones; "" when the log is empty.
	Cursor string
	// FeedLimit is how many events dashboard.js keeps in the feed.
	FeedLimit int
}

// LowCount is the number of products below their reorder level.
func (p DashboardProps) LowCount() int {
	n := 0
	for _, r := range p.Stock {
		if r.Low {
			n++
		}
	}
	return n
}

// TypeCounts counts the feed's events by type, most frequent first.
func (p DashboardProps) TypeCounts() []TypeCount {
	counts := map[string]int{}
	for _, e := range p.Events {
		counts[e.Type]++
	}
	out := make([]TypeCount, 0, len(counts))
	for t, n := range counts {
		out = append(out, TypeCount{Type: t, Count: n})
	}
	slices.SortFunc(out, func(a, b TypeCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Type, b.Type)
	})
	return out
}

// StockRow is one product's stock as the dashboard shows it.
type StockRow struct {
	ProductID    string
	SKU          string
	Name         string
	OnHand       int64
	ReorderLevel int64
	Low          bool // on hand below the reorder level
}

// NewStockRow builds a row; Low follows on hand and the reorder level.
func NewStockRow(id, sku, name string, onHand, reorderLevel int64) StockRow {
	return StockRow{ProductID: id, SKU: sku, Name: name, OnHand: onHand, ReorderLevel: reorderLevel, Low: onHand < reorderLevel}
}

// SortStock orders rows as the dashboard shows them (dashboard.js keeps
// the same order): low products first, the largest shortfall first, then
// by SKU.
func SortStock(rows []StockRow) {
	slices.SortStableFunc(rows, func(a, b StockRow) int {
		if a.Low != b.Low {
			if a.Low {
				return -1
			}
			return 1
		}
		if a.Low {
			if c := cmp.Compare(b.ReorderLevel-b.OnHand, a.ReorderLevel-a.OnHand); c != 0 {
				return c
			}
		}
		return strings.Compare(a.SKU, b.SKU)
	})
}

// TypeCount is how many events of one type the feed holds.
type TypeCount struct {
	Type  string
	Count int
}

// EventRow is one business event in the dashboard's feed.
type EventRow struct {
	ID         string
	Type       string
	Aggregate  string // "product 0190a1b2", "" when the event has none
	Actor      string // the user id, or "system"
	Summary    string // EventSummary of the payload
	OccurredAt time.Time
	Ago        string // server-side fallback of the relative time
}

// NewEventRow converts an event for display at now.
func NewEventRow(e domain.Event, now time.Time) EventRow {
	return EventRow{
		ID:         e.ID,
		Type:       e.Type,
		Aggregate:  AggregateLabel(e.AggregateType, e.AggregateID),
		Actor:      ActorLabel(string(e.ActorID)),
		Summary:    EventSummary(e.Type, e.Payload),
		OccurredAt: e.OccurredAt.UTC(),
		Ago:        Ago(e.OccurredAt, now),
	}
}

// ActorLabel names who caused an event: the user id, or "system".
func ActorLabel(actor string) string {
	if actor == "" {
		return "system"
	}
	return actor
}

// AggregateLabel is the aggregate's kind and the first 8 characters of its
// id. dashboard.js computes the same.
func AggregateLabel(kind, id string) string {
	if r := []rune(id); len(r) > 8 {
		id = string(r[:8])
	}
	return strings.TrimSpace(kind + " " + id)
}

// maxSummaryRunes bounds a summary; longer ones end with "…".
const maxSummaryRunes = 160

// EventSummary is a one-line, human summary of an event's payload.
// dashboard.js has the same rules (summarize) for events that arrive live;
// the browser test holds the two to the same output. Known types get a
// sentence of their main fields; any other type shows up to three scalar
// fields, by key, skipping ids. A payload that is not a JSON object has no
// summary.
func EventSummary(eventType string, payload json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber() // numbers as written, as JavaScript prints integers
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return ""
	}
	f := func(key string) string { return scalar(obj[key]) }
	var parts []string
	switch eventType {
	case "ProductCreated":
		parts = []string{words(f("sku"), f("name")), "created", labelled("reorder level", f("reorder_level"))}
	case "ProductUpdated":
		parts = []string{f("sku"), labelled("changed", strings.Join(sortedKeys(obj["changes"]), ", "))}
	case "ProductDeleted":
		parts = []string{words(f("sku"), f("name")), "deleted"}
	case "StockMovementRecorded":
		parts = []string{words(f("sku"), signed(f("quantity"))), f("reason"), labelled("on hand", f("on_hand"))}
	case "LowStockDetected":
		parts = []string{words(f("sku"), f("name")), labelled("on hand", f("on_hand")), labelled("reorder level", f("reorder_level"))}
	case "StockExpiring":
		parts = []string{words(f("sku"), labelled("batch", f("batch_number"))), labelled("expires", f("expiry_date")), labelled("days left", f("days_remaining"))}
	case "OrderCreated", "OrderApproved", "OrderFulfilled":
		parts = []string{words(f("number"), strings.ToLower(strings.TrimPrefix(eventType, "Order"))), labelled("total", f("total"))}
	case "InvoiceGenerated":
		parts = []string{words(f("number"), labelled("for", f("order_number"))), labelled("total", f("total")), labelled("due", f("due_date"))}
	case "InvoicePaymentReceived":
		parts = []string{words(f("number"), labelled("paid", f("amount"))), labelled("outstanding", f("outstanding"))}
	case "InvoiceOverdue":
		parts = []string{words(f("number"), "overdue"), labelled("days", f("days_overdue")), labelled("outstanding", f("outstanding"))}
	case "CustomerCreated":
		parts = []string{words(f("name"), "new customer")}
	case "LeadConverted":
		parts = []string{words(f("name"), "lead converted")}
	case "PurchaseOrderApproved":
		parts = []string{words(f("number"), "approved"), f("vendor_name"), labelled("total", f("total"))}
	case "GoodsReceived":
		parts = []string{words(f("number"), "goods received"), labelled("complete", f("fully_received"))}
	default:
		for _, k := range sortedKeys(obj) {
			if len(parts) == 3 {
				break
			}
			if k == "id" || strings.HasSuffix(k, "_id") {
				continue
			}
			if v := scalar(obj[k]); v != "" {
				parts = append(parts, k+" "+v)
			}
		}
	}
	return truncate(joinNonEmpty(parts, " · "), maxSummaryRunes)
}

// scalar renders a JSON string, number or boolean; anything else is "".
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func sortedKeys(v any) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func words(a, b string) string { return joinNonEmpty([]string{a, b}, " ") }

func labelled(label, v string) string {
	if v == "" {
		return ""
	}
	return label + " " + v
}

// signed shows a quantity with its direction: "+5", "-3", "0".
func signed(q string) string {
	if q == "" || q == "0" || strings.HasPrefix(q, "-") {
		return q
	}
	return "+" + q
}

func joinNonEmpty(parts []string, sep string) string {
	out := parts[:0:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
