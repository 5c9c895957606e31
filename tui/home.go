package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

var homeKeys = struct{ Up, Down, Open, Runs, Tenants, Add, Ack key.Binding }{
	Up:      binding("k", "up", "up"),
	Down:    binding("j", "down", "down"),
	Open:    binding("enter", "open"),
	Runs:    binding("o", "operations"),
	Tenants: binding("t", "tenants"),
	Add:     binding("a", "add tenant"),
	// Ack is a on an open incident's line (the "a on the home screen's alert list"); on
	// any other line a adds a tenant.
	Ack: binding("a", "acknowledge"),
}

// home is the triage screen: what needs attention now.
type home struct {
	env    *Env
	fetch  fetcher[homeData]
	triage *engine.Triage
	// tenants is how many tenants the actor sees, canAdd whether it may add one: with none, home
	// says how to add the first.
	tenants int
	canAdd  bool
	// incidents are the open incidents, listed first; canAck says in which workspaces the actor
	// may acknowledge them (alert.manage).
	incidents []store.AlertIncident
	canAck    map[int64]bool
	// drifted are the tenants whose latest drift check found drift from their baseline.
	drifted []store.TenantDrift
	err     error
	cursor  int        // among the selectable lines
	lines   []homeLine // drawn when the triage arrives
}

// homeLine is a line of the triage; a selectable one opens what it shows on enter.
type homeLine struct {
	text string
	open func() tea.Cmd // nil: not selectable
	// incident is the open incident the line shows, if any: a acknowledges it.
	incident *store.AlertIncident
}

// homeData is one load of home.
type homeData struct {
	triage    engine.Triage
	tenants   int
	canAdd    bool
	incidents []store.AlertIncident
	canAck    map[int64]bool
	drifted   []store.TenantDrift
}

func newHome(c *Env) *home { return &home{env: c, fetch: newFetcher[homeData]()} }

func (s *home) Title() string   { return "Home" }
func (s *home) Init() tea.Cmd   { return s.Reload() }
func (s *home) Capturing() bool { return false }
func (s *home) Relevant(n store.Notification) bool {
	// Finished runs, connection changes and new runs change the picture; progress ticks do not.
	return (n.Table == store.TableRuns && n.Status != string(store.StatusRunning)) || n.Table == store.TableConnections || n.Table == store.TableTenants ||
		(n.Table == store.TableRuns && n.Op == "insert") || n.Table == store.TableAlertIncidents
}

func (s *home) Reload() tea.Cmd {
	c := s.env
	return s.fetch.start(c, func(ctx context.Context) (homeData, error) {
		tr, err := c.Svc.Triage(ctx, c.Actor, c.now())
		if err != nil {
			return homeData{}, err
		}
		d := homeData{triage: tr}
		if ts, err := c.Svc.ListTenants(ctx, c.Actor); err == nil {
			d.tenants = len(ts)
		}
		if w, err := c.Svc.ResolveWorkspace(ctx, c.Actor, ""); err == nil {
			d.canAdd = c.can(ctx, w.ID, access.TenantManage)
		}
		if h, err := c.Svc.AlertHistory(ctx, c.Actor, 50); err == nil {
			d.canAck = h.CanManage
			for _, i := range h.Incidents {
				if i.State == store.IncidentOpen {
					d.incidents = append(d.incidents, i)
				}
			}
		}
		if ds, err := c.Svc.TenantDrift(ctx, c.Actor); err == nil {
			for _, td := range ds {
				if td.Drifted > 0 {
					d.drifted = append(d.drifted, td)
				}
			}
		}
		return d, nil
	})
}

func (s *home) ShortHelp() []key.Binding {
	if inc := s.currentIncident(); inc != nil && s.canAck[inc.WorkspaceID] && inc.AcknowledgedAt == nil {
		return []key.Binding{homeKeys.Open, homeKeys.Runs, homeKeys.Tenants, homeKeys.Ack}
	}
	add := homeKeys.Add
	add.SetEnabled(s.canAdd)
	return []key.Binding{homeKeys.Open, homeKeys.Runs, homeKeys.Tenants, add}
}

// currentIncident is the open incident under the cursor, if the cursor is on one.
func (s *home) currentIncident() *store.AlertIncident {
	if items := s.selectable(); s.cursor < len(items) {
		return items[s.cursor].incident
	}
	return nil
}

