package notification

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/notifyhub/notifyhub/domain"
)

// BulkJob is the name of the background job that sends a bulk request.
const BulkJob = "SendBulkNotifications"

// Limits of a bulk request.
const (
	MaxBulkUserIDs   = 10_000
	maxBulkErrors    = 100  // failed recipients listed in a bulk's errors
	defaultBulkSize  = 500  // recipients per transaction
	defaultInlineMax = 2000 // audiences up to this size are sent within the request
	inlineTimeout    = 5 * time.Second
)

// BulkStatus is where a bulk send stands.
type BulkStatus string

const (
	BulkPending    BulkStatus = "pending"    // queued, not started
	BulkProcessing BulkStatus = "processing" // sending, batch by batch
	BulkCompleted  BulkStatus = "completed"  // every recipient was sent to or counted as failed
	BulkFailed     BulkStatus = "failed"     // the job gave up (see last_error); a retry resumes it
)

// Audience is who a bulk send goes to: exactly one of its fields is set.
type Audience struct {
	UserIDs    []domain.UserID `json:"user_ids,omitempty"` // sorted, without duplicates
	Permission string          `json:"permission,omitempty"`
	All        bool            `json:"all,omitempty"`
}

// RecipientError is a recipient the send failed for.
type RecipientError struct {
	UserID  domain.UserID `json:"user_id"`
	Message string        `json:"message"`
}

// Bulk is one bulk send and its progress.
type Bulk struct {
	ID          string
	TenantID    domain.TenantID
	RequestedBy domain.UserID
	Audience    Audience
	Type        string
	Severity    domain.Severity
	Title       string
	Body        string
	ActionURL   string
	Data        json.RawMessage
	Status      BulkStatus
	Total       int64
	Sent        int64
	Failed      int64
	Errors      []RecipientError
	// ResumeAfter is the last recipient handled (recipients go in user-id
	// order): a redelivered job resumes after it.
	ResumeAfter domain.UserID
	LastError   string
	CreatedAt   time.Time
	StartedAt   *time.Time
	CompletedAt *time.Time
}

// BulkView is the JSON of a bulk send (GET /api/v1/notifications/bulk/{id}).
type BulkView struct {
	ID          string           `json:"id"`
	Status      BulkStatus       `json:"status"`
	Type        string           `json:"type"`
	Severity    domain.Severity  `json:"severity"`
	Title       string           `json:"title"`
	Audience    AudienceView     `json:"audience"`
	RequestedBy domain.UserID    `json:"requested_by"`
	Total       int64            `json:"total"`
	Sent        int64            `json:"sent"`
	Failed      int64            `json:"failed"`
	Errors      []RecipientError `json:"errors"`
	LastError   string           `json:"last_error,omitempty"`
	CreatedAt   time.Time        `json:"created_at"`
	StartedAt   *time.Time       `json:"started_at"`
	CompletedAt *time.Time       `json:"completed_at"`
}

// AudienceView summarises an audience without listing every user id.
type AudienceView struct {
	Kind       string `json:"kind"` // user_ids, permission or all
	Permission string `json:"permission,omitempty"`
	UserCount  int    `json:"user_count,omitempty"`
}

// View is the public JSON form of b.
func (b Bulk) View() BulkView {
	a := AudienceView{Kind: "all"}
	switch {
	case len(b.Audience.UserIDs) > 0:
		a = AudienceView{Kind: "user_ids", UserCount: len(b.Audience.UserIDs)}
	case b.Audience.Permission != "":
		a = AudienceView{Kind: "permission", Permission: b.Audience.Permission}
	}
	errs := b.Errors
	if errs == nil {
		errs = []RecipientError{}
	}
	return BulkView{
		ID: b.ID, Status: b.Status, Type: b.Type, Severity: b.Severity, Title: b.Title, Audience: a,
		RequestedBy: b.RequestedBy, Total: b.Total, Sent: b.Sent, Failed: b.Failed, Errors: errs,
		LastError: b.LastError, CreatedAt: b.CreatedAt, StartedAt: b.StartedAt, CompletedAt: b.CompletedAt,
	}
}

