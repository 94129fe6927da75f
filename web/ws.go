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
func (s *server) serveSocket(w http.ResponseWriter, r *http.Request) error {
	claims, _, err := s.authenticate(r, true)
	if err != nil {
		return err
	}
	r = withoutToken(r.WithContext(context.WithValue(r.Context(), claimsKey, claims)))
	err = s.deps.Hub.Serve(w, r, hub.Identity{
		TenantID:  claims.TenantID,
		UserID:    claims.UserID(),
		ExpiresAt: claims.Expiry(),
	})
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
