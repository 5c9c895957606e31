package tui

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

var detailKeys = struct {
	Up, Down, Filter, Follow, Cancel, Retry, Tenant, Copy key.Binding
}{
	Up:     binding("k", "scroll up", "up"),
	Down:   binding("j", "scroll down", "down"),
	Filter: binding("/", "filter log"),
	Follow: binding("f", "follow"),
	Cancel: binding("c", "cancel"),
	Retry:  binding("R", "retry"),
	Tenant: binding("t", "tenant"),
	Copy:   binding("y", "copy id"),
}

// runDetail shows one run: badges, summary, failures with hints, and the timeline/log with filter
// and follow mode.
type runDetail struct {
	ctx    *Context
	id     int64
	runID  int64
	load   loader
	run    *store.Run
	events []store.RunEvent
	err    error

	filter  filterField
	follow  bool
	scroll  int // first log line shown when not following
	confirm bool
}

type runDetailLoadedMsg struct {
	id     int64
	run    store.Run
	events []store.RunEvent
	err    error
}

func newRunDetail(c *Context, runID int64) *runDetail {
	return &runDetail{ctx: c, id: nextScreenID(), runID: runID, follow: true}
}

func (s *runDetail) Title() string { return fmt.Sprintf("Run %d", s.runID) }

func (s *runDetail) Init() tea.Cmd { return s.Reload() }

func (s *runDetail) Capturing() bool { return s.filter.typing || s.confirm }

func (s *runDetail) Relevant(n store.Notification) bool {
	return (n.Table == "operation_runs" && n.ID == s.runID) || (n.Table == "run_events" && n.RunID == s.runID)
}

func (s *runDetail) Reload() tea.Cmd {
	if !s.load.start() {
		return nil
	}
	c, id, runID := s.ctx, s.id, s.runID
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		run, err := c.Svc.GetRun(ctx, c.Actor, runID)
		if err != nil {
			return runDetailLoadedMsg{id: id, err: err}
		}
		events, err := c.Svc.RunEvents(ctx, c.Actor, store.EventFilter{RunID: runID, Limit: 5000})
		return runDetailLoadedMsg{id: id, run: run, events: events, err: err}
	}
}

func (s *runDetail) Bindings() []key.Binding {
	k := detailKeys
	cancel := k.Cancel
	cancel.SetEnabled(s.run != nil && s.run.Active())
	retry := k.Retry
	retry.SetEnabled(s.run != nil && !s.run.Active())
	return []key.Binding{k.Filter, k.Follow, cancel, retry, k.Tenant, k.Copy}
}

func (s *runDetail) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case runDetailLoadedMsg:
		if msg.id != s.id {
			return s, nil
		}
		again := s.load.done()
		s.err = msg.err
		if msg.err == nil {
			s.run, s.events = &msg.run, msg.events
		}
		if again {
			return s, s.Reload()
		}
	case tea.KeyPressMsg:
		return s, s.onKey(msg)
	}
	return s, nil
}

func (s *runDetail) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if s.confirm {
		s.confirm = false
		if msg.String() == "y" {
			c, id := s.ctx, s.runID
			return func() tea.Msg {
				ctx, cancel := c.ctx()
				defer cancel()
				if _, err := c.Svc.Cancel(ctx, c.Actor, id); err != nil {
					return flashMsg{text: err.Error(), isErr: true}
				}
				return flashMsg{text: fmt.Sprintf("cancel requested for run %d", id)}
			}
		}
		return flash("not cancelled")
	}
	if s.filter.typing {
		s.filter.key(msg)
		return nil
	}
	k := detailKeys
	switch {
	case key.Matches(msg, k.Up):
		s.follow = false
		s.scroll = max(s.scroll-1, 0)
	case key.Matches(msg, k.Down):
		s.scroll++
	case msg.String() == "pgup":
		s.follow = false
		s.scroll = max(s.scroll-10, 0)
	case msg.String() == "pgdown":
		s.scroll += 10
	case key.Matches(msg, k.Filter):
		s.filter.typing = true
	case key.Matches(msg, k.Follow):
		s.follow = !s.follow
		if s.follow {
			return flash("following the log")
		}
		return flash("follow off")
	case key.Matches(msg, k.Cancel):
		if s.run != nil && s.run.Active() {
			s.confirm = true
		}
	case key.Matches(msg, k.Retry):
		if s.run != nil && !s.run.Active() {
			return retryRun(s.ctx, s.runID, true)
		}
	case key.Matches(msg, k.Tenant):
		if s.run != nil && s.run.TenantID != nil {
			return navigate(newTenantDetail(s.ctx, *s.run.TenantID, s.run.TenantName))
		}
	case key.Matches(msg, k.Copy):
		return tea.Batch(tea.SetClipboard(fmt.Sprint(s.runID)), flash(fmt.Sprintf("copied run id %d", s.runID)))
	}
	return nil
}

