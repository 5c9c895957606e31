package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
)

var detailKeys = struct {
	Filter, Follow, Wrap, Cancel, Retry, Tenant, Copy, Engine key.Binding
}{
	Filter: binding("/", "filter log"),
	Wrap:   binding("w", "wrap long lines"),
	Follow: binding("f", "follow"),
	Cancel: binding("c", "cancel"),
	Retry:  binding("R", "retry"),
	Tenant: binding("t", "tenant"),
	Copy:   binding("y", "copy id"),
	Engine: binding("e", "engine"),
}

// runDetail shows one run: badges, summary, failures with hints, and the timeline/log with filter
// and follow mode.
type runDetail struct {
	env      *Env
	runID    int64
	fetch    fetcher[runDetailLoad]
	fullOwed bool // a full load (run and every log line) is owed: Reload asked while a load was in flight
	runOwed  bool // the run's row changed: the next load reads it again
	run      *store.Run
	events   []store.RunEvent
	engine   *store.EngineRecord
	role     access.Role      // the actor's role in the run's workspace: whether c and R are offered
	failed   []store.RunEvent // the item failures among the events
	log      []string         // the events the filter lets through, drawn when they arrive or it changes
	logEmpty bool             // log holds only the "(no log lines)" line
	err      error

	filter  filterField
	follow  bool     // the log shows its end, as lines arrive
	scroll  scroller // the log's first line shown when not following
	wrap    bool     // long log lines wrap instead of being cut (w)
	confirm confirmer

	summaryMemo struct {
		key   summaryKey
		lines []string
	}
	// fitted holds log lines cut or padded to width, each drawn once: every frame shows the window
	// of the log again, and measuring a styled line costs more than the rest of the frame.
	fitted struct {
		width int
		lines []string // fitted.lines[i] is log[i] fitted, "" until drawn
	}
	levels map[store.Level]string // each level's label, styled once
}

// runDetailLoad is what one load of the run detail brings: the run (when it was read again) and the
// log lines after the last one shown (every line, when replace).
type runDetailLoad struct {
	run     *store.Run
	engine  *store.EngineRecord // the registered engine that ran it, if any
	role    access.Role
	events  []store.RunEvent
	replace bool
}

// runLogLimit is how many log lines one load brings.
const runLogLimit = 5000

func newRunDetail(c *Env, runID int64) *runDetail {
	return &runDetail{env: c, runID: runID, fetch: newFetcher[runDetailLoad](), follow: true}
}

func (s *runDetail) Title() string { return fmt.Sprintf("Run %d", s.runID) }

func (s *runDetail) Init() tea.Cmd { return s.Reload() }

func (s *runDetail) Capturing() bool { return s.filter.typing || s.confirm.asking() }

// ClearFilter clears an applied `/` filter on the log (the first esc).
func (s *runDetail) ClearFilter() (tea.Cmd, bool) {
	if s.filter.String() == "" {
		return nil, false
	}
	s.filter.text.set("")
	s.drawLog()
	return nil, true
}

func (s *runDetail) Relevant(n store.Notification) bool {
	return (n.Table == store.TableRuns && n.ID == s.runID) || (n.Table == store.TableRunEvents && n.RunID == s.runID)
}

// Reload reads the run and its whole log again (`r`, a reconnected hub).
func (s *runDetail) Reload() tea.Cmd {
	s.fullOwed = true
	return s.load()
}

// ReloadFor reads only what n changed: a new log line brings the lines after the last one shown, a
// change of the run its row and those lines. With a hundred dashboards on one busy run, each line
// costs one small read per dashboard rather than the whole log.
func (s *runDetail) ReloadFor(n store.Notification) tea.Cmd {
	if n.Table == store.TableRuns {
		s.runOwed = true
	}
	return s.load()
}

// load starts the load owed: everything before the first answer or after Reload, else the run's row
// when it changed and the log lines after the last one loaded.
func (s *runDetail) load() tea.Cmd {
	c, runID := s.env, s.runID
	full := s.fullOwed || s.run == nil
	withRun := full || s.runOwed
	var after int64
	if !full && len(s.events) > 0 {
		after = s.events[len(s.events)-1].ID
	}
	cmd := s.fetch.start(c, func(ctx context.Context) (runDetailLoad, error) {
		var v runDetailLoad
		if withRun {
			run, err := c.Svc.GetRun(ctx, c.Actor, runID)
			if err != nil {
				return v, err
			}
			v.run, v.role = &run, c.role(ctx, run.WorkspaceID)
			e, ok, err := c.Svc.RunEngine(ctx, c.Actor, runID)
			if err != nil {
				return v, err
			}
			if ok {
				v.engine = &e
			}
		}
		events, err := c.Svc.RunEvents(ctx, c.Actor, store.EventFilter{RunID: runID, AfterID: after, Limit: runLogLimit})
		v.events, v.replace = events, full
		return v, err
	})
	if cmd != nil {
		// The load started covers what was owed; while one is in flight, the owed flags stay for the
		// load that follows it.
		s.fullOwed, s.runOwed = false, false
	}
	return cmd
}

