package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

// runTab is one status tab of the operations screen.
type runTab struct {
	name     string
	label    string
	statuses []store.Status
	outcomes []store.Outcome
	countKey []string
	legacy   bool // the read-only imported history, not operation runs
}

var runTabs = []runTab{
	{name: "queued", label: "Queued", statuses: []store.Status{store.StatusQueued}, countKey: []string{string(store.StatusQueued)}},
	{name: "running", label: "Running", statuses: []store.Status{store.StatusRunning}, countKey: []string{string(store.StatusRunning)}},
	{name: "failed", label: "Failed", outcomes: []store.Outcome{store.OutcomeFailed, store.OutcomePartiallySucceeded},
		countKey: []string{string(store.OutcomeFailed), string(store.OutcomePartiallySucceeded)}},
	{name: "blocked", label: "Blocked", outcomes: []store.Outcome{store.OutcomeBlocked}, countKey: []string{string(store.OutcomeBlocked)}},
	{name: "all", label: "All"},
	{name: "legacy", label: "Legacy", legacy: true},
}

func runTabNames() []string {
	out := make([]string, len(runTabs))
	for i, t := range runTabs {
		out[i] = t.name
	}
	return out
}

// allTab is the index of the "All" tab.
const allTab = 4

func runTabByName(name string) (int, error) {
	if name == "" {
		return allTab, nil
	}
	for i, t := range runTabs {
		if t.name == strings.ToLower(name) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no tab %q (tabs: %s)", name, strings.Join(runTabNames(), ", "))
}

var runsKeys = struct {
	Next, Prev, Up, Down, Top, Bottom, Open, Filter, Mark, Cancel, Retry, Sort, Copy key.Binding
}{
	Next:   binding("tab", "next tab"),
	Prev:   binding("shift+tab", "prev tab"),
	Up:     binding("k", "up", "up"),
	Down:   binding("j", "down", "down"),
	Top:    binding("g", "top", "home"),
	Bottom: binding("G", "bottom", "end"),
	Open:   binding("enter", "open"),
	Filter: binding("/", "filter"),
	Mark:   binding("space", "mark"),
	Cancel: binding("c", "cancel"),
	Retry:  binding("R", "retry"),
	Sort:   binding("s", "sort"),
	Copy:   binding("y", "copy id"),
}

type runsOptions struct {
	tab      int
	tenantID int64
	title    string
}

// runsSort orders the loaded page.
var runsSorts = []string{"newest", "longest", "type"}

// runs is the operations screen: status tabs with counts, a live table, filter, marks and bulk cancel.
type runs struct {
	ctx    *Context
	id     int64
	opts   runsOptions
	tab    int
	filter filterField
	sortBy int

	load       loader
	countsLoad loader
	countsAt   time.Time
	countsOwed bool
	loaded     bool
	err        error
	rows       []store.Run
	legacy     []store.LegacyRun
	counts     map[string]int64
	table      table
	marked     map[int64]bool
	confirm    *bulkAction // marked runs awaiting a y to cancel or retry them
}

type runsLoadedMsg struct {
	id     int64
	rows   []store.Run
	legacy []store.LegacyRun
	err    error
}

// runsCountsMsg carries the tab counts, loaded apart from the rows: counting a long history costs
// more than a page of rows, so counts refresh at most every countsEvery while rows stay live.
type runsCountsMsg struct {
	id     int64
	counts map[string]int64
	err    error
}

type runsCountsTickMsg struct{ id int64 }

// countsEvery is how often the tab counts may be recounted.
const countsEvery = 2 * time.Second

func newRuns(c *Context, opts runsOptions) *runs {
	return &runs{ctx: c, id: nextScreenID(), opts: opts, tab: opts.tab, marked: map[int64]bool{}}
}

func (s *runs) Title() string {
	if s.opts.title != "" {
		return s.opts.title
	}
	return "Operations"
}

func (s *runs) Init() tea.Cmd { return s.Reload() }

func (s *runs) Capturing() bool { return s.filter.typing || s.confirm != nil }

func (s *runs) Relevant(n store.Notification) bool {
	return n.Table == "operation_runs" && (s.opts.tenantID == 0 || n.TenantID == s.opts.tenantID)
}

func (s *runs) Reload() tea.Cmd {
	return tea.Batch(s.loadRows(), s.loadCounts())
}

func (s *runs) loadRows() tea.Cmd {
	if !s.load.start() {
		return nil
	}
	c, id, tab, search, tenantID := s.ctx, s.id, runTabs[s.tab], s.filter.String(), s.opts.tenantID
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		if tab.legacy {
			legacy, err := c.Svc.ListLegacyRuns(ctx, c.Actor, store.LegacyFilter{TenantID: tenantID, Search: search, Limit: 500})
			return runsLoadedMsg{id: id, legacy: legacy, err: err}
		}
		q := engine.RunQuery{TenantID: tenantID, Statuses: tab.statuses, Outcomes: tab.outcomes, Search: search, Limit: 500}
		rows, err := c.Svc.ListRuns(ctx, c.Actor, q)
		return runsLoadedMsg{id: id, rows: rows, err: err}
	}
}

