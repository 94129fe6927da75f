package notification

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/notifyhub/notifyhub/domain"
)

// Fanout carries committed inbox changes to every hub node. Publish is
// called after commit; an error means live sockets may miss the change
// until they catch up from the database (which they do on the next gap,
// reconnect or resync), so it is logged, not returned to the caller.
type Fanout interface {
	Publish(ctx context.Context, u domain.InboxUpdate) error
}

// BatchFanout is a Fanout that can publish many updates at once, in
// order (the Redis broker pipelines them): a broadcast's pushes then cost a
// few round trips instead of one per recipient.
type BatchFanout interface {
	Fanout
	PublishBatch(ctx context.Context, us []domain.InboxUpdate) error
}

// MaxTitleLen is the longest title, in characters.
const MaxTitleLen = maxTitleLen

// MaxBodyLen is the longest body, in characters.
const MaxBodyLen = maxBodyLen

// Limits on notification text.
const (
	maxTitleLen  = 200
	maxBodyLen   = 5000
	maxURLLen    = 2000
	maxDataBytes = 16 << 10
	maxTypeLen   = 64
)

// Service persists notifications, then pushes them; it also serves the
// inbox (list, counts, read state).
type Service struct {
	store  Store
	fanout Fanout
	now    func() time.Time
	log    *slog.Logger
}

// NewService returns a Service. now defaults to time.Now, logger to
// slog.Default().
func NewService(store Store, fanout Fanout, now func() time.Time, logger *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{store: store, fanout: fanout, now: now, log: logger}
}

// Draft is a notification before it is addressed to users.
type Draft struct {
	Type      string          // e.g. "LowStockNotification"
	Severity  domain.Severity // info, success, warning, critical
	Title     string
	Body      string
	ActionURL string // a path into the ERP ("/products/...") or an http(s) URL
	Data      any    // structured data, JSON encoded as given
}

func (d Draft) validate() (json.RawMessage, error) {
	v := &domain.ValidationError{}
	if d.Type == "" || len(d.Type) > maxTypeLen {
		v.Add("type", "is required (at most 64 characters)")
	}
	if !d.Severity.Valid() {
		v.Add("severity", "must be info, success, warning or critical")
	}
	if strings.TrimSpace(d.Title) == "" {
		v.Add("title", "is required")
	} else if utf8.RuneCountInString(d.Title) > maxTitleLen {
		v.Add("title", fmt.Sprintf("must be at most %d characters", maxTitleLen))
	}
	if utf8.RuneCountInString(d.Body) > maxBodyLen {
		v.Add("body", fmt.Sprintf("must be at most %d characters", maxBodyLen))
	}
	if !SafeActionURL(d.ActionURL) {
		v.Add("action_url", "must be a path starting with / or an http(s) URL")
	}
	raw := json.RawMessage("{}")
	if d.Data != nil {
		b, err := json.Marshal(d.Data)
		if err != nil {
			v.Add("data", "must be JSON")
		} else if len(b) > maxDataBytes {
			v.Add("data", "is too large")
		} else {
			raw = b
		}
	}
	return raw, v.Err()
}

