package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// sendEmail sends m over SMTP: STARTTLS is required (a server that does not offer it is refused
// before any credential is sent), then PLAIN authentication when the route has a user name.
func (s *Sender) sendEmail(ctx context.Context, r Route, m Message) error {
	addr := r.str("smtp_addr")
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return &Error{Err: fmt.Errorf("the route's SMTP address %q is not host:port", addr), Permanent: true}
	}
	var to []string
	if list, ok := r.Config["to"].([]any); ok {
		for _, a := range list {
			to = append(to, fmt.Sprint(a))
		}
	}
	from := r.str("from")
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return &Error{Err: fmt.Errorf("cannot reach SMTP server %s: %w", addr, err)}
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	tlsConfig := s.tls.Clone()
	tlsConfig.ServerName = host
	c, err := smtp.NewClientStartTLS(conn, tlsConfig)
	if err != nil {
		conn.Close()
		return smtpFailure(fmt.Sprintf("STARTTLS with %s failed", addr), err)
	}
	defer c.Close()
	if user := r.str("username"); user != "" {
		if err := c.Auth(sasl.NewPlainClient("", user, string(r.Secret))); err != nil {
			return smtpFailure(fmt.Sprintf("SMTP authentication as %s at %s failed", user, addr), err)
		}
	}
	if err := c.SendMail(from, to, bytes.NewReader(emailBody(from, to, m))); err != nil {
		return smtpFailure(fmt.Sprintf("SMTP server %s refused the message", addr), err)
	}
	_ = c.Quit() // the message was accepted at the end of DATA; a failed QUIT changes nothing
	return nil
}

// smtpFailure wraps an SMTP error; a 5xx reply (bad credentials, refused recipient) is permanent.
func smtpFailure(what string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return &Error{Err: fmt.Errorf("%s: %d %s", what, se.Code, se.Message), Permanent: se.Code >= 500}
	}
	return &Error{Err: fmt.Errorf("%s: %w", what, err)}
}

// emailBody renders m as a plain-text RFC 5322 message.
func emailBody(from string, to []string, m Message) []byte {
	var b strings.Builder
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from)
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Title())))
	header("Date", time.Now().UTC().Format(time.RFC1123Z))
	header("Message-ID", fmt.Sprintf("<%s@tenantatlas>", strings.NewReplacer(":", ".").Replace(m.IdempotencyKey)))
	header("X-TenantAtlas-Idempotency-Key", m.IdempotencyKey)
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	lines := []string{m.Title(), "", m.Summary}
	if m.Detail != "" {
		lines = append(lines, "", m.Detail)
	}
	lines = append(lines, "", "Rule: "+m.Rule, "State: "+m.State)
	if m.Tenant != "" {
		lines = append(lines, "Tenant: "+m.Tenant)
	}
	lines = append(lines, "Opened: "+m.OpenedAt.UTC().Format(time.RFC3339))
	if len(m.Commands) > 0 {
		lines = append(lines, "", "Open it with:")
		for _, c := range m.Commands {
			lines = append(lines, "  "+c)
		}
	}
	for _, l := range lines {
		b.WriteString(strings.ReplaceAll(l, "\n", "\r\n") + "\r\n")
	}
	return []byte(b.String())
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
