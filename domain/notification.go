package domain

import (
	"encoding/json"
	"time"
)

// Severity of a notification, as shown in the center.
type Severity string

const (
	SeverityInfo     Severity = "info"
	SeveritySuccess  Severity = "success"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Valid reports whether s is one of the four severities.
func (s Severity) Valid() bool {
	switch s {
	case SeverityInfo, SeveritySuccess, SeverityWarning, SeverityCritical:
		return true
	}
	return false
}

// Notification is one message in one user's inbox. Its JSON form is the
// public contract (DESIGN.md §4.4, plus seq); tenant and user stay internal.
type Notification struct {
	ID       string   `json:"id"` // uuid v7
	TenantID TenantID `json:"-"`
	UserID   UserID   `json:"-"`
	// Seq is per user, taken in the inserting transaction: its order is
	// commit order (ids are time-ordered but taken from a clock). Clients
	// order and compare by it.
	Seq       int64           `json:"seq"`
	Type      string          `json:"type"`
	Severity  Severity        `json:"severity"`
	Title     string          `json:"title"`
	Body      string          `json:"body"`
	ActionURL string          `json:"action_url"`
	Data      json.RawMessage `json:"data"`
	ReadAt    *time.Time      `json:"read_at"`
	CreatedAt time.Time       `json:"created_at"`
}

// UpdateKind says what changed in a user's inbox.
type UpdateKind string

const (
	UpdateNotification UpdateKind = "notification" // a new notification
	UpdateRead         UpdateKind = "read"         // IDs were marked read
	UpdateUnread       UpdateKind = "unread"       // IDs were marked unread
	UpdateReadAll      UpdateKind = "read_all"     // everything was marked read
)

// InboxUpdate is a committed change to one user's inbox, fanned out to every
// hub node so that each can push it to that user's open sockets (every tab).
// It is published only after the transaction that made it has committed.
type InboxUpdate struct {
	Kind         UpdateKind    `json:"kind"`
	TenantID     TenantID      `json:"tenant_id"`
	UserID       UserID        `json:"user_id"`
	Notification *Notification `json:"notification,omitempty"` // UpdateNotification only
	Seq          int64         `json:"seq,omitempty"`          // Notification.Seq (gap detection); for read_all the newest seq it covered
	IDs          []string      `json:"ids,omitempty"`          // UpdateRead / UpdateUnread
	UnreadCount  int           `json:"unread_count"`           // after the change
	CommittedAt  time.Time     `json:"committed_at"`           // for the delivery-latency metric
}
