package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/store"
)

// listSpec is what makes one list screen: where its rows come from and how each is drawn, and the
// keys it adds. listScreen does the rest: the load protocol, the table, the `/` filter, movement,
// and the loading, error and empty lines. T is a row; X is what the screen loads beside its rows
// (capabilities, counts, cache state), struct{} when nothing.
type listSpec[T, X any] struct {
	title    string
	relevant func(n store.Notification) bool // nil: no change concerns the list
	// fetch loads the rows asked for by q. It runs in a command: it may use only env and q.
	fetch   func(ctx context.Context, env *Env, q listQuery[T]) ([]T, X, error)
	columns func(width int) []column
	// row draws one row's cells, at the time now.
	row func(env *Env, now time.Time, v T) []string
	// match is the text the `/` filter looks for in a row. Nil with search.
	match func(v T) string
	// search sends the `/` text to fetch instead of filtering the loaded rows.
	search bool
	// page, when not zero, is how many rows one load brings: moving near the end loads the next page.
	page int
	// head is the line above the table ("" for none).
	head func(l *listScreen[T, X]) string
	// empty is the line shown once a load brought no rows at all.
	empty func(l *listScreen[T, X]) string
	// below are lines under the table (a detail pane, a paging note): they take up to half the height,
	// and what does not fit ends with "… N more".
	below func(l *listScreen[T, X], width int) []string
	// above is how many lines the screen holding the list draws over it (the operations tabs).
	above int
	// actions are the list's own keys, in hint order.
	actions []listAction[T, X]
	// describe, when set, is the current row's every field as "label  value" pairs: enter shows
	// them in a pane under the list (and hides it).
	describe func(env *Env, v T) [][2]string
	// mark, when set, is a row's identity, and the list marks rows (listKeys.Mark, MarkAll): actions
	// read the marked rows with l.marks. Marks are scoped to what shows (the rule `?` states at
	// space): rows a filter hides, or a reload no longer brings, lose their mark. The identity also
	// keeps the cursor on its row when the rows are sorted or reloaded.
	mark func(v T) int64
	// sorts are the orders listKeys.SortNext and SortPrev cycle through, the first the default. The
	// header shows the order on the column it sorts by.
	sorts []listSort[T]
}

// listSort is one order of a list: the column it sorts by, its direction as the header shows it
// ("↑", "↓") and the comparison (ties keep the fetched order).
type listSort[T any] struct {
	column  string
	arrow   string
	compare func(a, b T) int
}

// listKeys are the keys every list with marks or orders answers.
var listKeys = struct{ Mark, MarkAll, SortNext, SortPrev key.Binding }{
	Mark:     binding("space", "mark (a filter unmarks the rows it hides)"),
	MarkAll:  binding("*", "mark all shown (again: unmark them)"),
	SortNext: binding(">", "sort by the next column"),
	SortPrev: binding("<", "sort by the previous column"),
}

// sortHelp is the one help line of the sort keys, in the footer (short) and in ? (full): every list
// that sorts, the generic one and the operations screen, says it the same way.
func sortHelp(full bool) key.Binding {
	if full {
		return binding(">", "sort by the next / previous column", "<")
	}
	b := listKeys.SortNext
	b.SetHelp(">", "sort")
	return b
}

// listReport is the answer of an action on many rows: a line saying what came of it and one line
// per row it was refused for, shown under the list until the next report. Plain text: the root
// scrubs it, the list styles it.
type listReport struct {
	id      int64
	head    string
	refused []string
}

// detailKey shows or hides the detail pane of a list that describes its rows.
var detailKey = binding("enter", "details")

// listQuery is what one load asks for. The command gets a copy, so a key pressed while it runs does
// not change it.
type listQuery[T any] struct {
	search  string // the `/` text, when the spec searches on the server
	deleted bool   // include deleted rows (the lists' show-deleted toggle)
	more    bool   // load the page after last and append it to the rows loaded
	last    T      // with more: the last row loaded
}

