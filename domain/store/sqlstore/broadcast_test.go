package sqlstore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnpackRecipients(t *testing.T) {
	t.Parallel()
	got, err := unpackRecipients("1:a3,2;8:1:a;2,3;-1,0;4:🚀10,9;")
	require.NoError(t, err)
	require.Equal(t, []BroadcastRecipient{
		{UserID: "a", Seq: 3, Unread: 2},
		{UserID: "1:a;2,3;", Seq: -1, Unread: 0},
		{UserID: "🚀", Seq: 10, Unread: 9},
	}, got)
	got, err = unpackRecipients("")
	require.NoError(t, err)
	require.Empty(t, got)

	for _, bad := range []string{
		"a",                     // no length
		":a1,1;",                // empty length
		"0:1,1;",                // zero length
		"5:a1,1;",               // length past the end
		"-1:a1,1;",              // negative length
		"1:a1;",                 // no unread
		"1:a,1;",                // empty seq
		"1:ax,1;",               // seq not a number
		"1:a1,x;",               // unread not a number
		"1:a1,-1;",              // negative unread
		"1:a1,99999999999;",     // unread past int32
		"1:a1,1",                // unterminated
		"1:a1,1;1:b",            // a second one cut short
		"99999999999999999999:", // length overflows
	} {
		_, err := unpackRecipients(bad)
		require.Error(t, err, "%q", bad)
	}
}

// packRecipients packs as the PostgreSQL query does.
func packRecipients(rs []BroadcastRecipient) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%d:%s%d,%d;", len(r.UserID), r.UserID, r.Seq, r.Unread)
	}
	return b.String()
}

// FuzzUnpackRecipients: any input is refused or read into recipients that
// pack and unpack back to themselves; nothing panics.
func FuzzUnpackRecipients(f *testing.F) {
	f.Add("1:a3,2;8:1:a;2,3;-1,0;")
	f.Add("5:a1,1;")
	f.Add("01:a+1,1;")
	f.Fuzz(func(t *testing.T, p string) {
		rs, err := unpackRecipients(p)
		if err != nil {
			return
		}
		again, err := unpackRecipients(packRecipients(rs))
		require.NoError(t, err)
		if len(rs) == 0 {
			require.Empty(t, again)
			return
		}
		require.Equal(t, rs, again)
	})
}
