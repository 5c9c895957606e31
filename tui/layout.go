package tui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// fit pads or truncates s (which may hold styles) to exactly width cells.
func fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	w := lipgloss.Width(s)
	if w > width {
		return ansi.Truncate(s, width, "…")
	}
	return s + strings.Repeat(" ", width-w)
}

// column of a table. Flex columns share the width the fixed ones leave.
type column struct {
	title string
	width int
	flex  bool
	// weight is a flex column's share of the room left (0: 1): columns whose meaning is lost when cut
	// (reason codes, permission names) take more than the ones that are not.
	weight int
	// abbrev, when set, shortens a value too wide for the column before it is cut (reason codes
	// lose their shared provider_ prefix, so two codes never cut to the same text).
	abbrev func(string) string
	// yields says a fixed column gives room to important ones that would be cut (ids, tenant names);
	// flex columns of weight 1 always do. Other fixed columns (badges, bars, times) keep their width.
	yields bool
}

// reasonColumn is a REASON column: wide, and abbreviated rather than cut.
func reasonColumn(width int) column {
	return column{title: "REASON", width: width, flex: true, weight: 2, abbrev: abbrevReason}
}

// abbrevReason drops the provider_ prefix reason codes share.
func abbrevReason(s string) string { return strings.Replace(s, "provider_", "", 1) }

// table renders rows under a header with a cursor, marks and scrolling. It returns exactly height
// lines (or fewer when there is nothing to show).
type table struct {
	cols   []column
	rows   [][]string
	cursor int
	offset int
	marked map[int]bool
	// need is each column's widest cell, its title included (measure): with it, columns wider than
	// what they hold give their room to columns that would be cut. Nil: the widths the columns ask.
	need []int
}

// measure records what each column needs, once the rows are drawn into cells (not in View: a
// table of 500 rows would measure 4,000 cells a frame).
func (t *table) measure() {
	t.need = make([]int, len(t.cols))
	for i, c := range t.cols {
		t.need[i] = cellWidth(c.title)
	}
	for _, row := range t.rows {
		for i := range min(len(row), len(t.need)) {
			t.need[i] = max(t.need[i], cellWidth(row[i]))
		}
	}
}

// cellWidth is the width of a one-line cell: its length when it is plain ASCII (most cells: ids,
// names, codes), else what the terminal shows of it.
func cellWidth(s string) int {
	for i := range len(s) {
		if c := s[i]; c >= 0x80 || c < 0x20 {
			return ansi.StringWidth(s)
		}
	}
	return len(s)
}

// widths lays the columns out in width. Fixed columns take their width and flex ones share the rest
// by weight; then, when the cells are measured, room moves to the columns whose cells would be cut:
// first what other columns leave empty, then, for the columns whose meaning is lost when cut (weight
// 2 and more: reason codes, types, permission names), room taken from the columns that yield (ids,
// tenants, names), which keep at least their title or minColumn.
func (t *table) widths(width int) []int {
	out := make([]int, len(t.cols))
	fixed, weights := 0, 0
	for i, c := range t.cols {
		if c.flex {
			weights += max(c.weight, 1)
			continue
		}
		out[i] = c.width
		fixed += c.width + 1
	}
	rest := width - fixed - 2 // the cursor/mark gutter
	for i, c := range t.cols {
		if c.flex {
			out[i] = max(4, rest*max(c.weight, 1)/max(weights, 1)-1)
		}
	}
	if len(t.need) == len(t.cols) && len(t.rows) > 0 {
		t.giveRoom(out, width-2-(len(out)-1)) // less the gutter and the spaces between columns
	}
	return out
}

// minColumn is the narrowest a column that gives way to a more important one becomes.
const minColumn = 6

// giveRoom moves room between the columns laid out in out, which may span room cells (see widths).
func (t *table) giveRoom(out []int, room int) {
	spare := room
	for i := range out {
		out[i] = min(out[i], t.need[i])
		spare -= out[i]
	}
	important := func(i int) bool { return t.cols[i].weight >= 2 }
	// What is left empty goes to the cut columns, the important first, in column order.
	for _, first := range []bool{true, false} {
		for i := range out {
			if important(i) == first && out[i] < t.need[i] {
				give := max(min(spare, t.need[i]-out[i]), 0)
				out[i] += give
				spare -= give
			}
		}
	}
	// Important columns still cut take room from the others.
	for i := range out {
		if !important(i) || out[i] >= t.need[i] {
			continue
		}
		for j, c := range t.cols {
			if important(j) || (!c.yields && !c.flex) {
				continue
			}
			floor := min(t.need[j], max(lipgloss.Width(t.cols[j].title), minColumn))
			give := min(out[j]-floor, t.need[i]-out[i])
			if give > 0 {
				out[j] -= give
				out[i] += give
			}
		}
	}
	// Room nobody needs goes back to the flex columns by weight, so the table still spans its width.
	weights, last := 0, -1
	for i, c := range t.cols {
		if c.flex {
			weights += max(c.weight, 1)
			last = i
		}
	}
	if spare <= 0 || last < 0 {
		return
	}
	left := spare
	for i, c := range t.cols {
		if c.flex {
			give := spare * max(c.weight, 1) / weights
			if i == last {
				give = left
			}
			out[i] += give
			left -= give
		}
	}
}