func (s *runDetail) View(width, height int) string {
	t := s.ctx.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	if s.run == nil {
		return t.Dim.Render("loading…")
	}
	r := *s.run
	now := s.ctx.now()
	var lines []string
	head := fmt.Sprintf("%s  %s  %s", t.Title.Render(fmt.Sprintf("#%d", r.ID)), r.Type, s.ctx.RunBadge(r))
	if r.IsLate {
		head += "  " + s.ctx.Badge("late")
	}
	head += t.Dim.Render(fmt.Sprintf("  · %s · by %s %s · %s ago · %s", dashIfEmpty(r.TenantName), r.InitiatorKind,
		r.InitiatorName, ago(now, r.CreatedAt), runDur(r, now)))
	lines = append(lines, fit(head, width))
	if r.ReasonCode != nil {
		code := reason.Code(*r.ReasonCode)
		lines = append(lines, fit(t.Header.Render("reason  ")+t.Error.Render(string(code)), width))
		for _, l := range wrap(t.Header.Render("hint    ")+reason.Hint(code), width) {
			lines = append(lines, l)
		}
	}
	if r.ReasonDetail != nil {
		for _, l := range wrap(t.Header.Render("detail  ")+*r.ReasonDetail, width) {
			lines = append(lines, l)
		}
	}
	counts := fmt.Sprintf("succeeded %d · failed %d · skipped %d · created %d · updated %d · deleted %d · unchanged %d",
		r.Succeeded, r.Failed, r.Skipped, r.Created, r.Updated, r.Deleted, r.Unchanged)
	lines = append(lines, fit(t.Header.Render("counts  ")+counts, width))
	if bar := runProgress(r, 30); bar != "" {
		lines = append(lines, fit(t.Header.Render("progress ")+bar, width))
	}
	if failures := s.failures(); len(failures) > 0 {
		lines = append(lines, t.Header.Render(fmt.Sprintf("failures (%d)", len(failures))))
		for i, e := range failures {
			if i == 3 {
				lines = append(lines, t.Dim.Render(fmt.Sprintf("  … %d more in the log", len(failures)-3)))
				break
			}
			msg := e.Message
			if e.ItemRef != nil {
				msg = *e.ItemRef + ": " + msg
			}
			lines = append(lines, fit("  "+t.Error.Render("✖ ")+msg, width))
			if e.ReasonCode != nil {
				lines = append(lines, fit(t.Dim.Render("    → "+reason.Hint(reason.Code(*e.ReasonCode))), width))
			}
		}
	}
	logTitle := "log"
	if s.follow {
		logTitle += " · following"
	}
	if f := s.filter.label(t); f != "" {
		logTitle += " · " + f
	}
	lines = append(lines, t.Header.Render("── "+logTitle+" "+strings.Repeat("─", max(width-lipgloss.Width(logTitle)-4, 0))))
	logLines := s.logLines(width)
	room := max(height-len(lines), 1)
	start := 0
	if s.follow {
		start = max(len(logLines)-room, 0)
	} else {
		s.scroll = min(s.scroll, max(len(logLines)-room, 0))
		start = s.scroll
	}
	for i := start; i < len(logLines) && i < start+room; i++ {
		lines = append(lines, logLines[i])
	}
	if s.confirm {
		lines[len(lines)-1] = fit(t.Error.Render(fmt.Sprintf("Cancel run %d? y to confirm, any other key to keep it", s.runID)), width)
	}
	return strings.Join(lines, "\n")
}

func (s *runDetail) failures() []store.RunEvent {
	var out []store.RunEvent
	for _, e := range s.events {
		if e.Level == "error" && e.Kind == "item" {
			out = append(out, e)
		}
	}
	return out
}

func (s *runDetail) logLines(width int) []string {
	t := s.ctx.Theme
	filter := strings.ToLower(s.filter.String())
	var out []string
	for _, e := range s.events {
		msg := e.Message
		if e.ItemRef != nil {
			msg = *e.ItemRef + ": " + msg
		}
		if filter != "" && !strings.Contains(strings.ToLower(msg+" "+string(e.Level)+" "+deref(e.ReasonCode)), filter) {
			continue
		}
		level := string(e.Level)
		switch level {
		case "error":
			level = t.Error.Render("error")
		case "warn":
			level = s.ctx.Tone("warn", "warn ")
		default:
			level = t.Dim.Render(fit(level, 5))
		}
		out = append(out, fit(t.Dim.Render(e.At.Local().Format("15:04:05.000"))+" "+level+" "+msg, width))
	}
	if len(out) == 0 {
		out = append(out, t.Dim.Render("  (no log lines"+map[bool]string{true: " match", false: ""}[filter != ""]+")"))
	}
	return out
}
