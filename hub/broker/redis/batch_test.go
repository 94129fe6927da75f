package redisbroker

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

// broadcastRun is n updates of one broadcast: alike but for user, seq,
// unread count and id, their strings shared as the service's are.
func broadcastRun(n int, edit func(*domain.Notification)) []domain.InboxUpdate {
	tmpl := benchUpdate(0)
	if edit != nil {
		edit(tmpl.Notification)
	}
	us := make([]domain.InboxUpdate, n)
	for i := range us {
		nt := *tmpl.Notification
		nt.ID, nt.Seq, nt.UserID = domain.NewID(), int64(10+i), domain.UserID(fmt.Sprintf("user-%05d", i))
		us[i] = tmpl
		us[i].UserID, us[i].Seq, us[i].UnreadCount, us[i].Notification = nt.UserID, nt.Seq, i%7, &nt
	}
	return us
}

// batchEntries encodes us as PublishBatch does and returns the entries as
// XREAD returns them.
func batchEntries(t *testing.T, us []domain.InboxUpdate) []redis.XMessage {
	t.Helper()
	var enc batchEncoder
	var out []redis.XMessage
	emit := func() {
		out = append(out, redis.XMessage{ID: fmt.Sprintf("1-%d", len(out)), Values: map[string]any{fieldV3: string(enc.entry())}})
	}
	for _, u := range us {
		require.NoError(t, enc.add(u))
		if enc.full() {
			emit()
		}
	}
	if enc.count > 0 {
		emit()
	}
	return out
}

// batchCases mixes broadcast runs whose content differs from the run
// before in one field each with every single update the codec tests use.
func batchCases() []domain.InboxUpdate {
	readAt := time.Date(2026, 3, 4, 5, 6, 7, 8, time.FixedZone("", 3600))
	edits := []func(*domain.Notification){
		nil,
		func(n *domain.Notification) { n.Type = "reminder" },
		func(n *domain.Notification) { n.Severity = "critical" },
		func(n *domain.Notification) { n.Title = "caf\xc3 <b>" },
		func(n *domain.Notification) { n.Body = "" },
		func(n *domain.Notification) { n.ActionURL = "/x" },
		func(n *domain.Notification) { n.Data = json.RawMessage(` {"k": "<v>"} `) },
		func(n *domain.Notification) { n.Data = nil },
		func(n *domain.Notification) { n.ReadAt = &readAt },
		func(n *domain.Notification) { at := readAt.Add(time.Nanosecond); n.ReadAt = &at },
		func(n *domain.Notification) { n.CreatedAt = n.CreatedAt.Add(time.Nanosecond) },
	}
	var us []domain.InboxUpdate
	for _, edit := range edits {
		us = append(us, broadcastRun(5, edit)...)
		us = append(us, broadcastRun(3, nil)...)
	}
	committed := broadcastRun(2, nil)
	committed[1].CommittedAt = committed[1].CommittedAt.Add(time.Second)
	tenant := broadcastRun(2, nil)
	tenant[1].TenantID = "other-tenant"
	seqFromNotification := broadcastRun(2, nil)
	seqFromNotification[1].Seq = 0
	us = append(us, committed...)
	us = append(us, tenant...)
	us = append(us, seqFromNotification...)
	for _, u := range codecUpdates() {
		us = append(us, u, broadcastRun(1, nil)[0])
	}
	return us
}

// A batch entry gives a node exactly what the v2 entry of each of its
// updates gives, in order.
func TestBatchDecodesAsSingleEntries(t *testing.T) {
	t.Parallel()
	us := batchCases()
	var got []domain.InboxUpdate
	for _, m := range batchEntries(t, us) {
		var err error
		got, err = decode(got, m)
		require.NoError(t, err)
	}
	require.Len(t, got, len(us))
	for i, u := range us {
		m, err := entryV2(u)
		require.NoError(t, err)
		want, err := decodeOne(m)
		require.NoError(t, err)
		require.Equal(t, want, got[i], "update %d", i)
	}
}

// A broadcast's updates share their entries: a few dozen bytes each.
func TestBatchSharesABroadcastsContent(t *testing.T) {
	t.Parallel()
	us := broadcastRun(1000, nil)
	ms := batchEntries(t, us)
	require.Len(t, ms, 1)
	single, err := entryValues(us[0])
	require.NoError(t, err)
	size := len(ms[0].Values[fieldV3].(string))
	require.Less(t, size, 1000*70, "entry of %d bytes", size)
	require.Less(t, size, 1000*len(single[1].([]byte))/3)
}

