package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

var homeKeys = struct{ Up, Down, Open, Runs, Tenants key.Binding }{
	Up:      binding("k", "up", "up"),
	Down:    binding("j", "down", "down"),
	Open:    binding("enter", "open"),
	Runs:    binding("o", "operations"),
	Tenants: binding("t", "tenants"),
}

// home is the triage screen: what needs attention now.
type home struct {
	ctx    *Context
	id     int64
	load   loader
	triage *engine.Triage
	err    error
	cursor int
	items  []homeItem // selectable lines, in display order
}

// homeItem is a selectable line and where enter takes it.
type homeItem struct {
	open func() tea.Cmd
}

type homeLoadedMsg struct {
	id     int64
	triage engine.Triage
	err    error
}

func newHome(c *Context) *home { return &home{ctx: c, id: nextScreenID()} }

func (s *home) Title() string   { return "Home" }
func (s *home) Init() tea.Cmd   { return s.Reload() }
func (s *home) Capturing() bool { return false }
func (s *home) Relevant(n store.Notification) bool {
	// Finished runs, connection changes and new runs change the picture; progress ticks do not.
	return (n.Table == "operation_runs" && n.Status != string(store.StatusRunning)) || n.Table == "provider_connections" || n.Table == "tenants" ||
		(n.Table == "operation_runs" && n.Op == "insert")
}

func (s *home) Reload() tea.Cmd {
	if !s.load.start() {
		return nil
	}
	c, id := s.ctx, s.id
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		tr, err := c.Svc.Triage(ctx, c.Actor, c.now())
		return homeLoadedMsg{id: id, triage: tr, err: err}
	}
}

func (s *home) Bindings() []key.Binding {
	return []key.Binding{homeKeys.Open, homeKeys.Runs, homeKeys.Tenants}
}

func (s *home) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case homeLoadedMsg:
		if msg.id != s.id {
			return s, nil
		}
		again := s.load.done()
		s.err = msg.err
		if msg.err == nil {
			s.triage = &msg.triage
		}
		if again {
			return s, s.Reload()
		}
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, homeKeys.Up):
			s.cursor = max(s.cursor-1, 0)
		case key.Matches(msg, homeKeys.Down):
			s.cursor = min(s.cursor+1, max(len(s.items)-1, 0))
		case key.Matches(msg, homeKeys.Open):
			if s.cursor < len(s.items) {
				return s, s.items[s.cursor].open()
			}
		case key.Matches(msg, homeKeys.Runs):
			return s, navigate(newRuns(s.ctx, runsOptions{tab: allTab}))
		case key.Matches(msg, homeKeys.Tenants):
			return s, navigate(newTenants(s.ctx))
		}
	}
	return s, nil
}

func (s *home) View(width, height int) string {
	t := s.ctx.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	if s.triage == nil {
		return t.Dim.Render("loading…")
	}
	tr := s.triage
	now := s.ctx.now()
	s.items = s.items[:0]
	var lines []string
	selectable := func(line string, open func() tea.Cmd) {
		if len(s.items) == s.cursor {
			line = t.Selected.Render(fit(stripStyles(line), width))
		}
		s.items = append(s.items, homeItem{open: open})
		lines = append(lines, fit(line, width))
	}

	summary := fmt.Sprintf("%d running · %d queued", tr.Active[store.StatusRunning], tr.Active[store.StatusQueued])
	lines = append(lines, fit(t.Header.Render("NOW  ")+summary+t.Dim.Render("   runs/hour (24h): ")+s.hourly(now), width), "")

	lines = append(lines, t.Header.Render("CONNECTIONS NEEDING ATTENTION"))
	if len(tr.Connections) == 0 {
		lines = append(lines, t.Dim.Render("  all connections verified and healthy"))
	}
	for _, p := range tr.Connections {
		p := p
		line := "  " + fit(p.TenantName, 16) + " " + s.ctx.Badge("connection:"+p.Status)
		if len(p.MissingPermissions) > 0 {
			line += "  missing " + t.Error.Render(strings.Join(p.MissingPermissions, ", "))
		} else if p.ReasonCode != nil {
			line += "  " + *p.ReasonCode
		} else if p.Status == "unverified" || p.Status == "none" {
			line += t.Dim.Render("  never verified: open it and press v")
		}
		selectable(line, func() tea.Cmd { return navigate(newTenantDetail(s.ctx, p.TenantID, p.TenantName)) })
	}
	lines = append(lines, "", t.Header.Render("FAILED AND BLOCKED RUNS, LAST 24 HOURS, BY REASON"))
	if len(tr.Problems) == 0 {
		lines = append(lines, t.Dim.Render("  none"))
	}
	for _, g := range tr.Problems {
		g := g
		line := fmt.Sprintf("  %s %s  %s", s.ctx.Badge(string(g.Outcome)), fit(fmt.Sprintf("%4d×", g.Count), 6), fit(g.ReasonCode, 28))
		line += t.Dim.Render(fmt.Sprintf(" %d tenant(s) · last #%d %s ago", g.Tenants, g.LatestRunID, ago(now, g.LatestAt)))
		selectable(line, func() tea.Cmd { return navigate(newRunDetail(s.ctx, g.LatestRunID)) })
		if info, known := reason.Lookup(reason.Code(g.ReasonCode)); known {
			lines = append(lines, fit(t.Dim.Render("       → "+info.Hint), width))
		}
	}
	lines = append(lines, "", t.Header.Render("STUCK RUNS"))
	if len(tr.Stuck) == 0 {
		lines = append(lines, t.Dim.Render(fmt.Sprintf("  none (running without a heartbeat for %s, or queued over %s)", compact(engine.StuckHeartbeatAge), compact(engine.StuckQueuedAge))))
	}
	for _, r := range tr.Stuck {
		r := r
		why := "no heartbeat for " + ago(now, deref(r.HeartbeatAt))
		if r.Status == store.StatusQueued {
			why = "queued " + ago(now, r.CreatedAt) + ": is an engine running?"
		}
		selectable(fmt.Sprintf("  #%d %s %s %s  %s", r.ID, r.Type, dashIfEmpty(r.TenantName), s.ctx.RunBadge(r), t.Dim.Render(why)),
			func() tea.Cmd { return navigate(newRunDetail(s.ctx, r.ID)) })
	}
	if s.cursor >= len(s.items) {
		s.cursor = max(len(s.items)-1, 0)
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
	out := s.ctx.Tone("info", sparkline(buckets))
	if failed > 0 {
		out += " " + s.ctx.Tone("bad", fmt.Sprintf("%d failed/blocked", failed))
	}
	return out
}
