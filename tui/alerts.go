package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

var alertsKeys = struct{ Ack, Silence key.Binding }{
	Ack:     binding("a", "acknowledge"),
	Silence: binding("z", "silence 1h"),
}

// alertsList is :alerts: incidents, open first, with the current one's deliveries and every
// failed attempt's error, and the routes that are failing (docs/design.md#alerts).
type alertsList = listScreen[store.AlertIncident, engine.AlertHistory]

func newAlerts(env *Env) *alertsList {
	return newList(env, listSpec[store.AlertIncident, engine.AlertHistory]{
		title: "Alerts",
		relevant: func(n store.Notification) bool {
			return n.Table == store.TableAlertIncidents || n.Table == store.TableAlertDeliveries || n.Table == store.TableAlertRoutes
		},
		fetch: func(ctx context.Context, env *Env, _ listQuery[store.AlertIncident]) ([]store.AlertIncident, engine.AlertHistory, error) {
			h, err := env.Svc.AlertHistory(ctx, env.Actor, 200)
			return h.Incidents, h, err
		},
		columns: func(int) []column {
			return []column{{title: "ID", width: 5}, {title: "STATE", width: 12}, {title: "RULE", width: 14, flex: true, weight: 2},
				{title: "TENANT", width: 10, flex: true, weight: 2}, {title: "SUMMARY", flex: true}, {title: "OPENED", width: 7}}
		},
		row: func(env *Env, now time.Time, i store.AlertIncident) []string {
			return []string{fmt.Sprint(i.ID), env.Tone(incidentTone(i), i.Phase()), i.RuleName, dashIfEmpty(i.TenantName), i.Summary,
				ago(now, i.OpenedAt)}
		},
		match: func(i store.AlertIncident) string {
			return i.RuleName + " " + i.TenantName + " " + i.Summary + " " + i.Subject
		},
		head: func(l *alertsList) string {
			t := l.env.Theme
			open := 0
			for _, i := range l.all {
				if i.State == store.IncidentOpen {
					open++
				}
			}
			line := t.Header.Render(fmt.Sprintf("%d open", open)) + t.Dim.Render(fmt.Sprintf(" · %d route(s)", len(l.side.Routes)))
			for _, r := range l.side.Routes {
				if r.LastError != nil {
					line += " · " + t.Error.Render(r.Name+" failing")
				}
			}
			return line
		},
		empty: func(*alertsList) string {
			return "  No incidents. Rules: `tenantatlas alerts rules add`; routes: `tenantatlas alerts routes add`."
		},
		below: func(l *alertsList, width int) []string { return alertDeliveryLines(l, width) },
		actions: []listAction[store.AlertIncident, engine.AlertHistory]{
			filterAction[store.AlertIncident, engine.AlertHistory]("filter"),
			{key: alertsKeys.Ack, offered: func(l *alertsList) bool {
				i, ok := l.current()
				return ok && l.side.CanManage[i.WorkspaceID] && i.State == store.IncidentOpen && i.AcknowledgedAt == nil
			}, run: func(l *alertsList) tea.Cmd {
				i, _ := l.current()
				return tea.Sequence(acknowledgeIncident(l.env, i.ID), l.Reload())
			}},
			{key: alertsKeys.Silence, offered: func(l *alertsList) bool {
				i, ok := l.current()
				return ok && l.side.CanManage[i.WorkspaceID] && i.State == store.IncidentOpen
			}, run: func(l *alertsList) tea.Cmd {
				i, _ := l.current()
				return tea.Sequence(silenceIncident(l.env, i.ID, time.Hour), l.Reload())
			}},
		},
	})
}

// alertDeliveryLines are the current incident's deliveries, then its failed attempts' errors.
func alertDeliveryLines(l *alertsList, width int) []string {
	t := l.env.Theme
	i, ok := l.current()
	if !ok {
		return nil
	}
	lines := []string{t.Header.Render(fmt.Sprintf("DELIVERIES OF #%d", i.ID))}
	ds := l.side.Deliveries[i.ID]
	if len(ds) == 0 {
		lines = append(lines, t.Dim.Render("  none: the rule has no routes, or the incident was silenced"))
	}
	for _, d := range ds {
		status := l.env.Tone(map[store.DeliveryStatus]string{store.DeliveryDelivered: "good", store.DeliveryPending: "warn",
			store.DeliveryFailed: "bad"}[d.Status], string(d.Status))
		text := fmt.Sprintf("  %-11s %-16s %s  %d attempt(s)", d.Event, d.RouteName+" ("+d.RouteKind+")", status, d.Attempts)
		if d.LastError != nil && d.Status != store.DeliveryDelivered {
			text += "  " + t.Error.Render(*d.LastError)
		}
		lines = append(lines, fit(text, width))
	}
	for _, a := range l.side.Failures[i.ID] {
		lines = append(lines, fit(t.Dim.Render(fmt.Sprintf("  delivery %d attempt %d at %s: ", a.DeliveryID, a.Attempt, a.At.Local().Format("15:04:05")))+a.Error, width))
	}
	return lines
}

func incidentTone(i store.AlertIncident) string {
	switch i.Phase() {
	case "resolved":
		return "good"
	case "open":
		return "bad"
	}
	return "warn"
}

// acknowledgeIncident acknowledges an incident and says so; the change reloads the screens.
func acknowledgeIncident(env *Env, id int64) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := env.callContext()
		defer cancel()
		if _, err := env.Svc.AcknowledgeIncident(ctx, env.Actor, id); err != nil {
			return flashMsg{text: err.Error(), isErr: true}
		}
		return flashMsg{text: fmt.Sprintf("incident %d acknowledged: its routes are told, no updates until it resolves", id)}
	}
}

// silenceIncident holds back an incident's messages for d.
func silenceIncident(env *Env, id int64, d time.Duration) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := env.callContext()
		defer cancel()
		if _, err := env.Svc.SilenceIncident(ctx, env.Actor, id, d); err != nil {
			return flashMsg{text: err.Error(), isErr: true}
		}
		return flashMsg{text: fmt.Sprintf("incident %d silenced for %s", id, compact(d))}
	}
}

// incidentLine is an open incident as home lists it.
func incidentLine(env *Env, now time.Time, i store.AlertIncident) string {
	t := env.Theme
	text := "  " + env.Tone(incidentTone(i), fit(i.Phase(), 12)) + " " + fit(i.RuleName, 16) + " " + strings.TrimSpace(i.Summary)
	extra := " · " + ago(now, i.OpenedAt)
	if i.AcknowledgedBy != nil {
		extra += " · ack " + *i.AcknowledgedBy
	}
	return text + t.Dim.Render(extra)
}
