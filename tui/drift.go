package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

// drift shows the per-item, field-level differences between two sets (or a set and the inventory).
type drift struct {
	env      *Env
	from, to int64
	fetch    fetcher[engine.Drift]
	d        *engine.Drift
	body     []string // drawn when the drift arrives
	err      error
	scroll   scroller
}

// driftHead is how many lines drift draws above its body: from, to, counts and a blank line.
const driftHead = 4

func newDrift(env *Env, from, to int64) *drift {
	return &drift{env: env, from: from, to: to, fetch: newFetcher[engine.Drift]()}
}

func (s *drift) Title() string {
	if s.to == 0 {
		return fmt.Sprintf("Drift %d → inventory", s.from)
	}
	return fmt.Sprintf("Drift %d → %d", s.from, s.to)
}
func (s *drift) Init() tea.Cmd                    { return s.Reload() }
func (s *drift) Capturing() bool                  { return false }
func (s *drift) Relevant(store.Notification) bool { return false }
func (s *drift) ShortHelp() []key.Binding {
	return []key.Binding{navKeys.Down, navKeys.Up, navKeys.PageDown}
}
func (s *drift) FullHelp() []key.Binding { return navHelp() }

func (s *drift) Reload() tea.Cmd {
	c, from, to := s.env, s.from, s.to
	return s.fetch.start(c, func(ctx context.Context) (engine.Drift, error) {
		return c.Svc.DiffBackups(ctx, c.Actor, from, to)
	})
}

func (s *drift) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded[engine.Drift]:
		cmd, _ := s.fetch.receive(msg, &s.err, s.show, s.Reload)
		return s, cmd
	case tea.KeyPressMsg:
		_, h := s.env.size()
		s.scroll.key(msg, max(h-6, 1), len(s.body), s.visible(bodyHeight(h)))
	}
	return s, nil
}

// show keeps a drift and draws its lines.
func (s *drift) show(d engine.Drift) {
	s.d = &d
	s.body = s.lines()
}

// visible is how many body lines fit in height.
func (s *drift) visible(height int) int { return max(height-driftHead-len(s.warnings()), 1) }

// warnings are the lines on top that say a side is an incomplete set: what it lacks is not drift.
func (s *drift) warnings() []string {
	if s.d == nil {
		return nil
	}
	var out []string
	for _, side := range []engine.DriftSide{s.d.From, s.d.To} {
		if side.Incomplete() {
			out = append(out, fmt.Sprintf("⚠ set %d is incomplete (%s): %d object(s) it may never have reached are not counted as removed or added",
				side.SetID, side.State, s.d.NotCaptured))
		}
	}
	return out
}

// notCaptured is the counts line's note of objects an incomplete set did not capture, or "".
func notCaptured(d *engine.Drift) string {
	if d.NotCaptured == 0 && !d.From.Incomplete() && !d.To.Incomplete() {
		return ""
	}
	return fmt.Sprintf("  ? %d not captured", d.NotCaptured)
}

func driftSide(side engine.DriftSide) string {
	if side.Kind == "inventory" {
		return "inventory of " + side.Tenant
	}
	state := ""
	if side.Incomplete() {
		state = ", " + side.State
	}
	return fmt.Sprintf("set %d of %s (%s%s)", side.SetID, side.Tenant, side.At.UTC().Format("2006-01-02 15:04"), state)
}

// lines draws the changes, item by item, each followed by its changed fields.
func (s *drift) lines() []string {
	t := s.env.Theme
	var body []string
	if len(s.d.Items) == 0 {
		body = append(body, t.Dim.Render("  no drift"))
	}
	for _, it := range s.d.Items {
		mark, tone := "~", "warn"
		switch it.Status {
		case engine.DriftAdded:
			mark, tone = "+", "ok"
		case engine.DriftRemoved:
			mark, tone = "-", "bad"
		}
		line := s.env.Tone(tone, mark+" "+dashIfEmpty(it.DisplayName)) + t.Dim.Render("  "+it.Family+"/"+it.PolicyType)
		if it.Sensitive {
			line += " " + s.env.Badge("sensitive")
		}
		body = append(body, line)
		for _, c := range it.Changes {
			body = append(body, "    "+c.Path+": "+t.Dim.Render(dashIfEmpty(c.From))+" → "+dashIfEmpty(c.To))
		}
		if it.Truncated {
			body = append(body, t.Dim.Render("    … more changes"))
		}
	}
	return body
}

func (s *drift) View(width, height int) string {
	t := s.env.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	if s.d == nil {
		return t.Dim.Render("comparing…")
	}
	d := s.d
	var lines []string
	for _, w := range s.warnings() {
		lines = append(lines, fit(s.env.Tone("bad", w), width))
	}
	lines = append(lines,
		fit(t.Header.Render("from ")+driftSide(d.From), width),
		fit(t.Header.Render("to   ")+driftSide(d.To), width),
		fit(fmt.Sprintf("%s  %s  %s  %s",
			s.env.Tone("warn", fmt.Sprintf("~ %d changed", d.Changed)), s.env.Tone("ok", fmt.Sprintf("+ %d added", d.Added)),
			s.env.Tone("bad", fmt.Sprintf("- %d removed", d.Removed)), t.Dim.Render(fmt.Sprintf("%d unchanged", d.Unchanged)))+notCaptured(d), width),
		"",
	)
	for _, l := range s.scroll.window(s.body, s.visible(height)) {
		lines = append(lines, fit(l, width))
	}
	return strings.Join(lines, "\n")
}
