package tui

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
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
	statuses []string
	outcomes []string
	countKey []string
	legacy   bool // the read-only imported history, not operation runs
}

var runTabs = []runTab{
	{name: "queued", label: "Queued", statuses: []string{store.StatusQueued}, countKey: []string{store.StatusQueued}},
	{name: "running", label: "Running", statuses: []string{store.StatusRunning}, countKey: []string{store.StatusRunning}},
	{name: "failed", label: "Failed", outcomes: []string{store.OutcomeFailed, store.OutcomePartiallySucceeded},
		countKey: []string{store.OutcomeFailed, store.OutcomePartiallySucceeded}},
	{name: "blocked", label: "Blocked", outcomes: []string{store.OutcomeBlocked}, countKey: []string{store.OutcomeBlocked}},
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
	Next, Prev, Tabs, Open, Filter, Mark, Cancel, Retry, Sort, Copy key.Binding
}{
	Next:   binding("tab", "next tab"),
	Prev:   binding("shift+tab", "prev tab"),
	Tabs:   tabKeys(),
	Open:   binding("enter", "open"),
	Filter: binding("/", "filter"),
	Mark:   binding("space", "mark"),
	Cancel: binding("c", "cancel"),
	Retry:  binding("R", "retry"),
	Sort:   binding("s", "sort"),
	Copy:   binding("y", "copy id"),
}

// tabKeys are the digits that go straight to a tab, one per tab.
func tabKeys() key.Binding {
	digits := make([]string, len(runTabs))
	for i := range runTabs {
		digits[i] = strconv.Itoa(i + 1)
	}
	return key.NewBinding(key.WithKeys(digits...), key.WithHelp(digits[0]+"-"+digits[len(digits)-1], "go to tab"))
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
	env    *Env
	id     int64
	opts   runsOptions
	tab    int
	filter filterField
	sortBy int

	rowsFetch   fetcher[[]store.Run]
	countsFetch fetcher[map[string]int64]
	countsAt    time.Time
	countsOwed  bool
	countsErr   error // a failed count keeps the last counts
	loaded      bool
	err         error
	rows        []store.Run
	legacy      *legacyList // the Legacy tab
	counts      map[string]int64
	table       table
	marked      map[int64]bool
	confirm     confirmer // marked runs awaiting a y to cancel or retry them
}

// The tab counts load apart from the rows: counting a long history costs more than a page of rows,
// so counts refresh at most every countsEvery while rows stay live. runsCountsTickMsg ends the wait.
type runsCountsTickMsg struct{ id int64 }

// countsEvery is how often the tab counts may be recounted.
const countsEvery = 2 * time.Second

func newRuns(c *Env, opts runsOptions) *runs {
	s := &runs{env: c, id: nextScreenID(), opts: opts, tab: opts.tab, marked: map[int64]bool{},
		rowsFetch: newFetcher[[]store.Run](), countsFetch: newFetcher[map[string]int64]()}
	s.legacy = newLegacyRuns(c, opts.tenantID, &s.filter)
	return s
}

func (s *runs) Title() string {
	if s.opts.title != "" {
		return s.opts.title
	}
	return "Operations"
}

func (s *runs) Init() tea.Cmd { return s.Reload() }

func (s *runs) Capturing() bool { return s.filter.typing || s.confirm.asking() }

func (s *runs) Relevant(n store.Notification) bool {
	return n.Table == "operation_runs" && (s.opts.tenantID == 0 || n.TenantID == s.opts.tenantID)
}

func (s *runs) Reload() tea.Cmd {
	return tea.Batch(s.loadRows(), s.loadCounts())
}

func (s *runs) loadRows() tea.Cmd {
	tab := runTabs[s.tab]
	if tab.legacy {
		return s.legacy.Reload()
	}
	c := s.env
	q := engine.RunQuery{TenantID: s.opts.tenantID, Statuses: tab.statuses, Outcomes: tab.outcomes, Search: s.filter.String(), Limit: 500}
	return s.rowsFetch.start(c, func(ctx context.Context) ([]store.Run, error) {
		return c.Svc.ListRuns(ctx, c.Actor, q)
	})
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
	c, tenantID := s.env, s.opts.tenantID
	cmd := s.countsFetch.start(c, func(ctx context.Context) (map[string]int64, error) {
		return c.Svc.CountRuns(ctx, c.Actor, engine.RunQuery{TenantID: tenantID})
	})
	if cmd != nil {
		s.countsAt = time.Now()
	}
	return cmd
}

func (s *runs) ShortHelp() []key.Binding {
	k := runsKeys
	if runTabs[s.tab].legacy {
		return []key.Binding{k.Next, k.Filter} // read-only history
	}
	return []key.Binding{k.Next, k.Open, k.Filter, k.Mark, k.Cancel, k.Retry, k.Sort, k.Copy}
}