func (s *home) FullHelp() []key.Binding {
	return append(s.ShortHelp(), homeKeys.Up, homeKeys.Down)
}

func (s *home) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded[homeData]:
		cmd, _ := s.fetch.receive(msg, &s.err, s.show, s.Reload)
		return s, cmd
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, homeKeys.Up):
			s.cursor = max(s.cursor-1, 0)
		case key.Matches(msg, homeKeys.Down):
			s.cursor = min(s.cursor+1, max(len(s.selectable())-1, 0))
		case key.Matches(msg, homeKeys.Open):
			if items := s.selectable(); s.cursor < len(items) {
				return s, items[s.cursor].open()
			}
		case key.Matches(msg, homeKeys.Runs):
			return s, navigate(newRuns(s.env, runsOptions{tab: allTab}))
		case key.Matches(msg, homeKeys.Tenants):
			return s, navigate(newTenants(s.env))
		case key.Matches(msg, homeKeys.Ack) && s.currentIncident() != nil:
			inc := s.currentIncident()
			if !s.canAck[inc.WorkspaceID] {
				return s, flash("acknowledging needs alert.manage (owners and managers)")
			}
			return s, tea.Sequence(acknowledgeIncident(s.env, inc.ID), s.Reload())
		case key.Matches(msg, homeKeys.Add) && s.canAdd:
			return s, navigate(newWizard(s.env))
		}
	}
	return s, nil
}

// show keeps a triage and draws it.
func (s *home) show(d homeData) {
	s.triage, s.tenants, s.canAdd, s.incidents, s.canAck, s.drifted = &d.triage, d.tenants, d.canAdd, d.incidents, d.canAck, d.drifted
	s.layout()
}

// layout draws the triage into lines, when it arrives: View only fits them and marks the cursor's.
func (s *home) layout() {
	t := s.env.Theme
	tr := s.triage
	now := s.env.now()
	s.lines = s.lines[:0]
	line := func(text string) { s.lines = append(s.lines, homeLine{text: text}) }
	selectable := func(text string, open func() tea.Cmd) { s.lines = append(s.lines, homeLine{text: text, open: open}) }

	if len(s.incidents) > 0 { // open incidents first (docs/design.md#alerts)
		line(t.Header.Render("OPEN INCIDENTS") + t.Dim.Render("  a acknowledges · enter shows :alerts"))
		for i := range s.incidents {
			inc := &s.incidents[i]
			s.lines = append(s.lines, homeLine{text: incidentLine(s.env, now, *inc), incident: inc,
				open: func() tea.Cmd { return navigate(newAlerts(s.env)) }})
		}
		line("")
	}

	summary := fmt.Sprintf("%d running · %d queued", tr.Active[store.StatusRunning], tr.Active[store.StatusQueued])
	line(t.Header.Render("NOW  ") + summary + t.Dim.Render("   runs/hour (24h): ") + s.hourly(now))
	if queued := tr.Active[store.StatusQueued]; tr.AliveEngines == 0 && queued > 0 {
		selectable(t.Error.Render("  ✖ no engine is alive and "+fmt.Sprint(queued)+" run(s) are queued")+
			t.Dim.Render(": start `tenantatlas engine` (or `serve`); enter shows :engines"),
			func() tea.Cmd { return navigate(newEngines(s.env)) })
	}
	line("")

	line(t.Header.Render("CONNECTIONS NEEDING ATTENTION"))
	if s.tenants == 0 {
		line(s.env.Tone("warn", "  No tenants yet: ") + noTenantsAdvice(s.canAdd))
	} else if len(tr.Connections) == 0 {
		line(t.Dim.Render("  all connections verified and healthy"))
	}
	for _, p := range tr.Connections {
		text := "  " + fit(p.TenantName, 16) + " " + s.env.Badge("connection:"+p.Status)
		if len(p.MissingPermissions) > 0 {
			text += "  missing " + t.Error.Render(strings.Join(p.MissingPermissions, ", "))
		} else if p.ReasonCode != nil {
			text += "  " + *p.ReasonCode
		} else if p.Status == "unverified" || p.Status == "none" {
			text += t.Dim.Render("  never verified: open it and press v")
		}
		selectable(text, func() tea.Cmd { return navigate(newTenantDetail(s.env, p.TenantID, p.TenantName)) })
	}
	line("")
	if len(s.drifted) > 0 { // docs/design.md#baselines-and-drift-watch
		line(t.Header.Render("DRIFT FROM BASELINE"))
		for _, d := range s.drifted {
			runID := deref(d.CheckRunID)
			selectable("  "+fit(d.TenantName, 16)+" "+s.env.Tone("warn", fmt.Sprintf("%d drifted item(s)", d.Drifted))+
				t.Dim.Render(fmt.Sprintf(" · checked %s ago · run #%d", ago(now, deref(d.CheckedAt)), runID)),
				func() tea.Cmd { return navigate(newRunDetail(s.env, runID)) })
		}
		line("")
	}
	line(t.Header.Render("FAILED AND BLOCKED RUNS, LAST 24 HOURS, BY REASON"))
	if len(tr.Problems) == 0 {
		line(t.Dim.Render("  none"))
	}
	for _, g := range tr.Problems {
		text := fmt.Sprintf("  %s %s  %s", s.env.Badge(string(g.Outcome)), fit(fmt.Sprintf("%4d×", g.Count), 6), fit(g.ReasonCode, 28))
		text += t.Dim.Render(fmt.Sprintf(" %d tenant(s) · last #%d %s ago", g.Tenants, g.LatestRunID, ago(now, g.LatestAt)))
		selectable(text, func() tea.Cmd { return navigate(newRunDetail(s.env, g.LatestRunID)) })
		if info, known := reason.Lookup(reason.Code(g.ReasonCode)); known {
			line(t.Dim.Render("       → " + info.Hint))
		}
	}
	line("")
	line(t.Header.Render("STUCK RUNS"))
	if len(tr.Stuck) == 0 {
		line(t.Dim.Render(fmt.Sprintf("  none (running without a heartbeat for %s, or queued over %s)", compact(engine.StuckHeartbeatAge), compact(engine.StuckQueuedAge))))
	}
	for _, r := range tr.Stuck {
		why := "no heartbeat for " + ago(now, deref(r.HeartbeatAt))
		if r.Status == store.StatusQueued {
			why = "queued " + ago(now, r.CreatedAt) + ": is an engine running?"
		}
		selectable(fmt.Sprintf("  #%d %s %s %s  %s", r.ID, r.Type, dashIfEmpty(r.TenantName), s.env.RunBadge(r), t.Dim.Render(why)),
			func() tea.Cmd { return navigate(newRunDetail(s.env, r.ID)) })
	}
	s.cursor = min(s.cursor, max(len(s.selectable())-1, 0))
}

