package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/notifyhub/notifyhub/hub"
)

// serveSocket authenticates the WebSocket request (Bearer, cookie or
// ?token=) and hands it to the hub. The hub checks the Origin against its
// allow-list, which is what protects the cookie here; its pre-upgrade errors
// come back to be answered as JSON.
//
// A user to record (first connect, changed claims) is left to the hub when
// it can record it in the catch-up read: one database round trip per
// connect instead of two in turn. Should the hub refuse the socket before
// that, it is recorded here, as every authenticated request records it.
func (s *server) serveSocket(w http.ResponseWriter, r *http.Request) error {
	claims, _, err := s.verifyRequest(r, true)
	if err != nil {
		return err
	}
	id := hub.Identity{
		TenantID:  claims.TenantID,
		UserID:    claims.UserID(),
		ExpiresAt: claims.Expiry(),
	}
	tried := false
	if pw := s.users.pending(claims); pw != nil {
		if sr, ok := s.deps.Hub.(socketRecorder); ok && sr.RecordsUsers() {
			id.Record = &hub.Registration{User: pw.user, Done: func(err error) {
				tried = true
				s.users.written(pw, err)
			}}
		} else if err := s.users.sync(r.Context(), claims); err != nil {
			return err
		}
	}
	noteCaller(r.Context(), &claims)
	r = withoutToken(r.WithContext(context.WithValue(r.Context(), claimsKey, claims)))
	err = s.deps.Hub.Serve(w, r, id)
	if id.Record != nil && !tried {
		// Refused or ended before the record's outcome (Done runs before
		// Serve returns, if at all): record it here.
		if serr := s.users.sync(context.WithoutCancel(r.Context()), claims); serr != nil {
			if err != nil && !errors.Is(err, hub.ErrHandshake) {
				return serr // answered as before: the failed record first
			}
			s.log.WarnContext(r.Context(), "websocket: record user", slog.Any("error", serr))
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, hub.ErrHandshake):
		// The handshake already answered the client; only note it.
		s.log.DebugContext(r.Context(), "websocket handshake failed",
			slog.String("request_id", requestIDFrom(r.Context())), slog.Any("error", err))
		return nil
	case errors.Is(err, hub.ErrClosed):
		return newHTTPError(http.StatusServiceUnavailable, "unavailable", "the server is shutting down")
	}
	return fmt.Errorf("websocket: %w", err)
}

// withoutToken drops ?token= from the request handed on, so that nothing
// downstream can log or echo the credential.
func withoutToken(r *http.Request) *http.Request {
	q := r.URL.Query()
	if !q.Has("token") {
		return r
	}
	q.Del("token")
	u := *r.URL
	u.RawQuery = q.Encode()
	r.URL = &u
	r.RequestURI = u.RequestURI()
	return r
}
