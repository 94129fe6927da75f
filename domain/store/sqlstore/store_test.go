package sqlstore

import (
	"database/sql"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// dollar is a Dialect with PostgreSQL-style markers, to test rebinding
// without a database.
type dollar struct{}

func (dollar) Name() string             { return "dollar" }
func (dollar) Placeholder(n int) string { return "$" + strconv.Itoa(n) }
func (dollar) LockRows(bool) string     { return "" }
func (dollar) ShareRows() string        { return "" }
func (dollar) Classify(error) ErrorKind { return KindOther }

func TestRebind(t *testing.T) {
	t.Parallel()
	s, err := New(Config{DB: &sql.DB{}, Dialect: dollar{}})
	require.NoError(t, err)
	for in, want := range map[string]string{
		`SELECT 1`:                              `SELECT 1`,
		`a = ? AND b = ?`:                       `a = $1 AND b = $2`,
		`x = '?' AND y = ?`:                     `x = '?' AND y = $1`,
		`x = 'it''s ?' AND y IN (?, ?)`:         `x = 'it''s ?' AND y IN ($1, $2)`,
		`VALUES (?, '', '[]', ?) RETURNING seq`: `VALUES ($1, '', '[]', $2) RETURNING seq`,
		`? ? ? ? ? ? ? ? ? ?` + ` ?`:            `$1 $2 $3 $4 $5 $6 $7 $8 $9 $10 $11`,
	} {
		require.Equal(t, want, s.rebind(in), in)
		require.Equal(t, want, s.rebind(in), "cached: "+in) // the second call is served from the cache
	}
}

func TestRebindCacheIsBounded(t *testing.T) {
	t.Parallel()
	s, err := New(Config{DB: &sql.DB{}, Dialect: dollar{}})
	require.NoError(t, err)
	// Queries built for many batch sizes: the cache stops at its bound,
	// and every query is still rebound right.
	for n := 1; n <= rebindCacheMax+100; n++ {
		q := "x IN (" + strings.Repeat("?, ", n) + "?)"
		got := s.rebind(q)
		require.True(t, strings.HasSuffix(got, "$"+strconv.Itoa(n+1)+")"), got[max(0, len(got)-20):])
	}
	require.Equal(t, int64(rebindCacheMax), s.rebound.n.Load())
	// A long statement (a bulk import's rows) is rebound but not kept.
	s2, err := New(Config{DB: &sql.DB{}, Dialect: dollar{}})
	require.NoError(t, err)
	long := strings.Repeat("?,", rebindCacheMaxBytes/2) + "?"
	require.True(t, strings.HasSuffix(s2.rebind(long), "$"+strconv.Itoa(rebindCacheMaxBytes/2+1)))
	require.Zero(t, s2.rebound.n.Load())
}

func TestNewRequiresDBAndDialect(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Dialect: dollar{}})
	require.Error(t, err)
	_, err = New(Config{DB: &sql.DB{}})
	require.Error(t, err)
}

func TestValuesList(t *testing.T) {
	t.Parallel()
	require.Equal(t, "(?, ?)", valuesList(1, 2))
	require.Equal(t, "(?, ?, ?), (?, ?, ?)", valuesList(2, 3))
	require.Equal(t, "?, ?, ?", inList(3))
}

func TestClamp(t *testing.T) {
	t.Parallel()
	require.Equal(t, 50, clamp(0, 50, 200))
	require.Equal(t, 50, clamp(-3, 50, 200))
	require.Equal(t, 1, clamp(1, 50, 200))
	require.Equal(t, 200, clamp(201, 50, 200))
}

func TestLookupID(t *testing.T) {
	t.Parallel()
	id, ok := lookupID("01890A5D-AC96-774B-BCCE-B302099A8057")
	require.True(t, ok)
	require.Equal(t, "01890a5d-ac96-774b-bcce-b302099a8057", id, "canonical lower case")
	for _, bad := range []string{"", "x", "{01890a5d-ac96-774b-bcce-b302099a8057}", "urn:uuid:01890a5d-ac96-774b-bcce-b302099a8057", "01890a5dac96774bbccEb302099a8057"} {
		_, ok := lookupID(bad)
		require.False(t, ok, bad)
	}
}
