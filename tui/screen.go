package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tenantatlas/tenantatlas/store"
)

// Screen is one page of the dashboard. Children return strings; only the root returns a tea.View.
type Screen interface {
	// Title is the screen's breadcrumb.
	Title() string
	// Init loads the screen's data.
	Init() tea.Cmd
	Update(msg tea.Msg) (Screen, tea.Cmd)
	View(width, height int) string
	// ShortHelp is the hint line: the keys that matter most here, those that apply now.
	ShortHelp() []key.Binding
	// FullHelp is every key the screen answers, for the `?` help.
	FullHelp() []key.Binding
	// Capturing is true while a text field has the keyboard: global keys then go to the screen.
	Capturing() bool
	// Relevant reports whether a database change concerns what the screen shows.
	Relevant(n store.Notification) bool
	// Reload reloads from the database (a relevant change, `r`, or after the hub reconnected).
	Reload() tea.Cmd
}

// filterClearer is a screen that can hold an applied `/` filter. The first esc clears it and stays
// on the screen (cleared true); the next goes back.
type filterClearer interface {
	ClearFilter() (cmd tea.Cmd, cleared bool)
}

// partialReloader is a screen that can load only what a change touched (the run detail: the new log
// lines) instead of reloading everything it shows.
type partialReloader interface {
	ReloadFor(n store.Notification) tea.Cmd
}

// Messages between screens and the root.
type (
	// navigateMsg pushes a screen; with jump (a `:` command to a top-level screen) it replaces the
	// stack above home instead, as k9s's `:resource` does.
	navigateMsg struct {
		screen Screen
		jump   bool
	}
	// backMsg pops the top screen.
	backMsg struct{}
	// flashMsg shows a transient message in the status line.
	flashMsg struct {
		text  string
		isErr bool
	}
	// hubMsg carries a notification from the hub.
	hubMsg struct {
		n  store.Notification
		ok bool
	}
)

func navigate(s Screen) tea.Cmd { return func() tea.Msg { return navigateMsg{screen: s} } }

// jump opens s as the only screen above home.
func jump(s Screen) tea.Cmd { return func() tea.Msg { return navigateMsg{screen: s, jump: true} } }

func flash(text string) tea.Cmd { return func() tea.Msg { return flashMsg{text: text} } }

// copyMsg asks the root to put text on the client's clipboard (OSC52).
type copyMsg struct{ text string }

// copyText copies text to the clipboard of the terminal the dashboard runs in and flashes done.
func copyText(text, done string) tea.Cmd {
	return tea.Batch(func() tea.Msg { return copyMsg{text: text} }, flash(done))
}

func flashErr(err error) tea.Cmd {
	return func() tea.Msg { return flashMsg{text: err.Error(), isErr: true} }
}

func binding(keys, help string, more ...string) key.Binding {
	return key.NewBinding(key.WithKeys(append([]string{keys}, more...)...), key.WithHelp(keys, help))
}
