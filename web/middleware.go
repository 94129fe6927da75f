package web

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/notifyhub/notifyhub/web/auth"
)

type ctxKey int

const (
	requestKey ctxKey = iota
	claimsKey
)

// requestState is what the middleware learns about one request, in one
// context value (each context value costs a copy of the request): its id,
// and the caller that authentication, deeper in the chain, tells the
// access log about.
type requestState struct {
	id string

	mu     sync.Mutex
	tenant string
	user   string
	claims *auth.Claims // set by requireAPI/requirePage for the handlers behind them
}

func (st *requestState) setCaller(c *auth.Claims) {
	st.mu.Lock()
	st.tenant, st.user, st.claims = string(c.TenantID), c.Subject, c
	st.mu.Unlock()
}

func (st *requestState) caller() (tenant, user string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.tenant, st.user
}

func (st *requestState) authenticated() (*auth.Claims, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.claims, st.claims != nil
}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(requestKey).(*requestState)
	return st
}

// withState returns r with a request state, the one it has or a new one
// with id.
func withState(r *http.Request, id string) (*http.Request, *requestState) {
	if st := stateFrom(r.Context()); st != nil {
		return r, st
	}
	st := &requestState{id: id}
	return r.WithContext(context.WithValue(r.Context(), requestKey, st)), st
}

// noteCaller records the authenticated caller for the access log.
func noteCaller(ctx context.Context, c *auth.Claims) {
	if st := stateFrom(ctx); st != nil {
		st.setCaller(c)
	}
}

const requestIDHeader = "X-Request-Id"

// requestID takes a well-formed X-Request-Id from the client (so a request
// can be followed through a proxy) or makes one, and echoes it back.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !validRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
			id = hex.EncodeToString(b[:])
		}
		w.Header()[requestIDHeader] = []string{id}
		r, _ = withState(r, id)
		next.ServeHTTP(w, r)
	})
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func requestIDFrom(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}

// statusWriter records the status and size of a response. Unwrap lets
// http.ResponseController and the WebSocket upgrade reach the hijacker.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack records the switch of protocols: the WebSocket upgrade writes its
// 101 on the hijacked connection itself, together with its first frames,
// so WriteHeader never sees it.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}

// httpMetrics counts requests by method, route pattern and status: all
// bounded label sets (never the raw path, a user or a tenant).
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifyhub_http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "notifyhub_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request (WebSocket sessions excluded), by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or reuses the collector already registered under
// its name (a second router on the same registry, as tests build).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("web: register metrics: %w", err)
	}
	return c, nil
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// accessLog logs one line per request and feeds the metrics. It logs the
// path only: the query string may carry a token (/ws?token=, /login?token=).
func (s *server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		r, st := withState(r, "")
		next.ServeHTTP(sw, r)
		elapsed := time.Since(start)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		method := methodLabel(r.Method)
		s.metrics.requests.WithLabelValues(method, route, strconv.Itoa(sw.status)).Inc()
		if sw.status != http.StatusSwitchingProtocols {
			s.metrics.duration.WithLabelValues(method, route).Observe(elapsed.Seconds())
		}
		if !s.log.Enabled(r.Context(), slog.LevelInfo) {
			return // nothing to build the line for
		}
		attrs := []slog.Attr{
			slog.String("request_id", st.id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("route", route),
			slog.Int("status", sw.status),
			slog.Int64("bytes", sw.bytes),
			slog.Duration("duration", elapsed),
			slog.String("remote", r.RemoteAddr),
		}
		if tenant, user := st.caller(); tenant != "" {
			attrs = append(attrs, slog.String("tenant", tenant), slog.String("user", user))
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http request", attrs...)
	})
}

// recoverer turns a panic into a logged 500 JSON answer instead of a
// dropped connection. http.ErrAbortHandler keeps its meaning.
func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as documented
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic serving request",
				slog.String("request_id", requestIDFrom(r.Context())),
				slog.String("path", r.URL.Path),
				slog.Any("panic", v),
				slog.String("stack", string(debug.Stack())))
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				return // headers are out; nothing more can be said
			}
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: errorDetail{Code: "internal", Message: "internal error"}})
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody caps every request body. A declared length over the cap is
// refused at once; an undeclared one fails when reading passes the cap.
// The import upload alone may be as large as an import file (plus the
// form around it): its handler streams it to disk.
func (s *server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := s.cfg.MaxBodyBytes
		if r.Method == http.MethodPost && r.URL.Path == importsPath {
			limit = max(limit, s.deps.Imports.MaxFileBytes()+maxFormOverhead)
		}
		if r.ContentLength > limit {
			s.writeError(w, r, &http.MaxBytesError{Limit: limit})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = hvNosniff
		h["Referrer-Policy"] = hvSameOrigin
		h["X-Frame-Options"] = hvDeny
		next.ServeHTTP(w, r)
	})
}

// Header values every response carries, shared by all responses: net/http
// only reads them, a change replaces the slice (Set) or appends past its
// capacity (Add), and Header.Set would allocate one slice per header per
// response. Keys are in canonical form.
var (
	hvNosniff    = []string{"nosniff"}
	hvSameOrigin = []string{"same-origin"}
	hvDeny       = []string{"DENY"}
	hvJSON       = []string{"application/json; charset=utf-8"}
	hvNoStore    = []string{"no-store"}
)
