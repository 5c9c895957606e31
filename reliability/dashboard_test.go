package reliability_test

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tenantatlas/tenantatlas/tui"
)

// dashboard runs a tui.Model the way tea.Program does — commands in goroutines, messages applied
// one at a time — without a terminal, so a test can read the rendered screen between messages.
type dashboard struct {
	t    *testing.T
	m    *tui.Model
	msgs chan tea.Msg
}

func newDashboard(t *testing.T, c *tui.Env) *dashboard {
	t.Helper()
	d := &dashboard{t: t, m: tui.New(c, nil), msgs: make(chan tea.Msg, 1024)}
	t.Cleanup(d.m.Close)
	d.exec(d.m.Init())
	return d
}

func (d *dashboard) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		if msg := cmd(); msg != nil {
			d.msgs <- msg
		}
	}()
}

func (d *dashboard) apply(msg tea.Msg) {
	switch msg := msg.(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			d.exec(c)
		}
	case tea.QuitMsg:
	default:
		_, next := d.m.Update(msg)
		d.exec(next)
	}
}

// screen is the current frame without colours.
func (d *dashboard) screen() string { return ansi.Strip(d.m.Render()) }

// press types keys: "enter", "esc", "backspace" or literal text (one key per rune).
func (d *dashboard) press(keys ...string) {
	for _, k := range keys {
		var msgs []tea.KeyPressMsg
		switch k {
		case "enter":
			msgs = append(msgs, tea.KeyPressMsg{Code: tea.KeyEnter})
		case "esc":
			msgs = append(msgs, tea.KeyPressMsg{Code: tea.KeyEscape})
		case "backspace":
			msgs = append(msgs, tea.KeyPressMsg{Code: tea.KeyBackspace})
		case "ctrl+u":
			msgs = append(msgs, tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
		default:
			for _, r := range k {
				msgs = append(msgs, tea.KeyPressMsg{Code: r, Text: string(r)})
			}
		}
		for _, m := range msgs {
			d.apply(m)
			d.settle(15 * time.Millisecond)
		}
	}
}

// settle applies messages until none arrives for quiet.
func (d *dashboard) settle(quiet time.Duration) {
	for {
		select {
		case msg := <-d.msgs:
			d.apply(msg)
		case <-time.After(quiet):
			return
		}
	}
}

// waitFor applies messages until the screen satisfies cond, failing after limit.
func (d *dashboard) waitFor(limit time.Duration, cond func(screen string) bool) string {
	d.t.Helper()
	deadline := time.After(limit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s := d.screen()
		if cond(s) {
			return s
		}
		select {
		case msg := <-d.msgs:
			d.apply(msg)
		case <-tick.C:
		case <-deadline:
			d.t.Fatalf("the dashboard never showed what was expected; last screen:\n%s", s)
		}
	}
}

func containsAll(want ...string) func(string) bool {
	return func(s string) bool {
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	}
}