// listAction is a key of one list screen.
type listAction[T, X any] struct {
	key key.Binding
	// offered reports whether the key applies now; nil: always. A key not offered neither shows nor acts.
	offered func(l *listScreen[T, X]) bool
	// help, when set, is the key's description in the current state ("show deleted", "hide deleted").
	help func(l *listScreen[T, X]) string
	run  func(l *listScreen[T, X]) tea.Cmd
}

// filterAction is the `/` key of a list, with its description.
func filterAction[T, X any](help string) listAction[T, X] {
	return listAction[T, X]{key: binding("/", help), run: func(l *listScreen[T, X]) tea.Cmd {
		l.filter.typing = true
		return nil
	}}
}

// deletedAction is a key that shows or hides deleted rows, reloading them; hide is its description
// while they show.
func deletedAction[T, X any](k key.Binding, hide string) listAction[T, X] {
	show := k.Help().Desc
	return listAction[T, X]{key: k,
		help: func(l *listScreen[T, X]) string {
			if l.query.deleted {
				return hide
			}
			return show
		},
		run: func(l *listScreen[T, X]) tea.Cmd {
			l.query.deleted = !l.query.deleted
			return l.Reload()
		}}
}

// listScreen is a table of rows loaded from the database, drawn from a listSpec. Rows are drawn into
// cells when they arrive (and when the filter or the width changes), never in View.
type listScreen[T, X any] struct {
	id     int64 // routes the answers of its actions (listReport) to it
	env    *Env
	spec   listSpec[T, X]
	fetch  fetcher[listData[T, X]]
	query  listQuery[T]
	filter *filterField

	loaded    bool // a load has answered
	all       []T  // every row loaded
	shown     []T  // the rows the filter lets through, as the table holds them
	side      X
	exhausted bool // with paging: the last page is loaded
	err       error
	table     table
	detail    bool // the current row's detail pane shows (enter)

	marked  map[int64]bool // the marked rows' identities (spec.mark), all of them shown
	sortBy  int            // the index of spec.sorts in force
	confirm confirmer      // an action on many rows awaiting its y
	report  *listReport    // the last action's answer
}

// listData is one load's answer.
type listData[T, X any] struct {
	rows     []T
	side     X
	appended bool
}

func newList[T, X any](env *Env, spec listSpec[T, X]) *listScreen[T, X] {
	return &listScreen[T, X]{id: nextScreenID(), env: env, spec: spec, fetch: newFetcher[listData[T, X]](), filter: &filterField{},
		marked: map[int64]bool{}}
}

func (l *listScreen[T, X]) Title() string { return l.spec.title }
func (l *listScreen[T, X]) Init() tea.Cmd { return l.Reload() }

// Capturing: while the filter is typed, and while a question waits for its answer.
func (l *listScreen[T, X]) Capturing() bool { return l.filter.typing || l.confirm.asking() }

// ClearFilter clears an applied `/` filter (the first esc).
func (l *listScreen[T, X]) ClearFilter() (tea.Cmd, bool) {
	if l.filter.String() == "" {
		return nil, false
	}
	l.filter.text.set("")
	l.table.cursor = 0
	if l.spec.search {
		return l.Reload(), true
	}
	l.rebuild()
	return nil, true
}

func (l *listScreen[T, X]) Relevant(n store.Notification) bool {
	return l.spec.relevant != nil && l.spec.relevant(n)
}

func (l *listScreen[T, X]) Reload() tea.Cmd {
	q := l.query
	q.more = false
	return l.load(q)
}

// loadMore loads the page after the last row, when the list pages and the cursor nears the end.
func (l *listScreen[T, X]) loadMore() tea.Cmd {
	if l.spec.page == 0 || l.exhausted || len(l.all) == 0 || l.table.cursor < len(l.all)-10 {
		return nil
	}
	q := l.query
	q.more, q.last = true, l.all[len(l.all)-1]
	return l.load(q)
}

func (l *listScreen[T, X]) load(q listQuery[T]) tea.Cmd {
	if l.spec.search {
		q.search = l.filter.String()
	}
	env, fetch := l.env, l.spec.fetch
	return l.fetch.start(env, func(ctx context.Context) (listData[T, X], error) {
		rows, side, err := fetch(ctx, env, q)
		return listData[T, X]{rows: rows, side: side, appended: q.more}, err
	})
}

