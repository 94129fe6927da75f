package web_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
	"github.com/notifyhub/notifyhub/web"
	"github.com/notifyhub/notifyhub/web/auth"
)

func TestAPIRejectsBadTokens(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	valid := jwt.MapClaims{"sub": "alice", "tid": "acme", "perms": []string{"admin"}, "exp": time.Now().Add(time.Hour).Unix()}
	sign := func(m jwt.SigningMethod, key any, c jwt.Claims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		require.NoError(t, err)
		return s
	}
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		cases := map[string]req{
			"no credentials":    {},
			"basic auth":        {header: map[string]string{"Authorization": "Basic YWxpY2U6cHc="}},
			"empty bearer":      {header: map[string]string{"Authorization": "Bearer "}},
			"garbage":           {token: "garbage"},
			"bad signature":     {token: sign(jwt.SigningMethodHS256, []byte("some-other-secret-some-other-secret"), valid)},
			"expired":           {token: sign(jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "alice", "tid": "acme", "exp": time.Now().Add(-time.Minute).Unix()})},
			"no exp":            {token: sign(jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "alice", "tid": "acme"})},
			"alg none":          {token: sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid)},
			"HS512":             {token: sign(jwt.SigningMethodHS512, testSecret, valid)},
			"RS256":             {token: sign(jwt.SigningMethodRS256, rsaKey, valid)},
			"bad tenant id":     {token: sign(jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "alice", "tid": "ac me", "exp": time.Now().Add(time.Hour).Unix()})},
			"expired cookie":    {cookie: sign(jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "alice", "tid": "acme", "exp": time.Now().Add(-time.Minute).Unix()})},
			"query token (api)": {path: "/api/v1/notifications?token=" + token(t, "acme", "alice")},
		}
		for name, r := range cases {
			t.Run(name, func(t *testing.T) {
				r.method = http.MethodGet
				if r.path == "" {
					r.path = "/api/v1/notifications"
				}
				rec := f.do(t, r)
				requireError(t, rec, http.StatusUnauthorized, "unauthenticated")
				require.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer")
			})
		}
		// Nothing was recorded for any rejected token.
		users, err := f.store.ListUsers(context.Background(), "acme")
		require.NoError(t, err)
		require.Empty(t, users)
		require.Zero(t, f.users.upserts.Load())
	})
}

func TestUserRecordedFromClaims(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		ctx := context.Background()
		issue := func(name string, perms ...string) string {
			tok, err := auth.Issue(testSecret, domain.User{TenantID: "acme", ID: "alice", Name: name, Email: "alice@acme.test", Perms: perms}, time.Hour, time.Now())
			require.NoError(t, err)
			return tok
		}

		// First request: the user is created from the claims.
		rec := f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", issue("Alice", "sales.manage", "crm.manage"), "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		u, err := f.store.GetUser(ctx, "acme", "alice")
		require.NoError(t, err)
		require.Equal(t, "Alice", u.Name)
		require.ElementsMatch(t, []string{"sales.manage", "crm.manage"}, u.Perms)
		require.EqualValues(t, 1, f.users.upserts.Load())

		// Same claims (perms in another order): no write.
		for range 3 {
			rec = f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", issue("Alice", "crm.manage", "sales.manage"), "")
			require.Equal(t, http.StatusOK, rec.Code)
		}
		require.EqualValues(t, 1, f.users.upserts.Load())

		// Changed claims: updated once.
		tok := issue("Alice Smith", "admin")
		for range 2 {
			rec = f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", tok, "")
			require.Equal(t, http.StatusOK, rec.Code)
		}
		require.EqualValues(t, 2, f.users.upserts.Load())
		u, err = f.store.GetUser(ctx, "acme", "alice")
		require.NoError(t, err)
		require.Equal(t, "Alice Smith", u.Name)
		require.Equal(t, []string{"admin"}, u.Perms)

		// The same user id in another tenant is another user.
		rec = f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", token(t, "globex", "alice"), "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.EqualValues(t, 3, f.users.upserts.Load())
		_, err = f.store.GetUser(ctx, "globex", "alice")
		require.NoError(t, err)
	})
}

