// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp)
// in the test process, recording what it receives, so that mail senders
// are tested end to end: STARTTLS, implicit TLS, AUTH and failures included.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// Options of a test server. The zero value is a plain server on
// 127.0.0.1 that accepts everything.
type Options struct {
	Addr        string      // listen address; default 127.0.0.1:0
	TLS         *tls.Config // offered through STARTTLS, or used for ImplicitTLS
	ImplicitTLS bool        // TLS from the first byte (smtps)
	// Users, when set, makes AUTH PLAIN required with these user → password.
	Users map[string]string
}

// Received is one accepted message.
type Received struct {
	From     string
	To       []string
	Data     []byte
	TLS      bool   // the session was encrypted when DATA was sent
	AuthUser string // who authenticated ("" when nobody did)
}

// Header returns the message's headers, parsed.
func (r Received) Header(t testing.TB) mail.Header {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(r.Data))
	require.NoError(t, err)
	return m.Header
}

// Subject is the decoded Subject header.
func (r Received) Subject(t testing.TB) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(r.Header(t).Get("Subject"))
	require.NoError(t, err)
	return s
}

// Text is the body, quoted-printable decoded, with \n line ends.
func (r Received) Text(t testing.TB) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(r.Data))
	require.NoError(t, err)
	var body io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	require.NoError(t, err)
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

// Server is a running test server, closed when the test ends.
type Server struct {
	Addr string

	mu       sync.Mutex
	received []Received
	sessions int
	auths    int
	fail     *smtp.SMTPError
	arrived  chan struct{}
}

// Start runs a server for the rest of the test.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{arrived: make(chan struct{}, 1000)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		return &session{srv: s, conn: c, users: o.Users}, nil
	}))
	srv.Domain = "mailtest.localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.AllowInsecureAuth = true // the client decides; tests check it refuses
	srv.TLSConfig = o.TLS
	srv.ErrorLog = discard{}
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var (
		ln  net.Listener
		err error
	)
	if o.ImplicitTLS {
		require.NotNil(t, o.TLS, "implicit TLS needs Options.TLS")
		ln, err = tls.Listen("tcp", addr, o.TLS)
	} else {
		ln, err = net.Listen("tcp", addr)
	}
	require.NoError(t, err)
	s.Addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

type discard struct{}

func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}

// Fail makes every later DATA fail with code (e.g. 451 temporary, 554
// permanent); 0 makes the server accept again.
func (s *Server) Fail(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		s.fail = nil
		return
	}
	s.fail = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: "test server refuses"}
}

// Received returns the accepted messages so far.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Sessions counts connections (sessions) so far.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// AuthAttempts counts AUTH exchanges so far, successful or not.
func (s *Server) AuthAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

// Wait returns once n messages have arrived, failing the test after 10s.
func (s *Server) Wait(t testing.TB, n int) []Received {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := s.Received(); len(got) >= n {
			return got
		}
		select {
		case <-s.arrived:
		case <-deadline:
			t.Fatalf("mailtest: %d messages arrived, want %d", len(s.Received()), n)
		}
	}
}

type session struct {
	srv   *Server
	conn  *smtp.Conn
	users map[string]string
	user  string
	from  string
	to    []string
}

var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}

func (s *session) AuthMechanisms() []string {
	if s.users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	s.srv.mu.Lock()
	s.srv.auths++
	s.srv.mu.Unlock()
	return sasl.NewPlainServer(func(_, username, password string) error {
		if want, ok := s.users[username]; !ok || want != password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "invalid credentials"}
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.users != nil && s.user == "" {
		return errAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, tlsOn := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	if s.srv.fail != nil {
		return s.srv.fail
	}
	s.srv.received = append(s.srv.received, Received{From: s.from, To: s.to, Data: data, TLS: tlsOn, AuthUser: s.user})
	select {
	case s.srv.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// SelfSigned returns a server TLS config for localhost, 127.0.0.1 and
// ::1, and a pool that trusts it (for the client's RootCAs).
func SelfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, pool
}