// ShortHelp is the hint line: the list's own keys that apply now.
func (l *listScreen[T, X]) ShortHelp() []key.Binding { return l.help(false) }

// help is the list's own keys that apply now; full, for `?`, states the marks rule at space and
// lists the order keys.
func (l *listScreen[T, X]) help(full bool) []key.Binding {
	var out []key.Binding
	if l.spec.describe != nil {
		k := detailKey
		if l.detail {
			k.SetHelp("enter", "hide details")
		}
		out = append(out, k)
	}
	for _, a := range l.spec.actions {
		k := a.key
		if a.help != nil {
			k.SetHelp(k.Help().Key, a.help(l))
		}
		k.SetEnabled(a.offered == nil || a.offered(l))
		out = append(out, k)
	}
	if l.spec.mark != nil {
		mark, all := listKeys.Mark, listKeys.MarkAll
		if !full {
			mark.SetHelp("space", "mark")
			all.SetHelp("*", "mark all")
		}
		out = append(out, mark, all)
	}
	if len(l.spec.sorts) > 1 {
		out = append(out, sortHelp(full))
	}
	if l.confirm.asking() {
		return []key.Binding{confirmKeys.Yes}
	}
	return out
}

// FullHelp adds the movement keys.
func (l *listScreen[T, X]) FullHelp() []key.Binding {
	if l.confirm.asking() {
		return l.ShortHelp()
	}
	return append(l.help(true), navHelp()...)
}

func (l *listScreen[T, X]) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded[listData[T, X]]:
		cmd, ok := l.fetch.receive(msg, &l.err, l.take, l.Reload)
		l.loaded = l.loaded || ok
		return l, cmd
	case listReport:
		if msg.id != l.id {
			return l, nil
		}
		l.report = &msg
		l.clamp() // the report takes lines under the table
		return l, func() tea.Msg { return flashMsg{text: msg.head, isErr: len(msg.refused) > 0} }
	case tea.WindowSizeMsg:
		l.rebuild()
	case tea.KeyPressMsg:
		return l, l.onKey(msg)
	}
	return l, nil
}

// take keeps a load's rows and draws them.
func (l *listScreen[T, X]) take(d listData[T, X]) {
	if d.appended {
		l.all = append(l.all, d.rows...)
	} else {
		l.all = d.rows
	}
	l.side = d.side
	l.exhausted = l.spec.page > 0 && len(d.rows) < l.spec.page
	l.keepCursor(func() {
		l.sortRows()
		l.rebuild()
	})
}

// rebuild filters the rows and draws their cells for the current width.
func (l *listScreen[T, X]) rebuild() {
	l.shown = l.all
	if l.spec.match != nil {
		l.shown = matching(l.filter, l.all, l.spec.match)
	}
	width, _ := l.env.size()
	l.table.cols = l.spec.columns(width)
	if len(l.spec.sorts) > 1 {
		// The order shows in the header, on the column it sorts by.
		o := l.spec.sorts[l.sortBy]
		for i, c := range l.table.cols {
			if c.title == o.column {
				l.table.cols[i].title += o.arrow
			}
		}
	}
	l.table.rows = l.table.rows[:0]
	now := l.env.now()
	for _, v := range l.shown {
		l.table.rows = append(l.table.rows, l.spec.row(l.env, now, v))
	}
	l.table.measure()
	l.drawMarks()
	l.clamp()
}

// sortRows puts the rows loaded in the order in force.
func (l *listScreen[T, X]) sortRows() {
	if len(l.spec.sorts) > 1 {
		slices.SortStableFunc(l.all, l.spec.sorts[l.sortBy].compare)
	}
}

// keepCursor runs change (a sort, a reload) and puts the cursor back on the row it was on, when
// rows have an identity and that row still shows.
func (l *listScreen[T, X]) keepCursor(change func()) {
	v, ok := l.current()
	change()
	if !ok || l.spec.mark == nil {
		return
	}
	id := l.spec.mark(v)
	for i, r := range l.shown {
		if l.spec.mark(r) == id {
			l.table.cursor = i
			l.clamp()
			return
		}
	}
}