func TestCookieLogin(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open, func(c *web.Config, _ *web.Deps) { c.SecureCookie = true })
		tok := token(t, "acme", "alice")

		// Without a session the center sends the browser to the login page.
		rec := f.do(t, req{method: http.MethodGet, path: "/"})
		require.Equal(t, http.StatusSeeOther, rec.Code)
		require.Equal(t, "/login", rec.Header().Get("Location"))

		// A stale cookie is dropped on the way.
		rec = f.do(t, req{method: http.MethodGet, path: "/", cookie: "stale.token.value"})
		require.Equal(t, http.StatusSeeOther, rec.Code)
		require.Contains(t, rec.Header().Get("Set-Cookie"), web.SessionCookie+"=;")

		// GET /login?token= sets the session cookie and goes to the center.
		rec = f.do(t, req{method: http.MethodGet, path: "/login?token=" + url.QueryEscape(tok)})
		require.Equal(t, http.StatusSeeOther, rec.Code)
		require.Equal(t, "/", rec.Header().Get("Location"))
		cookie := sessionCookie(t, rec)
		require.Equal(t, tok, cookie.Value)
		require.True(t, cookie.HttpOnly)
		require.True(t, cookie.Secure)
		require.Equal(t, http.SameSiteLaxMode, cookie.SameSite)
		require.Equal(t, "/", cookie.Path)
		require.InDelta(t, time.Hour.Seconds(), cookie.MaxAge, 60)

		// The cookie authenticates pages and API reads.
		rec = f.do(t, req{method: http.MethodGet, path: "/", cookie: cookie.Value})
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Equal(t, "User alice", doc(t, rec).Find(`[data-testid="viewer-name"]`).Text())
		rec = f.do(t, req{method: http.MethodGet, path: "/api/v1/notifications/unread-count", cookie: cookie.Value})
		require.Equal(t, http.StatusOK, rec.Code)

		// The same link followed from another site only prefills the form:
		// no site can sign a visitor into an account of its choosing.
		rec = f.do(t, req{method: http.MethodGet, path: "/login?token=" + url.QueryEscape(tok), header: map[string]string{"Sec-Fetch-Site": "cross-site"}})
		require.Equal(t, http.StatusOK, rec.Code)
		require.Empty(t, rec.Header().Get("Set-Cookie"))
		d := doc(t, rec)
		require.Equal(t, 1, d.Find(`[data-testid="login-confirm"]`).Length())
		require.Equal(t, tok, d.Find(`[data-testid="token-input"]`).Text())

		// POST /login with the token in a form does the same.
		rec = f.do(t, req{method: http.MethodPost, path: "/login", header: map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin",
		}, body: "token=" + url.QueryEscape(tok)})
		require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
		require.Equal(t, tok, sessionCookie(t, rec).Value)

		// A bad token shows the login page with an error and sets nothing.
		for _, r := range []req{
			{method: http.MethodGet, path: "/login?token=not-a-token"},
			{method: http.MethodPost, path: "/login", body: "token=not-a-token", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
		} {
			rec = f.do(t, r)
			require.Equal(t, http.StatusUnauthorized, rec.Code)
			require.Empty(t, rec.Header().Get("Set-Cookie"))
			require.NotEmpty(t, doc(t, rec).Find(`[data-testid="login-error"]`).Text())
		}

		// Logging out clears the cookie.
		rec = f.do(t, req{method: http.MethodPost, path: "/logout", cookie: tok, header: map[string]string{"Sec-Fetch-Site": "same-origin"}})
		require.Equal(t, http.StatusSeeOther, rec.Code)
		require.Equal(t, "/login", rec.Header().Get("Location"))
		require.Equal(t, -1, sessionCookie(t, rec).MaxAge)
	})
}

func sessionCookie(t testing.TB, rec interface{ Result() *http.Response }) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == web.SessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie set", web.SessionCookie)
	return nil
}

