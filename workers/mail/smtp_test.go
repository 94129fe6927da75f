package mail_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/workers/mail"
	"github.com/notifyhub/notifyhub/workers/mail/mailtest"
)

func newMailer(t *testing.T, url string, tlsCfg *tls.Config) *mail.SMTP {
	t.Helper()
	m, err := mail.New(mail.Config{URL: url, From: "Acme Billing <billing@acme.example>", TLSConfig: tlsCfg,
		CommandTimeout: 5 * time.Second})
	require.NoError(t, err)
	return m
}

func message() mail.Message {
	return mail.Message{
		To: "ann@example.test", ToName: "Ann Müller", Subject: "Invoice INV-000001 — 60.07 due 2026-04-13",
		Text:      "Dear Ann,\n\nplease find your invoice.\n.\nA line with a lone dot above, and ünïcödé.\n" + strings.Repeat("long ", 40) + "\n",
		MessageID: mail.MessageID("invoice.0193", "acme.example"),
		Date:      time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC),
	}
}

func TestSendDeliversAWellFormedMessage(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{})
	m := newMailer(t, "smtp://"+srv.Addr, nil)
	require.NoError(t, m.Send(context.Background(), message()))
	got := srv.Wait(t, 1)[0]
	require.Equal(t, "billing@acme.example", got.From, "envelope sender")
	require.Equal(t, []string{"ann@example.test"}, got.To)
	require.False(t, got.TLS, "the server offers no STARTTLS")
	h := got.Header(t)
	require.Equal(t, `"Acme Billing" <billing@acme.example>`, h.Get("From"))
	require.Contains(t, h.Get("To"), "<ann@example.test>")
	require.Equal(t, "Invoice INV-000001 — 60.07 due 2026-04-13", got.Subject(t))
	require.Equal(t, "<invoice.0193@acme.example>", h.Get("Message-Id"))
	require.Equal(t, "1.0", h.Get("Mime-Version"))
	require.Equal(t, "text/plain; charset=utf-8", h.Get("Content-Type"))
	date, err := h.Date()
	require.NoError(t, err)
	require.True(t, date.Equal(message().Date))
	require.Equal(t, message().Text, got.Text(t), "body intact, dot line included")
	for _, line := range strings.Split(string(got.Data), "\r\n") {
		require.LessOrEqual(t, len(line), 78, "quoted-printable keeps lines short")
	}
}

func TestStartTLSWhenOffered(t *testing.T) {
	t.Parallel()
	serverTLS, roots := mailtest.SelfSigned(t)
	srv := mailtest.Start(t, mailtest.Options{TLS: serverTLS, Users: map[string]string{"billing": "s3cr%t:pw"}})
	client := &tls.Config{RootCAs: roots}
	m := newMailer(t, "smtp://billing:s3cr%25t%3Apw@"+srv.Addr, client)
	require.NoError(t, m.Send(context.Background(), message()))
	got := srv.Wait(t, 1)[0]
	require.True(t, got.TLS, "STARTTLS was used")
	require.Equal(t, "billing", got.AuthUser)

	// starttls=false: no TLS, and then no credentials to a non-loopback name.
	plain := mailtest.Start(t, mailtest.Options{TLS: serverTLS})
	m = newMailer(t, "smtp://"+plain.Addr+"?starttls=false", client)
	require.NoError(t, m.Send(context.Background(), message()))
	require.False(t, plain.Wait(t, 1)[0].TLS)

	// A certificate the client does not trust fails; nothing is sent.
	m = newMailer(t, "smtp://"+srv.Addr, nil)
	err := m.Send(context.Background(), message())
	require.Error(t, err)
	require.Equal(t, "no secure connection to the mail server could be established", mail.Describe(err))
	require.Len(t, srv.Received(), 1)
}

func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	serverTLS, roots := mailtest.SelfSigned(t)
	srv := mailtest.Start(t, mailtest.Options{TLS: serverTLS, ImplicitTLS: true, Users: map[string]string{"u": "p"}})
	m := newMailer(t, "smtps://u:p@"+srv.Addr, &tls.Config{RootCAs: roots})
	require.NoError(t, m.Send(context.Background(), message()))
	got := srv.Wait(t, 1)[0]
	require.True(t, got.TLS)
	require.Equal(t, "u", got.AuthUser)

	wrong := newMailer(t, "smtps://u:nope@"+srv.Addr, &tls.Config{RootCAs: roots})
	err := wrong.Send(context.Background(), message())
	require.Error(t, err)
	require.True(t, errors.Is(err, domain.ErrPermanent), "535 is permanent: %v", err)
	require.NotContains(t, err.Error(), "nope", "the password never shows")
}

func TestCredentialsNeverGoOutInPlaintext(t *testing.T) {
	t.Parallel()
	// 127.0.0.2 is a loopback address on Linux, but not one of the names
	// for which PLAIN without TLS is allowed: it stands for a remote host.
	srv := mailtest.Start(t, mailtest.Options{Addr: "127.0.0.2:0", Users: map[string]string{"u": "secret"}})
	m := newMailer(t, "smtp://u:secret@"+srv.Addr, nil)
	err := m.Send(context.Background(), message())
	require.ErrorContains(t, err, "unencrypted")
	require.True(t, errors.Is(err, domain.ErrPermanent))
	require.Contains(t, mail.Describe(err), "credentials were not sent")
	require.Zero(t, srv.AuthAttempts(), "no AUTH was even tried")
	require.Empty(t, srv.Received())
}