// BulkStore is what bulk sends need from persistence. Every method is
// scoped by tenant: another tenant's bulk id is domain.ErrNotFound.
type BulkStore interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	InsertBulk(ctx context.Context, b Bulk) error
	// InsertBulks is InsertBulk for many at once (a group commit).
	InsertBulks(ctx context.Context, bs []Bulk) error
	GetBulk(ctx context.Context, tenant domain.TenantID, id string) (Bulk, error)
	// LockBulk is GetBulk that also locks the row until the transaction
	// ends, so two runs of one job take turns batch by batch.
	LockBulk(ctx context.Context, tenant domain.TenantID, id string) (Bulk, error)
	// UpdateBulk writes the progress fields: status, total, sent, failed,
	// errors, resume_after, last_error, started_at, completed_at.
	UpdateBulk(ctx context.Context, b Bulk) error
	// UserIDsAfter lists up to limit known user ids of the tenant greater
	// than after, in byte order of the ids (as Go compares strings):
	// holders of perm (directly or through admin), or every user when
	// perm is "".
	UserIDsAfter(ctx context.Context, tenant domain.TenantID, perm string, after domain.UserID, limit int) ([]domain.UserID, error)
	// CountUsers counts the users UserIDsAfter would list from the start.
	CountUsers(ctx context.Context, tenant domain.TenantID, perm string) (int64, error)
	// KnownUsers reports which of ids the tenant knows.
	KnownUsers(ctx context.Context, tenant domain.TenantID, ids []domain.UserID) (map[domain.UserID]bool, error)
	// InsertDirect stores a group of direct sends in one atomic write:
	// the bulks and the notifications (of any tenants, to known users
	// only: an unknown one fails the write). It sets each n.Seq as
	// InsertNotifications does and returns each recipient's unread count
	// after the write.
	InsertDirect(ctx context.Context, bs []Bulk, ns []*domain.Notification) (map[InboxKey]int, error)
}

// Dispatcher queues a background job (workers/jobs.Dispatcher): inside
// InTx it joins the transaction.
type Dispatcher interface {
	Dispatch(ctx context.Context, tenant domain.TenantID, job string, payload any) (string, error)
}

// BulkPayload is the payload of the BulkJob job.
type BulkPayload struct {
	BulkID string `json:"bulk_id"`
}

// BulkService accepts bulk sends and, as a background job, sends them.
type BulkService struct {
	store  BulkStore
	sender *Service
	jobs   Dispatcher
	now    func() time.Time
	// BatchSize is how many recipients one transaction handles (default
	// 500).
	BatchSize int
	// InlineMax is the largest list of user ids or permission audience
	// Request sends at once, in the request, rather than leaving it to
	// the worker's next poll (default 2000; 0 or less: never, not even
	// an all audience). Such an audience is sent directly, without a job,
	// when it can be (bulk_direct.go). An all audience is one broadcast,
	// one row whatever the tenant's size: it is sent directly at any
	// size (broadcastDirect). The queued job stays the guarantee: should
	// the inline send stop short, the job resumes it.
	InlineMax int
	// GroupMax is how many direct sends one transaction commits at most
	// (default 128).
	GroupMax int
	// OnGroupCommit, when set before the first request, learns of every
	// group commit of direct sends once its members are answered (the
	// app makes metrics of it). It runs on the lane's flusher: it must
	// be quick and must not block.
	OnGroupCommit func(GroupCommit)
	lanes         [directLanes]groupCommit
	known         knownUsers // recipients of direct sends found to exist
}

// NewBulkService returns a BulkService; now defaults to time.Now.
func NewBulkService(store BulkStore, sender *Service, jobs Dispatcher, now func() time.Time) *BulkService {
	if now == nil {
		now = time.Now
	}
	return &BulkService{store: store, sender: sender, jobs: jobs, now: now, BatchSize: defaultBulkSize, InlineMax: defaultInlineMax, GroupMax: defaultGroupMax}
}

