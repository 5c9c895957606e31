package tui

import (
	"bytes"
	"context"
	"encoding/base64"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/stretchr/testify/require"
)

// lockedBuffer is a terminal's output, read while the painter writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// textMsg sets what framesModel shows.
type textMsg string

// framesModel draws one line of text to Frames, as the dashboard's root does in View.
type framesModel struct {
	f    *Frames
	text string
}

func (m *framesModel) Init() tea.Cmd { return nil }

func (m *framesModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case textMsg:
		m.text = string(msg)
	case copyMsg:
		m.f.copy(msg.text)
	}
	return m, nil
}

func (m *framesModel) View() tea.View {
	m.f.draw(frame{content: m.text, width: 20, height: 2})
	return tea.NewView(m.text)
}

// tickers counts the goroutines labelled label that run Bubble Tea's renderer tick.
func tickers(t *testing.T, label string) int {
	t.Helper()
	var profile bytes.Buffer
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&profile, 1))
	n := 0
	for record := range strings.SplitSeq(profile.String(), "\n\n") {
		if strings.Contains(record, `"frames_test":"`+label+`"`) && strings.Contains(record, "startRenderer") {
			n++
		}
	}
	return n
}

// A program drawn by Frames keeps Bubble Tea's tick only until its first frame: after Release it
// wakes for nothing, and it still handles messages, draws frames and copies to the clipboard.
func TestFramesReleaseStopsTheTick(t *testing.T) {
	t.Parallel()
	out := &lockedBuffer{}
	f := NewFrames(out, colorprofile.NoTTY, []string{"TERM=xterm-256color"}, true)
	m := &framesModel{f: f, text: "first"}
	p := tea.NewProgram(m, append(f.ProgramOptions(), tea.WithOutput(f), tea.WithWindowSize(20, 2),
		tea.WithoutSignalHandler(), tea.WithEnvironment([]string{"TERM=xterm-256color"}))...)
	label := t.Name()
	ran := make(chan error, 1)
	// The renderer's goroutine inherits Run's labels: the profile tells this program's apart.
	go pprof.Do(context.Background(), pprof.Labels("frames_test", label), func(context.Context) {
		_, err := p.Run()
		ran <- err
	})
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "first") }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, 1, tickers(t, label), "Bubble Tea ticks until Release")

	released := make(chan struct{})
	go func() { f.Release(p); close(released) }()
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("Release did not return")
	}
	require.Eventually(t, func() bool { return tickers(t, label) == 0 }, 10*time.Second, 5*time.Millisecond, "no tick after Release")

	p.Send(textMsg("second"))
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "second") }, 10*time.Second, 5*time.Millisecond)
	p.Send(copyMsg{text: "42"})
	osc52 := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte("42"))
	require.Eventually(t, func() bool { return strings.Contains(out.String(), osc52) }, 10*time.Second, 5*time.Millisecond)

	p.Quit()
	select {
	case err := <-ran:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the program did not quit")
	}
	f.Close()
}
