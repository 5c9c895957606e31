package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// inputKeys edit a one-line text field; any other key with text types it.
var inputKeys = struct{ Delete, Clear, Space key.Binding }{
	Delete: binding("backspace", "delete a character"),
	Clear:  binding("ctrl+u", "clear"),
	Space:  binding("space", "a space"),
}

// filterKeys end typing a filter.
var filterKeys = struct{ Keep, Clear key.Binding }{
	Keep:  binding("enter", "keep the filter"),
	Clear: binding("esc", "clear the filter"),
}

// lineInput is a one-line text field: printable keys insert, backspace deletes, ctrl+u clears.
// It has no blinking cursor, so views render deterministically.
type lineInput struct {
	value []rune
}

// update applies a key and reports whether it was consumed.
func (in *lineInput) update(msg tea.KeyPressMsg) bool {
	switch {
	case key.Matches(msg, inputKeys.Delete):
		if len(in.value) > 0 {
			in.value = in.value[:len(in.value)-1]
		}
		return true
	case key.Matches(msg, inputKeys.Clear):
		in.value = nil
		return true
	case key.Matches(msg, inputKeys.Space):
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
	switch {
	case key.Matches(msg, filterKeys.Keep):
		f.typing = false
		return false
	case key.Matches(msg, filterKeys.Clear):
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