func TestServerRefusals(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{})
	m := newMailer(t, "smtp://"+srv.Addr, nil)
	srv.Fail(451)
	err := m.Send(context.Background(), message())
	require.Error(t, err)
	require.False(t, errors.Is(err, domain.ErrPermanent), "4xx is temporary: %v", err)
	require.Equal(t, "the mail server refused the message: 451 4.0.0 test server refuses", mail.Describe(err))
	require.NotContains(t, mail.Describe(err), srv.Addr, "tenants are not shown our infrastructure")
	srv.Fail(554)
	err = m.Send(context.Background(), message())
	require.True(t, errors.Is(err, domain.ErrPermanent), "5xx is permanent: %v", err)
	srv.Fail(0)
	require.NoError(t, m.Send(context.Background(), message()))
	require.Len(t, srv.Wait(t, 1), 1)

	// Nobody listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	err = newMailer(t, "smtp://"+addr, nil).Send(context.Background(), message())
	require.Error(t, err)
	require.Equal(t, "the mail server could not be reached", mail.Describe(err))
	require.Empty(t, mail.Describe(nil))
}

func TestHeaderInjectionIsRefused(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{})
	m := newMailer(t, "smtp://"+srv.Addr, nil)
	for name, edit := range map[string]func(*mail.Message){
		"subject":    func(x *mail.Message) { x.Subject = "Hi\r\nBcc: victim@evil.test" },
		"subject lf": func(x *mail.Message) { x.Subject = "Hi\nBcc: victim@evil.test" },
		"name":       func(x *mail.Message) { x.ToName = "Ann\r\nBcc: victim@evil.test" },
		"to":         func(x *mail.Message) { x.To = "ann@example.test\r\nBcc: victim@evil.test" },
		"to list":    func(x *mail.Message) { x.To = "ann@example.test, victim@evil.test" },
		"to name":    func(x *mail.Message) { x.To = "Ann <ann@example.test>" },
		"message id": func(x *mail.Message) { x.MessageID = "<a@b>\r\nBcc: victim@evil.test" },
		"bad id":     func(x *mail.Message) { x.MessageID = "no-brackets@x" },
		"nul":        func(x *mail.Message) { x.Subject = "a\x00b" },
		"long":       func(x *mail.Message) { x.Subject = strings.Repeat("s", 201) },
	} {
		msg := message()
		edit(&msg)
		err := m.Send(context.Background(), msg)
		require.ErrorIs(t, err, mail.ErrInvalidMessage, name)
		require.ErrorIs(t, err, domain.ErrPermanent, name)
		require.Contains(t, mail.Describe(err), "cannot be sent as it is", name)
	}
	require.Zero(t, srv.Sessions(), "an invalid message never reaches the server")

	_, err := mail.New(mail.Config{URL: "smtp://" + srv.Addr, From: "a@b.test\r\nBcc: victim@evil.test"})
	require.Error(t, err)
}

func TestSendHonoursContextAndTimeouts(t *testing.T) {
	t.Parallel()
	// A server that accepts connections and never says a word.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	m := newMailer(t, "smtp://"+ln.Addr().String(), nil)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = m.Send(ctx, message())
	require.Error(t, err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 3*time.Second)
	require.Equal(t, "the mail server did not answer in time", mail.Describe(err))

	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	err = m.Send(ctx, message())
	require.ErrorIs(t, err, context.Canceled)

	short, err := mail.New(mail.Config{URL: "smtp://" + ln.Addr().String(), From: "a@b.test", CommandTimeout: 150 * time.Millisecond})
	require.NoError(t, err)
	start = time.Now()
	require.Error(t, short.Send(context.Background(), message()), "the command timeout applies without a ctx deadline")
	require.Less(t, time.Since(start), 3*time.Second)
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"", "http://mail.example.test", "smtp://", "smtp:///path", "smtp://host/path",
		"smtp://host?starttls=maybe", "smtp://host?tls=1", "smtp://u:p@ss word@host",
	} {
		_, err := mail.New(mail.Config{URL: url, From: "a@b.test"})
		require.Error(t, err, url)
		require.NotContains(t, err.Error(), "ss word", "a URL that does not parse is not echoed")
	}
	for _, from := range []string{"", "not an address", "a@b.test, c@d.test"} {
		_, err := mail.New(mail.Config{URL: "smtp://host", From: from})
		require.Error(t, err, from)
	}
	m, err := mail.New(mail.Config{URL: "smtps://billing:hunter2@mail.example.test", From: "Billing <billing@acme.example>"})
	require.NoError(t, err)
	require.NotContains(t, m.String(), "hunter2")
	require.NotContains(t, fmt.Sprintf("%v %+v %s", m, m, m), "hunter2", "no way of printing it shows the password")
	require.Equal(t, "acme.example", m.Domain())
	require.Equal(t, "billing@acme.example", m.From())
	require.Equal(t, "<invoice.x@acme.example>", mail.MessageID("invoice.x", m.Domain()))
	require.Equal(t, "<a-b--c@d>", mail.MessageID("a<b>\nc", "d"))
}