// clampTo keeps the cursor within n rows and scrolled into view of a table height lines high.
// Screens call it in Update, when rows arrive or the cursor moves.
func (t *table) clampTo(n, height int) {
	t.cursor = max(min(t.cursor, n-1), 0)
	t.offset = t.offsetFor(height)
}

// offsetFor is the first row drawn at height: the stored offset, moved as little as keeps the cursor
// in view (after a resize the stored one may not).
func (t *table) offsetFor(height int) int {
	visible := max(height-1, 1)
	offset := t.offset
	if t.cursor < offset {
		offset = t.cursor
	}
	if t.cursor >= offset+visible {
		offset = t.cursor - visible + 1
	}
	return max(offset, 0)
}

// moveKey moves the cursor on a navKeys key over n rows, in a table height lines high (a page is
// what it shows), and reports whether msg was one.
func (t *table) moveKey(msg tea.KeyPressMsg, n, height int) bool {
	d, ok := navDelta(msg, height-1, n) // a page: the rows it shows, under its header
	if ok {
		t.move(d, n, height)
	}
	return ok
}

// move moves the cursor by delta within n rows (the screen's data, which may be newer than the
// rows last drawn).
func (t *table) move(delta, n, height int) {
	t.cursor += delta
	t.clampTo(n, height)
}

// view draws the table; it changes nothing.
func (t *table) view(c *Env, width, height int) string {
	offset := t.offsetFor(height)
	ws := t.widths(width)
	var b strings.Builder
	cells := make([]string, len(t.cols))
	for i, col := range t.cols {
		cells[i] = fit(col.title, ws[i])
	}
	b.WriteString(c.Theme.Header.Render(fit("  "+strings.Join(cells, " "), width)))
	visible := max(height-1, 0)
	for i := offset; i < len(t.rows) && i < offset+visible; i++ {
		for j := range t.cols {
			v := ""
			if j < len(t.rows[i]) {
				v = t.rows[i][j]
			}
			if a := t.cols[j].abbrev; a != nil && lipgloss.Width(v) > ws[j] {
				v = a(v)
			}
			cells[j] = fit(v, ws[j])
		}
		gutter := "  "
		if t.marked[i] {
			gutter = c.Theme.Marked.Render("✓ ")
		}
		line := fit(gutter+strings.Join(cells, " "), width)
		if i == t.cursor {
			line = c.Theme.Selected.Render(ansi.Strip(line))
		}
		b.WriteString("\n" + line)
	}
	return b.String()
}

// ago renders a duration since t compactly: 5s, 3m, 2h, 4d.
func ago(now, t time.Time) string {
	return compact(now.Sub(t))
}

func compact(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// progressBar renders n/total as a bar of width cells plus a percentage.
func progressBar(processed int64, total *int64, width int) string {
	if total == nil || *total <= 0 {
		if processed > 0 {
			return fmt.Sprintf("%d items", processed)
		}
		return ""
	}
	pct := min(processed*100 / *total, 100)
	bar := max(width-5, 3)
	full := int(int64(bar) * pct / 100)
	return strings.Repeat("█", full) + strings.Repeat("░", bar-full) + fmt.Sprintf(" %3d%%", pct)
}

// wrap breaks s into lines of at most width cells.
func wrap(s string, width int) []string {
	if width <= 0 {
		return nil
	}
	return strings.Split(ansi.Wrap(s, width, ""), "\n")
}

// padLines makes s exactly height lines.
func padLines(s string, height int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > height {
		lines = lines[:height]
	}
	for len(lines) < height {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// sparkline draws values with block characters.
func sparkline(values []int64) string {
	blocks := []rune(" ▁▂▃▄▅▆▇█")
	var peak int64
	for _, v := range values {
		peak = max(peak, v)
	}
	var b strings.Builder
	for _, v := range values {
		if v == 0 {
			b.WriteRune('·') // an hour without runs shows, rather than blank space
			continue
		}
		b.WriteRune(blocks[max(int(v*int64(len(blocks)-1)/peak), 1)])
	}
	return b.String()
}

func stripStyles(s string) string { return ansi.Strip(s) }
