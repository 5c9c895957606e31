package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// confirmKeys answer a pending question: y confirms; any other key declines.
var confirmKeys = struct{ Yes key.Binding }{
	Yes: binding("y", "confirm"),
}

// confirmation is a command held back until the user answers y to its question (cancelling or
// retrying runs): the next key answers it, whatever it is.
type confirmation struct {
	question string         // shown until the next key
	declined string         // flashed when that key is not y
	run      func() tea.Cmd // the command, made only once confirmed
}

// confirmer holds at most one pending confirmation. While one is pending the screen captures the
// keyboard, so that the answer reaches it rather than a global key.
type confirmer struct {
	pending *confirmation
}

// ask holds run back until a y.
func (c *confirmer) ask(question, declined string, run func() tea.Cmd) {
	c.pending = &confirmation{question: question, declined: declined, run: run}
}

// asking reports whether a question waits for its answer.
func (c *confirmer) asking() bool { return c.pending != nil }

// answer takes the key that answers the pending question: the command when it is y, else the
// declined line.
func (c *confirmer) answer(msg tea.KeyPressMsg) tea.Cmd {
	p := c.pending
	c.pending = nil
	if !key.Matches(msg, confirmKeys.Yes) {
		return flash(p.declined)
	}
	return p.run()
}

// view is the pending question's line, or "".
func (c *confirmer) view(t Theme, width int) string {
	if c.pending == nil {
		return ""
	}
	return fit(t.Error.Render(c.pending.question), width)
}