// BulkRequest is the body of POST /api/v1/notifications.
type BulkRequest struct {
	UserIDs    []string        `json:"user_ids"`
	Permission string          `json:"permission"`
	All        bool            `json:"all"`
	Type       string          `json:"type"` // announcement (default), reminder or alert
	Severity   domain.Severity `json:"severity"`
	Title      string          `json:"title"`
	Body       string          `json:"body"`
	ActionURL  string          `json:"action_url"`
	Data       json.RawMessage `json:"data"`
}

var bulkTypes = map[string]string{
	"announcement": TypeAnnouncement, TypeAnnouncement: TypeAnnouncement,
	"reminder": TypeReminder, TypeReminder: TypeReminder,
	"alert": TypeAlert, TypeAlert: TypeAlert,
}

var permPattern = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,99}$`)

// validate checks the request and returns the bulk it describes.
func (in BulkRequest) validate() (Bulk, error) {
	v := &domain.ValidationError{}
	var b Bulk
	given := 0
	if len(in.UserIDs) > 0 {
		given++
	}
	if in.Permission != "" {
		given++
	}
	if in.All {
		given++
	}
	switch {
	case given == 0:
		v.Add("audience", "is empty: give user_ids (at least one), a permission, or all: true")
	case given > 1:
		v.Add("audience", "give exactly one of user_ids, permission or all")
	}
	if len(in.UserIDs) > MaxBulkUserIDs {
		v.Add("user_ids", fmt.Sprintf("must list at most %d users", MaxBulkUserIDs))
	} else if len(in.UserIDs) > 0 {
		ids := make([]domain.UserID, 0, len(in.UserIDs))
		for i, id := range in.UserIDs {
			if !domain.ValidExternalID(id) {
				v.Add("user_ids", fmt.Sprintf("item %d is not a user id (letters, digits, . _ @ : -; at most 128)", i))
				break
			}
			ids = append(ids, domain.UserID(id))
		}
		slices.Sort(ids)
		b.Audience.UserIDs = slices.Compact(ids)
	}
	if in.Permission != "" && !permPattern.MatchString(in.Permission) {
		v.Add("permission", "must be a permission name such as inventory.alerts")
	}
	b.Audience.Permission, b.Audience.All = in.Permission, in.All

	if in.Type == "" {
		in.Type = "announcement"
	}
	typ, ok := bulkTypes[in.Type]
	if !ok {
		v.Add("type", "must be announcement, reminder or alert")
	}
	b.Type = typ
	b.Severity = in.Severity
	if b.Severity == "" {
		kind, _ := Lookup(typ)
		b.Severity = kind.Severity // alert: critical
	} else if !b.Severity.Valid() {
		v.Add("severity", "must be info, success, warning or critical")
	}
	b.Title = strings.TrimSpace(in.Title)
	switch n := utf8.RuneCountInString(b.Title); {
	case n == 0:
		v.Add("title", "is required")
	case n > MaxTitleLen:
		v.Add("title", fmt.Sprintf("must be at most %d characters", MaxTitleLen))
	}
	b.Body = in.Body
	if utf8.RuneCountInString(b.Body) > MaxBodyLen {
		v.Add("body", fmt.Sprintf("must be at most %d characters", MaxBodyLen))
	}
	b.ActionURL = in.ActionURL
	if !SafeActionURL(b.ActionURL) {
		v.Add("action_url", "must be a path starting with / or an http(s) URL")
	}
	b.Data = json.RawMessage("{}")
	if d := bytes.TrimSpace(in.Data); len(d) > 0 && !bytes.Equal(d, []byte("null")) {
		switch {
		case d[0] != '{':
			v.Add("data", "must be a JSON object")
		case len(d) > maxDataBytes:
			v.Add("data", fmt.Sprintf("must be at most %d bytes", maxDataBytes))
		default:
			b.Data = d
		}
	}
	return b, v.Err()
}

// Request validates a bulk send and sends it directly: an all audience as
// one broadcast (broadcastDirect), a small one through a group commit
// (sendDirect). Otherwise, or should that fail, it stores the bulk and
// queues the job that sends it, in one transaction: the job runs if and
// only if the bulk exists.
func (s *BulkService) Request(ctx context.Context, actor domain.Actor, in BulkRequest) (Bulk, error) {
	if err := actor.Require(domain.PermNotificationsSend); err != nil {
		return Bulk{}, err
	}
	b, err := s.newBulk(actor, in)
	if err != nil {
		return Bulk{}, err
	}
	if sent, ok := s.direct(ctx, b); ok {
		return sent, nil
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.InsertBulk(ctx, b); err != nil {
			return err
		}
		_, err := s.jobs.Dispatch(ctx, b.TenantID, BulkJob, BulkPayload{BulkID: b.ID})
		return err
	})
	if errors.Is(err, domain.ErrConflict) {
		// The id is new to this request: taken, it can only be the direct
		// write's, which landed though its answer was lost (a timeout).
		if got, gerr := s.store.GetBulk(ctx, b.TenantID, b.ID); gerr == nil {
			return got, nil
		}
	}
	if err != nil {
		return Bulk{}, fmt.Errorf("request bulk notifications: %w", err)
	}
	return s.sendInline(ctx, b), nil
}

// direct sends b without a job when it may be: it returns b as committed
// and true, or false when b is left to the job (too large, or the direct
// send failed).
func (s *BulkService) direct(ctx context.Context, b Bulk) (Bulk, bool) {
	if s.InlineMax <= 0 {
		return Bulk{}, false
	}
	if b.Audience.All {
		sent, err := s.broadcastDirect(ctx, b)
		if err != nil {
			s.sender.log.WarnContext(ctx, "direct broadcast failed; queueing it as a job",
				slog.String("bulk_id", b.ID), slog.Any("error", err))
			return Bulk{}, false
		}
		return sent, true
	}
	m, ok, err := s.newDirectSend(ctx, b)
	if err != nil {
		s.sender.log.WarnContext(ctx, "reading a bulk audience failed; queueing it as a job",
			slog.String("bulk_id", b.ID), slog.Any("error", err))
	}
	if !ok {
		return Bulk{}, false
	}
	sent, err := s.sendDirect(m)
	if err != nil {
		s.sender.log.WarnContext(ctx, "direct bulk send failed; queueing it as a job",
			slog.String("bulk_id", b.ID), slog.Any("error", err))
		return Bulk{}, false
	}
	return sent, true
}

// broadcastDirect sends b, an all audience, as one broadcast in one
// transaction that also stores its bulk record, already completed. Should
// the commit's answer be lost, Request's fallback finds the bulk id taken
// and answers with what was stored.
func (s *BulkService) broadcastDirect(ctx context.Context, b Bulk) (Bulk, error) {
	// Not abandoned when the request ends: it must learn whether the
	// bulk committed. Bounded as a group commit is.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), inlineTimeout)
	defer cancel()
	if bs, ok := s.store.(broadcastBulkStore); ok {
		return s.broadcastWithBulk(ctx, bs, b)
	}
	var sent Bulk
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if sent, err = s.broadcast(ctx, b); err != nil {
			return err
		}
		return s.store.InsertBulk(ctx, sent)
	})
	return sent, err
}

// broadcast sends b, an all audience, as one broadcast: one row for every
// user of the tenant known when it commits. It joins the caller's
// transaction, which must also store the bulk it returns, completed: a
// broadcast is all or nothing, so a bulk is never broadcast twice.
func (s *BulkService) broadcast(ctx context.Context, b Bulk) (Bulk, error) {
	recipients, err := s.sender.broadcast(ctx, b.TenantID, b.draft())
	if err != nil {
		return b, err
	}
	// Microseconds, as stored: a direct send's answer equals a later GET.
	return completedBroadcast(b, s.now().UTC().Truncate(time.Microsecond), recipients), nil
}

// broadcastBulkStore is a BulkStore that stores a broadcast with the bulk
// it completes in one transaction of its own (sqlstore: one round trip on
// PostgreSQL). It stores the bulk's Total and Sent as the number of
// recipients and its ResumeAfter as the last one's id.
type broadcastBulkStore interface {
	InsertBroadcastBulk(ctx context.Context, n *domain.Notification, b Bulk) ([]BroadcastRecipient, error)
}

// broadcastWithBulk is broadcastDirect through a broadcastBulkStore.
func (s *BulkService) broadcastWithBulk(ctx context.Context, bs broadcastBulkStore, b Bulk) (Bulk, error) {
	n, err := s.sender.newBroadcast(b.TenantID, b.draft())
	if err != nil {
		return b, err
	}
	now := s.now().UTC().Truncate(time.Microsecond) // as stored
	// The store sets the counts and the resume point from the recipients.
	recipients, err := bs.InsertBroadcastBulk(ctx, n, completedBroadcast(b, now, nil))
	if err != nil {
		return b, fmt.Errorf("broadcast notification: %w", err)
	}
	s.sender.publishAfterCommit(ctx, broadcastUpdates(n, recipients)...) // committed: at once
	return completedBroadcast(b, now, recipients), nil
}

// completedBroadcast is b completed at now by a broadcast to recipients.
func completedBroadcast(b Bulk, now time.Time, recipients []BroadcastRecipient) Bulk {
	if b.StartedAt == nil {
		b.StartedAt = &now
	}
	b.Status, b.CompletedAt, b.LastError = BulkCompleted, &now, ""
	b.Failed, b.Errors = 0, []RecipientError{} // none, as stored
	return b.ReachedBy(recipients)
}

// ReachedBy is b as a broadcast to recipients (in user-id order) leaves
// its counts: Total and Sent their number, ResumeAfter the last one's id
// ("" for none). Stores that write a broadcast's bulk with it
// (InsertBroadcastBulk) record the same.
func (b Bulk) ReachedBy(recipients []BroadcastRecipient) Bulk {
	b.Total, b.Sent, b.ResumeAfter = int64(len(recipients)), int64(len(recipients)), ""
	if len(recipients) > 0 {
		b.ResumeAfter = recipients[len(recipients)-1].UserID
	}
	return b
}

// newBulk is the pending bulk a valid request describes.
func (s *BulkService) newBulk(actor domain.Actor, in BulkRequest) (Bulk, error) {
	b, err := in.validate()
	if err != nil {
		return Bulk{}, err
	}
	b.ID, b.TenantID, b.RequestedBy = domain.NewID(), actor.TenantID, actor.UserID
	b.Status, b.CreatedAt = BulkPending, s.now().UTC().Truncate(time.Microsecond)
	b.Total = int64(len(b.Audience.UserIDs)) // a permission or all is counted when sending starts
	return b, nil
}

// sendInline sends a small bulk right away, so one user's notification
// is on their socket within the request instead of after a worker's poll.
// Sends are serialised on the bulk's row and resume from its progress, so
// this and the queued job never notify anyone twice; whatever stops the
// inline send short (an error, the time limit) the job finishes. It
// returns the bulk as it then stands.
func (s *BulkService) sendInline(ctx context.Context, b Bulk) Bulk {
	if s.InlineMax <= 0 {
		return b
	}
	if !b.Audience.All { // a broadcast is one row at any size
		size := int64(len(b.Audience.UserIDs))
		if size == 0 {
			n, err := s.store.CountUsers(ctx, b.TenantID, b.Audience.Permission)
			if err != nil {
				return b // the job counts and sends
			}
			size = n
		}
		if size > int64(s.InlineMax) {
			return b
		}
	}
	ictx, cancel := context.WithTimeout(ctx, inlineTimeout)
	defer cancel()
	if err := s.Send(ictx, b.TenantID, b.ID); err != nil {
		return b
	}
	if sent, err := s.store.GetBulk(ctx, b.TenantID, b.ID); err == nil {
		return sent
	}
	return b
}

// Get returns one of the tenant's bulk sends.
func (s *BulkService) Get(ctx context.Context, tenant domain.TenantID, id string) (Bulk, error) {
	id, err := domain.ParseID("id", id)
	if err != nil {
		return Bulk{}, fmt.Errorf("bulk %q: %w", id, domain.ErrNotFound)
	}
	return s.store.GetBulk(ctx, tenant, id)
}

// Send sends a bulk, batch by batch, each batch's notifications and
// progress in one transaction (an all audience is one broadcast, sent in
// the transaction that completes the bulk). It resumes where an earlier
// run stopped and returns at once for a completed bulk, so it is safe to
// run again: nobody is notified twice. When ctx ends (the job's timeout) it returns with the
// progress so far kept.
func (s *BulkService) Send(ctx context.Context, tenant domain.TenantID, id string) error {
	id, err := domain.ParseID("bulk_id", id)
	if err != nil {
		return fmt.Errorf("send bulk: %w: %w", domain.ErrPermanent, err)
	}
	for {
		done, err := s.step(ctx, tenant, id)
		if err != nil || done {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// errBatch marks a batch whose notifications could not be stored: each of
// its recipients is then tried alone.
type errBatch struct{ err error }

func (e *errBatch) Error() string { return "send batch: " + e.err.Error() }
func (e *errBatch) Unwrap() error { return e.err }

// step handles the next batch and reports whether the bulk is done.
func (s *BulkService) step(ctx context.Context, tenant domain.TenantID, id string) (done bool, err error) {
	var batch []domain.UserID
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		done, batch = false, nil
		b, err := s.start(ctx, tenant, id)
		if err != nil || b.Status == BulkCompleted {
			done = err == nil
			return err
		}
		if b.broadcastWhole() {
			if b, err = s.broadcast(ctx, b); err != nil {
				return err
			}
			done = true
			return s.store.UpdateBulk(ctx, b)
		}
		next, known, err := s.nextBatch(ctx, b)
		if err != nil {
			return err
		}
		if len(next) == 0 {
			done = true
			return s.complete(ctx, b)
		}
		var sendTo []domain.UserID
		for _, u := range next {
			if known[u] {
				sendTo = append(sendTo, u)
			} else {
				b.fail(u, "unknown user")
			}
		}
		if len(sendTo) > 0 {
			if _, err := s.sender.SendToUsers(ctx, tenant, sendTo, b.draft()); err != nil {
				batch = next
				return &errBatch{err}
			}
		}
		b.Sent += int64(len(sendTo))
		b.ResumeAfter = next[len(next)-1]
		return s.store.UpdateBulk(ctx, b)
	})
	var eb *errBatch
	if errors.As(err, &eb) && ctx.Err() == nil {
		// One recipient must not stop the rest: try them one by one.
		return false, s.oneByOne(ctx, tenant, id, batch)
	}
	return done, err
}

// start locks the bulk and marks it processing (counting a permission
// audience, or an all audience sent user by user, the first time).
func (s *BulkService) start(ctx context.Context, tenant domain.TenantID, id string) (Bulk, error) {
	b, err := s.store.LockBulk(ctx, tenant, id)
	if err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return Bulk{}, fmt.Errorf("bulk %s of %s is gone: %w", id, tenant, domain.ErrPermanent)
		}
		return Bulk{}, err
	}
	if b.Status == BulkPending || b.Status == BulkFailed {
		if b.StartedAt == nil {
			now := s.now().UTC()
			b.StartedAt = &now
			if len(b.Audience.UserIDs) == 0 && !b.broadcastWhole() {
				if b.Total, err = s.store.CountUsers(ctx, tenant, b.Audience.Permission); err != nil {
					return Bulk{}, err
				}
			}
		}
		b.Status, b.LastError = BulkProcessing, ""
	}
	return b, nil
}

// nextBatch lists the next recipients after b.ResumeAfter and which of
// them the tenant knows.
func (s *BulkService) nextBatch(ctx context.Context, b Bulk) ([]domain.UserID, map[domain.UserID]bool, error) {
	size := max(s.BatchSize, 1)
	if ids := b.Audience.UserIDs; len(ids) > 0 {
		i, _ := slices.BinarySearch(ids, b.ResumeAfter)
		if i < len(ids) && ids[i] == b.ResumeAfter {
			i++
		}
		next := ids[i:min(i+size, len(ids))]
		if len(next) == 0 {
			return nil, nil, nil
		}
		known, err := s.store.KnownUsers(ctx, b.TenantID, next)
		return next, known, err
	}
	next, err := s.store.UserIDsAfter(ctx, b.TenantID, b.Audience.Permission, b.ResumeAfter, size)
	known := make(map[domain.UserID]bool, len(next))
	for _, u := range next {
		known[u] = true
	}
	return next, known, err
}

func (s *BulkService) complete(ctx context.Context, b Bulk) error {
	now := s.now().UTC()
	b.Status, b.CompletedAt = BulkCompleted, &now
	b.Total = b.Sent + b.Failed
	return s.store.UpdateBulk(ctx, b)
}

// oneByOne sends to each recipient of a failed batch in its own
// transaction; one that fails is counted and skipped.
func (s *BulkService) oneByOne(ctx context.Context, tenant domain.TenantID, id string, recipients []domain.UserID) error {
	for _, u := range recipients {
		var sendErr error
		err := s.store.InTx(ctx, func(ctx context.Context) error {
			b, err := s.start(ctx, tenant, id)
			if err != nil || b.Status == BulkCompleted || !after(u, b.ResumeAfter) {
				return err // handled meanwhile
			}
			known, err := s.store.KnownUsers(ctx, tenant, []domain.UserID{u})
			if err != nil {
				return err
			}
			if !known[u] {
				b.fail(u, "unknown user")
			} else if _, sendErr = s.sender.SendToUsers(ctx, tenant, []domain.UserID{u}, b.draft()); sendErr != nil {
				return sendErr
			} else {
				b.Sent++
			}
			b.ResumeAfter = u
			return s.store.UpdateBulk(ctx, b)
		})
		if err == nil {
			continue
		}
		if sendErr == nil || ctx.Err() != nil {
			return err
		}
		// The send failed: count the recipient as failed and move past.
		err = s.store.InTx(ctx, func(ctx context.Context) error {
			b, err := s.start(ctx, tenant, id)
			if err != nil || b.Status == BulkCompleted || !after(u, b.ResumeAfter) {
				return err
			}
			b.fail(u, sendErr.Error())
			b.ResumeAfter = u
			return s.store.UpdateBulk(ctx, b)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// broadcastWhole reports whether b is to be sent as one broadcast: an all
// audience nobody has been sent to yet. One that a version before
// broadcasts began sending user by user (it has a resume point) is
// finished that way, so that nobody it reached is notified twice.
func (b Bulk) broadcastWhole() bool { return b.Audience.All && b.ResumeAfter == "" }

// after reports whether u comes after the recipient resume points past.
// Recipients go in byte order of their ids: Go's string order, which the
// store's UserIDsAfter follows too (binary collation).
func after(u, resume domain.UserID) bool { return resume == "" || u > resume }

// fail counts a failed recipient, keeping the first few reasons.
func (b *Bulk) fail(u domain.UserID, msg string) {
	b.Failed++
	if len(b.Errors) < maxBulkErrors {
		b.Errors = append(b.Errors, RecipientError{UserID: u, Message: Clip(msg, 200)})
	}
}

func (b Bulk) draft() Draft {
	return Draft{Type: b.Type, Severity: b.Severity, Title: b.Title, Body: b.Body,
		ActionURL: b.ActionURL, Data: b.Data}
}

// MarkFailed records that the bulk's job gave up (it used its tries); a
// retry of the failed job resumes it. A completed bulk stays completed.
func (s *BulkService) MarkFailed(ctx context.Context, tenant domain.TenantID, id string, cause error) error {
	id, err := domain.ParseID("bulk_id", id)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		b, err := s.store.LockBulk(ctx, tenant, id)
		if err != nil || b.Status == BulkCompleted {
			return err
		}
		b.Status, b.LastError = BulkFailed, Clip(cause.Error(), 500)
		return s.store.UpdateBulk(ctx, b)
	})
}
