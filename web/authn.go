package web

import (
	"container/list"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/hub/gather"
	"github.com/notifyhub/notifyhub/web/auth"
)

// SessionCookie is the cookie the web login sets; it holds the JWT.
const SessionCookie = "notifyhub_session"

// credSource says where a request's token came from: only cookies need the
// cross-origin check, since only they are sent by the browser on its own.
type credSource int

const (
	fromBearer credSource = iota + 1
	fromCookie
	fromQuery
)

// tokenCacheSize bounds the cache of verified tokens (a few hundred bytes
// each): the API clients sending requests at the moment.
const tokenCacheSize = 4096

// authenticate finds and verifies the request's token: the Authorization
// header first, then the session cookie, then (only where allowQuery) the
// token query parameter. It then applies the CSRF check to cookie-borne
// unsafe requests and records the user from the claims.
func (s *server) authenticate(r *http.Request, allowQuery bool) (auth.Claims, credSource, error) {
	claims, src, err := s.verifyRequest(r, allowQuery)
	if err != nil {
		return auth.Claims{}, src, err
	}
	if err := s.users.sync(r.Context(), claims); err != nil {
		return auth.Claims{}, src, err
	}
	noteCaller(r.Context(), &claims)
	return claims, src, nil
}

// verifyRequest is authenticate without recording the user (the WebSocket
// upgrade leaves that to the hub when it can).
//
// The WebSocket upgrade (allowQuery) verifies its token without the cache
// of verified tokens: it does so once per connection, where caching would
// only hold memory per connection.
func (s *server) verifyRequest(r *http.Request, allowQuery bool) (auth.Claims, credSource, error) {
	var (
		token string
		src   credSource
	)
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return auth.Claims{}, 0, fmt.Errorf("%w: Authorization must be \"Bearer <token>\"", domain.ErrUnauthenticated)
		}
		token, src = strings.TrimSpace(tok), fromBearer
	} else if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		token, src = c.Value, fromCookie
	} else if allowQuery && r.URL.Query().Get("token") != "" {
		token, src = r.URL.Query().Get("token"), fromQuery
	} else {
		return auth.Claims{}, 0, fmt.Errorf("%w: no credentials", domain.ErrUnauthenticated)
	}
	var (
		claims auth.Claims
		err    error
	)
	if allowQuery {
		claims, err = auth.Verify(s.cfg.Secret, token, s.cfg.Now())
	} else {
		claims, err = s.tokens.Verify(token, s.cfg.Now())
	}
	if err != nil {
		return auth.Claims{}, src, err
	}
	if src == fromCookie {
		if err := s.csrf.Check(r); err != nil {
			return auth.Claims{}, src, fmt.Errorf("%w: cross-origin request with a session cookie: %w", domain.ErrForbidden, err)
		}
	}
	return claims, src, nil
}

// requireAPI authenticates API requests; failures answer JSON (401/403).
func (s *server) requireAPI(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _, err := s.authenticate(r, false)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, withClaims(r, &claims))
	})
}

// requirePage authenticates page requests; without a valid session the
// browser is sent to the login page (and a stale cookie is dropped).
func (s *server) requirePage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, src, err := s.authenticate(r, false)
		if err != nil {
			status, _ := classify(err)
			if status != http.StatusUnauthorized {
				s.renderError(w, r, err)
				return
			}
			if src == fromCookie {
				s.clearSession(w)
			}
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, withClaims(r, &claims))
	})
}

// withClaims gives the handlers behind authentication its claims, and the
// access log its caller: in the request's state when it has one (no copy
// of the request), else in a context value.
func withClaims(r *http.Request, c *auth.Claims) *http.Request {
	if st := stateFrom(r.Context()); st != nil {
		st.setCaller(c)
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), claimsKey, *c))
}

func claimsFrom(ctx context.Context) (auth.Claims, bool) {
	// A context value first: the WebSocket handler sets its own.
	if c, ok := ctx.Value(claimsKey).(auth.Claims); ok {
		return c, true
	}
	if st := stateFrom(ctx); st != nil {
		if c, ok := st.authenticated(); ok {
			return *c, true
		}
	}
	return auth.Claims{}, false
}

// mustClaims is for handlers mounted behind requireAPI/requirePage.
func mustClaims(r *http.Request) (auth.Claims, error) {
	c, ok := claimsFrom(r.Context())
	if !ok {
		return auth.Claims{}, fmt.Errorf("%w: route not behind authentication", domain.ErrUnauthenticated)
	}
	return c, nil
}

func (s *server) setSession(w http.ResponseWriter, token string, expires time.Time) {
	// The cookie lives exactly as long as the token it carries.
	maxAge := max(int(expires.Sub(s.cfg.Now())/time.Second), 1)
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    token,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.cfg.SecureCookie,
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *server) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.cfg.SecureCookie,
		SameSite: http.SameSiteLaxMode,
	})
}

// userSync records users from their claims: the first request of a user
// inserts them and a request whose claims differ from the last recorded
// ones updates them. A bounded LRU of claim fingerprints per (tenant, user)
// keeps the common case (same claims again) free of database writes.
//
// The writes that remain come in storms (every user's first request after
// a start, or a crowd logging in): concurrent ones are gathered, and while
// one batch is in the database the next one gathers, so a storm costs a
// statement and a commit per batch rather than per user.
type userSync struct {
	store UserStore
	mu    sync.Mutex
	max   int
	order *list.List // front = most recently used; values are *userEntry
	byKey map[userKey]*list.Element

	writes *gather.Batcher[*userWrite]
}

