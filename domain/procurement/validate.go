package procurement

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain"
)

// Limits on input; longer or larger input is a validation error, never a
// truncation.
const (
	maxNameLen    = 200
	maxEmailLen   = 254
	maxLines      = 100
	maxQuantity   = 1_000_000_000
	maxBatchLen   = 64 // what inventory accepts for a batch number
	maxMoneyDigit = 16 // integer digits that NUMERIC(20,4) holds
	defaultPage   = 50
	maxPage       = 200
	dateLayout    = "2006-01-02"
)

// maxMoney is the first amount NUMERIC(20,4) cannot hold.
var maxMoney = decimal.New(1, maxMoneyDigit)

func checkText(v *domain.ValidationError, field, s string, max int, required bool) {
	switch {
	case s == "" && required:
		v.Add(field, "is required")
	case utf8.RuneCountInString(s) > max:
		v.Add(field, fmt.Sprintf("must be at most %d characters", max))
	case !utf8.ValidString(s) || strings.ContainsFunc(s, isControl):
		v.Add(field, "must not contain control characters")
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// checkEmail accepts a bare address (no display name, no angle brackets).
func checkEmail(v *domain.ValidationError, field, email string) {
	if email == "" {
		return
	}
	if len(email) > maxEmailLen {
		v.Add(field, fmt.Sprintf("must be at most %d characters", maxEmailLen))
		return
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email || strings.ContainsFunc(email, isControl) {
		v.Add(field, "must be an email address like buyer@example.com")
	}
}

func checkQuantity(v *domain.ValidationError, field string, q int64) {
	if q <= 0 || q > maxQuantity {
		v.Add(field, fmt.Sprintf("must be between 1 and %d", maxQuantity))
	}
}

func checkCost(v *domain.ValidationError, field string, c decimal.Decimal) {
	switch {
	case c.IsNegative():
		v.Add(field, "must not be negative")
	case !c.Equal(c.Round(4)):
		v.Add(field, "must have at most 4 decimal places")
	case c.GreaterThanOrEqual(maxMoney):
		v.Add(field, "is too large")
	}
}

// parseID canonicalises an id field of the input, recording a problem.
func parseID(v *domain.ValidationError, field, s string) string {
	id, err := domain.ParseID(field, s)
	if err != nil {
		v.Add(field, "must be a UUID")
	}
	return id
}

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return defaultPage
	case n > maxPage:
		return maxPage
	}
	return n
}

// optionalCursor validates a paging cursor ("" for the start).
func optionalCursor(field, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	return domain.ParseID(field, s)
}

func lineField(i int, name string) string { return fmt.Sprintf("lines[%d].%s", i, name) }
