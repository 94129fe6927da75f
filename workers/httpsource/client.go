package httpsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/extsync"
)

// Config configures a Client.
type Config struct {
	// Policy is checked on every dialled address and every redirect.
	// Required: build it with extsync.ParseHostPolicy.
	Policy *extsync.HostPolicy
	// MaxRedirects followed per request (default 3).
	MaxRedirects int
	// UserAgent sent with each request (default "notifyhub-sync/1").
	UserAgent string
	// Resolver resolves host names (default net.DefaultResolver).
	Resolver *net.Resolver
}

// Client fetches pages over HTTP. It is safe for concurrent use.
type Client struct {
	cfg    Config
	http   *http.Client
	dialer *net.Dialer
}

var _ extsync.Fetcher = (*Client)(nil)

// New returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Policy == nil {
		return nil, errors.New("httpsource: Config.Policy is required")
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = 3
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "notifyhub-sync/1"
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	c := &Client{cfg: cfg, dialer: &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}}
	transport := &http.Transport{
		Proxy:                  nil, // a proxy would dial for us, past the policy
		DialContext:            c.dial,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	c.http = &http.Client{Transport: transport, CheckRedirect: c.checkRedirect}
	return c, nil
}

var errTooManyRedirects = errors.New("stopped after the most redirects a sync follows")

// refusedError is a destination the host policy refused.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return "refused by the sync host policy: " + e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// dial connects only to addresses the policy allows, after resolving the
// name itself, so a name that resolves to an internal address (DNS
// rebinding included) never gets a connection.
func (c *Client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", portText, err)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = c.cfg.Resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, err
	}
	var refused, last error
	for _, ip := range ips {
		if err := c.cfg.Policy.CheckAddr(host, ip); err != nil {
			refused = err
			continue
		}
		conn, err := c.dialer.DialContext(ctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		last = err
	}
	if last == nil && refused != nil {
		return nil, &refusedError{refused}
	}
	if last == nil {
		return nil, fmt.Errorf("%s has no address", host)
	}
	return nil, last
}

// checkRedirect follows a few redirects, each to a URL the policy allows.
// (The Authorization header is dropped by net/http when a redirect leaves
// the original host.)
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.cfg.MaxRedirects {
		return fmt.Errorf("%w (%d)", errTooManyRedirects, c.cfg.MaxRedirects)
	}
	if err := c.cfg.Policy.CheckURL(req.URL); err != nil {
		return &refusedError{fmt.Errorf("redirect to %s: %w", req.URL.Redacted(), err)}
	}
	return nil
}

// Fetch gets one page: the body of a 2xx answer, read within r.Timeout and
// up to r.MaxBytes. Errors are *extsync.FetchError: permanent for a 4xx
// (except 408 and 429), an oversized body, too many redirects or a refused
// destination; transient for timeouts, connection failures and 5xx.
func (c *Client) Fetch(ctx context.Context, r extsync.Request) ([]byte, error) {
	fail := func(status int, permanent bool, err error) ([]byte, error) {
		return nil, &extsync.FetchError{URL: r.URL, Status: status, Permanent: permanent, Err: err}
	}
	rctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return fail(0, true, fmt.Errorf("bad URL: %w", err))
	}
	if err := c.cfg.Policy.CheckURL(req.URL); err != nil {
		return nil, &extsync.FetchError{URL: r.URL, Refused: true, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if r.AuthHeader != "" {
		req.Header.Set("Authorization", r.AuthHeader)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.requestError(ctx, rctx, r, err)
	}
	defer resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests, code >= 500:
		return fail(code, false, fmt.Errorf("the endpoint answered %s", resp.Status))
	default:
		return fail(code, true, fmt.Errorf("the endpoint answered %s", resp.Status))
	}
	if resp.ContentLength > r.MaxBytes {
		return fail(resp.StatusCode, true, fmt.Errorf("the response (%d bytes) is larger than the limit of %d bytes: %w",
			resp.ContentLength, r.MaxBytes, domain.ErrTooLarge))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.MaxBytes+1))
	if err != nil {
		return nil, c.requestError(ctx, rctx, r, fmt.Errorf("reading the response: %w", err))
	}
	if int64(len(body)) > r.MaxBytes {
		return fail(resp.StatusCode, true, fmt.Errorf("the response is larger than the limit of %d bytes: %w", r.MaxBytes, domain.ErrTooLarge))
	}
	return body, nil
}

// requestError classifies a failed request.
func (c *Client) requestError(ctx, rctx context.Context, r extsync.Request, err error) error {
	var refused *refusedError
	switch {
	case errors.As(err, &refused):
		return &extsync.FetchError{URL: r.URL, Refused: true, Err: refused}
	case ctx.Err() != nil:
		// The job's own deadline or shutdown: not the endpoint's doing.
		return &extsync.FetchError{URL: r.URL, Err: fmt.Errorf("cancelled: %w", ctx.Err())}
	case rctx.Err() != nil:
		return &extsync.FetchError{URL: r.URL, Err: fmt.Errorf("no complete response within %s: %w", r.Timeout, context.DeadlineExceeded)}
	case errors.Is(err, errTooManyRedirects):
		return &extsync.FetchError{URL: r.URL, Permanent: true, Err: err}
	}
	return &extsync.FetchError{URL: r.URL, Err: err}
}
