package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/bulkimport"
	"github.com/notifyhub/notifyhub/web/auth"
)

// importsPath is the upload route: its body may be as large as an import
// file (limitBody lifts the global cap for it alone).
const importsPath = "/api/v1/imports"

// Bounds of the multipart form besides the file.
const (
	maxFormField     = 64 << 10 // type, mapping
	maxFormOverhead  = 1 << 20  // part headers, boundaries, fields
	listImportErrors = 20       // errors shown per import in a list
)

// startImport accepts a CSV upload (202): multipart/form-data with the
// parts file, type and mapping, in any order. The file is streamed to the
// data directory, never held in memory; the import is checked against its
// header before it is queued.
func (s *server) startImport(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	actor := c.Actor()
	if err := actor.Require(domain.PermImportsRun); err != nil {
		return err // before reading a body the caller may not send
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return newHTTPError(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"the body must be multipart/form-data with the parts file, type and mapping")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return domain.Invalid("body", "is not a valid multipart form")
	}
	var (
		in     bulkimport.StartInput
		upload *bulkimport.Upload
	)
	started := false
	defer func() {
		if !started && upload != nil {
			_ = upload.Remove()
		}
	}()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return formError(err)
		}
		name := part.FormName()
		switch name {
		case "file":
			if upload != nil {
				return domain.Invalid("file", "give one file")
			}
			if in.Type != "" && !bulkimport.Type(in.Type).Valid() {
				// Refuse before receiving what may be a gigabyte.
				return domain.Invalid("type", "must be products, customers, vendors or inventory")
			}
			upload, err = s.deps.Imports.Receive(r.Context(), actor, part.FileName(), part)
			if err != nil {
				return formError(err)
			}
		case "type", "mapping":
			v, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
			if err != nil {
				return formError(err)
			}
			if len(v) > maxFormField {
				return domain.Invalid(name, fmt.Sprintf("must be at most %d bytes", maxFormField))
			}
			if name == "type" {
				in.Type = string(v)
			} else {
				in.Mapping = v
			}
		default:
			return domain.Invalid(clipField(name), "is not a known part (file, type, mapping)")
		}
		_ = part.Close()
	}
	in.Upload = upload
	started = true // Start owns the upload now, also on error
	im, err := s.deps.Imports.Start(r.Context(), actor, in)
	if err == nil {
		w.Header().Set("Location", importsPath+"/"+im.ID)
	}
	return reply(w, http.StatusAccepted, im.View(-1), err)
}

// formError maps an error met while reading the form: a body over the
// route's cap or a file over the import limit is 413; the disk failing
// (a *fs.PathError from writing the file) or the request's context
// ending stays as it is; anything else is the form's fault (malformed,
// truncated, the client gone mid-upload): 400.
func formError(err error) error {
	var (
		mbe  *http.MaxBytesError
		verr *domain.ValidationError
		perr *fs.PathError
	)
	switch {
	case errors.As(err, &mbe), errors.Is(err, domain.ErrTooLarge),
		errors.As(err, &verr), errors.As(err, &perr),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, multipart.ErrMessageTooLarge):
		return domain.ErrTooLarge
	}
	return domain.Invalid("body", "is not a complete multipart form: "+clipField(err.Error()))
}

// clipField shortens client text echoed in an error (valid UTF-8 kept).
func clipField(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if r := []rune(s); len(r) > 100 {
		return string(r[:100]) + "…"
	}
	return s
}

func (s *server) getImport(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	im, err := s.deps.Imports.Get(r.Context(), c.TenantID, id)
	return reply(w, http.StatusOK, im.View(-1), err)
}

// listImports lists the tenant's imports, newest first; each shows its
// first 20 errors (GET the import for all that are kept).
func (s *server) listImports(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	limit = pageLimit(limit)
	items, err := s.deps.Imports.List(r.Context(), c.TenantID, bulkimport.ListParams{
		Before: q.Get("before"), Limit: limit,
		Type: bulkimport.Type(q.Get("type")), Status: bulkimport.Status(q.Get("status")),
	})
	views := make([]bulkimport.View, len(items))
	for i, im := range items {
		views[i] = im.View(listImportErrors)
	}
	return reply(w, http.StatusOK, newList(views, limit, func(v bulkimport.View) string { return v.ID }), err)
}
