package redisstream

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/notifyhub/notifyhub/domain"
)

// maxNameLen bounds topic, group and consumer names. Any other character is
// accepted (colons, spaces, unicode, braces); dbqueue applies the same rule
// and streamtest checks both.
const maxNameLen = 200

func checkName(field, v string) error {
	switch {
	case v == "":
		return domain.Invalid(field, "must not be empty")
	case len(v) > maxNameLen:
		return domain.Invalid(field, "must be at most 200 bytes")
	case !utf8.ValidString(v):
		return domain.Invalid(field, "must be valid UTF-8")
	case strings.ContainsRune(v, 0):
		return domain.Invalid(field, "must not contain NUL")
	}
	return nil
}

// checkNames validates name/value pairs and returns the first problem.
func checkNames(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := checkName(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func checkMax(limit int) error {
	if limit <= 0 {
		return domain.Invalid("max", "must be positive")
	}
	return nil
}

// invalidID turns a malformed entry id into a validation error that keeps
// the parse detail.
func invalidID(err error) error {
	return fmt.Errorf("%w (%v)", domain.Invalid("id", "must be a stream id <ms>-<seq>"), err)
}