func (s *runs) FullHelp() []key.Binding {
	k, m := runsKeys, listKeys
	if runTabs[s.tab].legacy {
		return []key.Binding{k.Next, k.Prev, k.Tabs, k.Filter, m.Up, m.Down, m.PageUp, m.PageDown, m.Top, m.Bottom}
	}
	return []key.Binding{k.Next, k.Prev, k.Tabs, k.Open, k.Filter, k.Mark, k.Cancel, k.Retry, k.Sort, k.Copy,
		m.Up, m.Down, m.PageUp, m.PageDown, m.Top, m.Bottom}
}

func (s *runs) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded[[]store.Run]:
		cmd, ok := s.rowsFetch.receive(msg, &s.err, s.setRows, s.loadRows)
		s.loaded = s.loaded || ok
		return s, cmd
	case loaded[map[string]int64]:
		cmd, _ := s.countsFetch.receive(msg, &s.countsErr, func(counts map[string]int64) { s.counts = counts }, s.loadCounts)
		return s, cmd
	case runsCountsTickMsg:
		if msg.id != s.id || !s.countsOwed {
			return s, nil
		}
		s.countsOwed = false
		return s, s.loadCounts()
	case tea.WindowSizeMsg:
		s.drawRows()
	case tea.KeyPressMsg:
		return s, s.onKey(msg)
	}
	// The Legacy tab takes its own answers, even after the user left it, so its load ends.
	_, cmd := s.legacy.Update(msg)
	return s, cmd
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
	s.drawRows()
}

// drawRows draws the rows into the table's cells, with their marks, for the current width.
func (s *runs) drawRows() {
	width, _ := s.env.size()
	s.table.cols = runColumns(width)
	s.table.rows = s.table.rows[:0]
	now := s.env.now()
	for _, r := range s.rows {
		s.table.rows = append(s.table.rows, s.runRow(r, now, width))
	}
	s.drawMarks()
	s.table.clampTo(len(s.rows), s.tableHeight())
}

// drawMarks shows the marked runs in the table.
func (s *runs) drawMarks() {
	s.table.marked = map[int]bool{}
	for i, r := range s.rows {
		if s.marked[r.ID] {
			s.table.marked[i] = true
		}
	}
}

// tableHeight is the height the table is drawn in: the body less the tabs line and a question.
func (s *runs) tableHeight() int {
	_, h := s.env.size()
	if s.confirm.asking() {
		return bodyHeight(h) - 2
	}
	return bodyHeight(h) - 1
}

func (s *runs) sortRows() {
	switch runsSorts[s.sortBy] {
	case "longest":
		now := s.env.now()
		slices.SortStableFunc(s.rows, func(a, b store.Run) int { return cmp.Compare(runElapsed(b, now), runElapsed(a, now)) })
	case "type":
		slices.SortStableFunc(s.rows, func(a, b store.Run) int { return cmp.Compare(a.Type, b.Type) })
	default:
		slices.SortStableFunc(s.rows, func(a, b store.Run) int { return cmp.Compare(b.ID, a.ID) })
	}
}

func (s *runs) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if s.confirm.asking() {
		cmd := s.confirm.answer(msg)
		s.table.clampTo(len(s.rows), s.tableHeight()) // the question's line is gone
		return cmd
	}
	if s.filter.typing {
		if s.filter.key(msg) {
			return s.loadRows()
		}
		return nil
	}
	k := runsKeys
	switch {
	case key.Matches(msg, k.Next):
		return s.switchTab((s.tab + 1) % len(runTabs))
	case key.Matches(msg, k.Prev):
		return s.switchTab((s.tab + len(runTabs) - 1) % len(runTabs))
	case key.Matches(msg, k.Tabs):
		return s.switchTab(int(msg.String()[0] - '1'))
	case key.Matches(msg, k.Filter):
		s.filter.typing = true
		return nil
	}
	if runTabs[s.tab].legacy {
		_, cmd := s.legacy.Update(msg) // movement only: nothing to act on in the read-only history
		return cmd
	}
	if s.table.moveKey(msg, len(s.rows), s.tableHeight()) {
		return nil
	}
	switch {
	case key.Matches(msg, k.Sort):
		s.sortBy = (s.sortBy + 1) % len(runsSorts)
		s.sortRows()
		s.drawRows()
		return flash("sorted by " + runsSorts[s.sortBy])
	case key.Matches(msg, k.Open):
		if r, ok := s.current(); ok {
			return navigate(newRunDetail(s.env, r.ID))
		}
	case key.Matches(msg, k.Mark):
		s.toggleMark()
	case key.Matches(msg, k.Copy):
		if r, ok := s.current(); ok {
			return tea.Batch(tea.SetClipboard(fmt.Sprint(r.ID)), flash(fmt.Sprintf("copied run id %d", r.ID)))
		}
	case key.Matches(msg, k.Cancel):
		return s.cancel()
	case key.Matches(msg, k.Retry):
		return s.retry()
	}
	return nil
}

