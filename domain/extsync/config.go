package extsync

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/notifyhub/notifyhub/domain"
)

// Limits of an endpoint configuration.
const (
	DefaultTimeoutSeconds = 10
	MaxTimeoutSeconds     = 120
	maxBaseURLLen         = 500
	maxAuthHeaderLen      = 4000
)

// Config is a tenant's external endpoint (a sync_configs row).
type Config struct {
	TenantID domain.TenantID
	// BaseURL: pages are fetched from {BaseURL}/{type}?page=N.
	BaseURL string
	// AuthHeader is sent as the Authorization header ("Bearer ..."); it is
	// never shown by the API.
	AuthHeader     string
	TimeoutSeconds int // per request, 1..120
	UpdatedBy      domain.UserID
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Timeout is the per-request timeout.
func (c Config) Timeout() time.Duration { return time.Duration(c.TimeoutSeconds) * time.Second }

// ConfigInput is the body of PUT /api/v1/sync-config.
type ConfigInput struct {
	BaseURL string `json:"base_url"`
	// AuthHeader: nil keeps the stored one (it cannot be read back), ""
	// removes it, anything else replaces it.
	AuthHeader     *string `json:"auth_header"`
	TimeoutSeconds *int    `json:"timeout_seconds"` // default 10
}

// ConfigView is the JSON of a configuration: the auth header is reduced to
// whether one is set.
type ConfigView struct {
	BaseURL        string        `json:"base_url"`
	AuthHeaderSet  bool          `json:"auth_header_set"`
	TimeoutSeconds int           `json:"timeout_seconds"`
	UpdatedBy      domain.UserID `json:"updated_by"`
	CreatedAt      time.Time     `json:"created_at"`
	UpdatedAt      time.Time     `json:"updated_at"`
	Breaker        BreakerView   `json:"breaker"`
}

// View is the public form of c with its endpoint's breaker.
func (c Config) View(b Breaker) ConfigView {
	return ConfigView{
		BaseURL: c.BaseURL, AuthHeaderSet: c.AuthHeader != "", TimeoutSeconds: c.TimeoutSeconds,
		UpdatedBy: c.UpdatedBy, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Breaker: b.View(),
	}
}

// validate checks in against the policy and returns the normalised base
// URL, the timeout, and the auth header (keep reports that in left it
// out).
func (in ConfigInput) validate(p HostPolicy) (base string, timeout int, auth string, keep bool, err error) {
	v := &domain.ValidationError{}
	base = strings.TrimSpace(in.BaseURL)
	switch {
	case base == "":
		v.Add("base_url", "is required")
	case len(base) > maxBaseURLLen:
		v.Add("base_url", fmt.Sprintf("must be at most %d characters", maxBaseURLLen))
	default:
		u, perr := url.Parse(base)
		switch {
		case perr != nil || !u.IsAbs():
			v.Add("base_url", "must be an absolute http or https URL")
		case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
			v.Add("base_url", "must not have a query or fragment (pages are {base_url}/{type}?page=N)")
		default:
			if cerr := p.CheckURL(u); cerr != nil {
				v.Add("base_url", cerr.Error())
			} else {
				u.Path = strings.TrimSuffix(u.Path, "/")
				u.RawPath = ""
				u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
				base = u.String()
			}
		}
	}
	timeout = DefaultTimeoutSeconds
	if in.TimeoutSeconds != nil {
		timeout = *in.TimeoutSeconds
		if timeout < 1 || timeout > MaxTimeoutSeconds {
			v.Add("timeout_seconds", fmt.Sprintf("must be between 1 and %d", MaxTimeoutSeconds))
		}
	}
	keep = in.AuthHeader == nil
	if !keep {
		auth = strings.TrimSpace(*in.AuthHeader)
		switch {
		case len(auth) > maxAuthHeaderLen:
			v.Add("auth_header", fmt.Sprintf("must be at most %d characters", maxAuthHeaderLen))
		case !validHeaderValue(auth):
			v.Add("auth_header", "must be printable text on one line (the value of an Authorization header)")
		}
	}
	return base, timeout, auth, keep, v.Err()
}

// validHeaderValue accepts visible ASCII, spaces and tabs: no CR or LF that
// could inject headers, nothing a server would reject.
func validHeaderValue(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}