// selectable are the lines enter opens, in display order.
func (s *home) selectable() []homeLine {
	var out []homeLine
	for _, l := range s.lines {
		if l.open != nil {
			out = append(out, l)
		}
	}
	return out
}

func (s *home) View(width, height int) string {
	t := s.env.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	if s.triage == nil {
		return t.Dim.Render("loading…")
	}
	lines := make([]string, 0, len(s.lines))
	item := 0
	for _, l := range s.lines {
		text := fit(l.text, width)
		if l.open != nil {
			if item == s.cursor {
				text = t.Selected.Render(fit(stripStyles(l.text), width))
			}
			item++
		}
		lines = append(lines, text)
	}
	return strings.Join(lines, "\n")
}

// hourly renders the last 24 hours as a sparkline of all runs, with failures counted beside it.
func (s *home) hourly(now time.Time) string {
	buckets := make([]int64, 24)
	var failed int64
	start := now.Truncate(time.Hour).Add(-23 * time.Hour)
	for _, h := range s.triage.Hourly {
		i := int(h.Hour.Sub(start) / time.Hour)
		if i < 0 || i >= 24 {
			continue
		}
		buckets[i] += h.Count
		if h.Outcome == store.OutcomeFailed || h.Outcome == store.OutcomeBlocked {
			failed += h.Count
		}
	}
	out := s.env.Tone("info", sparkline(buckets))
	if failed > 0 {
		out += " " + s.env.Tone("bad", fmt.Sprintf("%d failed/blocked", failed))
	}
	return out
}

// noTenantsAdvice says how to add the first tenant: in the dashboard when the actor may, else whom to ask.
func noTenantsAdvice(canAdd bool) string {
	if canAdd {
		return "press a (or :onboard) to add one"
	}
	return "ask a workspace owner or manager to add one (your role cannot)"
}
