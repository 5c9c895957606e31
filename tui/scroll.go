package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// scrollKeys scroll a text taller than its window: the drift and the restore preview.
var scrollKeys = struct{ Up, Down, PageDown, PageUp key.Binding }{
	Up:       binding("k", "scroll up", "up"),
	Down:     binding("j", "scroll down", "down"),
	PageDown: binding("f", "page down", "pgdown"),
	PageUp:   binding("b", "page up", "pgup"),
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

// key scrolls by a line or a page (of page lines) on scrollKeys, and reports whether msg was one.
func (s *scroller) key(msg tea.KeyPressMsg, page, total, visible int) bool {
	k := scrollKeys
	switch {
	case key.Matches(msg, k.Down):
		s.by(1, total, visible)
	case key.Matches(msg, k.Up):
		s.by(-1, total, visible)
	case key.Matches(msg, k.PageDown):
		s.by(page, total, visible)
	case key.Matches(msg, k.PageUp):
		s.by(-page, total, visible)
	default:
		return false
	}
	return true
}

// window is the lines shown, visible at most. A terminal that grew since the last key may show more
// of the text's end than the stored offset allows: the window then starts earlier, changing nothing.
func (s scroller) window(lines []string, visible int) []string {
	start := max(min(s.offset, len(lines)-visible), 0)
	return lines[start:min(start+visible, len(lines))]
}
