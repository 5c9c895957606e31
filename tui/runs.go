package tui

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/access"
	"github.com/tenantatlas/tenantatlas/store"
)

var runsKeys = struct {
	Next, Prev, Tabs, Open, Filter, Mark, Cancel, Retry, Copy key.Binding
}{
	Next:   binding("tab", "next tab"),
	Prev:   binding("shift+tab", "prev tab"),
	Tabs:   tabKeys(),
	Open:   binding("enter", "open"),
	Filter: binding("/", "filter"),
	Mark:   binding("space", "mark (changing tab clears marks)"),
	Cancel: binding("c", "cancel"),
	Retry:  binding("R", "retry"),
	Copy:   binding("y", "copy id"),
}

type runsOptions struct {
	tab      int
	tenantID int64
	title    string
}

// runsSort orders the loaded page.
var runsSorts = []string{"newest", "longest", "type"}

// runsSortColumn is the column each order sorts by, and runsSortArrow its direction in the header.
var (
	runsSortColumn = map[string]string{"newest": "ID", "longest": "DUR", "type": "TYPE"}
	runsSortArrow  = map[string]string{"newest": "↓", "longest": "↓", "type": "↑"}
)

// runs is the operations screen: status tabs with counts, a live table, filter, marks and bulk cancel.
type runs struct {
	env    *Env
	id     int64
	opts   runsOptions
	tab    int
	filter filterField
	sortBy int

	rowsFetch   fetcher[runsPage]
	countsFetch fetcher[map[string]int64] // the counts alone, while the Legacy tab shows
	countsOwed  bool                      // the next rows load counts too
	countsErr   error                     // a failed count keeps the last counts
	loaded      bool
	err         error
	rows        []store.Run
	limit       int                   // the tab's newest runs its loads read: a first page, more on scrolling
	exhausted   bool                  // the last load brought fewer than it asked: the tab's every run is loaded
	toEnd       bool                  // G: the cursor goes to the last row once the rest has loaded
	roles       map[int64]access.Role // the actor's role in each workspace of the rows: which runs it may cancel or retry
	legacy      *legacyList           // the Legacy tab
	counts      map[string]int64
	table       table
	marked      map[int64]bool
	confirm     confirmer // marked runs awaiting a y to cancel or retry them
}

