package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/notifyhub/notifyhub/domain"
)

// errorBody is the JSON shape of every error (DESIGN.md §4.3).
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// httpError is an error the web layer raises itself with a given status
// (bad query parameters, unsupported media type, ...).
type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string { return e.code + ": " + e.message }

func newHTTPError(status int, code, message string) error {
	return &httpError{status: status, code: code, message: message}
}

// classify maps an error to its status and body. Only 5xx keep their cause
// private: the message of anything unexpected is generic.
func classify(err error) (int, errorDetail) {
	var (
		verr *domain.ValidationError
		rerr *domain.RuleError
		herr *httpError
		mbe  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &verr):
		return http.StatusBadRequest, errorDetail{Code: "invalid_input", Message: "the request is invalid", Fields: verr.Fields}
	case errors.As(err, &rerr):
		return http.StatusUnprocessableEntity, errorDetail{Code: rerr.Code, Message: rerr.Message}
	case errors.As(err, &herr):
		return herr.status, errorDetail{Code: herr.code, Message: herr.message}
	case errors.As(err, &mbe), errors.Is(err, domain.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, errorDetail{Code: "too_large", Message: "the request body is too large"}
	case errors.Is(err, domain.ErrUnauthenticated):
		return http.StatusUnauthorized, errorDetail{Code: "unauthenticated", Message: "a valid token is required"}
	case errors.Is(err, domain.ErrForbidden):
		return http.StatusForbidden, errorDetail{Code: "forbidden", Message: "you are not allowed to do this"}
	case errors.Is(err, domain.ErrNotFound):
		return http.StatusNotFound, errorDetail{Code: "not_found", Message: "not found"}
	case errors.Is(err, domain.ErrConflict):
		return http.StatusConflict, errorDetail{Code: "conflict", Message: "the change conflicts with existing data"}
	}
	return http.StatusInternalServerError, errorDetail{Code: "internal", Message: "internal error"}
}

// writeError answers err as JSON and logs it: server faults at error level
// with the cause, client errors at debug level.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, detail := classify(err)
	log := s.log.With(slog.String("request_id", requestIDFrom(r.Context())), slog.String("path", r.URL.Path))
	if status >= 500 {
		log.ErrorContext(r.Context(), "request failed", slog.Any("error", err))
	} else {
		log.DebugContext(r.Context(), "request rejected", slog.Int("status", status), slog.Any("error", err))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="notifyhub"`)
	}
	writeJSON(w, status, errorBody{Error: detail})
}

// writeJSON writes v with status. Encoding errors can only come from our
// own types and a broken connection; neither can be answered any more.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h["Content-Type"] = hvJSON
	h["Cache-Control"] = hvNoStore
	h["X-Content-Type-Options"] = hvNosniff
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// handlerFunc is an HTTP handler that returns its error for writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *server) handle(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}
