package stream

import (
	"strings"
	"unicode/utf8"

	"github.com/notifyhub/notifyhub/domain"
)

// MaxNameLen bounds topic, group and consumer names. Any other character is
// accepted (colons, spaces, unicode, braces); streamtest checks that every
// backend applies the same rule.
const MaxNameLen = 200

// CheckName validates one topic, group or consumer name.
func CheckName(field, v string) error {
	switch {
	case v == "":
		return domain.Invalid(field, "must not be empty")
	case len(v) > MaxNameLen:
		return domain.Invalid(field, "must be at most 200 bytes")
	case !utf8.ValidString(v):
		return domain.Invalid(field, "must be valid UTF-8")
	case strings.ContainsRune(v, 0):
		return domain.Invalid(field, "must not contain NUL")
	}
	return nil
}

// CheckNames validates field/value pairs and returns the first problem.
func CheckNames(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := CheckName(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// CheckMax validates the max argument of Read and Reclaim.
func CheckMax(limit int) error {
	if limit <= 0 {
		return domain.Invalid("max", "must be positive")
	}
	return nil
}
