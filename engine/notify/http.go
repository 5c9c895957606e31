package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhook signature headers (docs/design.md#alerts): the signature is
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)), so a receiver checks both the body
// and its age.
const (
	HeaderSignature      = "X-TenantAtlas-Signature"
	HeaderTimestamp      = "X-TenantAtlas-Timestamp"
	HeaderEvent          = "X-TenantAtlas-Event"
	HeaderIdempotencyKey = "Idempotency-Key"
)

// Sign returns the signature header value of body sent at timestamp (Unix seconds) with secret.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// WebhookBody is the JSON a webhook route receives.
type WebhookBody struct {
	Version        int             `json:"version"`
	Event          Event           `json:"event"`
	IdempotencyKey string          `json:"idempotency_key"`
	DedupKey       string          `json:"dedup_key"`
	Title          string          `json:"title"`
	Incident       WebhookIncident `json:"incident"`
	Commands       []string        `json:"commands"`
	SentAt         time.Time       `json:"sent_at"`
}

// WebhookIncident is the incident in a webhook body.
type WebhookIncident struct {
	ID             int64     `json:"id"`
	Version        int       `json:"version"`
	State          string    `json:"state"`
	Rule           string    `json:"rule"`
	Condition      string    `json:"condition"`
	Workspace      string    `json:"workspace"`
	Tenant         string    `json:"tenant,omitempty"`
	Summary        string    `json:"summary"`
	Detail         string    `json:"detail,omitempty"`
	Updates        int       `json:"updates"`
	RunID          int64     `json:"run_id,omitempty"`
	AcknowledgedBy string    `json:"acknowledged_by,omitempty"`
	OpenedAt       time.Time `json:"opened_at"`
}

func (s *Sender) sendWebhook(ctx context.Context, r Route, m Message) error {
	body, err := json.Marshal(WebhookBody{Version: 1, Event: m.Event, IdempotencyKey: m.IdempotencyKey, DedupKey: m.DedupKey,
		Title: m.Title(), Commands: m.Commands, SentAt: time.Now().UTC(),
		Incident: WebhookIncident{ID: m.IncidentID, Version: m.Version, State: m.State, Rule: m.Rule, Condition: m.Condition,
			Workspace: m.Workspace, Tenant: m.Tenant, Summary: m.Summary, Detail: m.Detail, Updates: m.Updates, RunID: m.RunID,
			AcknowledgedBy: m.AcknowledgedBy, OpenedAt: m.OpenedAt}})
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	return s.post(ctx, r.str("url"), body, map[string]string{HeaderTimestamp: ts, HeaderSignature: Sign(r.Secret, ts, body),
		HeaderEvent: string(m.Event), HeaderIdempotencyKey: m.IdempotencyKey})
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func (s *Sender) sendSlack(ctx context.Context, r Route, m Message) error {
	fields := []string{"*Rule:* " + slackEscape(m.Rule), "*State:* " + m.State}
	if m.Tenant != "" {
		fields = append(fields, "*Tenant:* "+slackEscape(m.Tenant))
	}
	text := slackEscape(m.Summary)
	if m.Detail != "" {
		text += "\n" + slackEscape(m.Detail)
	}
	blocks := []any{
		map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": truncate(m.Title(), 150)}},
		map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": text}},
		map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn", "text": strings.Join(fields, "  ")}}},
	}
	if len(m.Commands) > 0 {
		var cmds []string
		for _, c := range m.Commands {
			cmds = append(cmds, "`"+slackEscape(c)+"`")
		}
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": strings.Join(cmds, "\n")}})
	}
	body, err := json.Marshal(map[string]any{"text": m.Title(), "blocks": blocks})
	if err != nil {
		return err
	}
	return s.post(ctx, string(r.Secret), body, nil)
}

// TeamsCard is the Adaptive Card a Teams workflow webhook receives ("Post to a channel when a
// webhook request is received"): a message with one attachment of content type
// application/vnd.microsoft.card.adaptive.
func TeamsCard(m Message) map[string]any {
	facts := []any{map[string]any{"title": "Rule", "value": m.Rule}, map[string]any{"title": "State", "value": m.State}}
	if m.Tenant != "" {
		facts = append(facts, map[string]any{"title": "Tenant", "value": m.Tenant})
	}
	if m.RunID != 0 {
		facts = append(facts, map[string]any{"title": "Run", "value": strconv.FormatInt(m.RunID, 10)})
	}
	facts = append(facts, map[string]any{"title": "Opened", "value": m.OpenedAt.UTC().Format(time.RFC3339)})
	color := map[Event]string{EventTrigger: "Attention", EventUpdate: "Attention", EventAcknowledge: "Warning", EventResolve: "Good"}[m.Event]
	body := []any{
		map[string]any{"type": "TextBlock", "text": m.Title(), "weight": "Bolder", "size": "Medium", "wrap": true, "color": color},
		map[string]any{"type": "TextBlock", "text": m.Summary, "wrap": true},
		map[string]any{"type": "FactSet", "facts": facts},
	}
	if m.Detail != "" {
		body = append(body, map[string]any{"type": "TextBlock", "text": m.Detail, "wrap": true, "isSubtle": true})
	}
	for _, c := range m.Commands {
		body = append(body, map[string]any{"type": "TextBlock", "text": c, "fontType": "Monospace", "wrap": true})
	}
	return map[string]any{"type": "message", "attachments": []any{map[string]any{
		"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": nil,
		"content": map[string]any{"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
			"version": "1.4", "body": body},
	}}}
}

func (s *Sender) sendTeams(ctx context.Context, r Route, m Message) error {
	body, err := json.Marshal(TeamsCard(m))
	if err != nil {
		return err
	}
	return s.post(ctx, string(r.Secret), body, nil)
}

// PagerDutyEvent is an Events API v2 alert event (developer.pagerduty.com, "Send an Alert Event"):
// routing_key, event_action and dedup_key always; payload, links and client on trigger only.
type PagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"`
	DedupKey    string            `json:"dedup_key"`
	Payload     *PagerDutyPayload `json:"payload,omitempty"`
	Client      string            `json:"client,omitempty"`
	Links       []PagerDutyLink   `json:"links,omitempty"`
}

