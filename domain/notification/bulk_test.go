package notification_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

// dispatcher records the jobs a bulk request queues.
type dispatcher struct {
	mu   sync.Mutex
	jobs []notification.BulkPayload
}

func (d *dispatcher) Dispatch(_ context.Context, tenant domain.TenantID, job string, payload any) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if job != notification.BulkJob {
		return "", fmt.Errorf("unexpected job %q", job)
	}
	d.jobs = append(d.jobs, payload.(notification.BulkPayload))
	return domain.NewID(), nil
}

// flakyStore fails the progress write of the n-th batch, as a crash
// between two batches would leave things.
type flakyStore struct {
	*sqlstore.Store
	failAt, updates int
}

func (f *flakyStore) UpdateBulk(ctx context.Context, b notification.Bulk) error {
	f.updates++
	if f.updates == f.failAt {
		return errors.New("connection lost")
	}
	return f.Store.UpdateBulk(ctx, b)
}

var sender = domain.Actor{TenantID: "acme", UserID: "alice", Perms: []string{domain.PermNotificationsSend}}

func inbox(t *testing.T, f fixture, tenant domain.TenantID, user domain.UserID) []domain.Notification {
	t.Helper()
	items, err := f.store.ListNotifications(context.Background(), tenant, user, notification.ListParams{Limit: 200})
	require.NoError(t, err)
	return items
}

func TestBulkToUserIDs(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		d := &dispatcher{}
		bulk := notification.NewBulkService(f.store, f.svc, d, nil)
		bulk.InlineMax = 0 // the queued job does the sending here
		b, err := bulk.Request(ctx, sender, notification.BulkRequest{
			UserIDs: []string{"bob", "ghost", "alice", "bob"}, Type: "announcement", Title: "Stock count Friday",
			Body: "All day.", ActionURL: "/inventory", Data: json.RawMessage(`{"when": "friday", "rooms": [1, 2]}`),
		})
		require.NoError(t, err)
		require.Equal(t, notification.BulkPending, b.Status)
		require.EqualValues(t, 3, b.Total, "duplicates count once")
		require.Equal(t, []notification.BulkPayload{{BulkID: b.ID}}, d.jobs, "the send is queued as a job")

		require.NoError(t, bulk.Send(ctx, "acme", b.ID))
		got, err := bulk.Get(ctx, "acme", b.ID)
		require.NoError(t, err)
		require.Equal(t, notification.BulkCompleted, got.Status)
		require.EqualValues(t, 3, got.Total)
		require.EqualValues(t, 2, got.Sent)
		require.EqualValues(t, 1, got.Failed)
		require.Equal(t, []notification.RecipientError{{UserID: "ghost", Message: "unknown user"}}, got.Errors)
		require.NotNil(t, got.StartedAt)
		require.NotNil(t, got.CompletedAt)

		for _, u := range []domain.UserID{"bob", "alice"} {
			items := inbox(t, f, "acme", u)
			require.Len(t, items, 1, "one notification for %s", u)
			n := items[0]
			require.Equal(t, notification.TypeAnnouncement, n.Type)
			require.Equal(t, domain.SeverityInfo, n.Severity)
			require.Equal(t, "Stock count Friday", n.Title)
			require.Equal(t, "/inventory", n.ActionURL)
			require.JSONEq(t, `{"when": "friday", "rooms": [1, 2]}`, string(n.Data), "data carried through unchanged")
		}
		require.Empty(t, inbox(t, f, "acme", "carol"), "not addressed")
		require.Empty(t, inbox(t, f, "globex", "bob"), "another tenant's bob")
		_, err = f.store.GetUser(ctx, "acme", "ghost")
		require.ErrorIs(t, err, domain.ErrNotFound, "an unknown id does not become a user")

		// Delivered again: nobody is notified twice.
		require.NoError(t, bulk.Send(ctx, "acme", b.ID))
		require.Len(t, inbox(t, f, "acme", "bob"), 1)

		// Pushed live like any notification.
		pushed := 0
		for _, u := range f.fan.all() {
			if u.Kind == domain.UpdateNotification && u.Notification.Type == notification.TypeAnnouncement {
				pushed++
			}
		}
		require.Equal(t, 2, pushed)
	})
}