// Entries are bounded in updates and bytes, however long the batch.
func TestBatchEntriesBounded(t *testing.T) {
	t.Parallel()
	ms := batchEntries(t, broadcastRun(2500, nil))
	counts := []int{}
	for _, m := range ms {
		us, err := decode(nil, m)
		require.NoError(t, err)
		counts = append(counts, len(us))
	}
	require.Equal(t, []int{maxBatchUpdates, maxBatchUpdates, 2500 - 2*maxBatchUpdates}, counts)

	// Distinct contents: no sharing, the byte bound applies.
	var us []domain.InboxUpdate
	for i := range 200 {
		u := broadcastRun(1, nil)[0]
		u.Notification.Body = fmt.Sprintf("%d %s", i, strings.Repeat("b", 1000))
		us = append(us, u)
	}
	ms = batchEntries(t, us)
	require.Greater(t, len(ms), 1)
	total := 0
	for _, m := range ms {
		raw := m.Values[fieldV3].(string)
		require.Less(t, len(raw), maxBatchBytes+2<<10)
		got, err := decode(nil, m)
		require.NoError(t, err)
		total += len(got)
	}
	require.Equal(t, len(us), total)
}

// An update json.Marshal could not encode fails the batch, as it fails
// Publish.
func TestBatchFailsWhereJSONFailed(t *testing.T) {
	t.Parallel()
	us := broadcastRun(3, nil)
	bad := broadcastRun(1, func(n *domain.Notification) { n.Data = json.RawMessage(`{"k":`) })[0]
	var enc batchEncoder
	require.NoError(t, enc.add(us[0]))
	require.Error(t, enc.add(bad))
	// The encoder is left as it was before the bad update.
	require.NoError(t, enc.add(us[1]))
	got, err := decode(nil, redis.XMessage{ID: "1-0", Values: map[string]any{fieldV3: string(enc.entry())}})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, us[1].Notification.ID, got[1].Notification.ID)
}

// Every truncation of a batch entry, trailing garbage, a shared record
// with nothing to share and an unknown record fail the whole entry.
func TestDecodeV3RejectsMalformed(t *testing.T) {
	t.Parallel()
	us := append(broadcastRun(3, nil), codecUpdates()[6:8]...)
	raw := batchEntries(t, us)[0].Values[fieldV3].(string)
	for i := range len(raw) {
		got, err := decodeV3(nil, raw[:i])
		require.Error(t, err, "truncated at %d of %d", i, len(raw))
		require.Empty(t, got)
	}
	_, err := decodeV3(nil, raw+"x")
	require.Error(t, err)
	_, err = decodeV3(nil, "\x01\x01\x02u1\x02\x02\x02id")
	require.ErrorContains(t, err, "shares no notification update")
	_, err = decodeV3(nil, "\x01\x07")
	require.ErrorContains(t, err, "unknown tag")
	_, err = decodeV3(nil, "\xff\xff\x01")
	require.ErrorIs(t, err, errTruncated)
	// What was decoded before the entry stays.
	prev := []domain.InboxUpdate{{Kind: domain.UpdateReadAll}}
	got, err := decodeV3(prev, raw[:len(raw)-1])
	require.Error(t, err)
	require.Equal(t, prev, got)
}

// Arbitrary bytes under the batch field never panic the reader, and what
// decodes is well formed.
func FuzzDecodeV3(f *testing.F) {
	f.Add(batchEntriesFuzzSeed(broadcastRun(3, nil)))
	f.Add(batchEntriesFuzzSeed(append(broadcastRun(2, nil), codecUpdates()...)))
	f.Fuzz(func(t *testing.T, raw string) {
		us, err := decode(nil, redis.XMessage{ID: "1-0", Values: map[string]any{fieldV3: raw}})
		if err != nil {
			require.Empty(t, us)
			return
		}
		for _, u := range us {
			if u.Notification != nil {
				require.Equal(t, u.TenantID, u.Notification.TenantID)
				require.Equal(t, u.UserID, u.Notification.UserID)
				require.Equal(t, u.Seq, u.Notification.Seq)
			}
		}
	})
}

func batchEntriesFuzzSeed(us []domain.InboxUpdate) string {
	var enc batchEncoder
	for _, u := range us {
		if enc.add(u) != nil {
			continue
		}
	}
	return string(enc.entry())
}
