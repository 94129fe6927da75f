package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/a-h/templ"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/notification"
	"github.com/notifyhub/notifyhub/web/auth"
	"github.com/notifyhub/notifyhub/web/view"
)

// pageCSP allows only our own scripts, styles and connections (the socket
// included): user text can never run as code even if escaping failed.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// render writes a templ component as an HTML page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", pageCSP)
	w.WriteHeader(status)
	if err := c.Render(r.Context(), w); err != nil {
		// Headers are out: all that is left is to log it.
		s.log.ErrorContext(r.Context(), "render page", slog.String("path", r.URL.Path), slog.Any("error", err))
	}
}

// renderError shows a failed page as HTML, logging server faults.
func (s *server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	status, detail := classify(err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "page failed",
			slog.String("request_id", requestIDFrom(r.Context())), slog.String("path", r.URL.Path), slog.Any("error", err))
	}
	s.render(w, r, status, view.ErrorPage(view.ErrorProps{Status: status, Message: detail.Message}))
}

// centerPage renders the notification center with the first page of the
// user's inbox; center.js takes over from there.
func (s *server) centerPage(w http.ResponseWriter, r *http.Request) {
	c, err := mustClaims(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	status := notification.StatusAll
	if r.URL.Query().Get("status") == string(notification.StatusUnread) {
		status = notification.StatusUnread
	}
	page, err := s.deps.Notifications.List(r.Context(), c.TenantID, c.UserID(), notification.ListParams{Status: status})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	now := s.cfg.Now()
	props := view.CenterProps{
		Viewer:      view.Viewer{UserID: c.Subject, TenantID: string(c.TenantID), Name: c.Name, Email: c.Email},
		Status:      string(status),
		Items:       make([]view.Item, 0, len(page.Data)),
		UnreadCount: page.UnreadCount,
	}
	for _, n := range page.Data {
		props.Items = append(props.Items, view.NewItem(n, now))
	}
	if page.NextBefore != nil {
		props.NextBefore = *page.NextBefore
	}
	// The socket resumes after the newest notification of any status; the
	// unread view's first item may be older than a read one.
	if status == notification.StatusAll {
		if len(page.Data) > 0 {
			props.Since = page.Data[0].ID
		}
	} else {
		latest, err := s.deps.Notifications.List(r.Context(), c.TenantID, c.UserID(), notification.ListParams{Status: notification.StatusAll, Limit: 1})
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		if len(latest.Data) > 0 {
			props.Since = latest.Data[0].ID
		}
	}
	s.render(w, r, http.StatusOK, view.Center(props))
}

// loginPage signs in with ?token= when given, else shows the login page
// (with the demo users in demo mode). A sign-in link followed from another
// site only prefills the form: otherwise any site could sign a visitor into
// an account of the attacker's choosing (login CSRF).
func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if tok == "" {
		s.showLogin(w, r, view.LoginProps{}, http.StatusOK)
		return
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		s.showLogin(w, r, view.LoginProps{Token: tok}, http.StatusOK)
		return
	}
	s.signIn(w, r, tok)
}

// loginForm signs in with a pasted token (POST keeps it out of history).
func (s *server) loginForm(w http.ResponseWriter, r *http.Request) {
	if err := s.checkForm(r); err != nil {
		s.formError(w, r, err)
		return
	}
	s.signIn(w, r, r.PostForm.Get("token"))
}

func (s *server) signIn(w http.ResponseWriter, r *http.Request, token string) {
	claims, err := auth.Verify(s.cfg.Secret, token, s.cfg.Now())
	if err != nil {
		if !errors.Is(err, domain.ErrUnauthenticated) {
			s.renderError(w, r, err)
			return
		}
		s.showLogin(w, r, view.LoginProps{Error: "That token is not valid: it may have expired or been signed with another key."}, http.StatusUnauthorized)
		return
	}
	if err := s.users.sync(r.Context(), claims); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.setSession(w, token, claims.Expiry())
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// demoLogin signs in as one of the demo tenant's users, with a fresh token
// made from the claims stored for them. It exists only in demo mode.
func (s *server) demoLogin(w http.ResponseWriter, r *http.Request) {
	if s.cfg.DemoTenant == "" {
		s.writeError(w, r, newHTTPError(http.StatusNotFound, "not_found", "no such route"))
		return
	}
	if err := s.checkForm(r); err != nil {
		s.formError(w, r, err)
		return
	}
	id := r.PostForm.Get("user")
	if !domain.ValidExternalID(id) {
		s.showLogin(w, r, view.LoginProps{Error: "Choose one of the demo users."}, http.StatusBadRequest)
		return
	}
	u, err := s.deps.Users.GetUser(r.Context(), s.cfg.DemoTenant, domain.UserID(id))
	if errors.Is(err, domain.ErrNotFound) {
		s.showLogin(w, r, view.LoginProps{Error: "There is no such demo user."}, http.StatusNotFound)
		return
	}
	if err != nil {
		s.renderError(w, r, fmt.Errorf("demo login: %w", err))
		return
	}
	now := s.cfg.Now()
	token, err := auth.Issue(s.cfg.Secret, u, s.cfg.DemoTokenTTL, now)
	if err != nil {
		s.renderError(w, r, fmt.Errorf("demo login: %w", err))
		return
	}
	s.setSession(w, token, now.Add(s.cfg.DemoTokenTTL))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.csrf.Check(r); err != nil {
		s.formError(w, r, fmt.Errorf("%w: cross-origin sign-out: %w", domain.ErrForbidden, err))
		return
	}
	s.clearSession(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// checkForm guards the sign-in forms against cross-site posts (login CSRF)
// and parses them.
func (s *server) checkForm(r *http.Request) error {
	if err := s.csrf.Check(r); err != nil {
		return fmt.Errorf("%w: cross-origin form post: %w", domain.ErrForbidden, err)
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return domain.Invalid("body", "must be a form")
	}
	return nil
}

func (s *server) formError(w http.ResponseWriter, r *http.Request, err error) {
	status, detail := classify(err)
	if status >= 500 {
		s.renderError(w, r, err)
		return
	}
	s.showLogin(w, r, view.LoginProps{Error: detail.Message}, status)
}

func (s *server) showLogin(w http.ResponseWriter, r *http.Request, props view.LoginProps, status int) {
	if s.cfg.DemoTenant != "" {
		users, err := s.deps.Users.ListUsers(r.Context(), s.cfg.DemoTenant)
		if err != nil {
			s.renderError(w, r, fmt.Errorf("list demo users: %w", err))
			return
		}
		props.DemoTenant = string(s.cfg.DemoTenant)
		for _, u := range users {
			props.DemoUsers = append(props.DemoUsers, view.DemoUser{ID: string(u.ID), Name: u.Name, Email: u.Email, Perms: u.Perms})
		}
	}
	s.render(w, r, status, view.Login(props))
}
