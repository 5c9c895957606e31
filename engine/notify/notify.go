// Package notify sends alert messages to their receivers: a signed JSON webhook, a Slack incoming
// webhook, a Microsoft Teams workflow webhook (an Adaptive Card), PagerDuty's Events API v2 and
// e-mail over SMTP with STARTTLS (docs/design.md#alerts). It knows nothing of incidents' storage:
// the engine builds a Message, opens the route's secret and calls Send.
package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Event is the incident state change a message announces.
type Event string

const (
	EventTrigger     Event = "trigger"
	EventUpdate      Event = "update"
	EventAcknowledge Event = "acknowledge"
	EventResolve     Event = "resolve"
)

// Message is one incident state change, as every kind of receiver renders it.
type Message struct {
	Event Event
	// IdempotencyKey is one per (incident state change, route): a receiver that sees it twice
	// (the engine died after the receiver accepted but before it was recorded) can drop the copy.
	IdempotencyKey string
	// DedupKey is stable for the incident: PagerDuty's dedup_key, shared by its trigger, updates,
	// acknowledge and resolve.
	DedupKey   string
	IncidentID int64
	Version    int
	Rule       string
	Condition  string
	Workspace  string
	Tenant     string
	Summary    string
	Detail     string
	State      string
	Updates    int
	// RunID is the run that last fired the incident (0: none).
	RunID          int64
	AcknowledgedBy string
	OpenedAt       time.Time
	At             time.Time
	// Commands open the run or tenant: `tenantatlas runs show ID` and, when an SSH address is
	// configured, `ssh -p PORT HOST runs show ID`.
	Commands []string
	// Source names the TenantAtlas installation (PagerDuty's payload.source).
	Source string
}

// Title is the one-line headline of a message.
func (m Message) Title() string {
	label := map[Event]string{EventTrigger: "FIRING", EventUpdate: "FIRING", EventAcknowledge: "ACKNOWLEDGED", EventResolve: "RESOLVED"}[m.Event]
	return fmt.Sprintf("[%s] %s: %s", label, m.Rule, m.Summary)
}

// Route is a receiver with its secret opened.
type Route struct {
	Kind   string
	Name   string
	Config map[string]any
	Secret []byte
}

func (r Route) str(key string) string {
	s, _ := r.Config[key].(string)
	return s
}

// Sender sends messages. The zero value is not usable; use NewSender.
type Sender struct {
	http *http.Client
	tls  *tls.Config
	// Hostname is what the SMTP client announces in EHLO.
	Hostname string
}

// NewSender returns a sender that trusts the system roots, or roots when given (tests: the
// receivers' own certificate authority). Each request or SMTP session is bounded by timeout.
func NewSender(tlsConfig *tls.Config, timeout time.Duration) *Sender {
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	return &Sender{http: &http.Client{Transport: transport, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		tls: tlsConfig, Hostname: "tenantatlas"}
}

// Error is a failed send. Permanent errors (the receiver refused the message or its credentials:
// a 4xx other than 408 and 429, an SMTP 5xx) are not retried: the same message would fail again.
type Error struct {
	Err       error
	Permanent bool
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err should not be retried.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// Send delivers m to r.
func (s *Sender) Send(ctx context.Context, r Route, m Message) error {
	switch r.Kind {
	case "webhook":
		return s.sendWebhook(ctx, r, m)
	case "slack":
		return s.sendSlack(ctx, r, m)
	case "teams":
		return s.sendTeams(ctx, r, m)
	case "pagerduty":
		return s.sendPagerDuty(ctx, r, m)
	case "email":
		return s.sendEmail(ctx, r, m)
	}
	return &Error{Err: fmt.Errorf("unknown route kind %q", r.Kind), Permanent: true}
}
