package tui

import (
	"bytes"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"
)

// Frames draws the dashboard on its terminal when a frame changes, and only then.
//
// Bubble Tea's own renderer wakes up 60 times a second for as long as a program runs, to compare the
// last frame with the one before, changed or not: with a hundred SSH dashboards in one process that is
// 6,000 wake-ups a second and most of a core's tenth spent on nothing (BENCHMARKS.md, idle_cpu_pct).
// With Frames the program runs without that renderer (ProgramOptions, Release); each frame the model
// draws wakes one goroutine that paints what changed with the same cell renderer Bubble Tea uses
// (ultraviolet), and then sleeps until the next frame. Frames arriving faster than frameInterval are
// coalesced into the latest. An idle dashboard wakes nothing.
type Frames struct {
	mu      sync.Mutex // guards everything below, and every write to out
	out     io.Writer
	scr     *uv.TerminalRenderer
	buf     bytes.Buffer // what scr renders, before it goes to out
	cells   uv.ScreenBuffer
	next    frame    // the newest frame the model drew
	shown   frame    // the frame on the terminal
	lines   []string // shown's lines: a frame redraws only the lines that differ
	started bool     // the terminal is set up (alternate screen, no cursor)
	// scrollOptim is whether frames may scroll the terminal instead of redrawing moved lines.
	scrollOptim bool
	closed      bool
	// pending is what goes to the terminal before the next frame (an OSC52 copy).
	pending []byte
	drawn   chan struct{} // closed by the first frame the model draws
	once    sync.Once

	wake     chan struct{} // a frame is waiting (capacity 1: wake-ups coalesce)
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// frame is one drawing of the dashboard at a terminal size.
type frame struct {
	content, title string
	width, height  int
}

// minScrollHunk is the fewest lines ultraviolet's renderer scrolls at once (smaller moves are drawn).
const minScrollHunk = 3

// frameInterval is the shortest time between two frames (60 a second, Bubble Tea's default rate).
const frameInterval = time.Second / 60

// NewFrames returns a renderer writing to out, a terminal whose colours are profile and whose
// environment is env (TERM decides the sequences). mapNewline says the terminal turns "\n" into
// "\r\n" itself, as an SSH session's emulated PTY does.
func NewFrames(out io.Writer, profile colorprofile.Profile, env []string, mapNewline bool) *Frames {
	f := &Frames{out: out, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		drawn: make(chan struct{})}
	f.scr = uv.NewTerminalRenderer(&f.buf, env)
	f.scr.SetColorProfile(profile)
	f.scr.SetTabStops(-1)
	f.scr.SetMapNewline(mapNewline)
	f.scrollOptim = runtime.GOOS != "windows" // as Bubble Tea: some Windows terminals scroll wrong
	f.scr.SetFullscreen(true)
	f.scr.SetRelativeCursor(false)
	go f.loop()
	return f
}

// ProgramOptions are the options of a program that f draws: no Bubble Tea renderer, no input of
// Bubble Tea's own (the caller sends it, see Release), and its tick at its slowest (once a second)
// until Release stops it. Only for a terminal the program need not set up, an SSH session's emulated
// PTY: without its renderer Bubble Tea neither puts a local terminal in raw mode nor reads its size,
// so the local dashboard keeps Bubble Tea's renderer (one program: 60 wake-ups a second).
func (f *Frames) ProgramOptions() []tea.ProgramOption {
	return []tea.ProgramOption{tea.WithoutRenderer(), tea.WithFPS(1), tea.WithInput(nil)}
}

// Release stops the tick of p, a program run with f's ProgramOptions, once p has drawn its first
// frame (or f is closed first); call it in its own goroutine. Without a renderer Bubble Tea keeps a
// ticker per program all the same (at least once a second) to flush what the program writes itself;
// a hundred sessions' tickers wake the process a hundred times a second, about 1 % of a core on a
// virtual machine for nothing (BENCHMARKS.md, idle_cpu_pct). p.ReleaseTerminal stops that tick and,
// with p's input disabled, nothing else: p goes on handling messages and drawing its frames here.
// What the dashboard writes itself (a clipboard copy) goes through f (copy), not through p.
// ReleaseTerminal waits half a second for a read loop the program does not have; this goroutine
// is the one that waits.
func (f *Frames) Release(p *tea.Program) {
	select {
	case <-f.drawn: // Run started Bubble Tea's tick before it drew the first frame
	case <-f.stop:
		return
	}
	_ = p.ReleaseTerminal()
}

// copy puts text on the terminal's clipboard (OSC52), before the next frame.
func (f *Frames) copy(text string) {
	f.mu.Lock()
	f.pending = append(f.pending, ansi.SetSystemClipboard(text)...)
	f.mu.Unlock()
	f.poke()
}

// Write writes p to the terminal between frames: give it to the program (tea.WithOutput) when the
// terminal is not a file, so that the program's own output never lands inside a frame.
func (f *Frames) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out.Write(p)
}

