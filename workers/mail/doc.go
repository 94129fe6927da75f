// Package mail sends e-mail: a Mailer interface, the Message it takes
// (rendered as text/plain UTF-8, quoted-printable, with a caller-chosen
// Message-ID so a repeated send can be recognised), and an SMTP Mailer
// configured by a URL (smtp:// with STARTTLS when offered, smtps:// for
// implicit TLS). It keeps no state and no queue: callers (the invoice
// listener) record deliveries and retry through the worker runner.
package mail
