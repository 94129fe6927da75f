package inventory

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// Location is a warehouse or store room. Every tenant has a default one,
// code "main", created on first use.
type Location struct {
	ID       string          `json:"id"`
	TenantID domain.TenantID `json:"-"`
	Code     string          `json:"code"`
	Name     string          `json:"name"`
}

// Movement is one immutable ledger entry: positive quantity in, negative out.
type Movement struct {
	ID          string           `json:"id"`
	TenantID    domain.TenantID  `json:"-"`
	ProductID   string           `json:"product_id"`
	LocationID  string           `json:"location_id"`
	Quantity    int64            `json:"quantity"`
	UnitCost    *decimal.Decimal `json:"unit_cost"`
	BatchNumber string           `json:"batch_number"`
	ExpiryDate  *time.Time       `json:"expiry_date"` // a date (UTC midnight)
	Reason      string           `json:"reason"`
	ActorID     domain.UserID    `json:"actor_id"`
	OnHandAfter int64            `json:"on_hand_after"` // at this location, after the movement
	CreatedAt   time.Time        `json:"created_at"`
}

// MovementFilter pages through movements, newest first.
type MovementFilter struct {
	ProductID string // optional
	Before    string // exclusive cursor: a movement id, "" for the newest
	Limit     int
}
