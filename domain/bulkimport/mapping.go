package bulkimport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/notifyhub/notifyhub/domain"
)

// field is one of our fields an import type reads.
type field struct {
	name     string
	required bool // the mapping must name it and every row must fill it
}

var fields = map[Type][]field{
	Products:  {{"sku", true}, {"name", true}, {"price", true}, {"reorder_level", false}},
	Customers: {{"email", true}, {"name", true}, {"payment_terms_days", false}},
	Vendors:   {{"name", true}, {"email", false}},
	Inventory: {{"sku", true}, {"quantity", true}, {"location", false}, {"unit_cost", false},
		{"batch_number", false}, {"expiry_date", false}, {"reason", false}},
}

// Fields lists the fields of an import type, required ones first.
func Fields(t Type) (required, optional []string) {
	for _, f := range fields[t] {
		if f.required {
			required = append(required, f.name)
		} else {
			optional = append(optional, f.name)
		}
	}
	return required, optional
}

// Limits of a mapping.
const (
	maxMappingBytes = 16 << 10
	maxColumnName   = 200
)

// ParseMapping decodes a mapping given as a JSON object of strings, our
// field → CSV header. Empty input or null means "no mapping": each field
// is then read from the column of the same name.
func ParseMapping(raw []byte) (map[string]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if len(raw) > maxMappingBytes {
		return nil, domain.Invalid("mapping", fmt.Sprintf("must be at most %d bytes", maxMappingBytes))
	}
	var m map[string]string
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil || dec.More() || m == nil {
		return nil, domain.Invalid("mapping", `must be a JSON object of our field names to CSV header names, e.g. {"sku": "SKU", "name": "Product Name"}`)
	}
	return m, nil
}

// columns maps each mapped field to its column index in a record.
type columns map[string]int

// resolve checks mapping against the import type and the file's header
// and returns the effective mapping (the default filled in) and where
// each mapped field's column is.
func resolve(t Type, mapping map[string]string, header []string) (map[string]string, columns, error) {
	v := &domain.ValidationError{}
	specs := fields[t]
	known := func(name string) bool {
		return slices.ContainsFunc(specs, func(f field) bool { return f.name == name })
	}
	if mapping == nil {
		// Default: every field whose name is a column of the header.
		mapping = map[string]string{}
		for _, f := range specs {
			if _, ok := findColumn(header, f.name); ok {
				mapping[f.name] = f.name
			}
		}
	}
	names := make([]string, 0, len(mapping))
	for name := range mapping {
		names = append(names, name)
	}
	slices.Sort(names)
	cols := columns{}
	for _, name := range names {
		col := strings.TrimSpace(mapping[name])
		key := "mapping." + clipField(name)
		switch {
		case !known(name):
			req, opt := Fields(t)
			v.Add(key, fmt.Sprintf("is not a field of a %s import (fields: %s)", t, strings.Join(append(req, opt...), ", ")))
		case col == "":
			v.Add(key, "must name a column of the CSV header")
		case utf8.RuneCountInString(col) > maxColumnName:
			v.Add(key, fmt.Sprintf("must be at most %d characters", maxColumnName))
		default:
			i, found := findColumn(header, col)
			switch {
			case !found:
				v.Add(key, fmt.Sprintf("column %q is not in the file's header (%s)", col, describeHeader(header)))
			case i < 0:
				v.Add(key, fmt.Sprintf("column %q appears more than once in the file's header", col))
			default:
				cols[name] = i
			}
		}
	}
	var missing []string
	for _, f := range specs {
		if _, ok := mapping[f.name]; f.required && !ok {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		v.Add("mapping", fmt.Sprintf("must map %s (required for a %s import; header: %s)",
			strings.Join(missing, ", "), t, describeHeader(header)))
	}
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	out := make(map[string]string, len(mapping))
	for k, c := range mapping {
		out[k] = strings.TrimSpace(c)
	}
	return out, cols, nil
}

// findColumn finds name in header: an exact match (spaces around a header
// cell ignored), else one that differs only in case. found is false when
// there is none; index is -1 when there are several.
func findColumn(header []string, name string) (index int, found bool) {
	index = -1
	for _, pass := range []func(a, b string) bool{
		func(a, b string) bool { return a == b },
		strings.EqualFold,
	} {
		for i, h := range header {
			if pass(strings.TrimSpace(h), name) {
				if found {
					return -1, true
				}
				index, found = i, true
			}
		}
		if found {
			return index, found
		}
	}
	return -1, false
}

// describeHeader lists the header's columns for an error message, briefly.
func describeHeader(header []string) string {
	const most = 20
	parts := make([]string, 0, min(len(header), most))
	for i, h := range header {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(header)-most))
			break
		}
		parts = append(parts, fmt.Sprintf("%q", clip(strings.TrimSpace(h), 40)))
	}
	return "its columns are " + strings.Join(parts, ", ")
}

func clipField(s string) string { return clip(s, 64) }

// clip shortens s to at most n characters (runes), marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
