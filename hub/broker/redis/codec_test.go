package redisbroker

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

// entryV1 is the entry an older node wrote for u: its JSON under "update".
func entryV1(u domain.InboxUpdate) (redis.XMessage, error) {
	if u.Seq == 0 && u.Notification != nil {
		u.Seq = u.Notification.Seq
	}
	b, err := json.Marshal(u)
	if err != nil {
		return redis.XMessage{}, err
	}
	return redis.XMessage{ID: "1-0", Values: map[string]any{fieldV1: string(b)}}, nil
}

// entryV2 is the entry this version writes for u, as XREAD returns it.
func entryV2(u domain.InboxUpdate) (redis.XMessage, error) {
	values, err := entryValues(u)
	if err != nil {
		return redis.XMessage{}, err
	}
	return redis.XMessage{ID: "1-0", Values: map[string]any{values[0].(string): string(values[1].([]byte))}}, nil
}

// requireSameAsV1 checks that a node receives from the v2 entry exactly
// what it received from the JSON entry, and that both fail alike.
func requireSameAsV1(t *testing.T, u domain.InboxUpdate) {
	t.Helper()
	m1, err1 := entryV1(u)
	m2, err2 := entryV2(u)
	require.Equal(t, err1 == nil, err2 == nil, "v1 err %v, v2 err %v", err1, err2)
	if err1 != nil {
		return
	}
	want, err := decodeOne(m1)
	require.NoError(t, err)
	got, err := decodeOne(m2)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func codecUpdates() []domain.InboxUpdate {
	readAt := time.Date(2026, 3, 4, 5, 6, 7, 8, time.FixedZone("", -7*3600))
	n := benchUpdate(3)
	withReadAt := benchUpdate(4)
	withReadAt.Notification.ReadAt = &readAt
	withReadAt.Notification.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	withReadAt.Notification.Data = json.RawMessage(" { \"html\" : \"<b>&</b>\u2028\" , \"n\": [1, 2] } ")
	nilData := benchUpdate(5)
	nilData.Notification.Data = nil
	seqFromNotification := benchUpdate(6)
	seqFromNotification.Seq = 0
	badUTF8 := benchUpdate(7)
	badUTF8.TenantID = "t\xff\xfe1"
	badUTF8.Notification.Title = "caf\xc3"
	mismatch := benchUpdate(8)
	mismatch.Notification.TenantID = "other-tenant"
	mismatch.Notification.UserID = "other-user"
	mismatch.Notification.Seq = 99
	return []domain.InboxUpdate{
		n, withReadAt, nilData, seqFromNotification, badUTF8, mismatch,
		{Kind: domain.UpdateRead, TenantID: "t1", UserID: "u1", IDs: []string{"a", "b", ""}, UnreadCount: 2},
		{Kind: domain.UpdateUnread, TenantID: "t1", UserID: "u1", IDs: []string{}, UnreadCount: -1},
		{Kind: domain.UpdateReadAll, TenantID: "t1", UserID: "u1", Seq: 1 << 50},
		{},
	}
}

func TestCodecDeliversWhatJSONDelivered(t *testing.T) {
	t.Parallel()
	for _, u := range codecUpdates() {
		requireSameAsV1(t, u)
	}
}

// Updates json.Marshal could not encode fail to publish as before.
func TestCodecFailsWhereJSONFailed(t *testing.T) {
	t.Parallel()
	badData := benchUpdate(1)
	badData.Notification.Data = json.RawMessage(`{"k":`)
	emptyData := benchUpdate(1)
	emptyData.Notification.Data = json.RawMessage{}
	badYear := benchUpdate(1)
	badYear.CommittedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	badZone := benchUpdate(1)
	badZone.Notification.CreatedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))
	for _, u := range []domain.InboxUpdate{badData, emptyData, badYear, badZone} {
		_, err := entryValues(u)
		require.Error(t, err)
		requireSameAsV1(t, u)
	}
}

