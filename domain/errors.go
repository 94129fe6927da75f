package domain

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors for expected states; check them with errors.Is.
var (
	// ErrNotFound: the resource does not exist for this tenant (or user).
	// Another tenant's resource is reported the same way, never as 403.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change collides with existing state (duplicate sku).
	ErrConflict = errors.New("conflict")
	// ErrForbidden: the caller lacks the permission for a command.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthenticated: no valid credentials.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrTooLarge: the input exceeds a size limit.
	ErrTooLarge = errors.New("too large")
	// ErrPermanent marks a failure that retrying cannot fix (an event
	// whose payload does not decode): workers record it as failed at once.
	ErrPermanent = errors.New("permanent failure")
)

// Permanent reports whether retrying err cannot help: ErrPermanent, or a
// ValidationError or RuleError, which the same input always repeats.
func Permanent(err error) bool {
	var v *ValidationError
	var r *RuleError
	return errors.Is(err, ErrPermanent) || errors.As(err, &v) || errors.As(err, &r)
}

// ValidationError reports malformed input, field by field (HTTP 400).
type ValidationError struct {
	Fields map[string]string
}

// Invalid builds a ValidationError for one field.
func Invalid(field, reason string) *ValidationError {
	return &ValidationError{Fields: map[string]string{field: reason}}
}

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Add records another field problem and returns e for chaining.
func (e *ValidationError) Add(field, reason string) *ValidationError {
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	e.Fields[field] = reason
	return e
}

// Err returns e as an error, or nil when no field was recorded, so a
// validator can collect problems and return them in one go.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// RuleError reports a business rule the command would break (HTTP 422):
// stock going negative, approving an order that is not pending, ...
type RuleError struct {
	Code    string // machine-readable, e.g. "insufficient_stock"
	Message string // human-readable
}

// Rule builds a RuleError.
func Rule(code, format string, args ...any) *RuleError {
	return &RuleError{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *RuleError) Error() string { return e.Code + ": " + e.Message }