func TestCSRFOnCookieRequests(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		f := newFixture(t, open)
		tok := token(t, "acme", "alice")
		path := "/api/v1/notifications/read-all"

		for name, h := range map[string]map[string]string{
			"cross-site fetch":    {"Sec-Fetch-Site": "cross-site"},
			"same-site subdomain": {"Sec-Fetch-Site": "same-site"},
			"foreign origin":      {"Origin": "https://evil.example"},
		} {
			t.Run(name, func(t *testing.T) {
				rec := f.do(t, req{method: http.MethodPost, path: path, cookie: tok, header: h})
				requireError(t, rec, http.StatusForbidden, "forbidden")
			})
		}
		// Same origin passes, by either header.
		rec := f.do(t, req{method: http.MethodPost, path: path, cookie: tok, header: map[string]string{"Sec-Fetch-Site": "same-origin"}})
		require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
		rec = f.do(t, req{method: http.MethodPost, path: path, cookie: tok, header: map[string]string{"Origin": "http://example.com"}})
		require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
		// Reads are not state changes and are not checked.
		rec = f.do(t, req{method: http.MethodGet, path: "/api/v1/notifications", cookie: tok, header: map[string]string{"Sec-Fetch-Site": "cross-site"}})
		require.Equal(t, http.StatusOK, rec.Code)
		// A Bearer token is never sent by the browser on its own: no check.
		rec = f.do(t, req{method: http.MethodPost, path: path, token: tok, header: map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}})
		require.Equal(t, http.StatusNoContent, rec.Code)
		// The sign-in forms are guarded too (login CSRF).
		rec = f.do(t, req{method: http.MethodPost, path: "/login", body: "token=" + tok, header: map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site",
		}})
		require.Equal(t, http.StatusForbidden, rec.Code)
		require.Empty(t, rec.Header().Get("Set-Cookie"))
		rec = f.do(t, req{method: http.MethodPost, path: "/logout", cookie: tok, header: map[string]string{"Origin": "https://evil.example"}})
		require.Equal(t, http.StatusForbidden, rec.Code)
		require.Empty(t, rec.Header().Get("Set-Cookie"))
	})
}

func TestDemoLogin(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		form := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"}

		// Outside demo mode there is no demo sign-in at all.
		plain := newFixture(t, open)
		rec := plain.do(t, req{method: http.MethodPost, path: "/login/demo", body: "user=alice", header: form})
		requireError(t, rec, http.StatusNotFound, "not_found")
		rec = plain.do(t, req{method: http.MethodGet, path: "/login"})
		require.Equal(t, http.StatusOK, rec.Code)
		require.Zero(t, doc(t, rec).Find(`[data-testid="demo-user"]`).Length())

		f := newFixture(t, open, func(c *web.Config, _ *web.Deps) { c.DemoTenant = "demo" })
		ctx := context.Background()
		require.NoError(t, f.store.UpsertUser(ctx, domain.User{TenantID: "demo", ID: "maria", Name: "Maria <Ops>", Email: "maria@demo.test", Perms: []string{"inventory.manage", "inventory.alerts"}}))
		require.NoError(t, f.store.UpsertUser(ctx, domain.User{TenantID: "demo", ID: "sam", Name: "Sam", Email: "sam@demo.test", Perms: []string{"admin"}}))
		require.NoError(t, f.store.UpsertUser(ctx, domain.User{TenantID: "other", ID: "eve", Name: "Eve", Perms: []string{"admin"}}))

		rec = f.do(t, req{method: http.MethodGet, path: "/login"})
		require.Equal(t, http.StatusOK, rec.Code)
		d := doc(t, rec)
		var ids []string
		d.Find(`[data-testid="demo-user"]`).Each(func(_ int, s *goquery.Selection) {
			ids = append(ids, s.AttrOr("data-user", ""))
		})
		require.Equal(t, []string{"maria", "sam"}, ids, "only the demo tenant's users")
		require.Contains(t, d.Find(`[data-user="maria"]`).Text(), "Maria <Ops>", "names are shown as text")

		rec = f.do(t, req{method: http.MethodPost, path: "/login/demo", body: "user=maria", header: form})
		require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
		c, err := auth.Verify(testSecret, sessionCookie(t, rec).Value, time.Now())
		require.NoError(t, err)
		got := c.User()
		require.ElementsMatch(t, []string{"inventory.manage", "inventory.alerts"}, got.Perms)
		got.Perms = nil
		require.Equal(t, domain.User{TenantID: "demo", ID: "maria", Name: "Maria <Ops>", Email: "maria@demo.test"}, got)
		require.WithinDuration(t, time.Now().Add(12*time.Hour), c.Expiry(), time.Minute)

		// Users of other tenants, unknown ones and hostile ids are refused.
		for _, user := range []string{"eve", "nobody", "'; DROP TABLE users; --", ""} {
			rec = f.do(t, req{method: http.MethodPost, path: "/login/demo", body: "user=" + url.QueryEscape(user), header: form})
			require.Contains(t, []int{http.StatusBadRequest, http.StatusNotFound}, rec.Code, user)
			require.Empty(t, rec.Header().Get("Set-Cookie"))
		}
		// Cross-site posts cannot sign a victim into the demo.
		rec = f.do(t, req{method: http.MethodPost, path: "/login/demo", body: "user=sam", header: map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example",
		}})
		require.Equal(t, http.StatusForbidden, rec.Code)
		require.Empty(t, rec.Header().Get("Set-Cookie"))
	})
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	_, err := web.New(web.Config{Secret: testSecret}, web.Deps{})
	require.ErrorContains(t, err, "Deps.Products")

	for name, cfg := range map[string]web.Config{
		"no secret":    {},
		"short secret": {Secret: []byte(strings.Repeat("x", auth.MinSecretLen-1))},
		"bad demo":     {Secret: testSecret, DemoTenant: "two words"},
		"neg body":     {Secret: testSecret, MaxBodyBytes: -1},
	} {
		require.Error(t, cfg.Validate(), name)
	}
	require.NoError(t, web.Config{Secret: testSecret, DemoTenant: "demo"}.Validate())
}

