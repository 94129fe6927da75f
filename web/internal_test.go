package web

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/web/auth"
)

// memUsers is a minimal UserStore for the cache's own unit test; the
// router tests run against the real stores.
type memUsers struct {
	mu      sync.Mutex
	upserts []domain.UserID
}

func (m *memUsers) UpsertUser(_ context.Context, u domain.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.upserts = append(m.upserts, u.ID)
	return nil
}
func (m *memUsers) GetUser(context.Context, domain.TenantID, domain.UserID) (domain.User, error) {
	return domain.User{}, domain.ErrNotFound
}
func (m *memUsers) ListUsers(context.Context, domain.TenantID) ([]domain.User, error) {
	return nil, nil
}

func claimsFor(user, name string, perms ...string) auth.Claims {
	c := auth.Claims{TenantID: "acme", Name: name, Perms: perms}
	c.Subject = user
	return c
}

func TestUserSyncIsBoundedLRU(t *testing.T) {
	t.Parallel()
	store := &memUsers{}
	u := newUserSync(store, 2)
	ctx := context.Background()

	require.NoError(t, u.sync(ctx, claimsFor("a", "A")))
	require.NoError(t, u.sync(ctx, claimsFor("b", "B")))
	require.NoError(t, u.sync(ctx, claimsFor("a", "A"))) // hit; a is now most recent
	require.NoError(t, u.sync(ctx, claimsFor("c", "C"))) // evicts b
	require.Equal(t, 2, u.order.Len())
	require.Len(t, u.byKey, 2)
	require.NoError(t, u.sync(ctx, claimsFor("a", "A")))  // still cached
	require.NoError(t, u.sync(ctx, claimsFor("b", "B")))  // evicted: written again
	require.NoError(t, u.sync(ctx, claimsFor("b", "B2"))) // changed: written
	require.Equal(t, []domain.UserID{"a", "b", "c", "b", "b"}, store.upserts)
}

func TestFingerprintIgnoresPermOrderNotContent(t *testing.T) {
	t.Parallel()
	base := domain.User{Name: "n", Email: "e", Perms: []string{"a", "b"}}
	same := domain.User{Name: "n", Email: "e", Perms: []string{"b", "a", "a"}}
	require.Equal(t, fingerprint(base), fingerprint(same))
	for _, other := range []domain.User{
		{Name: "n", Email: "e", Perms: []string{"a"}},
		{Name: "ne", Email: "", Perms: []string{"a", "b"}}, // shifted boundary
		{Name: "n", Email: "e2", Perms: []string{"a", "b"}},
	} {
		require.NotEqual(t, fingerprint(base), fingerprint(other), other)
	}
}

func TestParseLimit(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"": 0, "0": 0, "7": 7, "200": 200, "201": 201, "99999999999999999999999": maxLimit} {
		got, err := parseLimit(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"-1", "abc", "1.5", "1e3", "+3", " 3", "0x10"} {
		_, err := parseLimit(in)
		var verr *domain.ValidationError
		require.ErrorAs(t, err, &verr, in)
	}
	require.Equal(t, defaultLimit, pageLimit(0))
	require.Equal(t, maxLimit, pageLimit(1_000_000))
	require.Equal(t, 3, pageLimit(3))
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]int{
		domain.Invalid("x", "bad"):              400,
		domain.Rule("insufficient_stock", "no"): 422,
		domain.ErrNotFound:                      404,
		domain.ErrConflict:                      409,
		domain.ErrForbidden:                     403,
		domain.ErrUnauthenticated:               401,
		domain.ErrTooLarge:                      413,
		context.DeadlineExceeded:                500,
	} {
		got, detail := classify(err)
		require.Equal(t, want, got, err.Error())
		require.NotEmpty(t, detail.Code)
	}
	_, d := classify(domain.Rule("insufficient_stock", "only 3 left"))
	require.Equal(t, "insufficient_stock", d.Code)
	require.Equal(t, "only 3 left", d.Message)
}

// Claims equal to the recorded ones, field by field or as a set of
// perms, write nothing; any change of a stored field writes the user
// again; a caller changing its claims afterwards changes nothing cached.
func TestUserSyncKnowsSameClaims(t *testing.T) {
	t.Parallel()
	store := &memUsers{}
	u := newUserSync(store, 10)
	ctx := context.Background()

	c := claimsFor("a", "A", "x", "y")
	require.NoError(t, u.sync(ctx, c))
	c.Perms[0] = "admin" // the caller's slice, not the cache's
	require.NoError(t, u.sync(ctx, claimsFor("a", "A", "x", "y")))
	require.NoError(t, u.sync(ctx, claimsFor("a", "A", "y", "x", "x"))) // same set
	require.Equal(t, []domain.UserID{"a"}, store.upserts)

	require.NoError(t, u.sync(ctx, claimsFor("a", "A", "x")))      // a perm less
	require.NoError(t, u.sync(ctx, claimsFor("a", "A2", "x")))     // renamed
	require.NoError(t, u.sync(ctx, claimsFor("a", "A2", "x")))     // known
	require.NoError(t, u.sync(ctx, claimsFor("a", "A2", "admin"))) // changed perm
	require.Equal(t, []domain.UserID{"a", "a", "a", "a"}, store.upserts)

	// No perms at all, nil or empty, is one state.
	require.NoError(t, u.sync(ctx, claimsFor("b", "B")))
	c = claimsFor("b", "B")
	c.Perms = []string{}
	require.NoError(t, u.sync(ctx, c))
	require.Equal(t, []domain.UserID{"a", "a", "a", "a", "b"}, store.upserts)
}
