package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// Defaults of Config.
const (
	DefaultDialTimeout    = 10 * time.Second
	DefaultCommandTimeout = 30 * time.Second
)

// Config configures an SMTP Mailer.
type Config struct {
	// URL of the server: smtp://[user:pass@]host[:port] (default port 587;
	// STARTTLS when the server offers it, unless ?starttls=false) or
	// smtps://[user:pass@]host[:port] (implicit TLS, default port 465).
	// Credentials are only ever sent over TLS, or to a loopback host.
	URL string
	// From is the sender, e.g. "Acme Billing <billing@acme.example>".
	From string
	// DialTimeout bounds connecting (TCP and TLS). Default 10s.
	DialTimeout time.Duration
	// CommandTimeout bounds each SMTP exchange. Default 30s. Send also
	// stops at ctx's deadline or cancellation, whichever comes first.
	CommandTimeout time.Duration
	// HelloName is the name given in EHLO. Default: the host name, or
	// "localhost".
	HelloName string
	// TLSConfig is cloned for TLS (e.g. to trust a private CA); its
	// ServerName defaults to the URL's host.
	TLSConfig *tls.Config
}

// SMTP sends messages through one SMTP server, a connection per message.
// It is safe for concurrent use.
type SMTP struct {
	host, addr   string
	implicitTLS  bool
	startTLS     bool
	user, pass   string
	from         *mail.Address
	hello        string
	dialTimeout  time.Duration
	cmdTimeout   time.Duration
	tlsConfig    *tls.Config
	redactedURL  string
	loopbackHost bool
}

var _ Mailer = (*SMTP)(nil)

// New validates cfg and returns the Mailer. Its errors never contain the
// password.
func New(cfg Config) (*SMTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		// url's error quotes the whole URL, password included.
		return nil, errors.New("mail: the SMTP URL does not parse (want smtp://user:pass@host:port or smtps://...)")
	}
	s := &SMTP{startTLS: true, dialTimeout: cfg.DialTimeout, cmdTimeout: cfg.CommandTimeout, hello: cfg.HelloName}
	s.redactedURL = u.Redacted()
	var port string
	switch u.Scheme {
	case "smtp":
		port = "587"
	case "smtps":
		port, s.implicitTLS = "465", true
	default:
		return nil, fmt.Errorf("mail: SMTP URL scheme %q: want smtp or smtps", u.Scheme)
	}
	s.host = u.Hostname()
	if s.host == "" || u.Opaque != "" {
		return nil, errors.New("mail: the SMTP URL names no host")
	}
	if p := u.Port(); p != "" {
		port = p
	}
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("mail: the SMTP URL must not have a path")
	}
	s.addr = net.JoinHostPort(s.host, port)
	for k, vs := range u.Query() {
		switch {
		case k == "starttls" && len(vs) == 1 && (vs[0] == "true" || vs[0] == "false"):
			s.startTLS = vs[0] == "true"
		default:
			return nil, fmt.Errorf("mail: SMTP URL parameter %q: only starttls=true|false is known", k)
		}
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	// The hosts net/smtp's PLAIN accepts without TLS, and only those.
	switch s.host {
	case "localhost", "127.0.0.1", "::1":
		s.loopbackHost = true
	}
	if strings.ContainsAny(cfg.From, "\r\n") {
		return nil, errors.New("mail: From contains a line break")
	}
	if s.from, err = mail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("mail: From %q is not an e-mail address (e.g. Billing <billing@example.com>)", cfg.From)
	}
	if s.dialTimeout <= 0 {
		s.dialTimeout = DefaultDialTimeout
	}
	if s.cmdTimeout <= 0 {
		s.cmdTimeout = DefaultCommandTimeout
	}
	if s.hello == "" {
		s.hello = defaultHello()
	}
	s.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		s.tlsConfig = cfg.TLSConfig.Clone()
	}
	if s.tlsConfig.ServerName == "" {
		s.tlsConfig.ServerName = s.host
	}
	return s, nil
}

var hostnamePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)

func defaultHello() string {
	if h, err := os.Hostname(); err == nil && hostnamePattern.MatchString(h) {
		return h
	}
	return "localhost"
}

// String is the server URL with the password masked: safe to log.
func (s *SMTP) String() string { return s.redactedURL }

// From is the sender address.
func (s *SMTP) From() string { return s.from.Address }

// Domain is the sender's domain, for Message-IDs.
func (s *SMTP) Domain() string { return DomainOf(s.from.Address) }

