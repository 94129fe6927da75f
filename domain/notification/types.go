package notification

import "github.com/notifyhub/notifyhub/domain"

// Kind describes one notification type: its name as stored and shown, and
// its default severity. Registry lists every type, so the center, the API
// and the docs agree.
type Kind struct {
	Type     string
	Severity domain.Severity
	About    string
}

// Notification types.
const (
	TypeLowStock = "LowStockNotification"
)

// Registry lists the notification types notifyhub sends.
var Registry = []Kind{
	{Type: TypeLowStock, Severity: domain.SeverityWarning,
		About: "a product's stock fell below its reorder level; sent to holders of inventory.alerts"},
}