// mayAct reports whether the actor's role allows starting the run's operation, which cancelling and
// retrying it need (the engine checks again).
func (s *runDetail) mayAct() bool {
	if s.run == nil {
		return false
	}
	op, err := engine.LookupOperation(s.run.Type)
	return err == nil && s.role.Can(op.Capability)
}

func (s *runDetail) ShortHelp() []key.Binding {
	k := detailKeys
	cancel := k.Cancel
	cancel.SetEnabled(s.mayAct() && s.run.Active())
	retry := k.Retry
	retry.SetEnabled(s.mayAct() && !s.run.Active())
	eng := k.Engine
	eng.SetEnabled(s.engine != nil)
	if s.run == nil {
		// Not loaded, or refused: there is no log to filter or follow and no tenant to open.
		return []key.Binding{k.Copy}
	}
	tenant := k.Tenant
	tenant.SetEnabled(s.run.TenantID != nil)
	return []key.Binding{k.Filter, k.Follow, cancel, retry, tenant, eng, k.Copy}
}

func (s *runDetail) FullHelp() []key.Binding {
	if s.run == nil {
		return s.ShortHelp()
	}
	return append(append(s.ShortHelp(), detailKeys.Wrap), navHelp()...)
}

func (s *runDetail) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded[runDetailLoad]:
		cmd, _ := s.fetch.receive(msg, &s.err, s.show, s.load)
		return s, cmd
	case tea.WindowSizeMsg:
		if s.run != nil {
			s.drawLog()
		}
	case tea.KeyPressMsg:
		return s, s.onKey(msg)
	}
	return s, nil
}

func (s *runDetail) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if s.confirm.asking() {
		return s.confirm.answer(msg)
	}
	if s.filter.typing {
		if s.filter.key(msg) {
			s.drawLog()
		}
		return nil
	}
	k := detailKeys
	width, h := s.env.size()
	total, room := len(s.log), s.logRoom(width, bodyHeight(h))
	if d, ok := navDelta(msg, room, total); ok {
		if s.follow {
			s.scroll.offset = max(total-room, 0) // moving starts from the end the log shows
		}
		s.follow = d > 0 && s.scroll.offset+d >= total-room
		s.scroll.by(d, total, room)
		return nil
	}
	switch {
	case s.run == nil && !key.Matches(msg, k.Copy):
		return nil // nothing loaded: only the id can be copied
	case key.Matches(msg, k.Wrap):
		s.wrap = !s.wrap
		s.drawLog()
	case key.Matches(msg, k.Filter):
		s.filter.typing = true
	case key.Matches(msg, k.Follow):
		s.follow = !s.follow
		if s.follow {
			s.scroll.offset = total
			return flash("following the log")
		}
		s.scroll.offset = max(total-room, 0) // off keeps the lines shown
		return flash("follow off")
	case key.Matches(msg, k.Cancel):
		if s.mayAct() && s.run.Active() {
			s.confirm.ask(fmt.Sprintf("Cancel run %d? y to confirm, any other key to keep it", s.runID), "not cancelled", s.cancelRun)
		}
	case key.Matches(msg, k.Retry):
		if s.mayAct() && !s.run.Active() {
			return retryRun(s.env, s.runID, true)
		}
	case key.Matches(msg, k.Tenant):
		if s.run != nil && s.run.TenantID != nil {
			return navigate(newTenantDetail(s.env, *s.run.TenantID, s.run.TenantName))
		}
	case key.Matches(msg, k.Engine):
		if s.engine != nil {
			return navigate(newEngines(s.env))
		}
	case key.Matches(msg, k.Copy):
		return copyText(fmt.Sprint(s.runID), fmt.Sprintf("copied run id %d", s.runID))
	}
	return nil
}

