package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// builtBinary compiles tenantatlas once per test run.
func builtBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tenantatlas-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tenantatlas")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// terminal is a tmux session running a command.
type terminal struct {
	t    *testing.T
	name string
}

func newTerminal(t *testing.T, width, height int, env []string, argv ...string) *terminal {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is required for end-to-end tests (scripts/ensure-deps.sh installs it)")
		}
		t.Skip("tmux not installed")
	}
	name := fmt.Sprintf("ta-e2e-%d-%d", os.Getpid(), time.Now().UnixNano())
	shell := strings.Join(append(env, argv...), " ") + "; echo EXITED=$?; sleep 60"
	var out []byte
	var err error
	// Sessions started at once race to start the tmux server; the loser reports "server exited
	// unexpectedly" and succeeds when tried again.
	for attempt := 0; attempt < 5; attempt++ {
		out, err = exec.Command("tmux", "new-session", "-d", "-s", name, "-x", fmt.Sprint(width), "-y", fmt.Sprint(height), shell).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "server exited unexpectedly") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err, string(out))
	term := &terminal{t: t, name: name}
	t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", name).Run() })
	return term
}

func (term *terminal) screen() string {
	out, err := exec.Command("tmux", "capture-pane", "-t", term.name, "-p").CombinedOutput()
	require.NoError(term.t, err, string(out))
	return string(out)
}

// waitFor polls the screen until it contains every want.
func (term *terminal) waitFor(want ...string) string {
	term.t.Helper()
	var last string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		last = term.screen()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(last, w)
		}
		if ok {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	term.t.Fatalf("screen never showed %q; last screen:\n%s", want, last)
	return ""
}

// keys types keys; a pause after each keeps ESC from merging with the next key into alt+key.
func (term *terminal) keys(keys ...string) {
	for _, k := range keys {
		require.NoError(term.t, exec.Command("tmux", "send-keys", "-t", term.name, k).Run())
		time.Sleep(120 * time.Millisecond)
	}
}

// TestDashboardEndToEnd runs the built binary in a real terminal against a real database: it
// navigates with keys, reads the screen, and sees a run change state live.
func TestDashboardEndToEnd(t *testing.T) {
	t.Parallel()
	bin := builtBinary(t)
	dsn := pgtest.NewDSN(t)
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, store.Options{})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	svc, err := engine.NewService(db, engine.ServiceOptions{})
	require.NoError(t, err)
	admin, err := svc.ActorByName(ctx, "")
	require.NoError(t, err)
	w, err := store.GetWorkspaceByName(ctx, db.Pool, "default")
	require.NoError(t, err)
	seeded, err := svc.Start(ctx, admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: w.ID, Params: map[string]any{"fail": "true", "steps": "1"}})
	require.NoError(t, err)

	env := []string{"TENANTATLAS_DATABASE_URL='" + dsn + "'", "TENANTATLAS_SECRET_KEY=" + testSecretKey,
		"TENANTATLAS_DATA_DIR=" + t.TempDir(), "NO_COLOR=1"}
	term := newTerminal(t, 100, 30, env, bin)
	term.waitFor("TenantAtlas", "CONNECTIONS NEEDING ATTENTION", "● live")
	// The embedded engine works the seeded run; home shows its failure grouped by reason.
	term.waitFor("internal_error")

	term.keys("o")
	term.waitFor("Operations", "5 All 1", fmt.Sprintf("%d ", seeded.Run.ID))

	res, err := svc.Start(ctx, admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: w.ID, Params: map[string]any{"duration": "3s", "steps": "6"}})
	require.NoError(t, err)
	term.waitFor("● running")
	screen := term.waitFor("✔ succeeded")
	require.Contains(t, screen, fmt.Sprint(res.Run.ID))

	// The cursor stays on the run it was on when new rows arrive; g goes to the newest.
	term.keys("g", "Enter")
	term.waitFor(fmt.Sprintf("Run %d", res.Run.ID), "finished: succeeded")
	term.keys("Escape", "?")
	term.waitFor("Keys — Operations", "mark")
	term.keys("q")
	term.keys("q")
	term.waitFor("EXITED=0")
}

// TestDemoEndToEnd runs `tenantatlas demo` in a real terminal: runs appear and complete live, and
// quitting leaves no process and no directory behind.
func TestDemoEndToEnd(t *testing.T) {
	t.Parallel()
	bin := builtBinary(t)
	tmp, err := os.MkdirTemp("", "tenantatlas-demo-test-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(tmp) })
	require.NoError(t, os.Chmod(tmp, 0o755)) // the postgres account must reach the cluster inside

	term := newTerminal(t, 120, 32, []string{"TMPDIR=" + tmp, "NO_COLOR=1"}, bin, "demo")
	term.waitFor("CONNECTIONS NEEDING ATTENTION", "● live")
	term.waitFor("fabrikam", "missing DeviceManagementConfiguration.Read.All")
	term.keys("o")
	term.waitFor("Operations", "✔ succeeded", "northwind")
	term.keys("q")
	term.waitFor("EXITED=0")

	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, entries, "the demo removed its directory")
	// The demo's processes (its postgres) run inside tmp/tenantatlas-demo-*; the tmux shell itself only
	// names tmp.
	out, _ := exec.Command("pgrep", "-f", filepath.Join(tmp, "tenantatlas-demo-")).CombinedOutput()
	require.Empty(t, strings.TrimSpace(string(out)), "no process of the demo is left")
}

// TestDemoHangupLeavesNothing closes the demo's terminal instead of quitting (SIGHUP, as a dropped SSH
// connection does): the demo still stops everything and removes its directory.
func TestDemoHangupLeavesNothing(t *testing.T) {
	t.Parallel()
	bin := builtBinary(t)
	tmp, err := os.MkdirTemp("", "tenantatlas-demo-test-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(tmp) })
	require.NoError(t, os.Chmod(tmp, 0o755))

	term := newTerminal(t, 100, 30, []string{"TMPDIR=" + tmp, "NO_COLOR=1"}, bin, "demo")
	term.waitFor("CONNECTIONS NEEDING ATTENTION", "● live")
	require.NoError(t, exec.Command("tmux", "kill-session", "-t", term.name).Run())
	require.Eventually(t, func() bool {
		entries, err := os.ReadDir(tmp)
		return err == nil && len(entries) == 0
	}, 30*time.Second, 100*time.Millisecond, "the demo removed its directory after SIGHUP")
	require.Eventually(t, func() bool {
		out, _ := exec.Command("pgrep", "-f", filepath.Join(tmp, "tenantatlas-demo-")).CombinedOutput()
		return strings.TrimSpace(string(out)) == ""
	}, 10*time.Second, 100*time.Millisecond, "no process of the demo is left")
}
