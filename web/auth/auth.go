package auth

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/notifyhub/notifyhub/domain"
)

// MinSecretLen is the shortest HS256 key accepted: 256 bits, the size of the
// HMAC-SHA256 output, below which the key is the weakest link.
const MinSecretLen = 32

// MaxTokenLen bounds a token before any parsing, so a hostile client cannot
// make us decode megabytes of base64 on every request.
const MaxTokenLen = 8 << 10

// Bounds on the claims we store with the user.
const (
	maxNameLen  = 256
	maxEmailLen = 320
	maxPerms    = 64
)

var permPattern = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,63}$`)

// ErrWeakSecret is returned for a signing key shorter than MinSecretLen.
var ErrWeakSecret = fmt.Errorf("auth: secret must be at least %d bytes", MinSecretLen)

// Claims is the claim set of a notifyhub token.
type Claims struct {
	TenantID domain.TenantID `json:"tid"`
	Perms    []string        `json:"perms"`
	Name     string          `json:"name"`
	Email    string          `json:"email"`
	jwt.RegisteredClaims
}

// UserID is the token's subject.
func (c Claims) UserID() domain.UserID { return domain.UserID(c.Subject) }

// User is the user the claims describe, as the store keeps it.
func (c Claims) User() domain.User {
	return domain.User{
		TenantID: c.TenantID,
		ID:       c.UserID(),
		Name:     c.Name,
		Email:    c.Email,
		Perms:    slices.Clone(c.Perms),
	}
}

// Actor is the caller as the domain services see it.
func (c Claims) Actor() domain.Actor {
	return domain.Actor{TenantID: c.TenantID, UserID: c.UserID(), Perms: slices.Clone(c.Perms)}
}

// Expiry is the token's exp (always set on verified claims).
func (c Claims) Expiry() time.Time {
	if c.ExpiresAt == nil {
		return time.Time{}
	}
	return c.ExpiresAt.UTC()
}

// Validate checks the application claims (jwt.ClaimsValidator): the parser
// calls it after the registered claims passed.
func (c Claims) Validate() error {
	if !domain.ValidExternalID(c.Subject) {
		return errors.New("sub must be 1-128 characters of [A-Za-z0-9._@:-]")
	}
	if !domain.ValidExternalID(string(c.TenantID)) {
		return errors.New("tid must be 1-128 characters of [A-Za-z0-9._@:-]")
	}
	if len(c.Name) > maxNameLen {
		return fmt.Errorf("name longer than %d bytes", maxNameLen)
	}
	if len(c.Email) > maxEmailLen {
		return fmt.Errorf("email longer than %d bytes", maxEmailLen)
	}
	if len(c.Perms) > maxPerms {
		return fmt.Errorf("more than %d perms", maxPerms)
	}
	for _, p := range c.Perms {
		if !permPattern.MatchString(p) {
			return fmt.Errorf("perm %q is malformed", p)
		}
	}
	return nil
}

// CheckSecret reports whether secret is usable as an HS256 key.
func CheckSecret(secret []byte) error {
	if len(secret) < MinSecretLen {
		return ErrWeakSecret
	}
	return nil
}

// Issue signs a token for u that expires ttl after now.
func Issue(secret []byte, u domain.User, ttl time.Duration, now time.Time) (string, error) {
	if err := CheckSecret(secret); err != nil {
		return "", err
	}
	if ttl <= 0 {
		return "", fmt.Errorf("auth: ttl must be positive, got %s", ttl)
	}
	c := Claims{
		TenantID: u.TenantID,
		Perms:    slices.Clone(u.Perms),
		Name:     u.Name,
		Email:    u.Email,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   string(u.ID),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	if c.Perms == nil {
		c.Perms = []string{}
	}
	if err := c.Validate(); err != nil {
		return "", fmt.Errorf("auth: issue token: %w", err)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return s, nil
}

// Verify checks token's HS256 signature, its required exp against now and
// its claims. Every rejection wraps domain.ErrUnauthenticated; a weak secret
// is a configuration error and is returned as ErrWeakSecret.
func Verify(secret []byte, token string, now time.Time) (Claims, error) {
	if err := CheckSecret(secret); err != nil {
		return Claims{}, err
	}
	if token == "" {
		return Claims{}, fmt.Errorf("%w: no token", domain.ErrUnauthenticated)
	}
	if len(token) > MaxTokenLen {
		return Claims{}, fmt.Errorf("%w: token longer than %d bytes", domain.ErrUnauthenticated, MaxTokenLen)
	}
	parser := jwt.NewParser(
		// Pinning the algorithm defeats "alg: none" and RS256/HS256 key
		// confusion: the header never chooses how we verify.
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	var c Claims
	_, err := parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodHS256 {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return secret, nil
	})
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", domain.ErrUnauthenticated, err)
	}
	return c, nil
}
