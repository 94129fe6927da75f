package dbqueue

import (
	"fmt"
	"strconv"

	"github.com/notifyhub/notifyhub/domain"
)

// parseID reads an entry id: a positive decimal.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w (got %q)", domain.Invalid("id", "must be a positive decimal entry id"), s)
	}
	return id, nil
}