// Send delivers m: connect, EHLO, STARTTLS when offered (or implicit TLS),
// AUTH PLAIN when the URL has credentials, MAIL, RCPT, DATA. Every step is
// bounded by CommandTimeout and by ctx; cancelling ctx aborts at once. A
// 5xx answer is permanent (domain.ErrPermanent): retrying cannot help.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	rcpt, data, err := render(s.from, m, time.Now())
	if err != nil {
		return err
	}
	conn, err := s.dial(ctx)
	if err != nil {
		return fmt.Errorf("mail: connect to %s: %w", s.addr, err)
	}
	defer conn.Close()
	// Closing the connection is what interrupts a blocked read or write.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if err := s.session(ctx, conn, rcpt, data); err != nil {
		// The connection deadline is ctx's, and may fire a moment before
		// ctx says so itself.
		if cerr := ctx.Err(); cerr != nil {
			err = errors.Join(cerr, err)
		} else if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			err = errors.Join(context.DeadlineExceeded, err)
		}
		return fmt.Errorf("mail: send to %s via %s: %w", rcpt, s.addr, err)
	}
	return nil
}

func (s *SMTP) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.dialTimeout)
	defer cancel()
	d := &net.Dialer{}
	if s.implicitTLS {
		return (&tls.Dialer{NetDialer: d, Config: s.tlsConfig}).DialContext(ctx, "tcp", s.addr)
	}
	return d.DialContext(ctx, "tcp", s.addr)
}

func (s *SMTP) session(ctx context.Context, conn net.Conn, rcpt string, data []byte) error {
	// step bounds the next exchange by the command timeout and ctx.
	step := func() {
		deadline := time.Now().Add(s.cmdTimeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		_ = conn.SetDeadline(deadline)
	}
	step()
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return classify("greeting", err)
	}
	defer c.Close()
	step()
	if err := c.Hello(s.hello); err != nil {
		return classify("EHLO", err)
	}
	if !s.implicitTLS && s.startTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			step()
			if err := c.StartTLS(s.tlsConfig); err != nil {
				return classify("STARTTLS", err)
			}
		}
	}
	if s.user != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errNoAuth
		}
		if _, tlsOn := c.TLSConnectionState(); !tlsOn && !s.loopbackHost {
			return fmt.Errorf("%w: %w", errPlaintextCredentials, domain.ErrPermanent)
		}
		step()
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
			return classify("AUTH", err)
		}
	}
	step()
	if err := c.Mail(s.from.Address); err != nil {
		return classify("MAIL FROM", err)
	}
	step()
	if err := c.Rcpt(rcpt); err != nil {
		return classify("RCPT TO", err)
	}
	step()
	w, err := c.Data()
	if err != nil {
		return classify("DATA", err)
	}
	step()
	if _, err := w.Write(data); err != nil {
		return classify("DATA", err)
	}
	step()
	if err := w.Close(); err != nil {
		return classify("end of DATA", err)
	}
	// The server has taken the message; a failed QUIT changes nothing.
	step()
	_ = c.Quit()
	return nil
}

// classify names the step and marks 5xx replies permanent.
func classify(step string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return fmt.Errorf("%s: %w: %w", step, domain.ErrPermanent, err)
	}
	return fmt.Errorf("%s: %w", step, err)
}

// Failures of the session itself, named so Describe can word them.
var (
	errPlaintextCredentials = errors.New("refusing to send credentials over an unencrypted connection")
	errNoAuth               = errors.New("the server offers no AUTH, but the SMTP URL has credentials")
)

// Describe says what went wrong with a Send in words fit for the people
// of a tenant (stored with the delivery and shown with the invoice): the
// server's reply when there was one, else the kind of failure. It leaves
// out the addresses of our infrastructure and anything from the URL.
func Describe(err error) string {
	var te *textproto.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrInvalidMessage):
		msg := err.Error()
		if i := strings.LastIndex(msg, domain.ErrPermanent.Error()+": "); i >= 0 {
			msg = msg[i+len(domain.ErrPermanent.Error())+2:]
		}
		return "the message cannot be sent as it is: " + msg
	case errors.As(err, &te):
		return fmt.Sprintf("the mail server refused the message: %d %s", te.Code, te.Msg)
	case errors.Is(err, errPlaintextCredentials):
		return "the mail server offers no encryption, so the credentials were not sent"
	case errors.Is(err, errNoAuth):
		return "the mail server does not offer authentication"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "the mail server did not answer in time"
	case errors.Is(err, context.Canceled):
		return "sending was interrupted"
	}
	if msg := err.Error(); strings.Contains(msg, "tls: ") || strings.Contains(msg, "x509: ") {
		return "no secure connection to the mail server could be established"
	}
	return "the mail server could not be reached"
}
