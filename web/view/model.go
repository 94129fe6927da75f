package view

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

// Viewer is the signed-in user shown in the header.
type Viewer struct {
	UserID   string
	TenantID string
	Name     string
	Email    string
}

// DisplayName is the name, or the user id when the token carried none.
func (v Viewer) DisplayName() string {
	if strings.TrimSpace(v.Name) != "" {
		return v.Name
	}
	return v.UserID
}

// Item is one notification as the center shows it.
type Item struct {
	ID        string
	Seq       int64 // the user's commit order: the page orders by it
	Type      string
	TypeLabel string // the registry's label of Type (the type itself when unknown)
	Severity  string // always one of the four severities
	Title     string
	Body      string
	ActionURL string // "" unless SafeActionURL accepted it
	CreatedAt time.Time
	Ago       string // server-side fallback of the relative time
	Read      bool
}

// NewItem converts a notification for display at now.
func NewItem(n domain.Notification, now time.Time) Item {
	sev := n.Severity
	if !sev.Valid() {
		sev = domain.SeverityInfo
	}
	return Item{
		ID:        n.ID,
		Seq:       n.Seq,
		Type:      n.Type,
		TypeLabel: TypeLabel(n.Type),
		Severity:  string(sev),
		Title:     n.Title,
		Body:      n.Body,
		ActionURL: SafeActionURL(n.ActionURL),
		CreatedAt: n.CreatedAt.UTC(),
		Ago:       Ago(n.CreatedAt, now),
		Read:      n.ReadAt != nil,
	}
}

// TypeLabel is the label the registry gives a notification type; an
// unknown type shows as itself.
func TypeLabel(typ string) string {
	if k, ok := notification.Lookup(typ); ok {
		return k.Label
	}
	return typ
}

// typeLabelsJSON maps every registered type to its label, for center.js to
// label pushed notifications exactly as the server renders listed ones.
func typeLabelsJSON() string {
	labels := make(map[string]string, len(notification.Registry))
	for _, k := range notification.Registry {
		labels[k.Type] = k.Label
	}
	b, err := json.Marshal(labels)
	if err != nil { // a map of strings always encodes
		panic(err)
	}
	return string(b)
}

// SeverityLabel is the text shown next to the severity colour, so the
// severity never depends on colour alone.
func SeverityLabel(s string) string {
	switch s {
	case string(domain.SeveritySuccess):
		return "Success"
	case string(domain.SeverityWarning):
		return "Warning"
	case string(domain.SeverityCritical):
		return "Critical"
	default:
		return "Info"
	}
}

// SafeActionURL returns s when it may be rendered as a link: a same-site
// path ("/orders/1") or an absolute http(s) URL. Anything else (javascript:,
// data:, vbscript:, relative paths, control characters) yields "", and the
// center then shows no link. center.js applies the same rule.
func SafeActionURL(s string) string {
	if s == "" || len(s) > 2048 {
		return ""
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\\' {
			return ""
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	switch {
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//"):
		return s
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
		return s
	}
	return ""
}

// Ago renders t relative to now, as center.js does: "just now", "3 min
// ago", "5 h ago", "2 d ago", then the date.
func Ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	case d < 7*24*time.Hour:
		return fmt.Sprintf("%d d ago", int(d/(24*time.Hour)))
	}
	return t.UTC().Format("2 Jan 2006")
}

// CenterProps is everything the notification center page shows.
type CenterProps struct {
	Viewer      Viewer
	Status      string // "all" or "unread": the active filter
	Items       []Item // the first page, newest first
	UnreadCount int
	// NextBefore is the cursor of the next page, "" when this is the last.
	NextBefore string
	// Since is the newest notification id of the user (in any status), from
	// which center.js asks the socket to catch up; "" when they have none.
	Since string
}

// DemoUser is one user offered for one-click sign-in on the demo login.
type DemoUser struct {
	ID    string
	Name  string
	Email string
	Perms []string
}

// LoginProps is the login page.
type LoginProps struct {
	Error string // shown above the forms when set
	// Token prefills the token form: a sign-in link followed from another
	// site is confirmed by the user instead of signing in on its own.
	Token string
	// DemoTenant is set in demo mode: the page then lists DemoUsers.
	DemoTenant string
	DemoUsers  []DemoUser
}

// ErrorProps is a page-level error (the API answers JSON instead).
type ErrorProps struct {
	Status  int
	Message string
}
