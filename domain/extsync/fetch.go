package extsync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// Request is one page to fetch.
type Request struct {
	URL        string
	AuthHeader string        // sent as Authorization when not ""
	Timeout    time.Duration // for the whole request, body included
	MaxBytes   int64         // a larger body is an error
}

// Fetcher gets one page from a tenant's endpoint (workers/httpsource). It
// enforces the host policy on every address it connects to and on
// redirects, the timeout and the size limit. Its errors are *FetchError.
type Fetcher interface {
	Fetch(ctx context.Context, r Request) ([]byte, error)
}

// FetchError is a failed fetch.
type FetchError struct {
	URL    string
	Status int // HTTP status, 0 when there was no response
	// Permanent: trying again cannot help (a 4xx answer, an oversized
	// body, a refused redirect). Otherwise the job retries with backoff.
	Permanent bool
	// Refused: the host policy refused the address; nothing was sent, so
	// the endpoint's breaker does not count it.
	Refused bool
	Err     error
}

func (e *FetchError) Error() string { return fmt.Sprintf("GET %s: %v", e.URL, e.Err) }

func (e *FetchError) Unwrap() []error {
	if e.Permanent || e.Refused {
		return []error{e.Err, domain.ErrPermanent}
	}
	return []error{e.Err}
}

// page is one decoded response of the endpoint.
type page struct {
	rows []json.RawMessage
	next string // absolute URL of the next page, "" after the last
}

// The JSON contract of a page (README: "External data syncs"):
//
//	{"data": [ {...}, ... ], "next": null | 2 | "<url>" | "<cursor>"}
//
// next null or missing: this is the last page. A number n: the page
// {base}/{type}?page=n. A string starting with http://, https:// or /: the
// URL of the next page (relative to the page's URL), on the same origin
// as base_url. Any other string: an opaque cursor, fetched as
// {base}/{type}?cursor=<cursor>.
type pageBody struct {
	Data *[]json.RawMessage `json:"data"`
	Next json.RawMessage    `json:"next"`
}

// errMalformed marks a page that does not follow the contract.
var errMalformed = errors.New("response does not follow the sync page contract")

// parsePage decodes body, fetched from current, for a run of typ against
// base.
func parsePage(body []byte, base, current *url.URL, typ Type, maxRows int) (page, error) {
	var pb pageBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&pb); err != nil {
		return page{}, fmt.Errorf(`%w: expected a JSON object {"data": [...], "next": ...}: %s`, errMalformed, jsonProblem(err))
	}
	if dec.More() {
		return page{}, fmt.Errorf("%w: trailing data after the JSON object", errMalformed)
	}
	if pb.Data == nil {
		return page{}, fmt.Errorf(`%w: "data" (an array of records) is missing`, errMalformed)
	}
	if len(*pb.Data) > maxRows {
		return page{}, fmt.Errorf("%w: %d records in one page; at most %d", errMalformed, len(*pb.Data), maxRows)
	}
	next, err := nextURL(pb.Next, base, current, typ)
	if err != nil {
		return page{}, err
	}
	return page{rows: *pb.Data, next: next}, nil
}

func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "the body is a JSON " + typ.Value + ", not an object"
		}
		return fmt.Sprintf("%q is a JSON %s", typ.Field, typ.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is empty or truncated"
	}
	return err.Error()
}

// nextURL resolves the "next" member of a page.
func nextURL(raw json.RawMessage, base, current *url.URL, typ Type) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf(`%w: "next" is not a valid string`, errMalformed)
		}
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			return "", nil
		case len(s) > 2000:
			return "", fmt.Errorf(`%w: "next" is longer than 2000 characters`, errMalformed)
		case strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"), strings.HasPrefix(s, "/"):
			u, err := current.Parse(s)
			if err != nil {
				return "", fmt.Errorf(`%w: "next" is not a valid URL`, errMalformed)
			}
			if !sameOrigin(u, base) {
				return "", fmt.Errorf(`%w: "next" (%s) leaves the configured endpoint %s://%s`, errMalformed, u.Redacted(), base.Scheme, base.Host)
			}
			u.Fragment = ""
			return u.String(), nil
		}
		return typeURL(base, typ, "cursor", s), nil
	default:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil || n < 1 {
			return "", fmt.Errorf(`%w: "next" must be null, a page number of 1 or more, a URL or a cursor string`, errMalformed)
		}
		return typeURL(base, typ, "page", strconv.FormatInt(n, 10)), nil
	}
}

// typeURL is {base}/{type}?{param}={value}.
func typeURL(base *url.URL, typ Type, param, value string) string {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + string(typ)
	u.RawPath = ""
	u.RawQuery = url.Values{param: {value}}.Encode()
	u.Fragment = ""
	return u.String()
}

// firstURL is the first page of a run.
func firstURL(base *url.URL, typ Type) string { return typeURL(base, typ, "page", "1") }

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(hostPort(a), hostPort(b))
}

// hostPort is the URL's host with its scheme's default port made explicit.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}
