package tui

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/tenantatlas/tenantatlas/internal/termtext"
	"github.com/tenantatlas/tenantatlas/store"
)

// Global keys: the root handles these unless a screen's text field has the keyboard.
var globalKeys = struct {
	Quit, Interrupt, Palette, Help, Back, Refresh, Home key.Binding
}{
	Quit:      binding("q", "quit"),
	Interrupt: binding("ctrl+c", "quit, even in a field"),
	Palette:   binding(":", "command"),
	Help:      binding("?", "help"),
	Back:      binding("esc", "back"),
	Refresh:   binding("r", "refresh"),
	Home:      binding("h", "home"),
}

// Model is the root of the dashboard: a stack of screens (the breadcrumbs), the command palette and
// the help overlay. Its Update only routes.
type Model struct {
	env      *Env
	stack    []Screen
	palette  *palette
	help     bool
	helpAt   scroller // the help's first line shown: it scrolls with the navigation keys
	flash    string
	flashBad bool
	sub      *store.Subscription
	frames   *Frames // draws the frames when set (DrawTo); else Bubble Tea's renderer does
	hints    struct{ key, line string }
	heading  struct{ key, line string } // the header as last drawn, and what it depends on
	lastView *tea.View                  // the last frame drawn, kept while keepView
	keepView bool                       // the last message changed nothing on screen
}

// DrawTo hands the dashboard's frames to f instead of Bubble Tea's renderer (run the program with
// f.ProgramOptions()).
func (m *Model) DrawTo(f *Frames) { m.frames = f }

// New returns the dashboard opened on start (nil: the triage home).
func New(c *Env, start Screen) *Model {
	if start == nil {
		start = newHome(c)
	}
	c.Live = c.Subscribe != nil
	m := &Model{env: c, stack: []Screen{start}}
	if c.Subscribe != nil {
		m.sub = c.Subscribe()
	}
	return m
}

// Close releases the hub subscription.
func (m *Model) Close() {
	if m.sub != nil {
		m.sub.Close()
	}
}

func (m *Model) top() Screen { return m.stack[len(m.stack)-1] }

// Init loads the first screen and starts listening for changes.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.top().Init(), m.waitHub())
}

func (m *Model) waitHub() tea.Cmd {
	if m.sub == nil {
		return nil
	}
	sub := m.sub
	return func() tea.Msg {
		n, ok := <-sub.C
		return hubMsg{n: n, ok: ok}
	}
}

// tuiPkg is this package's import path: the messages it defines carry what the dashboard loaded.
var tuiPkg = reflect.TypeFor[Model]().PkgPath()

// scrubMsg is where everything the dashboard loads (names, descriptions, diffs, log lines, reasons,
// error texts) is made terminal-safe, once, before any screen keeps or draws it: every string in a
// message this package defines goes through termtext.Scrub. A navigateMsg carries a screen, not data.
// Bubble Tea's own messages (keys, pastes, sizes) pass unchanged.
func scrubMsg(msg tea.Msg) tea.Msg {
	if _, ok := msg.(navigateMsg); ok || msg == nil {
		return msg
	}
	t := reflect.TypeOf(msg)
	if t.PkgPath() != tuiPkg || t.Kind() != reflect.Struct {
		return msg
	}
	c := reflect.New(t)
	c.Elem().Set(reflect.ValueOf(msg))
	termtext.Scrub(c.Interface())
	return c.Elem().Interface()
}