// cancel asks to cancel the marked active runs, or the selected one.
func (s *runs) cancel() tea.Cmd {
	ids := s.cancelTargets()
	if len(ids) == 0 {
		return flash("nothing to cancel: mark active runs with space, or select one")
	}
	s.ask(fmt.Sprintf("Cancel %d run(s)? y to confirm, any other key to keep them", len(ids)),
		"nothing cancelled", func() tea.Cmd { return s.cancelRuns(ids) })
	return nil
}

// retry asks to retry the marked finished runs; with none marked it retries the selected one at once.
func (s *runs) retry() tea.Cmd {
	if len(s.marked) > 0 {
		ids := s.markedWhere(func(r store.Run) bool { return !r.Active() })
		if len(ids) == 0 {
			return flash("nothing to retry: none of the marked runs has finished")
		}
		s.ask(fmt.Sprintf("Retry %d run(s)? y to start them again, any other key to leave them", len(ids)),
			"nothing retried", func() tea.Cmd { return s.retryRuns(ids) })
		return nil
	}
	r, ok := s.current()
	switch {
	case !ok:
		return flash("nothing to retry: mark finished runs with space, or select one")
	case r.Active():
		return flash(fmt.Sprintf("run %d is still %s: only a finished run can be retried", r.ID, r.Status))
	}
	return retryRun(s.env, r.ID, false)
}

// toggleMark marks the selected run, or unmarks it, and moves to the next.
func (s *runs) toggleMark() {
	r, ok := s.current()
	if !ok {
		return
	}
	if s.marked[r.ID] {
		delete(s.marked, r.ID)
	} else {
		s.marked[r.ID] = true
	}
	s.drawMarks()
	s.table.move(1, len(s.rows), s.tableHeight())
}

// ask puts a question above the table (which gives it a line).
func (s *runs) ask(question, declined string, run func() tea.Cmd) {
	s.confirm.ask(question, declined, run)
	s.table.clampTo(len(s.rows), s.tableHeight())
}

// switchTab shows tab i from its top.
func (s *runs) switchTab(i int) tea.Cmd {
	s.tab = i
	s.table.cursor, s.legacy.table.cursor = 0, 0
	return s.loadRows()
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

// onMarked clears the marks and returns the command that acts on runs, once confirmed, and says in
// one line what came of it.
func (s *runs) onMarked(act func(ctx context.Context, c *Env) flashMsg) tea.Cmd {
	c := s.env
	s.marked = map[int64]bool{}
	s.drawMarks()
	return func() tea.Msg {
		ctx, cancel := c.callContext()
		defer cancel()
		return act(ctx, c)
	}
}

// cancelRuns asks the engine to cancel each of the runs ids.
func (s *runs) cancelRuns(ids []int64) tea.Cmd {
	return s.onMarked(func(ctx context.Context, c *Env) flashMsg {
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
	})
}

// retryRuns retries each of the finished runs ids and says in one line what came of it.
func (s *runs) retryRuns(ids []int64) tea.Cmd {
	return s.onMarked(func(ctx context.Context, c *Env) flashMsg {
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
	})
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, " ")
}

// retryRun starts run id's operation again. With open, the run it started (or the active run a dedupe
// type returned) opens next, so that the retry can be watched.
func retryRun(c *Env, id int64, open bool) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := c.callContext()
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
	t := s.env.Theme
	tabs := make([]string, 0, len(runTabs))
	for i, tab := range runTabs {
		label := fmt.Sprintf("%d %s", i+1, tab.label)
		if !tab.legacy {
			label = fmt.Sprintf("%s %d", label, s.tabCount(tab))
		}
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
	if q := s.confirm.view(t, width); q != "" {
		lines = append(lines, q)
	}
	switch {
	case runTabs[s.tab].legacy:
		lines = append(lines, s.legacy.View(width, height-len(lines)))
	case s.err != nil:
		lines = append(lines, t.Error.Render("✖ "+s.err.Error()))
	case !s.loaded:
		lines = append(lines, t.Dim.Render("loading…"))
	case len(s.rows) == 0:
		lines = append(lines, "", t.Dim.Render("  no runs here"+emptyHint(s)))
	default:
		lines = append(lines, s.table.view(s.env, width, height-len(lines)))
	}
	return strings.Join(lines, "\n")
}

// tabCount is the number of runs on a tab: the counts of its states, or of all for the All tab.
func (s *runs) tabCount(tab runTab) int64 {
	var n int64
	if tab.countKey == nil {
		for _, v := range s.counts {
			n += v
		}
		return n
	}
	for _, k := range tab.countKey {
		n += s.counts[k]
	}
	return n
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
	row := []string{fmt.Sprint(r.ID), typ, dashIfEmpty(r.TenantName), s.env.RunBadge(r),
		runProgress(r, 10), dashIfEmpty(deref(r.ReasonCode)), ago(now, r.CreatedAt), runDur(r, now)}
	if width >= wideLayout {
		row[4] = runProgress(r, 16)
		row = append(row, dashIfEmpty(r.InitiatorName))
	}
	return row
}
