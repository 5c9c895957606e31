package main

import (
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// hostileGroup is a group name as anyone who may create an M365 group can set it: OSC 0 (window
// title), OSC 52 (clipboard write), CSI 2J (clear screen), SGR (red, concealed) and CR LF (a forged row).
const hostileGroup = "Finance \x1b]0;PWNED\a\x1b]52;c;cm0gLXJmIH4=\a\x1b[2J\x1b[31mRED\x1b[8mHIDDEN\r\nforged row"

// visibleHostile is how every view must show it: as text.
const visibleHostile = `\x1b]0;PWNED\x07\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x1b[31mRED\x1b[8mHIDDEN\r\nforged row`

// TestSecurityTerminalEscapes plants the hostile group in contoso's directory cache and reads it back
// through every view: the CLI table, the same command over SSH, the dashboard locally and over SSH
// (tmux as the terminal). Each shows the sequences as visible text on one line; --json stays exact
// (security review finding 2).
func TestSecurityTerminalEscapes(t *testing.T) {
	t.Parallel()
	w := newSSHWorld(t)
	ctx := context.Background()
	db, err := store.Open(ctx, w.c.env["TENANTATLAS_DATABASE_URL"], store.Options{})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	var tenant struct{ ID int64 }
	w.c.jsonOut(&tenant, "tenants", "show", "contoso")
	storetest.Groups(ctx, t, db, &storetest.DirectoryOpts{TenantID: tenant.ID},
		[]store.Group{{GraphID: "00000001-aaaa-4bbb-8ccc-000000000001", DisplayName: hostileGroup, ContentHash: []byte{1}}})

	requireVisible := func(t *testing.T, out string) {
		t.Helper()
		require.NotContains(t, out, "\x1b", "raw ESC reached the terminal")
		require.NotContains(t, out, "\r", "raw CR reached the terminal")
		require.NotContains(t, out, "\a")
		require.Contains(t, out, visibleHostile)
	}

	t.Run("CLI", func(t *testing.T) {
		t.Parallel()
		out := w.c.ok("groups", "search", "contoso", "Fin")
		requireVisible(t, out)
		require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 2, "a header and one row: no forged row\n%s", out)
		var rows []struct {
			DisplayName string `json:"display_name"`
		}
		w.c.jsonOut(&rows, "groups", "search", "contoso", "Fin")
		require.Len(t, rows, 1)
		require.Equal(t, hostileGroup, rows[0].DisplayName, "--json stays exact")
	})

	addr := w.serveInProcess(t, "--no-engine")
	t.Run("SSHCommand", func(t *testing.T) {
		t.Parallel()
		r := sshExec(t, addr, w.alice, "groups search contoso Fin")
		require.Equal(t, 0, r.code, r.stderr)
		requireVisible(t, r.stdout)
		require.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 2, r.stdout)
		r = sshExec(t, addr, w.alice, "groups search contoso Fin --json")
		require.Equal(t, 0, r.code, r.stderr)
		var rows []map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows))
		require.Equal(t, hostileGroup, rows[0]["display_name"])
	})

	dashboard := func(t *testing.T, term *terminal) {
		term.waitFor("TenantAtlas", "● live")
		term.keys(":")
		for _, k := range "groups contoso" {
			term.keys(string(k))
		}
		term.keys("Enter")
		screen := term.waitFor("Groups of contoso", `\x1b]52;c;`)
		require.NotContains(t, screen, "PWNED\n", "the title sequence is shown, not obeyed")
		var line string
		for l := range strings.SplitSeq(screen, "\n") {
			if strings.Contains(l, "Finance") {
				line = l
			}
		}
		require.Contains(t, line, `\r\nforg`, "CR LF is shown on the row, not a forged row:\n%s", screen)
		require.NotContains(t, screen, "\nforged row")
		title, err := term.tmux("display-message", "-p", "-t", term.name, "#{pane_title}").Output()
		require.NoError(t, err)
		require.NotContains(t, string(title), "PWNED", "OSC 0 set the window title")
		term.keys("q")
		term.keys("q")
		term.waitFor("EXITED=0")
	}
	t.Run("DashboardLocal", func(t *testing.T) {
		t.Parallel()
		var env []string
		for k, v := range w.c.env {
			env = append(env, k+"='"+v+"'")
		}
		dashboard(t, newTerminal(t, 160, 30, append(env, "NO_COLOR=1"), builtBinary(t), "tui", "--no-engine"))
	})
	t.Run("DashboardOverSSH", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("ssh"); err != nil {
			t.Skip("OpenSSH client not installed")
		}
		host, port, _ := net.SplitHostPort(addr)
		dashboard(t, newTerminal(t, 160, 30, nil, "ssh", "-t", "-i", w.alice.keyFile, "-p", port, "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", host))
	})
}
