package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

type bulkJSON struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Type     string `json:"type"`
	Severity string `json:"severity"`
	Audience struct {
		Kind       string `json:"kind"`
		Permission string `json:"permission"`
		UserCount  int    `json:"user_count"`
	} `json:"audience"`
	Total  int64 `json:"total"`
	Sent   int64 `json:"sent"`
	Failed int64 `json:"failed"`
	Errors []struct {
		UserID  string `json:"user_id"`
		Message string `json:"message"`
	} `json:"errors"`
}

// known makes users known the way production does: by a first request.
func known(t *testing.T, f *fixture, tenant, user string, perms ...string) string {
	t.Helper()
	tok := token(t, tenant, user, perms...)
	require.Equal(t, http.StatusOK, f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", tok, "").Code)
	return tok
}

func TestBulkNotificationsAPI(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		ctx := context.Background()
		alice := known(t, f, "acme", "alice", domain.PermNotificationsSend)
		bob := known(t, f, "acme", "bob")
		carol := known(t, f, "acme", "carol", domain.PermInventoryAlerts)
		globexBob := known(t, f, "globex", "bob", domain.PermAdmin)

		rec := f.call(t, http.MethodPost, "/api/v1/notifications", alice,
			`{"user_ids": ["bob", "ghost", "carol", "bob"], "type": "alert", "title": "Freezer 2 is warm",
			  "body": "Check it now.", "action_url": "/inventory/freezers/2", "data": {"sensor": "f2", "readings": [4.5, 9.1]}}`)
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
		created := decode[bulkJSON](t, rec)
		require.NotEmpty(t, created.ID)
		// Three recipients: sent within the request, not left to a worker.
		require.Equal(t, "completed", created.Status)
		require.Equal(t, "/api/v1/notifications/bulk/"+created.ID, rec.Header().Get("Location"))
		require.Equal(t, "user_ids", created.Audience.Kind)
		require.Equal(t, 3, created.Audience.UserCount)

		// A run of the job (a stray redelivery: none is queued for a direct
		// send) finds nothing left to do.
		require.NoError(t, f.bulk.Send(ctx, "acme", created.ID))
		rec = f.call(t, http.MethodGet, "/api/v1/notifications/bulk/"+created.ID, alice, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		got := decode[bulkJSON](t, rec)
		require.Equal(t, "completed", got.Status)
		require.Equal(t, []int64{3, 2, 1}, []int64{got.Total, got.Sent, got.Failed})
		require.Len(t, got.Errors, 1)
		require.Equal(t, "ghost", got.Errors[0].UserID)
		// Any user of the tenant may read it; another tenant may not.
		require.Equal(t, http.StatusOK, f.call(t, http.MethodGet, "/api/v1/notifications/bulk/"+created.ID, bob, "").Code)
		requireError(t, f.call(t, http.MethodGet, "/api/v1/notifications/bulk/"+created.ID, globexBob, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/notifications/bulk/"+domain.NewID(), alice, ""), http.StatusNotFound, "not_found")
		requireError(t, f.call(t, http.MethodGet, "/api/v1/notifications/bulk/nope", alice, ""), http.StatusBadRequest, "invalid_input")

		// In the inboxes, read over plain HTTP.
		for _, tok := range []string{bob, carol} {
			page := decode[notificationPage](t, f.call(t, http.MethodGet, "/api/v1/notifications", tok, ""))
			require.Len(t, page.Data, 1)
			n := page.Data[0]
			require.Equal(t, "AlertNotification", n["type"])
			require.Equal(t, "critical", n["severity"], "an alert's default severity")
			require.Equal(t, "Freezer 2 is warm", n["title"])
			require.Equal(t, "/inventory/freezers/2", n["action_url"])
			data, err := json.Marshal(n["data"])
			require.NoError(t, err)
			require.JSONEq(t, `{"sensor": "f2", "readings": [4.5, 9.1]}`, string(data))
			require.Equal(t, 1, page.UnreadCount)
		}
		require.Empty(t, decode[notificationPage](t, f.call(t, http.MethodGet, "/api/v1/notifications", alice, "")).Data, "the sender was not addressed")
		require.Empty(t, decode[notificationPage](t, f.call(t, http.MethodGet, "/api/v1/notifications", globexBob, "")).Data)

		// Redelivery of the job sends nobody anything twice.
		require.NoError(t, f.bulk.Send(ctx, "acme", created.ID))
		require.Len(t, decode[notificationPage](t, f.call(t, http.MethodGet, "/api/v1/notifications", bob, "")).Data, 1)

		// all and permission audiences never leave the tenant.
		for _, body := range []string{
			`{"all": true, "title": "Office closed Monday"}`,
			`{"permission": "admin", "type": "reminder", "title": "Admins: rotate keys"}`,
		} {
			rec = f.call(t, http.MethodPost, "/api/v1/notifications", alice, body)
			require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
			require.NoError(t, f.bulk.Send(ctx, "acme", decode[bulkJSON](t, rec).ID))
		}
		require.Empty(t, decode[notificationPage](t, f.call(t, http.MethodGet, "/api/v1/notifications", globexBob, "")).Data,
			"globex's admin got neither the acme-wide nor the admin-only send")
		page := decode[notificationPage](t, f.call(t, http.MethodGet, "/api/v1/notifications", carol, ""))
		require.Len(t, page.Data, 2, "the freezer alert and the announcement")
		require.Equal(t, "AnnouncementNotification", page.Data[0]["type"])
		require.Equal(t, "info", page.Data[0]["severity"])
	})
}

func TestBulkNotificationsAPIBadInput(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		alice := token(t, "acme", "alice", domain.PermNotificationsSend)
		many := make([]string, 10_001)
		for i := range many {
			many[i] = fmt.Sprintf("%q", fmt.Sprint("u", i))
		}
		for name, tc := range map[string]struct {
			body  string
			field string
		}{
			"empty audience":   {`{"title": "x"}`, "audience"},
			"empty user list":  {`{"user_ids": [], "title": "x"}`, "audience"},
			"two audiences":    {`{"all": true, "permission": "admin", "title": "x"}`, "audience"},
			"too many users":   {`{"user_ids": [` + strings.Join(many, ",") + `], "title": "x"}`, "user_ids"},
			"user id number":   {`{"user_ids": [42], "title": "x"}`, "user_ids"},
			"hostile user id":  {`{"user_ids": ["bob'); DROP TABLE users; --"], "title": "x"}`, "user_ids"},
			"unknown type":     {`{"all": true, "type": "gossip", "title": "x"}`, "type"},
			"bad severity":     {`{"all": true, "severity": "meh", "title": "x"}`, "severity"},
			"missing title":    {`{"all": true}`, "title"},
			"long title":       {`{"all": true, "title": "` + strings.Repeat("t", 201) + `"}`, "title"},
			"long body":        {`{"all": true, "title": "x", "body": "` + strings.Repeat("b", 5001) + `"}`, "body"},
			"javascript url":   {`{"all": true, "title": "x", "action_url": "javascript:alert(1)"}`, "action_url"},
			"data not object":  {`{"all": true, "title": "x", "data": "text"}`, "data"},
			"unknown field":    {`{"all": true, "title": "x", "tenant_id": "globex"}`, "tenant_id"},
			"all not boolean":  {`{"all": "yes", "title": "x"}`, "all"},
			"malformed json":   {`{"all": true,`, "body"},
			"not an object":    {`[1, 2]`, "body"},
			"empty body":       {``, "body"},
			"two objects":      {`{"all": true, "title": "x"} {}`, "body"},
			"permission regex": {`{"permission": "%", "title": "x"}`, "permission"},
		} {
			rec := f.call(t, http.MethodPost, "/api/v1/notifications", alice, tc.body)
			e := requireError(t, rec, http.StatusBadRequest, "invalid_input")
			require.Contains(t, e.Fields, tc.field, "%s: %s", name, rec.Body.String())
		}
		e := requireError(t, f.call(t, http.MethodPost, "/api/v1/notifications", alice, `{"title": "x"}`), http.StatusBadRequest, "invalid_input")
		require.Contains(t, e.Fields["audience"], "empty", "the message says what is wrong")

		requireError(t, f.call(t, http.MethodPost, "/api/v1/notifications", token(t, "acme", "bob"), `{"all": true, "title": "x"}`),
			http.StatusForbidden, "forbidden")
		requireError(t, f.call(t, http.MethodPost, "/api/v1/notifications", "", `{"all": true, "title": "x"}`),
			http.StatusUnauthorized, "unauthenticated")
		huge := `{"all": true, "title": "x", "body": "` + strings.Repeat("b", 2<<20) + `"}`
		requireError(t, f.call(t, http.MethodPost, "/api/v1/notifications", alice, huge), http.StatusRequestEntityTooLarge, "too_large")
	})
}
