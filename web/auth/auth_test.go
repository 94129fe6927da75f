package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/web/auth"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	alice  = domain.User{TenantID: "acme", ID: "alice", Name: "Alice", Email: "alice@acme.test", Perms: []string{domain.PermProductsManage}}
)

func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	require.NoError(t, err)
	return s
}

func claims(exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{"sub": "alice", "tid": "acme", "perms": []string{"admin"}, "exp": exp.Unix()}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	tok, err := auth.Issue(secret, alice, time.Hour, now)
	require.NoError(t, err)

	c, err := auth.Verify(secret, tok, now.Add(59*time.Minute))
	require.NoError(t, err)
	require.Equal(t, alice, c.User())
	require.Equal(t, now.Add(time.Hour), c.Expiry())
	require.Equal(t, domain.Actor{TenantID: "acme", UserID: "alice", Perms: alice.Perms}, c.Actor())
}

func TestIssueRejects(t *testing.T) {
	t.Parallel()
	_, err := auth.Issue([]byte("short"), alice, time.Hour, now)
	require.ErrorIs(t, err, auth.ErrWeakSecret)

	_, err = auth.Issue(secret, alice, 0, now)
	require.Error(t, err)

	bad := alice
	bad.ID = "has space"
	_, err = auth.Issue(secret, bad, time.Hour, now)
	require.Error(t, err)

	bad = alice
	bad.TenantID = ""
	_, err = auth.Issue(secret, bad, time.Hour, now)
	require.Error(t, err)
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	valid := claims(now.Add(time.Hour))
	noneTok := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid)

	cases := map[string]string{
		"empty":           "",
		"garbage":         "not.a.token",
		"wrong secret":    sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), valid),
		"expired":         sign(t, jwt.SigningMethodHS256, secret, claims(now.Add(-time.Second))),
		"no exp":          sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "tid": "acme"}),
		"alg none":        noneTok,
		"HS512":           sign(t, jwt.SigningMethodHS512, secret, valid),
		"RS256":           sign(t, jwt.SigningMethodRS256, rsaKey, valid),
		"no sub":          sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"tid": "acme", "exp": now.Add(time.Hour).Unix()}),
		"no tid":          sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "exp": now.Add(time.Hour).Unix()}),
		"bad tid":         sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "tid": "a b", "exp": now.Add(time.Hour).Unix()}),
		"sql in sub":      sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "x'; DROP TABLE users;--", "tid": "acme", "exp": now.Add(time.Hour).Unix()}),
		"perms not array": sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "tid": "acme", "perms": "admin", "exp": now.Add(time.Hour).Unix()}),
		"bad perm":        sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "tid": "acme", "perms": []string{"<script>"}, "exp": now.Add(time.Hour).Unix()}),
		"too long":        strings.Repeat("a", auth.MaxTokenLen+1),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := auth.Verify(secret, tok, now)
			require.ErrorIs(t, err, domain.ErrUnauthenticated)
		})
	}

	// alg none must also fail when the header is tampered to look like HS256
	// with an empty signature.
	parts := strings.Split(sign(t, jwt.SigningMethodHS256, secret, valid), ".")
	_, err = auth.Verify(secret, parts[0]+"."+parts[1]+".", now)
	require.ErrorIs(t, err, domain.ErrUnauthenticated)
}

func TestVerifyWeakSecret(t *testing.T) {
	t.Parallel()
	tok, err := auth.Issue(secret, alice, time.Hour, now)
	require.NoError(t, err)
	_, err = auth.Verify(secret[:31], tok, now)
	require.ErrorIs(t, err, auth.ErrWeakSecret)
}