func TestBulkResumesWithoutNotifyingTwice(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		var ids []string
		for i := range 7 {
			id := domain.UserID(fmt.Sprintf("user-%02d", i))
			require.NoError(t, f.store.UpsertUser(ctx, domain.User{TenantID: "acme", ID: id}))
			ids = append(ids, string(id))
		}
		flaky := &flakyStore{Store: f.store, failAt: 3}
		bulk := notification.NewBulkService(flaky, f.svc, &dispatcher{}, nil)
		bulk.InlineMax = 0 // the queued job does the sending here
		bulk.BatchSize = 2
		b, err := bulk.Request(ctx, sender, notification.BulkRequest{UserIDs: ids, Type: "reminder", Title: "Timesheets"})
		require.NoError(t, err)
		require.Error(t, bulk.Send(ctx, "acme", b.ID), "the run dies on its third batch")
		got, err := bulk.Get(ctx, "acme", b.ID)
		require.NoError(t, err)
		require.Equal(t, notification.BulkProcessing, got.Status)
		require.EqualValues(t, 4, got.Sent, "two batches committed")
		require.Equal(t, domain.UserID("user-03"), got.ResumeAfter)

		// Redelivered: it resumes after user-03.
		require.NoError(t, bulk.Send(ctx, "acme", b.ID))
		got, err = bulk.Get(ctx, "acme", b.ID)
		require.NoError(t, err)
		require.Equal(t, notification.BulkCompleted, got.Status)
		require.EqualValues(t, 7, got.Sent)
		for _, id := range ids {
			items := inbox(t, f, "acme", domain.UserID(id))
			require.Len(t, items, 1, "%s notified exactly once", id)
			require.Equal(t, notification.TypeReminder, items[0].Type)
			require.Equal(t, domain.SeverityWarning, items[0].Severity, "a reminder's default severity")
		}
	})
}

func TestBulkAudienceStaysInTheTenant(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		bulk := notification.NewBulkService(f.store, f.svc, &dispatcher{}, nil)
		bulk.InlineMax = 0 // the queued job does the sending here
		byPerm, err := bulk.Request(ctx, sender, notification.BulkRequest{Permission: domain.PermInventoryAlerts, Type: "alert", Title: "Freezer down"})
		require.NoError(t, err)
		require.NoError(t, bulk.Send(ctx, "acme", byPerm.ID))
		got, err := bulk.Get(ctx, "acme", byPerm.ID)
		require.NoError(t, err)
		require.EqualValues(t, []int64{2, 2, 0}, []int64{got.Total, got.Sent, got.Failed}, "bob, and alice through admin")
		require.Len(t, inbox(t, f, "acme", "bob"), 1)
		require.Len(t, inbox(t, f, "acme", "alice"), 1)
		require.Empty(t, inbox(t, f, "acme", "carol"))
		require.Empty(t, inbox(t, f, "globex", "bob"), "the holder in another tenant gets nothing")
		require.Equal(t, domain.SeverityCritical, inbox(t, f, "acme", "bob")[0].Severity, "an alert's default")

		everyone, err := bulk.Request(ctx, sender, notification.BulkRequest{All: true, Type: "alert", Severity: domain.SeverityWarning, Title: "Maintenance tonight"})
		require.NoError(t, err)
		require.NoError(t, bulk.Send(ctx, "acme", everyone.ID))
		got, err = bulk.Get(ctx, "acme", everyone.ID)
		require.NoError(t, err)
		require.EqualValues(t, 3, got.Sent)
		require.Len(t, inbox(t, f, "acme", "carol"), 1)
		require.Equal(t, domain.SeverityWarning, inbox(t, f, "acme", "carol")[0].Severity, "as sent")
		require.Empty(t, inbox(t, f, "globex", "bob"))

		_, err = bulk.Get(ctx, "globex", everyone.ID)
		require.ErrorIs(t, err, domain.ErrNotFound, "another tenant's bulk")
		_, err = bulk.Get(ctx, "acme", "not-a-uuid")
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.Error(t, bulk.Send(ctx, "globex", everyone.ID), "a job cannot reach across tenants")
		require.Empty(t, inbox(t, f, "globex", "bob"))
	})
}

func TestBulkMarkFailedThenResume(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		bulk := notification.NewBulkService(f.store, f.svc, &dispatcher{}, nil)
		bulk.InlineMax = 0 // the queued job does the sending here
		b, err := bulk.Request(ctx, sender, notification.BulkRequest{UserIDs: []string{"bob"}, Title: "Hi"})
		require.NoError(t, err)
		require.NoError(t, bulk.MarkFailed(ctx, "acme", b.ID, errors.New("gave up after 5 tries")))
		got, err := bulk.Get(ctx, "acme", b.ID)
		require.NoError(t, err)
		require.Equal(t, notification.BulkFailed, got.Status)
		require.Contains(t, got.LastError, "gave up")
		require.Equal(t, notification.BulkFailed, got.View().Status)

		require.NoError(t, bulk.Send(ctx, "acme", b.ID), "a retried job resumes")
		got, err = bulk.Get(ctx, "acme", b.ID)
		require.NoError(t, err)
		require.Equal(t, notification.BulkCompleted, got.Status)
		require.Empty(t, got.LastError)
		require.NoError(t, bulk.MarkFailed(ctx, "acme", b.ID, errors.New("late")))
		got, err = bulk.Get(ctx, "acme", b.ID)
		require.NoError(t, err)
		require.Equal(t, notification.BulkCompleted, got.Status, "a completed send stays completed")
	})
}

