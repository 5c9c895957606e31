package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
)

// lineInput is a one-line text field: printable keys insert, backspace deletes, ctrl+u clears.
// It has no blinking cursor, so views render deterministically.
type lineInput struct {
	value []rune
}

// update applies a key and reports whether it was consumed.
func (in *lineInput) update(msg tea.KeyPressMsg) bool {
	switch msg.String() {
	case "backspace":
		if len(in.value) > 0 {
			in.value = in.value[:len(in.value)-1]
		}
		return true
	case "ctrl+u":
		in.value = nil
		return true
	case "space":
		in.value = append(in.value, ' ')
		return true
	}
	if msg.Text != "" {
		in.value = append(in.value, []rune(msg.Text)...)
		return true
	}
	return false
}

func (in *lineInput) String() string { return string(in.value) }

func (in *lineInput) set(s string) { in.value = []rune(s) }

// filterField is a screen's "/" filter. While typing it has the keyboard; enter keeps the text, esc
// clears it.
type filterField struct {
	text   lineInput
	typing bool
}

func (f *filterField) String() string { return f.text.String() }

// key handles a key while typing and reports whether the text changed (the screen refilters).
func (f *filterField) key(msg tea.KeyPressMsg) (changed bool) {
	switch msg.String() {
	case "enter":
		f.typing = false
		return false
	case "esc":
		f.typing = false
		changed = f.text.String() != ""
		f.text.set("")
		return changed
	}
	return f.text.update(msg)
}

// matching returns the rows whose text contains the filter, ignoring case (every row when it is empty).
func matching[T any](f *filterField, rows []T, text func(T) string) []T {
	q := strings.ToLower(f.String())
	if q == "" {
		return rows
	}
	var out []T
	for _, r := range rows {
		if strings.Contains(strings.ToLower(text(r)), q) {
			out = append(out, r)
		}
	}
	return out
}

// label is "/text" (with a cursor while typing), or "" when there is no filter.
func (f *filterField) label(t Theme) string {
	if !f.typing && f.text.String() == "" {
		return ""
	}
	s := "/" + f.text.String()
	if f.typing {
		s += "█"
	}
	return t.Key.Render(s)
}