func newRuns(c *Env, opts runsOptions) *runs {
	s := &runs{env: c, id: nextScreenID(), opts: opts, tab: opts.tab, marked: map[int64]bool{},
		rowsFetch: newFetcher[runsPage](), countsFetch: newFetcher[map[string]int64]()}
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

// ClearFilter clears an applied `/` filter (the first esc).
func (s *runs) ClearFilter() (tea.Cmd, bool) {
	if s.filter.String() == "" {
		return nil, false
	}
	s.filter.text.set("")
	s.table.cursor, s.legacy.table.cursor = 0, 0
	return s.restart(), true
}

func (s *runs) Relevant(n store.Notification) bool {
	return n.Table == store.TableRuns && (s.opts.tenantID == 0 || n.TenantID == s.opts.tenantID)
}

// Reload loads the tab's rows with every tab's count, so that the counts move with the rows in the
// same frame (the counts read the run totals, one row per tenant, type and outcome: no history is scanned).
func (s *runs) Reload() tea.Cmd {
	if runTabs[s.tab].legacy {
		return tea.Batch(s.loadRows(), s.loadCounts())
	}
	return s.loadRowsCounted(true)
}

// loadRows loads the tab's rows (as many as are loaded, at least a first page): after a change of
// tab or filter (which restart sets back to a first page), or an answer that another load was asked
// for meanwhile. The counts, which depend on neither, stay as the last change left them.
func (s *runs) loadRows() tea.Cmd { return s.loadRowsCounted(false) }

// restart loads a first page of the tab: after a change of tab or filter.
func (s *runs) restart() tea.Cmd {
	s.limit, s.toEnd = 0, false
	return s.loadRows()
}

// firstPage is how many runs a tab's first load reads: the rows the screen shows and as many again,
// so that moving down finds its rows loaded while the next page loads (loadMore). An order other
// than the newest sorts the whole window, so it loads it whole.
func (s *runs) firstPage() int {
	if runsSorts[s.sortBy] != "newest" {
		return rowsLimit
	}
	return min(max(2*s.tableHeight(), minPage), rowsLimit)
}

// minPage is the smallest first page, for the smallest terminals.
const minPage = 50

// loadRowsCounted loads the tab's newest rows, as many as are loaded now and at least a first page,
// and, with counts, every tab's count in the same answer.
func (s *runs) loadRowsCounted(counts bool) tea.Cmd {
	if runTabs[s.tab].legacy {
		return s.legacy.Reload()
	}
	s.limit = min(max(s.limit, s.firstPage()), rowsLimit)
	return s.fetchRows(s.query(s.limit), counts || s.countsOwed, false)
}

// loadMore loads the next page of the tab, after the oldest run loaded (keyset: the runs are read
// newest first by id), when the cursor is within a screen of the last row loaded or the screen is
// taller than what is loaded; to the end of the window (rowsLimit) when G asked for it. A page is as
// large as what is loaded (at least a first page): scrolling through the window costs a few loads
// (at 48 lines a first page of 88 rows, then 88, 176 and the rest), not one per screen.
func (s *runs) loadMore() tea.Cmd {
	if runTabs[s.tab].legacy || !s.loaded || s.exhausted || len(s.rows) == 0 || len(s.rows) >= rowsLimit {
		return nil
	}
	want := len(s.rows) + max(len(s.rows), s.firstPage())
	if s.toEnd {
		want = rowsLimit
	} else if s.table.cursor < len(s.rows)-s.tableHeight() && len(s.rows) >= s.firstPage() {
		return nil
	}
	s.limit = min(want, rowsLimit)
	q := s.query(s.limit - len(s.rows))
	q.BeforeID = s.rows[0].ID
	for _, r := range s.rows {
		q.BeforeID = min(q.BeforeID, r.ID)
	}
	return s.fetchRows(q, false, true)
}

// query is the tab's query for limit runs.
func (s *runs) query(limit int) engine.RunQuery {
	tab := runTabs[s.tab]
	return engine.RunQuery{TenantID: s.opts.tenantID, Statuses: tab.statuses, Outcomes: tab.outcomes, Search: s.filter.String(), Limit: limit}
}

// fetchRows loads q's rows (appended to those loaded when more) and, with counts, every tab's count.
func (s *runs) fetchRows(q engine.RunQuery, counts, more bool) tea.Cmd {
	c := s.env
	cmd := s.rowsFetch.start(c, func(ctx context.Context) (runsPage, error) {
		page := runsPage{asked: q.Limit, appended: more}
		var wg sync.WaitGroup
		if counts {
			// Side by side with the rows: the frame waits for the slower of the two, not both.
			wg.Go(func() {
				page.counts, page.countsErr = c.Svc.CountRuns(ctx, c.Actor, engine.RunQuery{TenantID: q.TenantID})
			})
		}
		rows, err := c.Svc.ListRuns(ctx, c.Actor, q)
		wg.Wait()
		if err != nil {
			return runsPage{}, err
		}
		page.rows = rows
		// The role per workspace (cached for the session) offers cancel and retry only where the
		// actor may take them (the engine checks again).
		roles := map[int64]access.Role{}
		for _, r := range rows {
			if _, ok := roles[r.WorkspaceID]; !ok {
				roles[r.WorkspaceID] = c.role(ctx, r.WorkspaceID)
			}
		}
		page.roles = roles
		return page, nil
	})
	// A count asked for while a load is in flight goes with the load that follows it.
	if cmd == nil {
		s.countsOwed = s.countsOwed || counts
	} else if counts {
		s.countsOwed = false
	}
	return cmd
}

// runsPage is one load of the operations rows, with the tabs' counts.
type runsPage struct {
	rows      []store.Run
	roles     map[int64]access.Role
	counts    map[string]int64 // nil when the load did not count
	countsErr error            // the rows still show; the last counts stay
	asked     int              // the rows asked for: fewer came when the tab has no more
	appended  bool             // the page after the rows loaded (loadMore)
}

// rowsLimit is the window of a tab: its newest runs, loaded a page at a time as the cursor nears the
// last row loaded.
const rowsLimit = 500

// mayAct reports whether the actor's role allows starting (so cancelling and retrying) r's type.
func (s *runs) mayAct(r store.Run) bool {
	op, err := engine.LookupOperation(r.Type)
	return err == nil && s.roles[r.WorkspaceID].Can(op.Capability)
}

// mayActOnAny reports whether any loaded run may be cancelled or retried by the actor: otherwise
// c and R are not offered.
func (s *runs) mayActOnAny() bool {
	for _, r := range s.rows {
		if s.mayAct(r) {
			return true
		}
	}
	return false
}

// loadCounts counts the tabs alone: on the Legacy tab, whose rows are not operation runs.
func (s *runs) loadCounts() tea.Cmd {
	c, tenantID := s.env, s.opts.tenantID
	return s.countsFetch.start(c, func(ctx context.Context) (map[string]int64, error) {
		return c.Svc.CountRuns(ctx, c.Actor, engine.RunQuery{TenantID: tenantID})
	})
}

func (s *runs) ShortHelp() []key.Binding {
	k := runsKeys
	if runTabs[s.tab].legacy {
		return []key.Binding{k.Next, k.Filter} // read-only history
	}
	cancel, retry := k.Cancel, k.Retry
	cancel.SetEnabled(s.mayActOnAny())
	retry.SetEnabled(s.mayActOnAny())
	mark := k.Mark
	mark.SetHelp("space", "mark")
	return []key.Binding{k.Next, k.Open, k.Filter, mark, cancel, retry, sortHelp(false), k.Copy}
}

func (s *runs) FullHelp() []key.Binding {
	k := runsKeys
	if runTabs[s.tab].legacy {
		return append([]key.Binding{k.Next, k.Prev, k.Tabs, k.Filter}, navHelp()...)
	}
	cancel, retry := k.Cancel, k.Retry
	cancel.SetEnabled(s.mayActOnAny())
	retry.SetEnabled(s.mayActOnAny())
	return append([]key.Binding{k.Next, k.Prev, k.Tabs, k.Open, k.Filter, k.Mark, cancel, retry, sortHelp(true), k.Copy}, navHelp()...)
}

func (s *runs) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded[runsPage]:
		cmd, ok := s.rowsFetch.receive(msg, &s.err, s.setRows, s.loadRows)
		s.loaded = s.loaded || ok
		return s, cmd
	case loaded[map[string]int64]:
		cmd, _ := s.countsFetch.receive(msg, &s.countsErr, func(counts map[string]int64) { s.counts = counts }, s.loadCounts)
		return s, cmd
	case tea.WindowSizeMsg:
		s.drawRows()
		_, cmd := s.legacy.Update(msg)
		return s, tea.Batch(cmd, s.loadMore()) // a taller screen may show more than is loaded
	case tea.KeyPressMsg:
		return s, s.onKey(msg)
	}
	// The Legacy tab takes its own answers, even after the user left it, so its load ends.
	_, cmd := s.legacy.Update(msg)
	return s, cmd
}

