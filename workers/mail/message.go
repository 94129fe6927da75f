package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/notifyhub/notifyhub/domain"
)

// Mailer sends one message. Send returns nil once the server has accepted
// the message for delivery; it honours ctx (deadline and cancellation).
// Delivery is at-least-once: a message whose acceptance was lost on the
// way back may be sent again by a retry, with the same Message-ID.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// Message is a plain-text e-mail to one recipient.
type Message struct {
	To      string // the recipient's address, e.g. ann@example.com
	ToName  string // display name, optional
	Subject string
	Text    string // body, UTF-8; lines end in \n or \r\n
	// MessageID is the Message-ID header, "<left@right>". Derive it from
	// what the message is about (see MessageID) so that sending the same
	// thing twice carries the same id and can be recognised downstream.
	MessageID string
	Date      time.Time // zero: the time of sending
}

// ErrInvalidMessage marks a message that can never be sent as it is (a
// header with a line break, a malformed address). It is permanent: the
// worker runner does not retry it.
var ErrInvalidMessage = errors.New("invalid mail message")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %w: %s", ErrInvalidMessage, domain.ErrPermanent, fmt.Sprintf(format, args...))
}

// MessageID builds a Message-ID from a stable key (e.g. "invoice.<uuid>")
// and a domain (the sender's). Characters a Message-ID cannot hold are
// replaced by "-".
func MessageID(key, domain string) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r > ' ' && r < 0x7f && !strings.ContainsRune(`<>@()[]\,;:"`, r) {
				return r
			}
			return '-'
		}, s)
	}
	if domain == "" {
		domain = "notifyhub.invalid"
	}
	return "<" + clean(key) + "@" + clean(domain) + ">"
}

var messageIDPattern = regexp.MustCompile(`^<[!#-'*+\-/-9=?A-Z^-~.]+@[!#-'*+\-/-9=?A-Z^-~.]+>$`)

// DomainOf returns the domain part of an address ("" when there is none).
func DomainOf(address string) string {
	if i := strings.LastIndexByte(address, '@'); i >= 0 {
		return address[i+1:]
	}
	return ""
}

// headerSafe rejects what would let a value end its header and start
// another (header injection): CR, LF and the other control characters.
func headerSafe(name, v string) error {
	if !utf8.ValidString(v) {
		return invalid("%s is not valid UTF-8", name)
	}
	if strings.ContainsFunc(v, func(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }) {
		return invalid("%s contains a line break or control character", name)
	}
	return nil
}

// maxSubjectLen keeps the encoded Subject line well under the 998 octets
// RFC 5322 allows.
const maxSubjectLen = 200

// render builds the message as sent in DATA, with CRLF line ends.
func render(from *mail.Address, m Message, now time.Time) (to string, data []byte, err error) {
	for _, h := range []struct{ name, v string }{
		{"To", m.To}, {"recipient name", m.ToName}, {"Subject", m.Subject}, {"Message-ID", m.MessageID},
	} {
		if err := headerSafe(h.name, h.v); err != nil {
			return "", nil, err
		}
	}
	rcpt, err := mail.ParseAddress(m.To)
	if err != nil || rcpt.Name != "" || rcpt.Address != strings.TrimSpace(m.To) {
		return "", nil, invalid("recipient %q is not a plain e-mail address", m.To)
	}
	if !messageIDPattern.MatchString(m.MessageID) {
		return "", nil, invalid("Message-ID %q is not of the form <left@right>", m.MessageID)
	}
	if utf8.RuneCountInString(m.Subject) > maxSubjectLen {
		return "", nil, invalid("subject longer than %d characters", maxSubjectLen)
	}
	date := m.Date
	if date.IsZero() {
		date = now
	}
	rcpt.Name = strings.TrimSpace(m.ToName)
	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	header("From", from.String())
	header("To", rcpt.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", m.MessageID)
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ToValidUTF8(m.Text, "\uFFFD"))); err != nil {
		return "", nil, fmt.Errorf("encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return "", nil, fmt.Errorf("encode body: %w", err)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return rcpt.Address, b.Bytes(), nil
}