// drawMarks keeps the marks of the rows shown and draws them; the others are dropped (marks are
// scoped to what shows).
func (l *listScreen[T, X]) drawMarks() {
	l.table.marked = nil
	if l.spec.mark == nil || len(l.marked) == 0 {
		return
	}
	kept := make(map[int64]bool, len(l.marked))
	l.table.marked = make(map[int]bool, len(l.marked))
	for i, v := range l.shown {
		if id := l.spec.mark(v); l.marked[id] {
			kept[id] = true
			l.table.marked[i] = true
		}
	}
	l.marked = kept
}

// marks are the marked rows, in the order shown.
func (l *listScreen[T, X]) marks() []T {
	var out []T
	if l.spec.mark == nil || len(l.marked) == 0 {
		return out
	}
	for _, v := range l.shown {
		if l.marked[l.spec.mark(v)] {
			out = append(out, v)
		}
	}
	return out
}

// markedOrCurrent are the marked rows, or the row under the cursor when none is marked.
func (l *listScreen[T, X]) markedOrCurrent() []T {
	if out := l.marks(); len(out) > 0 {
		return out
	}
	if v, ok := l.current(); ok {
		return []T{v}
	}
	return nil
}

// toggleMark marks the row under the cursor, or unmarks it, and moves to the next.
func (l *listScreen[T, X]) toggleMark() {
	v, ok := l.current()
	if !ok {
		return
	}
	if id := l.spec.mark(v); l.marked[id] {
		delete(l.marked, id)
	} else {
		l.marked[id] = true
	}
	l.drawMarks()
	width, _ := l.env.size()
	l.table.move(1, len(l.shown), l.tableHeight(width, l.bodyHeight()))
}

// markAll marks every row shown; when all of them are marked already, it unmarks them.
func (l *listScreen[T, X]) markAll() {
	all := len(l.shown) > 0
	for _, v := range l.shown {
		all = all && l.marked[l.spec.mark(v)]
	}
	for _, v := range l.shown {
		if all {
			delete(l.marked, l.spec.mark(v))
		} else {
			l.marked[l.spec.mark(v)] = true
		}
	}
	l.drawMarks()
}

// sortStep moves to the order step places on, and says which it is.
func (l *listScreen[T, X]) sortStep(step int) tea.Cmd {
	n := len(l.spec.sorts)
	l.sortBy = (l.sortBy + step + n) % n
	l.keepCursor(func() {
		l.sortRows()
		l.rebuild()
	})
	o := l.spec.sorts[l.sortBy]
	return flash("sorted by " + strings.ToLower(o.column) + " " + o.arrow)
}

// ask puts a question over the table, which gives it a line, and holds run back until a y.
func (l *listScreen[T, X]) ask(question, declined string, run func() tea.Cmd) {
	l.confirm.ask(question, declined, run)
	l.clamp()
}

// clamp keeps the cursor on a row and in view, after the rows or the layout changed.
func (l *listScreen[T, X]) clamp() {
	width, _ := l.env.size()
	l.table.clampTo(len(l.shown), l.tableHeight(width, l.bodyHeight()))
}

func (l *listScreen[T, X]) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if l.confirm.asking() {
		cmd := l.confirm.answer(msg)
		l.clamp() // the question's line is gone
		return cmd
	}
	if l.filter.typing {
		if !l.filter.key(msg) {
			return nil
		}
		l.table.cursor = 0
		if l.spec.search {
			return l.Reload()
		}
		l.rebuild()
		return nil
	}
	width, _ := l.env.size()
	if l.table.moveKey(msg, len(l.shown), l.tableHeight(width, l.bodyHeight())) {
		return l.loadMore()
	}
	if l.spec.describe != nil && key.Matches(msg, detailKey) {
		l.detail = !l.detail
		l.clamp()
		return nil
	}
	switch {
	case l.spec.mark != nil && key.Matches(msg, listKeys.Mark):
		l.toggleMark()
		return nil
	case l.spec.mark != nil && key.Matches(msg, listKeys.MarkAll):
		l.markAll()
		return nil
	case len(l.spec.sorts) > 1 && key.Matches(msg, listKeys.SortNext):
		return l.sortStep(1)
	case len(l.spec.sorts) > 1 && key.Matches(msg, listKeys.SortPrev):
		return l.sortStep(-1)
	}
	for _, a := range l.spec.actions {
		if key.Matches(msg, a.key) && (a.offered == nil || a.offered(l)) {
			cmd := a.run(l)
			l.clamp() // an action may change the layout (roles' detail pane)
			return cmd
		}
	}
	return nil
}