// setRows keeps the cursor on the same run across reloads.
func (s *runs) setRows(page runsPage) {
	var current int64
	if s.table.cursor < len(s.rows) {
		current = s.rows[s.table.cursor].ID
	}
	if page.appended {
		s.rows = append(s.rows, page.rows...)
		if s.roles == nil {
			s.roles = map[int64]access.Role{}
		}
		for id, role := range page.roles {
			s.roles[id] = role
		}
	} else {
		s.rows, s.roles = page.rows, page.roles
	}
	s.exhausted = len(page.rows) < page.asked
	if page.counts != nil || page.countsErr != nil {
		if s.countsErr = page.countsErr; page.countsErr == nil {
			s.counts = page.counts
		}
	}
	s.sortRows()
	s.table.cursor = 0
	for i, r := range s.rows {
		if r.ID == current {
			s.table.cursor = i
		}
	}
	if s.toEnd && (s.exhausted || len(s.rows) >= rowsLimit) {
		s.toEnd = false
		s.table.cursor = len(s.rows) - 1
	}
	s.drawRows()
}

// drawRows draws the rows into the table's cells, with their marks, for the current width.
func (s *runs) drawRows() {
	width, _ := s.env.size()
	s.table.cols = runColumns(width)
	// The order shows in the header, on the column it sorts by.
	for i, c := range s.table.cols {
		if c.title == runsSortColumn[runsSorts[s.sortBy]] {
			s.table.cols[i].title += runsSortArrow[runsSorts[s.sortBy]]
		}
	}
	s.table.rows = s.table.rows[:0]
	now := s.env.now()
	for _, r := range s.rows {
		s.table.rows = append(s.table.rows, s.runRow(r, now, width))
	}
	s.table.measure()
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
			return s.restart()
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
	if _, move := navDelta(msg, 1, 1); move {
		// G goes to the last row of the window: the rows not loaded yet load, and the cursor follows.
		s.toEnd = key.Matches(msg, navKeys.Bottom) && !s.exhausted
	}
	if s.table.moveKey(msg, len(s.rows), s.tableHeight()) {
		return s.loadMore()
	}
	switch {
	case key.Matches(msg, listKeys.SortNext, listKeys.SortPrev): // the list screens' sort keys (list.go)
		step := 1
		if key.Matches(msg, listKeys.SortPrev) {
			step = len(runsSorts) - 1
		}
		s.sortBy = (s.sortBy + step) % len(runsSorts)
		s.sortRows()
		s.drawRows()
		sorted := flash("sorted by " + runsSorts[s.sortBy])
		if s.exhausted || len(s.rows) >= rowsLimit {
			return sorted
		}
		return tea.Batch(sorted, s.loadRows()) // an order sorts the whole window (firstPage)
	case key.Matches(msg, k.Open):
		if r, ok := s.current(); ok {
			return navigate(newRunDetail(s.env, r.ID))
		}
	case key.Matches(msg, k.Mark):
		s.toggleMark()
	case key.Matches(msg, k.Copy):
		if r, ok := s.current(); ok {
			return copyText(fmt.Sprint(r.ID), fmt.Sprintf("copied run id %d", r.ID))
		}
	case key.Matches(msg, k.Cancel) && s.mayActOnAny():
		return s.cancel()
	case key.Matches(msg, k.Retry) && s.mayActOnAny():
		return s.retry()
	}
	return nil
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

// switchTab shows tab i from its top. Marks apply to what they mark on the tab shown: changing tab
// clears them (the rule the help states at space).
func (s *runs) switchTab(i int) tea.Cmd {
	s.tab = i
	if len(s.marked) > 0 {
		s.marked = map[int64]bool{}
		s.drawMarks()
	}
	s.table.cursor, s.legacy.table.cursor = 0, 0
	return s.restart()
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

// tabCount is the number of runs on a tab: the counts of its states, or of all for the All tab, loaded
// with the rows. The tab shown, when its rows are all loaded and unfiltered, counts its rows, so its
// count and its rows always agree.
func (s *runs) tabCount(tab runTab) int64 {
	if s.loaded && s.err == nil && tab.label == runTabs[s.tab].label && s.filter.String() == "" && s.exhausted {
		return int64(len(s.rows))
	}
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
	cols := []column{{title: "ID", width: 5, yields: true}, {title: "TYPE", flex: true, weight: 2}, {title: "TENANT", width: 10, yields: true},
		{title: "STATUS", width: 11}, {title: "PROGRESS", width: 10}, reasonColumn(0),
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
	typ := r.Type // the same label at every width: the operation's title
	if op, err := engine.LookupOperation(r.Type); err == nil {
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