// Entries written by older nodes (JSON under "update") still decode: a
// rolling deploy loses nothing.
func TestDecodeV1Entry(t *testing.T) {
	t.Parallel()
	m := redis.XMessage{ID: "5-1", Values: map[string]any{fieldV1: `{"kind":"notification","tenant_id":"t1","user_id":"u1",` +
		`"notification":{"id":"n1","seq":0,"type":"T","severity":"info","title":"hi","body":"","action_url":"",` +
		`"data":{"k":1},"read_at":null,"created_at":"2026-01-02T03:04:05Z"},"seq":12,"unread_count":3,"committed_at":"2026-01-02T03:04:06Z"}`}}
	u, err := decodeOne(m)
	require.NoError(t, err)
	require.Equal(t, domain.InboxUpdate{
		Kind: domain.UpdateNotification, TenantID: "t1", UserID: "u1", Seq: 12, UnreadCount: 3,
		CommittedAt: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
		Notification: &domain.Notification{ID: "n1", TenantID: "t1", UserID: "u1", Seq: 12, Type: "T",
			Severity: "info", Title: "hi", Data: json.RawMessage(`{"k":1}`), CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
	}, u)
}

// The socket is chosen by the envelope's tenant and user: the decoded
// notification always carries them, whatever the publisher's copy said,
// and updates of two tenants' same-named users stay apart.
func TestDecodeTakesTenantAndUserFromEnvelope(t *testing.T) {
	t.Parallel()
	for _, tenant := range []domain.TenantID{"t1", "t2"} {
		u := benchUpdate(1)
		u.TenantID, u.UserID = tenant, "same-user"
		u.Notification.TenantID, u.Notification.UserID = "t-wrong", "u-wrong"
		m, err := entryV2(u)
		require.NoError(t, err)
		got, err := decodeOne(m)
		require.NoError(t, err)
		require.Equal(t, tenant, got.TenantID)
		require.Equal(t, domain.UserID("same-user"), got.UserID)
		require.Equal(t, tenant, got.Notification.TenantID)
		require.Equal(t, domain.UserID("same-user"), got.Notification.UserID)
		require.Equal(t, u.Seq, got.Notification.Seq)
	}
}

// Every truncation of a valid entry, and trailing garbage, is an error,
// never a partial update.
func TestDecodeRejectsMalformed(t *testing.T) {
	t.Parallel()
	for _, u := range codecUpdates() {
		m, err := entryV2(u)
		require.NoError(t, err)
		raw := m.Values[fieldV2].(string)
		for i := range len(raw) {
			_, err := decodeV2(raw[:i])
			require.Error(t, err, "truncated at %d of %d", i, len(raw))
		}
		_, err = decodeV2(raw + "x")
		require.Error(t, err)
	}
	_, err := decodeOne(redis.XMessage{ID: "1-0", Values: map[string]any{"other": "x"}})
	require.ErrorContains(t, err, "no \"u2\" or \"update\" field")
}

func FuzzCodecMatchesJSON(f *testing.F) {
	f.Add("t1", "u1", "title", `{"k":"<v>"}`, int64(7), int64(1_700_000_000), 0)
	f.Add("t\xff", "", "\u2028", ``, int64(-1), int64(-62_135_596_800), 3600)
	f.Add("", "u", "x", `null`, int64(0), int64(253_402_300_800), -86400)
	f.Fuzz(func(t *testing.T, tenant, user, s, data string, seq, unix int64, offset int) {
		at := time.Unix(unix, seq%1e9).In(time.FixedZone("", offset%(26*3600)))
		u := domain.InboxUpdate{Kind: domain.UpdateKind(s), TenantID: domain.TenantID(tenant), UserID: domain.UserID(user),
			Seq: seq, UnreadCount: int(seq >> 3), IDs: []string{s, tenant}, CommittedAt: at}
		requireSameAsV1(t, u)
		u.IDs = nil
		u.Notification = &domain.Notification{ID: s, Seq: seq, Type: s, Severity: domain.Severity(user), Title: s,
			Body: data, ActionURL: tenant, Data: json.RawMessage(data), ReadAt: &at, CreatedAt: at.UTC()}
		requireSameAsV1(t, u)
	})
}

// Arbitrary bytes under either field never panic the reader.
func FuzzDecode(f *testing.F) {
	for _, u := range codecUpdates() {
		if m, err := entryV2(u); err == nil {
			f.Add(m.Values[fieldV2].(string), false)
		}
		if m, err := entryV1(u); err == nil {
			f.Add(m.Values[fieldV1].(string), true)
		}
	}
	f.Fuzz(func(t *testing.T, raw string, v1 bool) {
		field := fieldV2
		if v1 {
			field = fieldV1
		}
		u, err := decodeOne(redis.XMessage{ID: "1-0", Values: map[string]any{field: raw}})
		if err == nil && u.Notification != nil {
			require.Equal(t, u.TenantID, u.Notification.TenantID)
			require.Equal(t, u.UserID, u.Notification.UserID)
		}
	})
}

// decodeOne decodes an entry that must hold one update.
func decodeOne(m redis.XMessage) (domain.InboxUpdate, error) {
	us, err := decode(nil, m)
	if err != nil {
		return domain.InboxUpdate{}, err
	}
	if len(us) != 1 {
		return domain.InboxUpdate{}, fmt.Errorf("entry %s: %d updates, want 1", m.ID, len(us))
	}
	return us[0], nil
}
