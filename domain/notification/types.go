package notification

import "github.com/notifyhub/notifyhub/domain"

// Kind describes one notification type: its name as stored and shown, and
// its default severity. Registry lists every type, so the center, the API
// and the docs agree.
type Kind struct {
	Type     string          `json:"type"`
	Label    string          `json:"label"` // short human name, shown on each notification
	Severity domain.Severity `json:"severity"`
	About    string          `json:"about"`
}

// Notification types (DESIGN.md §4.4).
const (
	TypeLowStock              = "LowStockNotification"
	TypeStockExpiry           = "StockExpiryNotification"
	TypeInvoiceGenerated      = "InvoiceGeneratedNotification"
	TypePaymentReceived       = "PaymentReceivedNotification"
	TypeOrderStatus           = "OrderStatusNotification"
	TypePurchaseOrderApproved = "PurchaseOrderApprovedNotification"
	TypeReportGenerated       = "ReportGeneratedNotification"
	TypeAnnouncement          = "AnnouncementNotification"
	TypeReminder              = "ReminderNotification"
	TypeAlert                 = "AlertNotification"
	// TypeImportCompleted is an addition to DESIGN.md §4.4 (documented in
	// the README): how a CSV import ended.
	TypeImportCompleted = "ImportCompletedNotification"
)

// Registry lists the notification types notifyhub sends, with the severity
// each has unless said otherwise in About.
var Registry = []Kind{
	{Type: TypeLowStock, Label: "Low stock", Severity: domain.SeverityWarning,
		About: "a product's stock fell below its reorder level; sent to holders of inventory.alerts"},
	{Type: TypeStockExpiry, Label: "Stock expiry", Severity: domain.SeverityWarning,
		About: "a batch approaches its expiry date: critical within 7 days, warning within 30, info beyond; sent to holders of inventory.alerts"},
	{Type: TypeInvoiceGenerated, Label: "Invoice", Severity: domain.SeverityInfo,
		About: "the invoice of an approved order was generated; sent to the order's creator"},
	{Type: TypePaymentReceived, Label: "Payment", Severity: domain.SeveritySuccess,
		About: "a payment was recorded against an invoice; sent to the holders of invoices.manage and the order's creator"},
	{Type: TypeOrderStatus, Label: "Order", Severity: domain.SeverityInfo,
		About: "an order was approved (info) or fulfilled (success); sent to the order's creator"},
	{Type: TypePurchaseOrderApproved, Label: "Purchase order", Severity: domain.SeveritySuccess,
		About: "a purchase order was approved; sent to its requester and the holders of procurement.approve"},
	{Type: TypeReportGenerated, Label: "Report", Severity: domain.SeveritySuccess,
		About: "a report finished (critical when it failed); sent to the user who asked for it"},
	{Type: TypeAnnouncement, Label: "Announcement", Severity: domain.SeverityInfo,
		About: "an announcement sent in bulk by a holder of notifications.send"},
	{Type: TypeReminder, Label: "Reminder", Severity: domain.SeverityWarning,
		About: "a reminder: sent in bulk, or for an overdue invoice to the holders of invoices.manage"},
	{Type: TypeAlert, Label: "Alert", Severity: domain.SeverityCritical,
		About: "an alert sent in bulk, with the severity it was sent with (critical by default)"},
	{Type: TypeImportCompleted, Label: "Import", Severity: domain.SeveritySuccess,
		About: "a CSV import finished (warning when some rows failed, critical when the import failed); sent to the user who started it"},
}

// Lookup returns the Kind of a notification type.
func Lookup(typ string) (Kind, bool) {
	for _, k := range Registry {
		if k.Type == typ {
			return k, true
		}
	}
	return Kind{}, false
}