// loadCounts recounts the tabs unless they were counted within countsEvery; then one recount is
// scheduled for when the window ends.
func (s *runs) loadCounts() tea.Cmd {
	if wait := countsEvery - time.Since(s.countsAt); s.counts != nil && wait > 0 {
		if !s.countsOwed {
			s.countsOwed = true
			id := s.id
			return tea.Tick(wait, func(time.Time) tea.Msg { return runsCountsTickMsg{id: id} })
		}
		return nil
	}
	if !s.countsLoad.start() {
		return nil
	}
	s.countsAt = time.Now()
	c, id, tenantID := s.ctx, s.id, s.opts.tenantID
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		counts, err := c.Svc.CountRuns(ctx, c.Actor, engine.RunQuery{TenantID: tenantID})
		return runsCountsMsg{id: id, counts: counts, err: err}
	}
}

func (s *runs) Bindings() []key.Binding {
	k := runsKeys
	if runTabs[s.tab].legacy {
		return []key.Binding{k.Next, k.Filter} // read-only history
	}
	return []key.Binding{k.Next, k.Open, k.Filter, k.Mark, k.Cancel, k.Retry, k.Sort, k.Copy}
}

func (s *runs) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case runsLoadedMsg:
		if msg.id != s.id {
			return s, nil
		}
		again := s.load.done()
		s.loaded, s.err = true, msg.err
		if msg.err == nil {
			s.setRows(msg.rows)
			s.legacy = msg.legacy
		}
		if again {
			return s, s.loadRows()
		}
		return s, nil
	case runsCountsMsg:
		if msg.id != s.id {
			return s, nil
		}
		again := s.countsLoad.done()
		if msg.err == nil {
			s.counts = msg.counts
		}
		if again {
			return s, s.loadCounts()
		}
		return s, nil
	case runsCountsTickMsg:
		if msg.id != s.id || !s.countsOwed {
			return s, nil
		}
		s.countsOwed = false
		return s, s.loadCounts()
	case tea.KeyPressMsg:
		return s, s.onKey(msg)
	}
	return s, nil
}

// setRows keeps the cursor on the same run across reloads.
func (s *runs) setRows(rows []store.Run) {
	var current int64
	if s.table.cursor < len(s.rows) {
		current = s.rows[s.table.cursor].ID
	}
	s.rows = rows
	s.sortRows()
	s.table.cursor = 0
	for i, r := range s.rows {
		if r.ID == current {
			s.table.cursor = i
		}
	}
}

func (s *runs) sortRows() {
	switch runsSorts[s.sortBy] {
	case "longest":
		now := s.ctx.now()
		sort.SliceStable(s.rows, func(i, j int) bool { return runElapsed(s.rows[i], now) > runElapsed(s.rows[j], now) })
	case "type":
		sort.SliceStable(s.rows, func(i, j int) bool { return s.rows[i].Type < s.rows[j].Type })
	default:
		sort.SliceStable(s.rows, func(i, j int) bool { return s.rows[i].ID > s.rows[j].ID })
	}
}

// bulkAction is a command on several runs, shown for confirmation first.
type bulkAction struct {
	question string         // shown until the next key
	declined string         // flashed when that key is not y
	run      func() tea.Cmd // the command, made only once confirmed (it clears the marks)
}

