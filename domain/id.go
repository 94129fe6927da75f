package domain

import (
	"fmt"
	"regexp"

	"github.com/google/uuid"
)

// TenantID identifies a tenant. It always comes from a verified token,
// never from a request body or header.
type TenantID string

// UserID identifies a user inside a tenant (the token's `sub`).
type UserID string

// idPattern bounds external ids (tenant, user): printable, no spaces, short.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._@:-]{1,128}$`)

// ValidExternalID reports whether s may be used as a tenant or user id.
func ValidExternalID(s string) bool { return idPattern.MatchString(s) }

// NewID returns a new time-ordered UUID v7 as a string.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// uuid.NewV7 only fails when the system random source fails,
		// which leaves nothing sensible to do.
		panic(fmt.Sprintf("domain: uuid v7: %v", err))
	}
	return id.String()
}

// ParseID validates a UUID given by a client and returns its canonical form.
// A malformed id is a ValidationError on the given field.
func ParseID(field, s string) (string, error) {
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", Invalid(field, "must be a UUID")
	}
	return id.String(), nil
}
