package extsync

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

func TestParsePageFollowsTheContract(t *testing.T) {
	t.Parallel()
	base := mustURL(t, "https://erp.example.com/api/v2")
	current := mustURL(t, "https://erp.example.com/api/v2/products?page=1")
	require.Equal(t, "https://erp.example.com/api/v2/products?page=1", firstURL(base, Products))

	for _, c := range []struct{ name, body, next string }{
		{"null ends", `{"data": [{"sku": "a"}], "next": null}`, ""},
		{"missing ends", `{"data": []}`, ""},
		{"empty string ends", `{"data": [], "next": ""}`, ""},
		{"page number", `{"data": [], "next": 2}`, "https://erp.example.com/api/v2/products?page=2"},
		{"cursor", `{"data": [], "next": "abc/+= 1"}`, "https://erp.example.com/api/v2/products?cursor=abc%2F%2B%3D+1"},
		{"relative URL", `{"data": [], "next": "/api/v2/products?after=9"}`, "https://erp.example.com/api/v2/products?after=9"},
		{"absolute URL", `{"data": [], "next": "https://erp.example.com:443/api/v2/products?after=9#x"}`, "https://erp.example.com:443/api/v2/products?after=9"},
		{"unknown members ignored", `{"data": [], "next": null, "total": 3}`, ""},
	} {
		pg, err := parsePage([]byte(c.body), base, current, Products, 10)
		require.NoError(t, err, c.name)
		require.Equal(t, c.next, pg.next, c.name)
	}
	pg, err := parsePage([]byte(`{"data": [{"sku": "a"}, {"sku": "b"}]}`), base, current, Products, 10)
	require.NoError(t, err)
	require.Len(t, pg.rows, 2)

	for _, c := range []struct{ name, body, want string }{
		{"malformed", `{"data": [`, "body is empty or truncated"},
		{"syntax", `{"data": [}`, "malformed JSON at byte"},
		{"not an object", `[1, 2]`, "not an object"},
		{"html", `<html>oops</html>`, "malformed JSON"},
		{"empty", ``, "empty or truncated"},
		{"no data", `{"items": []}`, `"data" (an array of records) is missing`},
		{"data not array", `{"data": {"a": 1}}`, `"data" is a JSON object`},
		{"trailing", `{"data": []} {"data": []}`, "trailing data"},
		{"too many rows", `{"data": [1,2,3]}`, "3 records in one page; at most 2"},
		{"next zero", `{"data": [], "next": 0}`, `"next" must be null, a page number`},
		{"next float", `{"data": [], "next": 1.5}`, `"next" must be null, a page number`},
		{"next bool", `{"data": [], "next": true}`, `"next" must be null, a page number`},
		{"next other origin", `{"data": [], "next": "https://evil.example.net/x"}`, "leaves the configured endpoint"},
		{"next other scheme", `{"data": [], "next": "http://erp.example.com/x"}`, "leaves the configured endpoint"},
		{"next too long", `{"data": [], "next": "` + strings.Repeat("a", 2001) + `"}`, "longer than 2000"},
	} {
		_, err := parsePage([]byte(c.body), base, current, Products, 2)
		require.ErrorIs(t, err, errMalformed, c.name)
		require.Contains(t, err.Error(), c.want, c.name)
	}
}
