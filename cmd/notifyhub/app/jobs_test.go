package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
)

type bulkStatus struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Total  int    `json:"total"`
	Sent   int    `json:"sent"`
	Failed int    `json:"failed"`
}

type inboxPage struct {
	Data []notificationJSON `json:"data"`
}

// waitBulk polls the bulk's status until it is completed.
func waitBulk(t *testing.T, call func(out *bulkStatus)) bulkStatus {
	t.Helper()
	var st bulkStatus
	require.Eventually(t, func() bool {
		call(&st)
		return st.Status == "completed"
	}, 30*time.Second, 20*time.Millisecond, "the bulk send completes")
	return st
}

// TestBulkNotificationsEndToEnd: in each mode, POST /api/v1/notifications
// answers 202, a worker sends the notifications through the job queue, the
// bulk's status shows the counts, and the recipients find them in their
// inboxes; another tenant's users get nothing and cannot see the bulk.
func TestBulkNotificationsEndToEnd(t *testing.T) {
	t.Parallel()
	for _, m := range []mode{embedded(), distributed()} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			cfg := m.cfg(t)
			cfg.Queues.Sleep = 20 * time.Millisecond
			a := start(t, cfg)
			alice := token(t, a, "acme", "alice", domain.PermNotificationsSend)
			bob := token(t, a, "acme", "bob")
			stranger := token(t, a, "globex", "bob", domain.PermAdmin)
			for _, tok := range []string{alice, bob, stranger} { // known from a first request
				call(t, a, tok, "GET", "/api/v1/notifications/unread-count", nil, http.StatusOK, nil)
			}

			var created bulkStatus
			call(t, a, alice, "POST", "/api/v1/notifications", map[string]any{
				"user_ids": []string{"bob", "alice", "nobody"}, "type": "reminder", "title": "Timesheets due",
				"data": map[string]any{"week": 12},
			}, http.StatusAccepted, &created)
			st := waitBulk(t, func(out *bulkStatus) {
				call(t, a, alice, "GET", "/api/v1/notifications/bulk/"+created.ID, nil, http.StatusOK, out)
			})
			require.Equal(t, []int{3, 2, 1}, []int{st.Total, st.Sent, st.Failed})

			for _, tok := range []string{alice, bob} {
				var page inboxPage
				call(t, a, tok, "GET", "/api/v1/notifications", nil, http.StatusOK, &page)
				require.Len(t, page.Data, 1)
				require.Equal(t, notification.TypeReminder, page.Data[0].Type)
				require.Equal(t, "warning", page.Data[0].Severity)
				require.JSONEq(t, `{"week": 12}`, string(page.Data[0].Data))
			}
			var page inboxPage
			call(t, a, stranger, "GET", "/api/v1/notifications", nil, http.StatusOK, &page)
			require.Empty(t, page.Data)
			call(t, a, stranger, "GET", "/api/v1/notifications/bulk/"+created.ID, nil, http.StatusNotFound, nil)

			// The list went through a group commit of the group lane, a
			// send to one user through the personal lane; /metrics
			// counts each (after the answer: eventually).
			call(t, a, alice, "POST", "/api/v1/notifications", map[string]any{
				"user_ids": []string{"bob"}, "title": "One for bob"}, http.StatusAccepted, nil)
			for _, lane := range []string{"group", "personal"} {
				require.Eventually(t, func() bool {
					return metricValue(a, `notifyhub_direct_group_requests_sum{lane="`+lane+`"}`) == 1 &&
						metricValue(a, `notifyhub_direct_group_commit_seconds_count{lane="`+lane+`"}`) == 1
				}, 10*time.Second, 20*time.Millisecond, "lane %s", lane)
			}
		})
	}
}

// TestFailedJobRetriedOverRESTRunsAgain: a failed bulk job retried through
// the REST API goes back through the outbox to its queue, and a worker
// runs it to completion.
func TestFailedJobRetriedOverRESTRunsAgain(t *testing.T) {
	t.Parallel()
	for _, m := range []mode{embedded(), distributed()} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			cfg := m.cfg(t)
			cfg.Queues.Sleep = 20 * time.Millisecond
			a := start(t, cfg)
			admin := token(t, a, "acme", "root", domain.PermAdmin)
			bob := token(t, a, "acme", "bob")
			call(t, a, bob, "GET", "/api/v1/notifications/unread-count", nil, http.StatusOK, nil)

			// A bulk whose job used up its tries (say, the database was
			// down): its row says failed and the failed job keeps the
			// original envelope.
			ctx := context.Background()
			s := a.Store()
			b := notification.Bulk{ID: domain.NewID(), TenantID: "acme", RequestedBy: "root",
				Audience: notification.Audience{UserIDs: []domain.UserID{"bob"}}, Type: notification.TypeAlert,
				Severity: domain.SeverityCritical, Title: "Backup failed", Data: []byte(`{}`),
				Status: notification.BulkFailed, Total: 1, LastError: "gave up", CreatedAt: time.Now()}
			require.NoError(t, s.InsertBulk(ctx, b))
			env := `{"id":"` + domain.NewID() + `","job":"SendBulkNotifications","tenant":"acme","payload":{"bulk_id":"` + b.ID + `"},"queue":"default"}`
			failed := domain.FailedJob{ID: domain.NewID(), Queue: "default", Job: "SendBulkNotifications", TenantID: "acme",
				Payload: []byte(env), Attempts: 5, Error: "connection refused", FailedAt: time.Now()}
			require.NoError(t, s.InsertFailedJob(ctx, failed))

			var list struct {
				Data []struct {
					ID string `json:"id"`
				} `json:"data"`
			}
			call(t, a, admin, "GET", "/api/v1/failed-jobs", nil, http.StatusOK, &list)
			require.Len(t, list.Data, 1)
			call(t, a, admin, "POST", "/api/v1/failed-jobs/"+failed.ID+"/retry", nil, http.StatusAccepted, nil)
			waitBulk(t, func(out *bulkStatus) {
				call(t, a, admin, "GET", "/api/v1/notifications/bulk/"+b.ID, nil, http.StatusOK, out)
			})
			var page inboxPage
			call(t, a, bob, "GET", "/api/v1/notifications", nil, http.StatusOK, &page)
			require.Len(t, page.Data, 1)
			require.Equal(t, "Backup failed", page.Data[0].Title)
			call(t, a, admin, "GET", "/api/v1/failed-jobs", nil, http.StatusOK, &list)
			require.Empty(t, list.Data)
		})
	}
}