// Clip shortens s to at most max characters, ending it with "…" when it
// had to cut, so text built from user data (a product name in a title)
// always fits its limit.
func Clip(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max < 1 {
		return ""
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// SafeActionURL reports whether u may be rendered as a link: empty, a
// same-site path ("/x", not "//host") or an absolute http(s) URL.
func SafeActionURL(u string) bool {
	if u == "" {
		return true
	}
	if len(u) > maxURLLen || strings.ContainsAny(u, "\x00\r\n\t ") {
		return false
	}
	if strings.HasPrefix(u, "/") {
		return !strings.HasPrefix(u, "//") && !strings.HasPrefix(u, "/\\")
	}
	lower := strings.ToLower(u)
	return strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://")
}

// SendToUsers stores one notification per user and pushes each after
// commit. Inside a caller's InTx (a listener's effect transaction) the
// inserts join it, so they commit or roll back with the effect.
func (s *Service) SendToUsers(ctx context.Context, tenant domain.TenantID, users []domain.UserID, d Draft) ([]domain.Notification, error) {
	sent, err := s.sendAll(ctx, []delivery{{tenant: tenant, users: users, draft: d}})
	if err != nil {
		return nil, err
	}
	return sent[0], nil
}

// delivery is one draft addressed to users of one tenant.
type delivery struct {
	tenant domain.TenantID
	users  []domain.UserID
	draft  Draft
}

// sendAll is SendToUsers for several drafts at once, in one transaction
// (a group commit of bulk sends): per tenant one batch insert and one
// count query, and one publish for all of them. sent[i] are the
// notifications of ds[i]. A user's notifications get consecutive seqs in
// the order of ds, then of its users, and are pushed in that order.
func (s *Service) sendAll(ctx context.Context, ds []delivery) (sent [][]domain.Notification, err error) {
	data, err := validateAll(ds)
	if err != nil {
		return nil, err
	}
	// Tenants in a fixed order: two groups sharing users lock their rows
	// in the same order.
	byTenant := map[domain.TenantID][]int{}
	for i, d := range ds {
		byTenant[d.tenant] = append(byTenant[d.tenant], i)
	}
	tenants := slices.Sorted(maps.Keys(byTenant))
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		// The transaction may be retried: everything is built afresh.
		now := s.now().UTC()
		sent = make([][]domain.Notification, len(ds))
		var updates []domain.InboxUpdate
		for _, tenant := range tenants {
			var ptrs []*domain.Notification
			for _, i := range byTenant[tenant] {
				out := ds[i].notifications(data[i], now)
				for j := range out {
					ptrs = append(ptrs, &out[j])
				}
				sent[i] = out
			}
			us, err := s.insertAndCount(ctx, tenant, ptrs)
			if err != nil {
				return err
			}
			updates = append(updates, us...)
		}
		s.publishAfterCommit(ctx, updates...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("send notifications: %w", err)
	}
	return sent, nil
}

// sendDirect is sendAll through write, which stores the notifications
// in one atomic step of its own (with a group's bulk records) and returns
// each recipient's unread count after it; the pushes follow it.
func (s *Service) sendDirect(ctx context.Context, ds []delivery, write func([]*domain.Notification) (map[InboxKey]int, error)) ([][]domain.Notification, error) {
	data, err := validateAll(ds)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	sent := make([][]domain.Notification, len(ds))
	var ptrs []*domain.Notification
	for i, d := range ds {
		sent[i] = d.notifications(data[i], now)
		for j := range sent[i] {
			ptrs = append(ptrs, &sent[i][j])
		}
	}
	unread, err := write(ptrs)
	if err != nil {
		return nil, fmt.Errorf("send notifications: %w", err)
	}
	s.publishAfterCommit(ctx, inboxUpdates(ptrs, unread)...)
	return sent, nil
}

// validateAll validates each delivery's draft and returns its data.
func validateAll(ds []delivery) ([]json.RawMessage, error) {
	data := make([]json.RawMessage, len(ds))
	for i, d := range ds {
		var err error
		if data[i], err = d.draft.validate(); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// notifications are d's notifications, one per user, created at now.
func (d delivery) notifications(data json.RawMessage, now time.Time) []domain.Notification {
	out := make([]domain.Notification, len(d.users))
	for j, u := range d.users {
		out[j] = domain.Notification{
			ID: domain.NewID(), TenantID: d.tenant, UserID: u, Type: d.draft.Type,
			Severity: d.draft.Severity, Title: d.draft.Title, Body: d.draft.Body,
			ActionURL: d.draft.ActionURL, Data: data, CreatedAt: now,
		}
	}
	return out
}

// insertAndCount stores one tenant's notifications in one batch (a few
// statements, not three per user; the unread counts come back with the
// seqs) and returns the update to push for each, in order.
func (s *Service) insertAndCount(ctx context.Context, tenant domain.TenantID, ns []*domain.Notification) ([]domain.InboxUpdate, error) {
	if len(ns) == 0 {
		return nil, nil
	}
	unread, err := s.store.InsertNotificationsUnread(ctx, ns)
	if err != nil {
		return nil, err
	}
	keyed := make(map[InboxKey]int, len(unread))
	for u, n := range unread {
		keyed[InboxKey{tenant, u}] = n
	}
	return inboxUpdates(ns, keyed), nil
}

// inboxUpdates are the updates to push for ns, stored, in order, given
// each recipient's unread count after all of them. Each update carries
// the count right after its own notification, as if they had been
// inserted one by one: a user listed twice gets n-1, then n.
func inboxUpdates(ns []*domain.Notification, unread map[InboxKey]int) []domain.InboxUpdate {
	later := make(map[InboxKey]int, len(unread))
	updates := make([]domain.InboxUpdate, len(ns))
	for i := len(ns) - 1; i >= 0; i-- {
		pushed := *ns[i]
		k := InboxKey{pushed.TenantID, pushed.UserID}
		updates[i] = domain.InboxUpdate{
			Kind: domain.UpdateNotification, TenantID: k.TenantID, UserID: k.UserID,
			Notification: &pushed, Seq: pushed.Seq, UnreadCount: unread[k] - later[k],
		}
		later[k]++
	}
	return updates
}

// broadcast stores d once for every user of the tenant known when it
// commits (Store.InsertBroadcast: one row, whatever the tenant's size)
// and, after commit, pushes it to each of them as a personal
// notification is pushed: addressed to them, with their own seq and
// unread count. Inside a caller's InTx it joins it. It returns the
// recipients, in user-id order.
func (s *Service) broadcast(ctx context.Context, tenant domain.TenantID, d Draft) ([]BroadcastRecipient, error) {
	data, err := d.validate()
	if err != nil {
		return nil, err
	}
	var recipients []BroadcastRecipient
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		// The transaction may be retried: everything is built afresh.
		n := s.broadcastOf(tenant, d, data)
		var err error
		if recipients, err = s.store.InsertBroadcast(ctx, n); err != nil {
			return err
		}
		s.publishAfterCommit(ctx, broadcastUpdates(n, recipients)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("broadcast notification: %w", err)
	}
	return recipients, nil
}

// newBroadcast is the broadcast of draft d to tenant's users, with a new
// id, created now.
func (s *Service) newBroadcast(tenant domain.TenantID, d Draft) (*domain.Notification, error) {
	data, err := d.validate()
	if err != nil {
		return nil, err
	}
	return s.broadcastOf(tenant, d, data), nil
}

// broadcastOf is newBroadcast for a draft already validated (data is
// what validate returned).
func (s *Service) broadcastOf(tenant domain.TenantID, d Draft, data json.RawMessage) *domain.Notification {
	return &domain.Notification{
		ID: domain.NewID(), TenantID: tenant, Type: d.Type, Severity: d.Severity, Title: d.Title,
		Body: d.Body, ActionURL: d.ActionURL, Data: data,
		CreatedAt: s.now().UTC().Truncate(time.Microsecond), // as stored
	}
}

// broadcastUpdates are the updates to push for broadcast n, one per
// recipient in order, each with a copy of n addressed to its recipient
// (UserID and Seq); the copies share n's strings and data.
func broadcastUpdates(n *domain.Notification, recipients []BroadcastRecipient) []domain.InboxUpdate {
	copies := make([]domain.Notification, len(recipients))
	updates := make([]domain.InboxUpdate, len(recipients))
	for i, r := range recipients {
		copies[i] = *n
		copies[i].UserID, copies[i].Seq = r.UserID, r.Seq
		updates[i] = domain.InboxUpdate{
			Kind: domain.UpdateNotification, TenantID: n.TenantID, UserID: r.UserID,
			Notification: &copies[i], Seq: r.Seq, UnreadCount: r.Unread,
		}
	}
	return updates
}

// SendToPermission addresses the draft to every known user of the tenant
// holding perm (directly or through admin).
func (s *Service) SendToPermission(ctx context.Context, tenant domain.TenantID, perm string, d Draft) ([]domain.Notification, error) {
	var out []domain.Notification
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		users, err := s.store.UsersWithPermission(ctx, tenant, perm)
		if err != nil {
			return err
		}
		ids := make([]domain.UserID, len(users))
		for i, u := range users {
			ids[i] = u.ID
		}
		out, err = s.SendToUsers(ctx, tenant, ids, d)
		return err
	})
	return out, err
}

// publishTimeout bounds how long the pushes of one transaction may take
// when the fan-out is slow or down, so that a caller (a request, a
// listener) is never held for long: what does not go out in time reaches
// the sockets on their next catch-up.
const publishTimeout = 5 * time.Second

// publishAfterCommit hands the updates to the fan-out once the transaction
// in ctx has committed; rolled-back changes are never pushed.
func (s *Service) publishAfterCommit(ctx context.Context, updates ...domain.InboxUpdate) {
	if len(updates) == 0 {
		return
	}
	s.store.AfterCommit(ctx, func() {
		committed := s.now().UTC()
		// The request may be over by now; the pushes must still go out.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
		defer cancel()
		failed := 0
		var firstErr error
		if bf, ok := s.fanout.(BatchFanout); ok && len(updates) > 1 {
			for i := range updates {
				updates[i].CommittedAt = committed
			}
			if err := bf.PublishBatch(pctx, updates); err != nil {
				failed, firstErr = len(updates), err
			}
		} else {
			for _, u := range updates {
				u.CommittedAt = committed
				if err := s.fanout.Publish(pctx, u); err != nil {
					failed++
					firstErr = cmp.Or(firstErr, err)
				}
			}
		}
		if failed > 0 {
			s.log.WarnContext(ctx, "fan-out publish failed; sockets will catch up from the database",
				slog.Int("failed", failed), slog.Int("of", len(updates)), slog.Any("error", firstErr))
		}
	})
}

// Page is one page of an inbox listing (DESIGN.md §4.4).
type Page struct {
	Data        []domain.Notification `json:"data"`
	UnreadCount int                   `json:"unread_count"`
	NextBefore  *string               `json:"next_before"`
}

// List returns one page of the user's inbox, newest first.
func (s *Service) List(ctx context.Context, tenant domain.TenantID, user domain.UserID, p ListParams) (Page, error) {
	v := &domain.ValidationError{}
	switch p.Status {
	case "":
		p.Status = StatusAll
	case StatusAll, StatusRead, StatusUnread:
	default:
		v.Add("status", "must be all, read or unread")
	}
	if p.Before != "" {
		id, err := domain.ParseID("before", p.Before)
		if err != nil {
			v.Add("before", "must be a notification id")
		}
		p.Before = id
	}
	switch {
	case p.Limit < 0:
		v.Add("limit", "must be between 1 and 200")
	case p.Limit == 0:
		p.Limit = 50
	case p.Limit > 200:
		p.Limit = 200
	}
	if err := v.Err(); err != nil {
		return Page{}, err
	}
	// Ask for one more than the page to know whether another page follows.
	want := p.Limit
	p.Limit++
	items, err := s.store.ListNotifications(ctx, tenant, user, p)
	if err != nil {
		return Page{}, err
	}
	unread, err := s.store.UnreadCount(ctx, tenant, user)
	if err != nil {
		return Page{}, err
	}
	page := Page{Data: items, UnreadCount: unread}
	if len(items) > want {
		page.Data = items[:want]
		next := items[want-1].ID
		page.NextBefore = &next
	}
	if page.Data == nil {
		page.Data = []domain.Notification{}
	}
	return page, nil
}

// UnreadCount returns how many of the user's notifications are unread.
func (s *Service) UnreadCount(ctx context.Context, tenant domain.TenantID, user domain.UserID) (int, error) {
	return s.store.UnreadCount(ctx, tenant, user)
}

// MarkRead marks one notification read and tells every tab of the user.
func (s *Service) MarkRead(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string) error {
	return s.mark(ctx, tenant, user, id, domain.UpdateRead)
}

// MarkUnread marks one notification unread and tells every tab of the user.
func (s *Service) MarkUnread(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string) error {
	return s.mark(ctx, tenant, user, id, domain.UpdateUnread)
}

func (s *Service) mark(ctx context.Context, tenant domain.TenantID, user domain.UserID, id string, kind domain.UpdateKind) error {
	id, err := domain.ParseID("id", id)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.LockInbox(ctx, tenant, user); err != nil {
			return err
		}
		var changed bool
		if kind == domain.UpdateRead {
			changed, err = s.store.MarkRead(ctx, tenant, user, id, s.now().UTC())
		} else {
			changed, err = s.store.MarkUnread(ctx, tenant, user, id)
		}
		if err != nil || !changed {
			return err
		}
		unread, err := s.store.UnreadCount(ctx, tenant, user)
		if err != nil {
			return err
		}
		s.publishAfterCommit(ctx, domain.InboxUpdate{
			Kind: kind, TenantID: tenant, UserID: user, IDs: []string{id}, UnreadCount: unread,
		})
		return nil
	})
}

// MarkAllRead marks every unread notification of the user read.
func (s *Service) MarkAllRead(ctx context.Context, tenant domain.TenantID, user domain.UserID) error {
	return s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.LockInbox(ctx, tenant, user); err != nil {
			return err
		}
		n, err := s.store.MarkAllRead(ctx, tenant, user, s.now().UTC())
		if err != nil || n == 0 {
			return err
		}
		unread, err := s.store.UnreadCount(ctx, tenant, user)
		if err != nil {
			return err
		}
		// Tabs mark read only what this covered, not a notification that
		// commits after it but reaches them first.
		upTo, err := s.store.MaxSeq(ctx, tenant, user)
		if err != nil {
			return err
		}
		s.publishAfterCommit(ctx, domain.InboxUpdate{
			Kind: domain.UpdateReadAll, TenantID: tenant, UserID: user, UnreadCount: unread, Seq: upTo,
		})
		return nil
	})
}