// labelled wraps text after label into width, its continuation lines indented under the text, not
// the label ("" wraps a log line under its message, past the time and level).
func labelled(label, text string, width int) []string {
	indent := lipgloss.Width(label)
	if label == "" {
		indent = 19 // "15:04:05.000 level "
	}
	first := wrap(label+text, width)
	if len(first) <= 1 || width-indent < 10 {
		return first
	}
	rest := strings.TrimPrefix(stripStyles(label+text), stripStyles(first[0]))
	out := []string{first[0]}
	for _, l := range wrap(strings.TrimLeft(rest, " "), width-indent) {
		out = append(out, strings.Repeat(" ", indent)+l)
	}
	return out
}

// cancelRun asks the engine to cancel the run.
func (s *runDetail) cancelRun() tea.Cmd {
	c, id := s.env, s.runID
	return func() tea.Msg {
		ctx, cancel := c.callContext()
		defer cancel()
		if _, err := c.Svc.Cancel(ctx, c.Actor, id); err != nil {
			return flashMsg{text: err.Error(), isErr: true}
		}
		return flashMsg{text: fmt.Sprintf("cancel requested for run %d", id)}
	}
}

// show keeps a load's run and events and draws the log: all of it after a full load, the new lines
// after a partial one.
func (s *runDetail) show(v runDetailLoad) {
	if v.run != nil {
		s.run, s.engine, s.role = v.run, v.engine, v.role
	}
	if v.replace || s.logEmpty {
		if v.replace {
			s.events = v.events
		} else {
			s.events = append(s.events, v.events...)
		}
		s.failed = nil
		s.noteFailures(s.events)
		s.drawLog()
		return
	}
	s.events = append(s.events, v.events...)
	s.noteFailures(v.events)
	s.log = append(s.log, s.logLines(v.events)...)
	s.scrollLog()
}

// noteFailures keeps the item failures among events.
func (s *runDetail) noteFailures(events []store.RunEvent) {
	for _, e := range events {
		if e.Level == "error" && e.Kind == "item" {
			s.failed = append(s.failed, e)
		}
	}
}

// drawLog draws the log lines the filter lets through and, when following, scrolls to their end.
func (s *runDetail) drawLog() {
	s.fitted.lines = nil
	s.log = s.logLines(s.events)
	s.logEmpty = len(s.log) == 0
	if s.logEmpty {
		s.log = []string{s.env.Theme.Dim.Render("  (no log lines" + map[bool]string{true: " match", false: ""}[s.filter.String() != ""] + ")")}
	}
	s.scrollLog()
}

// scrollLog keeps the log's window in range and, when following, at its end.
func (s *runDetail) scrollLog() {
	width, h := s.env.size()
	room := s.logRoom(width, bodyHeight(h))
	if s.follow {
		s.scroll.offset = len(s.log)
	}
	s.scroll.by(0, len(s.log), room)
}

// logRoom is how many log lines fit under the summary in height.
func (s *runDetail) logRoom(width, height int) int {
	if s.run == nil {
		return 1
	}
	return max(height-len(s.summary(width)), 1)
}

func (s *runDetail) View(width, height int) string {
	t := s.env.Theme
	if s.err != nil {
		return t.Error.Render("✖ " + s.err.Error())
	}
	if s.run == nil {
		return t.Dim.Render("loading…")
	}
	lines := slices.Clone(s.summary(width)) // the log goes below it: the summary's memo stays as drawn
	room := max(height-len(lines), 1)
	start := max(min(s.scroll.offset, len(s.log)-room), 0) // as scroller.window
	if s.follow {
		start = max(len(s.log)-room, 0)
	}
	for i := start; i < min(start+room, len(s.log)); i++ {
		lines = append(lines, s.fittedLine(i, width))
	}
	if q := s.confirm.view(t, width); q != "" {
		lines[len(lines)-1] = q
	}
	return strings.Join(lines, "\n")
}

// fittedLine is log line i fitted to width, drawn once per width.
func (s *runDetail) fittedLine(i, width int) string {
	f := &s.fitted
	if f.width != width {
		f.width, f.lines = width, nil
	}
	if len(f.lines) < len(s.log) {
		f.lines = append(f.lines, make([]string, len(s.log)-len(f.lines))...)
	}
	if f.lines[i] == "" {
		f.lines[i] = fit(s.log[i], width)
	}
	return f.lines[i]
}