func (s *runs) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if s.confirm != nil {
		a := s.confirm
		s.confirm = nil
		if msg.String() != "y" {
			return flash(a.declined)
		}
		return a.run()
	}
	if s.filter.typing {
		if s.filter.key(msg) {
			return s.loadRows()
		}
		return nil
	}
	h := s.ctx.Height - 6
	k := runsKeys
	if runTabs[s.tab].legacy {
		switch {
		case key.Matches(msg, k.Up):
			s.table.move(-1, len(s.legacy), h)
			return nil
		case key.Matches(msg, k.Down):
			s.table.move(1, len(s.legacy), h)
			return nil
		case key.Matches(msg, k.Next), key.Matches(msg, k.Prev), key.Matches(msg, k.Filter), len(msg.String()) == 1 && msg.String() >= "1" && msg.String() <= "9":
		default:
			return nil // nothing to act on in the read-only history
		}
	}
	switch {
	case key.Matches(msg, k.Next):
		s.tab = (s.tab + 1) % len(runTabs)
		s.table.cursor = 0
		return s.loadRows()
	case key.Matches(msg, k.Prev):
		s.tab = (s.tab + len(runTabs) - 1) % len(runTabs)
		s.table.cursor = 0
		return s.loadRows()
	case len(msg.String()) == 1 && msg.String() >= "1" && msg.String() <= fmt.Sprint(len(runTabs)):
		s.tab = int(msg.String()[0] - '1')
		s.table.cursor = 0
		return s.loadRows()
	case key.Matches(msg, k.Up):
		s.table.move(-1, len(s.rows), h)
	case key.Matches(msg, k.Down):
		s.table.move(1, len(s.rows), h)
	case msg.String() == "pgup":
		s.table.move(-h, len(s.rows), h)
	case msg.String() == "pgdown":
		s.table.move(h, len(s.rows), h)
	case key.Matches(msg, k.Top):
		s.table.cursor = 0
	case key.Matches(msg, k.Bottom):
		s.table.cursor = len(s.rows) - 1
	case key.Matches(msg, k.Filter):
		s.filter.typing = true
	case key.Matches(msg, k.Sort):
		s.sortBy = (s.sortBy + 1) % len(runsSorts)
		s.sortRows()
		return flash("sorted by " + runsSorts[s.sortBy])
	case key.Matches(msg, k.Open):
		if r, ok := s.current(); ok {
			return navigate(newRunDetail(s.ctx, r.ID))
		}
	case key.Matches(msg, k.Mark):
		if r, ok := s.current(); ok {
			s.marked[r.ID] = !s.marked[r.ID]
			if !s.marked[r.ID] {
				delete(s.marked, r.ID)
			}
			s.table.move(1, len(s.rows), h)
		}
	case key.Matches(msg, k.Copy):
		if r, ok := s.current(); ok {
			return tea.Batch(tea.SetClipboard(fmt.Sprint(r.ID)), flash(fmt.Sprintf("copied run id %d", r.ID)))
		}
	case key.Matches(msg, k.Cancel):
		ids := s.cancelTargets()
		if len(ids) == 0 {
			return flash("nothing to cancel: mark active runs with space, or select one")
		}
		s.confirm = &bulkAction{question: fmt.Sprintf("Cancel %d run(s)? y to confirm, any other key to keep them", len(ids)),
			declined: "nothing cancelled", run: func() tea.Cmd { return s.cancelRuns(ids) }}
	case key.Matches(msg, k.Retry):
		if len(s.marked) > 0 {
			ids := s.markedWhere(func(r store.Run) bool { return !r.Active() })
			if len(ids) == 0 {
				return flash("nothing to retry: none of the marked runs has finished")
			}
			s.confirm = &bulkAction{question: fmt.Sprintf("Retry %d run(s)? y to start them again, any other key to leave them", len(ids)),
				declined: "nothing retried", run: func() tea.Cmd { return s.retryRuns(ids) }}
			return nil
		}
		r, ok := s.current()
		switch {
		case !ok:
			return flash("nothing to retry: mark finished runs with space, or select one")
		case r.Active():
			return flash(fmt.Sprintf("run %d is still %s: only a finished run can be retried", r.ID, r.Status))
		}
		return retryRun(s.ctx, r.ID, false)
	}
	return nil
}