// current is the row under the cursor.
func (l *listScreen[T, X]) current() (T, bool) {
	if l.table.cursor < 0 || l.table.cursor >= len(l.shown) {
		var zero T
		return zero, false
	}
	return l.shown[l.table.cursor], true
}

// bodyHeight is the height the list is drawn in: the screen's body less what its holder draws above.
func (l *listScreen[T, X]) bodyHeight() int {
	_, h := l.env.size()
	return bodyHeight(h) - l.spec.above
}

func (l *listScreen[T, X]) headLine() string {
	head := ""
	if l.spec.head != nil {
		head = l.spec.head(l)
	}
	if n := len(l.marked); n > 0 {
		head += "   " + l.env.Theme.Marked.Render(fmt.Sprintf("%d marked", n))
	}
	return head
}

func (l *listScreen[T, X]) belowLines(width int) []string {
	var out []string
	if r := l.report; r != nil {
		t := l.env.Theme
		tone := "ok"
		if len(r.refused) > 0 {
			tone = "warn"
		}
		out = append(out, fit(l.env.Tone(tone, r.head), width))
		for _, line := range r.refused {
			out = append(out, fit(t.Error.Render("  ✖ "+line), width))
		}
	}
	if l.spec.below != nil {
		out = append(out, l.spec.below(l, width)...)
	}
	if v, ok := l.current(); ok && l.detail && l.spec.describe != nil {
		t := l.env.Theme
		out = append(out, t.Header.Render("── details "+strings.Repeat("─", max(width-12, 0))))
		for _, f := range l.spec.describe(l.env, v) {
			out = append(out, labelled(t.Header.Render(fit("  "+f[0], 14)), f[1], width)...)
		}
	}
	return out
}

// tableHeight is the table's share of height: what the head and the lines below leave, at least 3.
func (l *listScreen[T, X]) tableHeight(width, height int) int {
	if l.headLine() != "" {
		height--
	}
	if l.confirm.asking() {
		height--
	}
	if below := len(l.belowLines(width)); below > 0 {
		return max(height-min(below, height/2), 3)
	}
	return height
}

// filterLabel is the filter's "/text", or "".
func (l *listScreen[T, X]) filterLabel() string { return l.filter.label(l.env.Theme) }

func (l *listScreen[T, X]) View(width, height int) string {
	t := l.env.Theme
	if l.err != nil {
		return t.Error.Render("✖ " + l.err.Error())
	}
	if !l.loaded {
		return t.Dim.Render("loading…")
	}
	var lines []string
	head := l.headLine()
	if head != "" {
		lines = append(lines, fit(head, width))
	}
	if q := l.confirm.view(t, width); q != "" {
		lines = append(lines, q)
	}
	if len(l.all) == 0 && l.spec.empty != nil {
		if head != "" || l.spec.above > 0 {
			lines = append(lines, "")
		}
		return strings.Join(append(lines, t.Dim.Render(l.spec.empty(l))), "\n")
	}
	lines = append(lines, l.table.view(l.env, width, l.tableHeight(width, height)))
	below := l.belowLines(width)
	room := height - len(strings.Split(strings.Join(lines, "\n"), "\n"))
	if len(below) > room {
		below = append(below[:max(room-1, 0)], t.Dim.Render(fmt.Sprintf("  … %d more", len(below)-room+1)))
	}
	return strings.Join(append(lines, below...), "\n")
}