// draw queues a frame and wakes the painter. The model calls it from View, after every message.
func (f *Frames) draw(fr frame) {
	f.mu.Lock()
	f.next = fr
	f.mu.Unlock()
	f.once.Do(func() { close(f.drawn) })
	f.poke()
}

// poke wakes the painter.
func (f *Frames) poke() {
	select {
	case f.wake <- struct{}{}:
	default: // a wake-up is already queued: it paints this frame
	}
}

func (f *Frames) loop() {
	defer close(f.done)
	var last time.Time
	for {
		select {
		case <-f.stop:
			return
		case <-f.wake:
		}
		if wait := frameInterval - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-f.stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
		last = time.Now()
		f.mu.Lock()
		_ = f.paint() // a write error means the terminal went away; the program ends with it
		f.mu.Unlock()
	}
}

// paint draws the newest frame, writing only the cells that changed. Called with mu held.
func (f *Frames) paint() error {
	if f.closed {
		return nil
	}
	if len(f.pending) > 0 {
		_, err := f.out.Write(f.pending)
		f.pending = f.pending[:0]
		if err != nil {
			return err
		}
	}
	fr := f.next
	if fr == f.shown || fr.width <= 0 || fr.height <= 0 {
		return nil
	}
	var head bytes.Buffer
	redraw := false // every line, not only those that changed
	if !f.started {
		redraw = true
		f.started = true
		head.WriteString(ansi.SetModeAltScreenSaveCursor + ansi.ResetModeTextCursorEnable + ansi.SetModeBracketedPaste)
		f.cells = uv.NewScreenBuffer(fr.width, fr.height)
		f.scr.Resize(fr.width, fr.height)
		f.scr.Erase()
	} else if fr.width != f.shown.width || fr.height != f.shown.height {
		redraw = true
		f.cells.Resize(fr.width, fr.height)
		f.cells.Touched = nil
		f.scr.Resize(fr.width, fr.height)
		f.scr.Erase() // a new size redraws everything: terminals differ in what they keep
	}
	if fr.title != f.shown.title {
		head.WriteString(ansi.SetWindowTitle(fr.title))
	}
	// A new log line changes two or three lines of sixty: only those are drawn into the cells, and
	// only lines drawn are compared with the terminal's. Each line is drawn apart, as the dashboard
	// styles each of its lines apart.
	lines := strings.Split(fr.content, "\n")
	if redraw {
		f.cells.Clear()
		f.lines = nil
	}
	changed := 0
	for y := range fr.height {
		line := ""
		if y < len(lines) {
			line = lines[y]
		}
		if y < len(f.lines) && f.lines[y] == line {
			continue
		}
		changed++
		area := uv.Rect(0, y, fr.width, 1)
		f.cells.ClearArea(area)
		uv.NewStyledString(line).Draw(f.cells, area)
	}
	f.lines = lines
	// Scrolling (a followed log moving up) is found by hashing every line of both screens, most of a
	// frame's cost; it only pays when lines moved, and the renderer only scrolls hunks of three lines
	// or more, each of them a changed line. With fewer changed, nothing can have scrolled.
	f.scr.SetScrollOptim(f.scrollOptim && changed >= minScrollHunk)
	f.scr.Render(f.cells.RenderBuffer)
	if err := f.scr.Flush(); err != nil {
		return err
	}
	f.shown = fr
	if head.Len() == 0 && f.buf.Len() == 0 {
		return nil
	}
	head.Write(f.buf.Bytes())
	f.buf.Reset()
	_, err := f.out.Write(head.Bytes())
	return err
}

// Close paints the last frame and gives the terminal back: the main screen, the cursor, no bracketed
// paste. Call it once the program has ended; it tolerates a second call.
func (f *Frames) Close() {
	f.stopOnce.Do(func() { close(f.stop) })
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	_ = f.paint()
	f.closed = true
	if f.started {
		_, _ = f.out.Write([]byte(ansi.ResetModeBracketedPaste + ansi.SetModeTextCursorEnable + ansi.ResetModeAltScreenSaveCursor))
	}
}
