package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/notifyhub/notifyhub/domain"
)

// Page sizes of the list endpoints (DESIGN.md §4.4: default 50, at most 200).
const (
	defaultLimit = 50
	maxLimit     = 200
)

// decodeJSON reads exactly one JSON object into dst, strictly: unknown
// fields, wrong types, trailing data, an empty or oversized body are all
// rejected with a 4xx error naming the problem.
func decodeJSON(r *http.Request, dst any) error {
	// The usual header is checked without parsing it (ParseMediaType
	// allocates a map).
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return newHTTPError(http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json")
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	// A second value, or garbage after the object, is malformed input.
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return domain.Invalid("body", "must contain a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		mbe    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return domain.Invalid("body", "must be a JSON object, got an empty body")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Invalid("body", "is truncated JSON")
	case errors.As(err, &syntax):
		return domain.Invalid("body", fmt.Sprintf("is malformed JSON at offset %d", syntax.Offset))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return domain.Invalid("body", "must be a JSON object")
		}
		return domain.Invalid(typ.Field, "must be a JSON "+jsonKind(typ.Type.Kind()))
	}
	// encoding/json has no typed error for unknown fields (golang/go#29035):
	// its message is the only way to tell, and to name the field.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		return domain.Invalid(name, "is not a known field")
	}
	// Anything else comes from a field's own UnmarshalJSON (a decimal that
	// does not parse, ...): still bad input, never a 500.
	return domain.Invalid("body", "has an invalid value: "+err.Error())
}

// jsonKind names the JSON type a Go kind is decoded from.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return "value of another type"
}

// parseLimit reads the limit query parameter: "" is 0 (the default), a
// non-negative decimal integer is taken as is (values past the maximum are
// clamped later), anything else is a 400.
func parseLimit(q string) (int, error) {
	if q == "" {
		return 0, nil
	}
	for _, c := range q {
		if c < '0' || c > '9' {
			return 0, domain.Invalid("limit", "must be a non-negative integer")
		}
	}
	n, err := strconv.Atoi(q)
	if err != nil {
		// Only digits: the value overflowed int. Treat it as "as many as
		// allowed", like any other value over the maximum.
		return maxLimit, nil
	}
	return n, nil
}

// pageLimit applies the default and the maximum page size.
func pageLimit(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// page is the paging of a list request: ?limit= (clamped to the allowed
// range) and ?after=, the id to continue after.
type page struct {
	Limit int
	After string
}

// parsePage reads limit and after from q, adding a field error to v for
// each that is malformed.
func parsePage(q url.Values, v *domain.ValidationError) page {
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		v.Add("limit", "must be a non-negative integer")
	}
	after, err := optionalID("after", q.Get("after"))
	if err != nil {
		v.Add("after", "must be an id from this list")
	}
	return page{Limit: pageLimit(limit), After: after}
}

// optionalID validates an optional UUID query parameter.
func optionalID(field, v string) (string, error) {
	if v == "" {
		return "", nil
	}
	return domain.ParseID(field, v)
}
