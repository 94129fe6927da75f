package sqlstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
)

func TestPGArrayQuotesOnlyQuoteAndBackslash(t *testing.T) {
	var a pgArray
	require.Equal(t, "{}", a.String())
	for _, s := range []string{``, `NULL`, `{a,b}`, `"`, `\`, `a"b\c`, `é✓😀`, "tab\tnl\n", ` x `} {
		a.text(s)
	}
	a.int(-7)
	a.timeOrNull(nil)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.FixedZone("x", 3600))
	a.time(at)
	require.Equal(t, `{"","NULL","{a,b}","\"","\\","a\"b\\c","é✓😀","tab`+"\t"+`nl`+"\n"+`"," x ",-7,NULL,"2026-01-02T02:04:05.000006Z"}`, a.String())
}

// A run of alike rows shares one set; a row that differs in anything the
// rows share (tenant included) starts a new one, and a run resumed after
// it is a new set again (only the row before is compared).
func TestPGNotificationsNumbersSets(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	base := domain.Notification{TenantID: "t1", Type: "A", Severity: "info", Title: "x", Body: "b", Data: []byte(`{"a":1}`), CreatedAt: now}
	read := now.Add(time.Second)
	mk := func(user string, change func(*domain.Notification)) *domain.Notification {
		n := base
		n.UserID = domain.UserID(user)
		if change != nil {
			change(&n)
		}
		return &n
	}
	rows := []*domain.Notification{
		mk("u1", nil),
		mk("u2", nil),
		mk("u3", func(n *domain.Notification) { n.Data = []byte(`{"a":1}`) }), // equal bytes, other memory
		mk("u1", func(n *domain.Notification) { n.TenantID = "t2" }),
		mk("u4", nil),
		mk("u5", func(n *domain.Notification) { n.ReadAt = &read }),
		mk("u6", func(n *domain.Notification) { n.CreatedAt = now.Add(time.Microsecond) }),
		mk("u7", func(n *domain.Notification) { n.Data = nil }),
		mk("u8", func(n *domain.Notification) { n.Data = []byte{} }),
	}
	var e pgNotifications
	for _, n := range rows {
		require.NoError(t, e.add(n))
	}
	require.Equal(t, "{1,1,1,2,3,4,5,6,6}", e.ks.String())
	require.EqualValues(t, 6, e.nsets)
	require.Equal(t, `{"t1","t2","t1","t1","t1","t1"}`, e.sets[0].String())
	require.Equal(t, `{"{\"a\":1}","{\"a\":1}","{\"a\":1}","{\"a\":1}","{\"a\":1}","{}"}`, e.sets[6].String())
	require.Equal(t, `{NULL,NULL,NULL,"2026-01-02T03:04:06.000000Z",NULL,NULL}`, e.sets[7].String())
	for _, n := range rows {
		require.True(t, isCanonicalUUID(n.ID), "a new id for %s", n.UserID)
	}

	var bad pgNotifications
	err := bad.add(mk("u1", func(n *domain.Notification) { n.Data = []byte(`{`) }))
	var ve *domain.ValidationError
	require.ErrorAs(t, err, &ve)
}

func TestIsCanonicalUUID(t *testing.T) {
	require.True(t, isCanonicalUUID("0190f5c4-7d3a-7b8e-9f00-0123456789ab"))
	for _, id := range []string{"0190F5C4-7D3A-7B8E-9F00-0123456789AB", "0190f5c47d3a-7b8e-9f00-0123456789ab-",
		"0190f5c4-7d3a-7b8e-9f00-0123456789a", "g190f5c4-7d3a-7b8e-9f00-0123456789ab", ""} {
		require.False(t, isCanonicalUUID(id), id)
	}
	got, ok := lookupID("0190F5C4-7D3A-7B8E-9F00-0123456789AB")
	require.True(t, ok)
	require.Equal(t, "0190f5c4-7d3a-7b8e-9f00-0123456789ab", got)
}
