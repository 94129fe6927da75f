package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// Prefix is the URL path under which Handler serves the assets.
const Prefix = "/static/"

//go:embed *.css *.js
var files embed.FS

// asset is one embedded file, hashed once at start.
type asset struct {
	name        string // "center.js"
	fingerprint string // "center.1a2b3c4d5e6f.js"
	body        []byte
	etag        string
	contentType string
}

var (
	byName        = map[string]*asset{}
	byFingerprint = map[string]*asset{}
)

func init() {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		panic(fmt.Sprintf("static: read embedded files: %v", err))
	}
	for _, e := range entries {
		body, err := files.ReadFile(e.Name())
		if err != nil {
			panic(fmt.Sprintf("static: read %s: %v", e.Name(), err))
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:6])
		ext := path.Ext(e.Name())
		a := &asset{
			name:        e.Name(),
			fingerprint: strings.TrimSuffix(e.Name(), ext) + "." + hash + ext,
			body:        body,
			etag:        `"` + hash + `"`,
			contentType: mime.TypeByExtension(ext),
		}
		if a.contentType == "" {
			a.contentType = "application/octet-stream"
		}
		byName[a.name] = a
		byFingerprint[a.fingerprint] = a
	}
}

// URL returns the fingerprinted URL of the named asset, e.g.
// "/static/center.1a2b3c4d5e6f.js". An unknown name yields its plain URL,
// which Handler answers with 404.
func URL(name string) string {
	if a, ok := byName[name]; ok {
		return Prefix + a.fingerprint
	}
	return Prefix + name
}

// Names lists the embedded asset names.
func Names() []string {
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	return names
}

// Handler serves the assets at Prefix: fingerprinted names with an
// immutable year-long cache, plain names revalidated on every use (for
// hand-written links and debugging).
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, Prefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		a, immutable := byFingerprint[name]
		if immutable {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else if a, ok = byName[name]; ok {
			h.Set("Cache-Control", "no-cache")
		} else {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if match := r.Header.Get("If-None-Match"); match != "" && match == a.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(a.body)
	})
}
