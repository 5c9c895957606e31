package sshserve

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	bm "charm.land/wish/v2/bubbletea"
	"github.com/charmbracelet/colorprofile"
	uv "github.com/charmbracelet/ultraviolet"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/tui"
)

// runDashboard runs one dashboard program on the session's terminal until the user quits, the
// client goes away, the dashboard is idle or too old, or the server stops.
func (s *Server) runDashboard(ctx context.Context, sess ssh.Session, actor engine.Actor) int {
	pty, windows, _ := sess.Pty()
	c := &tui.Env{Svc: s.cfg.Service, Actor: actor, Theme: s.cfg.Theme, Lifetime: ctx, Subscribe: s.cfg.Subscribe,
		Width: pty.Window.Width, Height: pty.Window.Height, EngineEmbedded: s.cfg.EngineEmbedded}
	m := tui.New(c, nil)
	defer m.Close()

	// charm.land/ssh emulates the PTY (the server sets no PtyHandler): the session is the terminal.
	in := newActivityReader(sess)
	// Frames draw only when a frame changes, and once the first frame is drawn they stop Bubble
	// Tea's tick (Frames.Release): an idle dashboard wakes nothing in the server, where Bubble Tea's
	// renderer would wake 60 times a second per session. Its colours follow the client's TERM and
	// environment, as MakeOptions' profile does; what the program writes itself goes through it,
	// between frames.
	env := append(sess.Environ(), "TERM="+pty.Term)
	frames := tui.NewFrames(sess, colorprofile.Env(env), env, true)
	defer frames.Close()
	m.DrawTo(frames)
	// MakeOptions wires the session's terminal: the client's environment, the initial size, and no
	// suspending the server with ctrl+z. The program reads no input itself (ProgramOptions):
	// readInput sends it what the client types, through the idle clock.
	opts := append(bm.MakeOptions(sess), tea.WithOutput(frames), tea.WithoutSignalHandler())
	opts = append(opts, frames.ProgramOptions()...)
	p := tea.NewProgram(m, opts...)
	go readInput(ctx, in, pty.Term, p)
	go frames.Release(p)

	finished := make(chan struct{})
	reasons := make(chan string, 1)
	go func() { reasons <- s.supervise(ctx, p, windows, in, finished) }()
	_, err := p.Run()
	p.Kill() // restores the terminal should Run have ended abnormally
	frames.Close()
	close(finished)
	reason := <-reasons
	// Keep draining resizes until the session ends, so charm.land/ssh's request loop never blocks.
	go func() {
		for {
			select {
			case <-sess.Context().Done():
				return
			case <-windows:
			}
		}
	}()
	if reason != "" {
		fmt.Fprintln(sess.Stderr(), "tenantatlas: "+reason)
		return exitError
	}
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(sess.Stderr(), "tenantatlas: dashboard: %v\n", err)
		return exitError
	}
	return 0
}

// supervise delivers resizes to the program and makes it quit when the session must end. It returns
// why it ended the session ("" when the user quit or the client went away), once the program
// finished or once it asked the program to quit.
//
// Its timers fire only when a limit may have been reached: the idle timer at the last keystroke
// known plus IdleTimeout, pushed back by the keystrokes since (a hundred idle sessions must not wake
// the server for nothing).
func (s *Server) supervise(ctx context.Context, p *tea.Program, windows <-chan ssh.Window, in *activityReader, finished <-chan struct{}) string {
	maxTimer := time.NewTimer(s.cfg.MaxTimeout)
	defer maxTimer.Stop()
	idleTimer := time.NewTimer(s.cfg.IdleTimeout)
	defer idleTimer.Stop()
	for {
		select {
		case <-finished:
			return ""
		case w := <-windows:
			p.Send(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
		case <-ctx.Done():
			p.Quit()
			if s.base.Err() != nil {
				return "the server is shutting down; reconnect in a moment"
			}
			return ""
		case <-maxTimer.C:
			p.Quit()
			return fmt.Sprintf("session closed after its maximum of %s; reconnect to continue", s.cfg.MaxTimeout)
		case <-idleTimer.C:
			if left := s.cfg.IdleTimeout - in.idleFor(); left > 0 {
				idleTimer.Reset(left)
				continue
			}
			p.Quit()
			return fmt.Sprintf("session closed after %s without input; reconnect to continue", s.cfg.IdleTimeout)
		}
	}
}

// readInput sends p what the client types, parsed by ultraviolet's terminal reader as Bubble Tea
// parses its own input (p translates the events into its key, paste and mouse messages). It returns
// when ctx ends or the session's input does.
func readInput(ctx context.Context, in io.Reader, term string, p *tea.Program) {
	events := make(chan uv.Event)
	go func() {
		defer close(events)
		_ = uv.NewTerminalReader(in, term).StreamEvents(ctx, events)
	}()
	for e := range events {
		p.Send(e) // returns at once once the program has ended
	}
}

// activityReader is the session's input, timestamping every read for the idle timeout.
type activityReader struct {
	r    io.Reader
	last atomic.Int64 // unix nanoseconds of the last input
}

func newActivityReader(r io.Reader) *activityReader {
	a := &activityReader{r: r}
	a.last.Store(time.Now().UnixNano())
	return a
}

func (a *activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (a *activityReader) idleFor() time.Duration {
	return time.Since(time.Unix(0, a.last.Load()))
}