// Update routes: global keys here, everything else to the screens.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	msg = scrubMsg(msg)
	m.keepView = false
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.env.Width, m.env.Height = msg.Width, msg.Height
		return m, m.toScreens(msg) // screens lay their rows out for the new width
	case hubMsg:
		// A notification only starts loads (their answers redraw): unless the live marker changed,
		// the frame stays as drawn and View does not draw it again for every dashboard.
		live := m.env.Live
		cmd := m.onHub(msg)
		m.keepView = live == m.env.Live
		return m, cmd
	case navigateMsg:
		if msg.jump {
			// A `:` jump replaces the view above home, so breadcrumbs never pile up.
			if _, ok := m.stack[0].(*home); !ok {
				m.stack = []Screen{newHome(m.env)}
			}
			m.stack = m.stack[:1]
			if _, ok := msg.screen.(*home); ok {
				m.stack[0] = msg.screen
				m.flash = ""
				return m, msg.screen.Init()
			}
		}
		m.stack = append(m.stack, msg.screen)
		m.flash = ""
		return m, msg.screen.Init()
	case backMsg:
		return m, m.back()
	case flashMsg:
		m.flash, m.flashBad = msg.text, msg.isErr
		return m, nil
	case showHelpMsg:
		m.help, m.helpAt = true, scroller{}
		return m, nil
	case copyMsg:
		// Frames writes the sequence between its frames; Bubble Tea's renderer, at its next tick.
		if m.frames != nil {
			m.frames.copy(msg.text)
			return m, nil
		}
		return m, tea.SetClipboard(msg.text)
	case tea.KeyPressMsg:
		return m, m.onKey(msg)
	}
	return m, m.toScreens(msg)
}

// toScreens hands a data message to every screen on the stack; each keeps only its own.
func (m *Model) toScreens(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	for i, s := range m.stack {
		next, cmd := s.Update(msg)
		m.stack[i] = next
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}

func (m *Model) onHub(msg hubMsg) tea.Cmd {
	if !msg.ok {
		m.env.Live = false
		return nil
	}
	switch msg.n.Kind {
	case store.KindDisconnected:
		m.env.Live = false
		return m.waitHub()
	case store.KindReload:
		m.env.Live = true
		return tea.Batch(m.top().Reload(), m.waitHub())
	}
	m.env.Live = true
	if top := m.top(); top.Relevant(msg.n) {
		if p, ok := top.(partialReloader); ok {
			return tea.Batch(p.ReloadFor(msg.n), m.waitHub())
		}
		return tea.Batch(top.Reload(), m.waitHub())
	}
	return m.waitHub()
}

func (m *Model) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if m.palette != nil {
		cmd, done := m.palette.update(msg)
		if done {
			m.palette = nil
		}
		return cmd
	}
	if m.help {
		w, h := m.env.size()
		lines := m.helpLines(w, bodyHeight(h))
		if !m.helpAt.key(msg, bodyHeight(h)-2, len(lines), bodyHeight(h)-2) {
			m.help = false
		}
		return nil
	}
	if key.Matches(msg, globalKeys.Interrupt) {
		return tea.Quit
	}
	if !m.top().Capturing() {
		switch {
		case key.Matches(msg, globalKeys.Quit):
			return tea.Quit
		case key.Matches(msg, globalKeys.Palette):
			m.palette = newPalette(m.env)
			return nil
		case key.Matches(msg, globalKeys.Help):
			m.help, m.helpAt = true, scroller{}
			return nil
		case key.Matches(msg, globalKeys.Back):
			if f, ok := m.top().(filterClearer); ok {
				if cmd, cleared := f.ClearFilter(); cleared {
					return cmd
				}
			}
			if len(m.stack) > 1 {
				return m.back()
			}
		case key.Matches(msg, globalKeys.Refresh):
			m.flash = ""
			return m.top().Reload()
		case key.Matches(msg, globalKeys.Home):
			m.stack = m.stack[:1]
			if _, ok := m.stack[0].(*home); !ok {
				m.stack[0] = newHome(m.env)
				return m.stack[0].Init()
			}
			return m.stack[0].Reload()
		}
	}
	next, cmd := m.top().Update(msg)
	m.stack[len(m.stack)-1] = next
	return cmd
}

func (m *Model) back() tea.Cmd {
	if len(m.stack) <= 1 {
		return nil
	}
	m.stack = m.stack[:len(m.stack)-1]
	m.flash = ""
	return m.top().Reload()
}

// View draws the header with breadcrumbs, the active screen, the status line and the key hints.
func (m *Model) View() tea.View {
	if m.keepView && m.lastView != nil {
		return *m.lastView
	}
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "TenantAtlas — " + m.top().Title()
	if m.frames != nil && m.env.Width > 0 && m.env.Height > 0 {
		m.frames.draw(frame{content: v.Content, title: v.WindowTitle, width: m.env.Width, height: m.env.Height})
	}
	m.lastView = &v
	return v
}