// summary is everything above the log: the run's badges, reason, counts, failures and the log's title.
func (s *runDetail) summary(width int) []string {
	// Drawn once per change: every frame and every key asks for it, and it is a dozen styled lines.
	// What it shows changes with the run, its engine, its failures, the log's title and the second.
	key := summaryKey{run: s.run, engine: s.engine, failed: len(s.failed), width: width, follow: s.follow,
		filter: s.filter.label(s.env.Theme), second: s.env.now().Unix()}
	if s.summaryMemo.lines != nil && s.summaryMemo.key == key {
		return s.summaryMemo.lines
	}
	lines := s.drawSummary(width)
	s.summaryMemo.key, s.summaryMemo.lines = key, lines
	return lines
}

// summaryKey is what the summary above the log depends on.
type summaryKey struct {
	run           *store.Run
	engine        *store.EngineRecord
	failed, width int
	follow        bool
	filter        string
	second        int64
}

// drawSummary draws the summary (see summary).
func (s *runDetail) drawSummary(width int) []string {
	t := s.env.Theme
	r := *s.run
	now := s.env.now()
	var lines []string
	head := fmt.Sprintf("%s  %s  %s", t.Title.Render(fmt.Sprintf("#%d", r.ID)), r.Type, s.env.RunBadge(r))
	if r.IsLate {
		head += "  " + s.env.Badge("late")
	}
	head += t.Dim.Render(fmt.Sprintf("  · %s · by %s %s · %s ago · %s", dashIfEmpty(r.TenantName), r.InitiatorKind,
		r.InitiatorName, ago(now, r.CreatedAt), runDur(r, now)))
	lines = append(lines, fit(head, width))
	if e := s.engine; e != nil {
		lines = append(lines, fit(t.Header.Render("engine  ")+fmt.Sprintf("%s (%s, engine %d) ", e.Name, e.Version, e.ID)+
			s.env.Badge("engine:"+e.State)+t.Dim.Render("  e: :engines"), width))
	}
	if r.ReasonCode != nil {
		code := reason.Code(*r.ReasonCode)
		lines = append(lines, fit(t.Header.Render("reason  ")+t.Error.Render(string(code)), width))
		lines = append(lines, labelled(t.Header.Render("hint    "), reason.Hint(code), width)...)
	}
	if r.ReasonDetail != nil {
		lines = append(lines, labelled(t.Header.Render("detail  "), *r.ReasonDetail, width)...)
	}
	counts := fmt.Sprintf("succeeded %d · failed %d · skipped %d · created %d · updated %d · deleted %d · unchanged %d",
		r.Succeeded, r.Failed, r.Skipped, r.Created, r.Updated, r.Deleted, r.Unchanged)
	lines = append(lines, fit(t.Header.Render("counts  ")+counts, width))
	if bar := runProgress(r, 30); bar != "" {
		lines = append(lines, fit(t.Header.Render("progress ")+bar, width))
	}
	if failures := s.failed; len(failures) > 0 {
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
	return append(lines, t.Header.Render("── "+logTitle+" "+strings.Repeat("─", max(width-lipgloss.Width(logTitle)-4, 0))))
}

// levelLabel is a log level as the log shows it, styled once per level.
func (s *runDetail) levelLabel(level store.Level) string {
	if l, ok := s.levels[level]; ok {
		return l
	}
	var l string
	switch level {
	case "error":
		l = s.env.Theme.Error.Render("error")
	case "warn":
		l = s.env.Tone("warn", "warn ")
	default:
		l = s.env.Theme.Dim.Render(fit(string(level), 5))
	}
	if s.levels == nil {
		s.levels = map[store.Level]string{}
	}
	s.levels[level] = l
	return l
}

// logLines draws the events the filter lets through, one line each (or more, wrapped).
func (s *runDetail) logLines(events []store.RunEvent) []string {
	t := s.env.Theme
	filter := strings.ToLower(s.filter.String())
	var out []string
	for _, e := range events {
		msg := e.Message
		if e.ItemRef != nil {
			msg = *e.ItemRef + ": " + msg
		}
		if filter != "" && !strings.Contains(strings.ToLower(msg+" "+string(e.Level)+" "+deref(e.ReasonCode)), filter) {
			continue
		}
		line := t.Dim.Render(e.At.Local().Format("15:04:05.000")) + " " + s.levelLabel(e.Level) + " " + msg
		if s.wrap {
			width, _ := s.env.size()
			out = append(out, labelled("", line, width)...)
			continue
		}
		out = append(out, line)
	}
	return out
}