// PagerDutyPayload is a trigger's payload: summary (at most 1024 characters), source and severity
// are required.
type PagerDutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// PagerDutyLink is a link attached to the alert.
type PagerDutyLink struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// PagerDutyEventOf renders m for PagerDuty: an update is another trigger with the same dedup_key
// (PagerDuty adds it to the open alert's log), an acknowledge or resolve carries only the keys.
func PagerDutyEventOf(routingKey string, m Message) PagerDutyEvent {
	action := string(m.Event)
	if m.Event == EventUpdate {
		action = string(EventTrigger)
	}
	ev := PagerDutyEvent{RoutingKey: routingKey, EventAction: action, DedupKey: m.DedupKey}
	if action != string(EventTrigger) {
		return ev
	}
	details := map[string]any{"rule": m.Rule, "workspace": m.Workspace, "state": m.State, "updates": m.Updates, "incident_id": m.IncidentID}
	if m.Tenant != "" {
		details["tenant"] = m.Tenant
	}
	if m.Detail != "" {
		details["detail"] = m.Detail
	}
	if m.RunID != 0 {
		details["run_id"] = m.RunID
	}
	if len(m.Commands) > 0 {
		details["commands"] = m.Commands
	}
	ev.Client = "TenantAtlas"
	ev.Payload = &PagerDutyPayload{Summary: truncate(m.Title(), 1024), Source: m.Source, Severity: "error",
		Timestamp: m.At.UTC().Format(time.RFC3339), Component: m.Tenant, Group: m.Workspace, Class: m.Condition, CustomDetails: details}
	return ev
}

func (s *Sender) sendPagerDuty(ctx context.Context, r Route, m Message) error {
	body, err := json.Marshal(PagerDutyEventOf(string(r.Secret), m))
	if err != nil {
		return err
	}
	return s.post(ctx, r.str("url"), body, nil)
}

// post sends a JSON body and classifies the answer: 2xx delivered; 408, 429 and 5xx (and any
// network error) retried; other statuses permanent. Errors name the host, never the URL's path
// (a Slack or Teams path is the credential).
func (s *Sender) post(ctx context.Context, target string, body []byte, headers map[string]string) error {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return &Error{Err: fmt.Errorf("the route's URL is not valid"), Permanent: true}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return &Error{Err: fmt.Errorf("the route's URL is not valid"), Permanent: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "TenantAtlas-Alerts/1")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text holds the URL, whose path may be the credential
		}
		return &Error{Err: fmt.Errorf("POST to %s failed: %s", u.Host, redactURL(err.Error(), target, u))}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	msg := strings.Join(strings.Fields(string(snippet)), " ")
	err = fmt.Errorf("%s answered %s: %s", u.Host, resp.Status, truncate(msg, 200))
	retry := resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	return &Error{Err: err, Permanent: !retry}
}

// redactURL removes the full URL (whose path may be a credential) from a transport error.
func redactURL(msg, target string, u *url.URL) string {
	return strings.ReplaceAll(msg, target, u.Scheme+"://"+u.Host+"/…")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