// Every cookie the web layer sets or clears follows Config.SecureCookie:
// sign-in by link, form and demo user, sign-out, and a stale cookie dropped
// on the way to the login page.
func TestSessionCookieFollowsSecureCookie(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%t", secure), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, storetest.OpenSQLite, func(c *web.Config, _ *web.Deps) {
				c.SecureCookie = secure
				c.DemoTenant = "demo"
			})
			require.NoError(t, f.store.UpsertUser(context.Background(), domain.User{TenantID: "demo", ID: "maria", Perms: []string{}}))
			tok := token(t, "acme", "alice")
			form := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"}
			for name, r := range map[string]req{
				"link":        {method: http.MethodGet, path: "/login?token=" + url.QueryEscape(tok)},
				"form":        {method: http.MethodPost, path: "/login", body: "token=" + url.QueryEscape(tok), header: form},
				"demo":        {method: http.MethodPost, path: "/login/demo", body: "user=maria", header: form},
				"logout":      {method: http.MethodPost, path: "/logout", cookie: tok, header: map[string]string{"Sec-Fetch-Site": "same-origin"}},
				"stale":       {method: http.MethodGet, path: "/", cookie: "stale.token.value"},
				"stale-board": {method: http.MethodGet, path: "/dashboard", cookie: "stale.token.value"},
			} {
				rec := f.do(t, r)
				require.Equal(t, http.StatusSeeOther, rec.Code, name)
				c := sessionCookie(t, rec)
				require.Equal(t, secure, c.Secure, name)
				require.True(t, c.HttpOnly, name)
				require.Equal(t, http.SameSiteLaxMode, c.SameSite, name)
			}
		})
	}
}

// An API token is verified once and then served from the cache, but only
// while the verifier would still accept it: past its exp the same token
// gets the JSON 401, on every backend.
func TestCachedAPITokenHonoursExpiry(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		var clock atomic.Int64
		start := time.Now()
		clock.Store(start.UnixNano())
		f := newFixture(t, open, func(c *web.Config, _ *web.Deps) {
			c.Now = func() time.Time { return time.Unix(0, clock.Load()) }
		})
		tok, err := auth.Issue(testSecret, domain.User{TenantID: "acme", ID: "alice", Perms: []string{domain.PermAdmin}}, time.Minute, start)
		require.NoError(t, err)
		for range 3 {
			rec := f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", tok, "")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		}
		clock.Store(start.Add(time.Minute).UnixNano())
		rec := f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", tok, "")
		requireError(t, rec, http.StatusUnauthorized, "unauthenticated")
		// Another user's token is not answered from alice's entry.
		clock.Store(start.UnixNano())
		bob := token(t, "globex", "bob")
		rec = f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", bob, "")
		require.Equal(t, http.StatusOK, rec.Code)
		rec = f.call(t, http.MethodGet, "/api/v1/notifications/unread-count", tamperSignature(bob), "")
		requireError(t, rec, http.StatusUnauthorized, "unauthenticated")
	})
}

// tamperSignature changes one character inside tok's signature, one whose
// six bits all count: writing "xx" over its last two characters left the
// decoded signature unchanged about once in a thousand tokens (the last
// character of a 43-character HMAC-SHA256 signature carries only four
// bits), and the tampered token was then rightly accepted.
func tamperSignature(tok string) string {
	b := []byte(tok)
	i := len(b) - 5
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