func TestBulkRequestValidation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		d := &dispatcher{}
		bulk := notification.NewBulkService(f.store, f.svc, d, nil)
		bulk.InlineMax = 0 // the queued job does the sending here
		many := make([]string, notification.MaxBulkUserIDs+1)
		for i := range many {
			many[i] = fmt.Sprint("u", i)
		}
		for name, tc := range map[string]struct {
			in    notification.BulkRequest
			field string
		}{
			"no audience":        {notification.BulkRequest{Title: "x"}, "audience"},
			"empty user list":    {notification.BulkRequest{UserIDs: []string{}, Title: "x"}, "audience"},
			"all false":          {notification.BulkRequest{All: false, Title: "x"}, "audience"},
			"two audiences":      {notification.BulkRequest{UserIDs: []string{"bob"}, All: true, Title: "x"}, "audience"},
			"too many users":     {notification.BulkRequest{UserIDs: many, Title: "x"}, "user_ids"},
			"malformed user id":  {notification.BulkRequest{UserIDs: []string{"bob", "a b"}, Title: "x"}, "user_ids"},
			"hostile permission": {notification.BulkRequest{Permission: "x' OR '1'='1", Title: "x"}, "permission"},
			"unknown type":       {notification.BulkRequest{All: true, Type: "LowStockNotification", Title: "x"}, "type"},
			"bad severity":       {notification.BulkRequest{All: true, Severity: "fatal", Title: "x"}, "severity"},
			"no title":           {notification.BulkRequest{All: true, Title: "   "}, "title"},
			"long title":         {notification.BulkRequest{All: true, Title: strings.Repeat("é", notification.MaxTitleLen+1)}, "title"},
			"long body":          {notification.BulkRequest{All: true, Title: "x", Body: strings.Repeat("b", 5001)}, "body"},
			"script url":         {notification.BulkRequest{All: true, Title: "x", ActionURL: "javascript:alert(1)"}, "action_url"},
			"data not object":    {notification.BulkRequest{All: true, Title: "x", Data: json.RawMessage(`[1]`)}, "data"},
			"data too large":     {notification.BulkRequest{All: true, Title: "x", Data: json.RawMessage(`{"x":"` + strings.Repeat("a", 17<<10) + `"}`)}, "data"},
		} {
			_, err := bulk.Request(ctx, sender, tc.in)
			var v *domain.ValidationError
			require.ErrorAs(t, err, &v, name)
			require.Contains(t, v.Fields, tc.field, name)
		}
		_, err := bulk.Request(ctx, domain.Actor{TenantID: "acme", UserID: "carol"}, notification.BulkRequest{All: true, Title: "x"})
		require.ErrorIs(t, err, domain.ErrForbidden)
		require.Empty(t, d.jobs, "nothing queued for a refused request")

		// The limits themselves are fine.
		b, err := bulk.Request(ctx, sender, notification.BulkRequest{All: true, Title: strings.Repeat("é", notification.MaxTitleLen),
			Body: strings.Repeat("b", 5000), Data: json.RawMessage(`null`)})
		require.NoError(t, err)
		require.Equal(t, notification.TypeAnnouncement, b.Type, "announcement by default")
	})
}

// TestBulkSmallAudienceIsSentDirectly: an audience up to InlineMax is
// sent within the request, in the transaction that writes its bulk record
// completed: no job is queued. A larger audience waits for the job.
func TestBulkSmallAudienceIsSentDirectly(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		d := &dispatcher{}
		bulk := notification.NewBulkService(f.store, f.svc, d, nil)
		bulk.InlineMax = 2
		b, err := bulk.Request(ctx, sender, notification.BulkRequest{UserIDs: []string{"bob", "ghost"}, Title: "Now"})
		require.NoError(t, err)
		require.Equal(t, notification.BulkCompleted, b.Status, "sent within the request")
		require.EqualValues(t, 1, b.Sent)
		require.EqualValues(t, 1, b.Failed)
		require.Len(t, inbox(t, f, "acme", "bob"), 1)
		require.Empty(t, d.jobs, "no job for a direct send")
		require.NoError(t, bulk.Send(ctx, "acme", b.ID), "a stray run of the job")
		require.Len(t, inbox(t, f, "acme", "bob"), 1, "notifies nobody twice")

		big, err := bulk.Request(ctx, sender, notification.BulkRequest{UserIDs: []string{"alice", "bob", "carol"}, Title: "Later"})
		require.NoError(t, err)
		require.Equal(t, notification.BulkPending, big.Status, "over InlineMax: left to the job")
		require.Len(t, d.jobs, 1)
		require.Len(t, inbox(t, f, "acme", "alice"), 0)
	})
}
