package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/web/auth"
)

// The cache answers exactly as Verify does, token by token and instant by
// instant, around exp and nbf, whatever order the instants come in.
func TestVerifierAgreesWithVerify(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	exp := now.Add(time.Hour)
	nbf := now.Add(-time.Minute)
	withNbf := claims(exp)
	withNbf["nbf"] = nbf.Unix()
	fractional := claims(exp)
	fractional["exp"] = float64(exp.Unix()) + 0.5
	issued, err := auth.Issue(secret, alice, time.Hour, now)
	require.NoError(t, err)
	tokens := map[string]string{
		"issued":       issued,
		"nbf":          sign(t, jwt.SigningMethodHS256, secret, withNbf),
		"fractional":   sign(t, jwt.SigningMethodHS256, secret, fractional),
		"wrong secret": sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), claims(exp)),
		"RS256":        sign(t, jwt.SigningMethodRS256, rsaKey, claims(exp)),
		"no exp":       sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "tid": "acme"}),
		"bad perm":     sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "tid": "acme", "perms": []string{"<x>"}, "exp": exp.Unix()}),
		"garbage":      "not.a.token",
	}
	// Out of order on purpose: after, before and at the edges.
	instants := []time.Time{
		now, nbf.Add(-time.Nanosecond), nbf, exp.Add(-time.Nanosecond), exp.Add(499 * time.Millisecond),
		exp.Add(500 * time.Millisecond), exp, now, exp.Add(time.Second), now.Add(-time.Hour), now,
	}
	for name, tok := range tokens {
		v := auth.NewVerifier(secret, 16)
		for i, at := range instants {
			want, wantErr := auth.Verify(secret, tok, at)
			got, gotErr := v.Verify(tok, at)
			if wantErr != nil {
				require.ErrorIs(t, gotErr, domain.ErrUnauthenticated, "%s at instant %d", name, i)
				require.Equal(t, wantErr.Error(), gotErr.Error(), "%s at instant %d: the verifier's own reason", name, i)
				continue
			}
			require.NoError(t, gotErr, "%s at instant %d", name, i)
			require.Equal(t, want, got, "%s at instant %d", name, i)
		}
	}
}

func TestVerifierCachesOnlyWhatItAccepted(t *testing.T) {
	t.Parallel()
	v := auth.NewVerifier(secret, 16)
	tok, err := auth.Issue(secret, alice, time.Hour, now)
	require.NoError(t, err)

	_, err = v.Verify(tok+"x", now)
	require.ErrorIs(t, err, domain.ErrUnauthenticated)
	_, err = v.Verify(strings.Repeat("a", auth.MaxTokenLen+1), now)
	require.ErrorIs(t, err, domain.ErrUnauthenticated)
	require.Zero(t, v.Len(), "rejections are not cached")

	c, err := v.Verify(tok, now)
	require.NoError(t, err)
	require.Equal(t, 1, v.Len())
	// A caller changing its copy does not change the cached claims.
	c.Perms[0] = "admin"
	c.ExpiresAt.Time = now.Add(100 * time.Hour)
	again, err := v.Verify(tok, now)
	require.NoError(t, err)
	require.Equal(t, alice.Perms, again.Perms)
	require.Equal(t, now.Add(time.Hour), again.Expiry())

	// Expired: refused as Verify refuses it, and dropped.
	_, err = v.Verify(tok, now.Add(time.Hour))
	require.ErrorIs(t, err, jwt.ErrTokenExpired)
	require.Zero(t, v.Len())

	// Another secret's verifier does not accept it, cached elsewhere or not.
	other := auth.NewVerifier([]byte("another-secret-another-secret-xx"), 16)
	_, err = other.Verify(tok, now)
	require.ErrorIs(t, err, domain.ErrUnauthenticated)
}

func TestVerifierIsBounded(t *testing.T) {
	t.Parallel()
	v := auth.NewVerifier(secret, 8)
	for i := range 50 {
		u := alice
		u.ID = domain.UserID(fmt.Sprintf("user-%d", i))
		tok, err := auth.Issue(secret, u, time.Hour, now)
		require.NoError(t, err)
		c, err := v.Verify(tok, now)
		require.NoError(t, err)
		require.Equal(t, u.ID, c.UserID())
		require.LessOrEqual(t, v.Len(), 8)
	}
	require.Equal(t, 8, v.Len())

	off := auth.NewVerifier(secret, 0)
	tok, err := auth.Issue(secret, alice, time.Hour, now)
	require.NoError(t, err)
	_, err = off.Verify(tok, now)
	require.NoError(t, err)
	require.Zero(t, off.Len(), "a zero size caches nothing")
}