// Render is the whole screen as a string (golden tests strip its colours).
func (m *Model) Render() string {
	w, h := m.env.size()
	if w < 40 || h < 10 {
		return "TenantAtlas needs at least 40×10\n(now " + fmt.Sprintf("%d×%d", w, h) + ")"
	}
	header := m.header(w)
	body := ""
	switch {
	case m.help:
		body = m.helpView(w, bodyHeight(h))
	default:
		body = m.top().View(w, bodyHeight(h))
	}
	body = padLines(body, bodyHeight(h))
	status := m.statusLine(w)
	hints := m.hintLine(w)
	return header + "\n" + body + "\n" + status + "\n" + hints
}

// header is the top line: drawn again only when the breadcrumbs, the live marker or the width
// change (every frame draws it; a new log line changes none of them).
func (m *Model) header(w int) string {
	var crumbs []string
	for _, s := range m.stack {
		crumbs = append(crumbs, s.Title())
	}
	key := strconv.Itoa(w) + strconv.FormatBool(m.env.Live) + strconv.FormatBool(m.env.Subscribe == nil) +
		strconv.FormatBool(m.env.EngineEmbedded) + "\x00" + m.env.Actor.Name + "\x00" + strings.Join(crumbs, "\x00")
	if key != m.heading.key {
		m.heading.key, m.heading.line = key, m.drawHeader(w, crumbs)
	}
	return m.heading.line
}

func (m *Model) drawHeader(w int, crumbs []string) string {
	t := m.env.Theme
	right := ""
	left := t.Title.Render("TenantAtlas") + " " + t.Crumb.Render("▸ "+strings.Join(crumbs, " ▸ "))
	// Deep stacks drop their oldest crumbs first, so the live marker always shows.
	for len(crumbs) > 1 && ansiWidth(left) > w-30 {
		crumbs = crumbs[1:]
		left = t.Title.Render("TenantAtlas") + " " + t.Crumb.Render("▸ … ▸ "+strings.Join(crumbs, " ▸ "))
	}
	live := m.env.Tone("ok", "● live")
	if !m.env.Live {
		live = m.env.Tone("warn", "○ reconnecting")
		if m.env.Subscribe == nil {
			live = m.env.Tone("muted", "○ static")
		}
	}
	who := m.env.Actor.Name
	if !m.env.EngineEmbedded {
		who += " · watch only"
	}
	right = t.Dim.Render(who) + "  " + live
	gap := w - ansiWidth(left) - ansiWidth(right)
	if gap < 1 {
		return fit(left, w)
	}
	return left + strings.Repeat(" ", gap) + right
}

func (m *Model) statusLine(w int) string {
	if m.palette != nil {
		return m.palette.view(w)
	}
	if m.flash == "" {
		return ""
	}
	if m.flashBad {
		return fit(m.env.Theme.Error.Render("✖ "+m.flash), w)
	}
	return fit(m.env.Theme.Flash.Render(m.flash), w)
}

// hintLine is the footer: drawn again only when its keys, their state or the width change (it is
// redrawn with every frame, and styling a dozen keys costs more than the rest of most frames).
func (m *Model) hintLine(w int) string {
	var k strings.Builder // built without fmt: it is built for every frame of every session
	k.WriteString(strconv.Itoa(w))
	k.WriteString(strconv.FormatBool(m.top().Capturing()))
	k.WriteString(strconv.FormatBool(len(m.stack) == 1))
	for _, b := range m.top().ShortHelp() {
		k.WriteString("\x00" + b.Help().Key + "\x01" + b.Help().Desc + strconv.FormatBool(b.Enabled()))
	}
	if k.String() == m.hints.key {
		return m.hints.line
	}
	m.hints.key, m.hints.line = k.String(), m.drawHintLine(w)
	return m.hints.line
}

