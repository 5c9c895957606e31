package tui

import (
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