// markedWhere lists the marked runs on screen for which keep is true.
func (s *runs) markedWhere(keep func(store.Run) bool) []int64 {
	var ids []int64
	for _, r := range s.rows {
		if s.marked[r.ID] && keep(r) {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// cancelTargets are the marked active runs, or the selected one.
func (s *runs) cancelTargets() []int64 {
	ids := s.markedWhere(func(r store.Run) bool { return r.Active() })
	if len(ids) == 0 {
		if r, ok := s.current(); ok && r.Active() {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func (s *runs) cancelRuns(ids []int64) tea.Cmd {
	c := s.ctx
	s.marked = map[int64]bool{}
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		done, failed := 0, []string{}
		for _, id := range ids {
			if _, err := c.Svc.Cancel(ctx, c.Actor, id); err != nil {
				failed = append(failed, fmt.Sprintf("#%d: %v", id, err))
				continue
			}
			done++
		}
		if len(failed) > 0 {
			return flashMsg{text: fmt.Sprintf("cancelled %d, %d refused: %s", done, len(failed), strings.Join(failed, "; ")), isErr: true}
		}
		return flashMsg{text: fmt.Sprintf("cancel requested for %d run(s)", done)}
	}
}

// retryRuns retries each of the finished runs ids and says in one line what came of it.
func (s *runs) retryRuns(ids []int64) tea.Cmd {
	c := s.ctx
	s.marked = map[int64]bool{}
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		var started, active, refused []string
		for _, id := range ids {
			res, err := c.Svc.Retry(ctx, c.Actor, id)
			switch {
			case err != nil:
				refused = append(refused, fmt.Sprintf("#%d: %v", id, err))
			case res.Created:
				started = append(started, fmt.Sprintf("#%d", res.Run.ID))
			default:
				active = append(active, fmt.Sprintf("#%d", res.Run.ID))
			}
		}
		text := fmt.Sprintf("retried %d run(s): started %s", len(ids), orNone(started))
		if len(active) > 0 {
			text += "; already active " + strings.Join(active, " ")
		}
		if len(refused) > 0 {
			return flashMsg{text: text + fmt.Sprintf("; %d refused: %s", len(refused), strings.Join(refused, "; ")), isErr: true}
		}
		return flashMsg{text: text}
	}
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, " ")
}

// retryRun starts run id's operation again. With open, the run it started (or the active run a dedupe
// type returned) opens next, so that the retry can be watched.
func retryRun(c *Context, id int64, open bool) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := c.ctx()
		defer cancel()
		res, err := c.Svc.Retry(ctx, c.Actor, id)
		if err != nil {
			return flashMsg{text: err.Error(), isErr: true}
		}
		msg := flashMsg{text: fmt.Sprintf("started run %d (retry of %d)", res.Run.ID, id)}
		if !res.Created {
			msg.text = fmt.Sprintf("run %d is already active for this tenant", res.Run.ID)
		}
		if !open {
			return msg
		}
		// In order: navigating clears the flash line.
		return tea.Sequence(navigate(newRunDetail(c, res.Run.ID)), func() tea.Msg { return msg })()
	}
}

func (s *runs) current() (store.Run, bool) {
	if s.table.cursor < 0 || s.table.cursor >= len(s.rows) {
		return store.Run{}, false
	}
	return s.rows[s.table.cursor], true
}

func (s *runs) View(width, height int) string {
	t := s.ctx.Theme
	var tabs []string
	for i, tab := range runTabs {
		label := tab.label
		if tab.legacy {
			label = fmt.Sprintf("%d %s", i+1, label)
			if i == s.tab {
				tabs = append(tabs, t.TabActive.Render(label))
			} else {
				tabs = append(tabs, t.Tab.Render(label))
			}
			continue
		}
		if tab.countKey != nil {
			var n int64
			for _, k := range tab.countKey {
				n += s.counts[k]
			}
			label = fmt.Sprintf("%s %d", label, n)
		} else {
			var n int64
			for _, v := range s.counts {
				n += v
			}
			label = fmt.Sprintf("%s %d", label, n)
		}
		label = fmt.Sprintf("%d %s", i+1, label)
		if i == s.tab {
			tabs = append(tabs, t.TabActive.Render(label))
		} else {
			tabs = append(tabs, t.Tab.Render(label))
		}
	}
	top := strings.Join(tabs, t.Dim.Render(" │ "))
	if f := s.filter.label(t); f != "" {
		top += "   " + f
	}
	if len(s.marked) > 0 {
		top += "   " + t.Marked.Render(fmt.Sprintf("%d marked", len(s.marked)))
	}
	lines := []string{fit(top, width)}
	if s.confirm != nil {
		lines = append(lines, fit(t.Error.Render(s.confirm.question), width))
	}
	switch {
	case s.err != nil:
		lines = append(lines, t.Error.Render("✖ "+s.err.Error()))
	case runTabs[s.tab].legacy:
		lines = append(lines, s.legacyView(width, height-len(lines)))
	case !s.loaded:
		lines = append(lines, t.Dim.Render("loading…"))
	case len(s.rows) == 0:
		lines = append(lines, "", t.Dim.Render("  no runs here"+emptyHint(s)))
	default:
		s.table.cols = runColumns(width)
		s.table.rows = s.table.rows[:0]
		now := s.ctx.now()
		for _, r := range s.rows {
			s.table.rows = append(s.table.rows, s.runRow(r, now, width))
		}
		s.table.marked = map[int]bool{}
		for i, r := range s.rows {
			if s.marked[r.ID] {
				s.table.marked[i] = true
			}
		}
		lines = append(lines, s.table.view(s.ctx, width, height-len(lines)))
	}
	return strings.Join(lines, "\n")
}

func emptyHint(s *runs) string {
	if s.filter.String() != "" {
		return " matching /" + s.filter.String() + " (esc clears)"
	}
	return ""
}

// wideLayout is the width from which tables show full type names and extra columns.
const wideLayout = 140

func runColumns(width int) []column {
	cols := []column{{title: "ID", width: 5}, {title: "TYPE", flex: true}, {title: "TENANT", width: 10},
		{title: "STATUS", width: 11}, {title: "PROGRESS", width: 10}, {title: "REASON", flex: true},
		{title: "AGE", width: 4}, {title: "DUR", width: 6}}
	if width >= wideLayout {
		cols[0].width = 7
		cols[2].width = 18
		cols[3].width = 13
		cols[4].width = 16
		cols = append(cols, column{title: "BY", width: 10})
	}
	return cols
}

func (s *runs) runRow(r store.Run, now time.Time, width int) []string {
	typ := r.Type
	if op, err := engine.LookupOperation(r.Type); err == nil && width < wideLayout {
		typ = op.Title
	}
	row := []string{fmt.Sprint(r.ID), typ, dashIfEmpty(r.TenantName), s.ctx.RunBadge(r),
		runProgress(r, 10), dashIfEmpty(deref(r.ReasonCode)), ago(now, r.CreatedAt), runDur(r, now)}
	if width >= wideLayout {
		row[4] = runProgress(r, 16)
		row = append(row, dashIfEmpty(r.InitiatorName))
	}
	return row
}

// legacyView renders imported legacy history: read-only, its reasons mapped onto the taxonomy or
// shown verbatim.
func (s *runs) legacyView(width, height int) string {
	t := s.ctx.Theme
	if len(s.legacy) == 0 {
		return "\n" + t.Dim.Render("  no legacy history (import it with `tenantatlas legacy import FILE`)")
	}
	s.table.cols = []column{{title: "LEGACY ID", width: 10}, {title: "SOURCE", width: 15}, {title: "TENANT", width: 10},
		{title: "STATUS", width: 12}, {title: "REASON", flex: true}, {title: "STARTED", width: 11}}
	s.table.rows = s.table.rows[:0]
	s.table.marked = nil
	for _, l := range s.legacy {
		status := s.ctx.Badge("legacy") + " " + l.Status
		if l.Outcome != nil {
			status = s.ctx.Badge(string(*l.Outcome))
		}
		why := dashIfEmpty(deref(l.ReasonCode))
		if l.ReasonCode == nil && l.LegacyReason != "" {
			why = t.Dim.Render("unmapped: ") + l.LegacyReason
		}
		tenant := l.TenantName
		if tenant == "" {
			tenant = l.TenantRef
		}
		started := "-"
		if l.StartedAt != nil {
			started = l.StartedAt.Local().Format("01-02 15:04")
		}
		s.table.rows = append(s.table.rows, []string{l.LegacyID, l.Source, dashIfEmpty(tenant), status, why, started})
	}
	return s.table.view(s.ctx, width, height)
}