func (m *Model) drawHintLine(w int) string {
	t := m.env.Theme
	render := func(bs []key.Binding) string {
		var parts []string
		for _, b := range bs {
			if b.Enabled() {
				parts = append(parts, t.Key.Render(b.Help().Key)+" "+t.Dim.Render(b.Help().Desc))
			}
		}
		return strings.Join(parts, "  ")
	}
	own := render(m.top().ShortHelp())
	if m.top().Capturing() {
		return fit(own, w) // a text field has the keyboard: only the screen's own keys apply
	}
	globals := []key.Binding{globalKeys.Palette, globalKeys.Back, globalKeys.Quit, globalKeys.Help}
	if len(m.stack) == 1 {
		globals = []key.Binding{globalKeys.Palette, globalKeys.Quit, globalKeys.Help}
	}
	// The way out (esc, q) and "? help" always show: when the hints do not fit, the screen's own
	// keys give way, and ? lists them all.
	tail := render(globals)
	if own == "" {
		return fit(tail, w)
	}
	if ansiWidth(own)+2+ansiWidth(tail) > w {
		return fit(own, max(w-ansiWidth(tail)-2, 0)) + "  " + tail
	}
	return own + "  " + tail
}

// helpView is the help's window at its scroll position, over the line saying how to scroll and close it.
func (m *Model) helpView(w, h int) string {
	t := m.env.Theme
	lines := m.helpLines(w, h)
	visible := max(h-2, 1)
	foot := "any other key closes this help"
	if len(lines) > visible {
		start := max(min(m.helpAt.offset, len(lines)-visible), 0)
		foot = fmt.Sprintf("lines %d–%d of %d · j/k, pgup/pgdn, g/G scroll · %s", start+1, min(start+visible, len(lines)), len(lines), foot)
	}
	return padLines(strings.Join(m.helpAt.window(lines, visible), "\n"), visible) + "\n\n" + t.Dim.Render(fit(foot, w))
}

// helpLines lists the screen's keys beside the global ones, then the `:` commands.
func (m *Model) helpLines(w, h int) []string {
	t := m.env.Theme
	section := func(title string, bs []key.Binding) []string {
		lines := []string{t.Header.Render(title)}
		for _, k := range bs {
			if k.Enabled() {
				lines = append(lines, "  "+fit(t.Key.Render(strings.Join(k.Keys(), "/")), 16)+k.Help().Desc)
			}
		}
		return lines
	}
	here := section("This screen", m.top().FullHelp())
	back := globalKeys.Back
	back.SetHelp("esc", "clear an applied filter, then back")
	everywhere := section("Everywhere", []key.Binding{globalKeys.Palette, globalKeys.Help, back, globalKeys.Refresh, globalKeys.Home, globalKeys.Quit, globalKeys.Interrupt})
	lines := []string{t.Title.Render("Keys — " + m.top().Title()), ""}
	if 2+len(here)+1+len(everywhere)+2 <= h || w < 120 {
		// Stacked when it fits, or when halves would cut the descriptions: the help scrolls.
		lines = append(append(append(lines, here...), ""), everywhere...)
	} else {
		// Wide enough, the global keys go beside the screen's rather than below them.
		for i := range max(len(here), len(everywhere)) {
			left, right := "", ""
			if i < len(here) {
				left = here[i]
			}
			if i < len(everywhere) {
				right = everywhere[i]
			}
			lines = append(lines, fit(fit(left, w/2)+right, w))
		}
	}
	lines = append(lines, "", t.Header.Render("Commands (:)"))
	for _, c := range paletteCommands {
		lines = append(lines, fit("  "+fit(t.Key.Render(":"+c.usage), 24)+c.help, w))
	}
	return lines
}

func ansiWidth(s string) int { return lipgloss.Width(s) }

// size is the terminal's size, 80×24 until the terminal has told it.
func (c *Env) size() (width, height int) {
	if c.Width <= 0 || c.Height <= 0 {
		return 80, 24
	}
	return c.Width, c.Height
}

// bodyHeight is the height a screen draws in: the terminal's less the header, status and hint lines.
func bodyHeight(height int) int { return height - 3 }