type userKey struct {
	tenant domain.TenantID
	user   domain.UserID
}

type userEntry struct {
	key userKey
	sum [sha256.Size]byte
	// The stored fields as last recorded: claims equal to them field by
	// field are known without hashing (the usual case: one token sent
	// again and again). Others are compared by fingerprint.
	name, email string
	perms       []string
}

// userWrite is one request's user waiting to be written.
type userWrite struct {
	user domain.User
	key  userKey
	sum  [sha256.Size]byte
	done chan error // buffered: the writer never waits for the request
}

// userBatchStore is a UserStore that writes several users in one
// statement (*sqlstore.Store is one). Other stores get one call per user.
type userBatchStore interface {
	UpsertUsers(ctx context.Context, users []domain.User) error
}

// userWriteTimeout bounds one batch: it serves many requests, so none of
// their contexts may cancel it.
const userWriteTimeout = 10 * time.Second

func newUserSync(store UserStore, max int) *userSync {
	u := &userSync{store: store, max: max, order: list.New(), byKey: make(map[userKey]*list.Element)}
	u.writes = gather.New(u.write)
	return u
}

// fingerprint covers the stored fields; perms as a set, so a token that
// lists them in another order is not a change.
func fingerprint(u domain.User) [sha256.Size]byte {
	perms := slices.Clone(u.Perms)
	slices.Sort(perms)
	perms = slices.Compact(perms)
	var buf []byte
	for _, part := range append([]string{u.Name, u.Email}, perms...) {
		// Length-prefixed: no ambiguity.
		buf = strconv.AppendInt(buf, int64(len(part)), 10)
		buf = append(buf, ':')
		buf = append(buf, part...)
	}
	return sha256.Sum256(buf)
}

func (u *userSync) sync(ctx context.Context, c auth.Claims) error {
	w := u.pending(c)
	if w == nil {
		return nil
	}
	u.writes.Add(w)
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("record user %s/%s: %w", w.user.TenantID, w.user.ID, ctx.Err())
	}
}

// pending returns the write c's user needs, or nil when the user is
// recorded with these claims already.
func (u *userSync) pending(c auth.Claims) *userWrite {
	user := c.User()
	key := userKey{user.TenantID, user.ID}
	if u.same(key, user) {
		return nil
	}
	sum := fingerprint(user)
	if u.known(key, sum) {
		return nil
	}
	if user.Perms == nil {
		user.Perms = []string{}
	}
	w := &userWrite{user: user, key: key, sum: sum, done: make(chan error, 1)}
	w.user.Perms = slices.Clone(user.Perms) // kept by the cache once written
	return w
}

// written tells the cache the outcome of w written elsewhere (the hub
// records a socket's user in its catch-up read).
func (u *userSync) written(w *userWrite, err error) {
	if err == nil {
		u.remember(w.key, w.sum, w.user)
	}
}

// write records a batch and answers each of its requests. A statement fails
// as a whole, so a failed batch is written again user by user: only the
// user at fault sees the error.
func (u *userSync) write(batch []*userWrite) {
	ctx, cancel := context.WithTimeout(context.Background(), userWriteTimeout)
	defer cancel()
	if bs, ok := u.store.(userBatchStore); ok && len(batch) > 1 {
		users := make([]domain.User, len(batch))
		for i, w := range batch {
			users[i] = w.user
		}
		if bs.UpsertUsers(ctx, users) == nil {
			// In order: for a user queued twice the store kept the last
			// claims, and so does the cache.
			for _, w := range batch {
				u.remember(w.key, w.sum, w.user)
				w.done <- nil
			}
			return
		}
	}
	for _, w := range batch {
		if err := u.store.UpsertUser(ctx, w.user); err != nil {
			w.done <- fmt.Errorf("record user %s/%s: %w", w.user.TenantID, w.user.ID, err)
			continue
		}
		u.remember(w.key, w.sum, w.user)
		w.done <- nil
	}
}

func (u *userSync) known(key userKey, sum [sha256.Size]byte) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	el, ok := u.byKey[key]
	if !ok {
		return false
	}
	u.order.MoveToFront(el)
	return el.Value.(*userEntry).sum == sum
}

// same reports whether user's stored fields are exactly those last
// recorded for key (and marks key as used when they are).
func (u *userSync) same(key userKey, user domain.User) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	el, ok := u.byKey[key]
	if !ok {
		return false
	}
	e := el.Value.(*userEntry)
	if e.name != user.Name || e.email != user.Email || !slices.Equal(e.perms, user.Perms) {
		return false
	}
	u.order.MoveToFront(el)
	return true
}

// remember records that key's user is stored with fingerprint sum, as
// user (whose perms the cache keeps: not to be changed after).
func (u *userSync) remember(key userKey, sum [sha256.Size]byte, user domain.User) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if el, ok := u.byKey[key]; ok {
		e := el.Value.(*userEntry)
		e.sum, e.name, e.email, e.perms = sum, user.Name, user.Email, user.Perms
		u.order.MoveToFront(el)
		return
	}
	u.byKey[key] = u.order.PushFront(&userEntry{key: key, sum: sum, name: user.Name, email: user.Email, perms: user.Perms})
	for u.order.Len() > u.max {
		oldest := u.order.Back()
		u.order.Remove(oldest)
		delete(u.byKey, oldest.Value.(*userEntry).key)
	}
}
