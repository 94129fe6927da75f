package dbqueue

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/notifyhub/notifyhub/domain"
)

// maxNameLen bounds topic, group and consumer names. Any other character is
// accepted (colons, spaces, unicode, braces); redisstream applies the same rule
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

// parseID reads an entry id: a positive decimal.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w (got %q)", domain.Invalid("id", "must be a positive decimal entry id"), s)
	}
	return id, nil
}
