package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// navKeys are the one navigation contract of every list, log and scrolled text (k9s's): tables
// move their cursor with them (table.moveKey), texts their window (scroller.key). They are in the
// help, not in the hint line: every screen that scrolls has them.
var navKeys = struct{ Up, Down, PageUp, PageDown, HalfUp, HalfDown, Top, Bottom key.Binding }{
	Up:       binding("k", "up", "up"),
	Down:     binding("j", "down", "down"),
	PageUp:   binding("pgup", "page up", "ctrl+b"),
	PageDown: binding("pgdown", "page down", "ctrl+f"),
	HalfUp:   binding("ctrl+u", "half a page up"),
	HalfDown: binding("ctrl+d", "half a page down"),
	Top:      binding("g", "top", "home"),
	Bottom:   binding("G", "bottom", "end"),
}

// navHelp is the navigation keys, as the `?` help lists them.
func navHelp() []key.Binding {
	k := navKeys
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.HalfUp, k.HalfDown, k.Top, k.Bottom}
}

// navDelta is how far a navKeys key moves over total lines with page lines a page, and whether msg
// was one.
func navDelta(msg tea.KeyPressMsg, page, total int) (int, bool) {
	k := navKeys
	page = max(page, 1)
	switch {
	case key.Matches(msg, k.Up):
		return -1, true
	case key.Matches(msg, k.Down):
		return 1, true
	case key.Matches(msg, k.PageUp):
		return -page, true
	case key.Matches(msg, k.PageDown):
		return page, true
	case key.Matches(msg, k.HalfUp):
		return -max(page/2, 1), true
	case key.Matches(msg, k.HalfDown):
		return max(page/2, 1), true
	case key.Matches(msg, k.Top):
		return -total - 1, true
	case key.Matches(msg, k.Bottom):
		return total + 1, true
	}
	return 0, false
}

// scroller is the first line shown of lines taller than their window (the drift, the restore
// preview, the run log). Keys move it in Update, where it is clamped to the text; View only draws
// the window at it.
type scroller struct {
	offset int
}

// by moves the window by delta over total lines, visible at a time, keeping it on the text.
func (s *scroller) by(delta, total, visible int) {
	s.offset = max(min(s.offset+delta, total-visible), 0)
}

// key scrolls on a navKeys key (a page is page lines), and reports whether msg was one.
func (s *scroller) key(msg tea.KeyPressMsg, page, total, visible int) bool {
	d, ok := navDelta(msg, page, total)
	if ok {
		s.by(d, total, visible)
	}
	return ok
}

// window is the lines shown, visible at most. A terminal that grew since the last key may show more
// of the text's end than the stored offset allows: the window then starts earlier, changing nothing.
func (s scroller) window(lines []string, visible int) []string {
	start := max(min(s.offset, len(lines)-visible), 0)
	return lines[start:min(start+visible, len(lines))]
}
