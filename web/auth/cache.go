package auth

import (
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Verifier is Verify with a bounded cache of the tokens it accepted,
// keyed by the exact token string: an API client sends the same token with
// every request, and parsing and checking it again (base64, JSON, HMAC,
// the claim checks) was a tenth of a personal notification's CPU.
//
// A cached answer is only given while the verifier would give it: the
// secret is fixed, the signature and the claims' own checks do not depend
// on time, and exp and nbf are checked against now on every hit exactly as
// the parser checks them (no leeway). A token it no longer accepts is
// verified again, which says why, and leaves the cache. Rejections are
// never cached.
type Verifier struct {
	secret []byte
	max    int

	mu      sync.Mutex
	entries map[string]*cachedToken
}

type cachedToken struct {
	claims Claims
	exp    time.Time  // required: a verified token has one
	nbf    *time.Time // nil when the token has none
}

// NewVerifier returns a Verifier for secret keeping at most max tokens
// (max < 1: none, every call verifies).
func NewVerifier(secret []byte, max int) *Verifier {
	return &Verifier{secret: secret, max: max, entries: make(map[string]*cachedToken)}
}

// Verify is Verify(secret, token, now), from the cache when it can be.
func (v *Verifier) Verify(token string, now time.Time) (Claims, error) {
	if c, ok := v.lookup(token, now); ok {
		return c, nil
	}
	c, err := Verify(v.secret, token, now)
	if err == nil {
		v.store(token, c)
	}
	return c, err
}

// lookup returns a copy of the cached claims of token when they are valid
// at now; an entry no longer valid is dropped.
func (v *Verifier) lookup(token string, now time.Time) (Claims, bool) {
	if v.max < 1 {
		return Claims{}, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.entries[token]
	if !ok {
		return Claims{}, false
	}
	// As jwt's validator: expired unless now is before exp, not yet valid
	// while now is before nbf.
	if !now.Before(e.exp) || (e.nbf != nil && now.Before(*e.nbf)) {
		delete(v.entries, token)
		return Claims{}, false
	}
	return e.claims.clone(), true
}

func (v *Verifier) store(token string, c Claims) {
	if v.max < 1 || c.ExpiresAt == nil {
		return
	}
	e := &cachedToken{claims: c.clone(), exp: c.ExpiresAt.Time}
	if c.NotBefore != nil {
		nbf := c.NotBefore.Time
		e.nbf = &nbf
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	// Full: drop an arbitrary entry (map order is unspecified, so it is
	// close to random), which keeps the cache bounded at constant cost.
	for k := range v.entries {
		if len(v.entries) < v.max {
			break
		}
		delete(v.entries, k)
	}
	v.entries[token] = e
}

// Len is how many tokens the cache holds.
func (v *Verifier) Len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.entries)
}

// clone copies c's slices, so a caller changing its claims cannot change
// the cached ones.
func (c Claims) clone() Claims {
	c.Perms = slices.Clone(c.Perms)
	c.Audience = slices.Clone(c.Audience)
	c.ExpiresAt = cloneDate(c.ExpiresAt)
	c.NotBefore = cloneDate(c.NotBefore)
	c.IssuedAt = cloneDate(c.IssuedAt)
	return c
}

// cloneDate copies d as it is (jwt.NewNumericDate would round it).
func cloneDate(d *jwt.NumericDate) *jwt.NumericDate {
	if d == nil {
		return nil
	}
	return &jwt.NumericDate{Time: d.Time}
}
