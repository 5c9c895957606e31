package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSecuritySecretNotOverSSH plants a distinctive client secret and greps everything the SSH server
// sends back for it: command output (text and JSON, success and error) and the server's own log at
// debug level.
func TestSecuritySecretNotOverSSH(t *testing.T) {
	t.Parallel()
	w := newSSHWorld(t)
	secret := "Zx8Q~ssh-planted-" + strings.Repeat("7", 24)
	r := w.c.run(secret, "tenants", "add", "--name", "planted", "--tenant-id", "6e0c1a2b-0000-4000-8000-0000000000aa",
		"--client-id", "3f2a0000-0000-4000-8000-000000000002", "--secret-file", "-")
	require.Equal(t, 0, r.code, r.stderr)

	addr := w.serveInProcess(t, "--no-engine", "--log-level", "debug")
	var seen []string
	for _, command := range []string{
		"tenants list", "tenants list --json", "tenants show planted", "tenants show planted --json",
		"tenants verify planted --json", "sync groups planted", "runs list --json", "runs show 1 --json",
		"groups search planted x --json", "roles list planted --json", "tenants show nosuch", "runs show 999999",
	} {
		res := sshExec(t, addr, w.dave, command)
		seen = append(seen, fmt.Sprintf("%s → %d", command, res.code))
		require.NotContains(t, res.stdout, secret, command)
		require.NotContains(t, res.stderr, secret, command)
	}
	require.Len(t, seen, 12)
	require.NotContains(t, w.logs.String(), secret, "the server's log")
}

func TestConfigStringRedactsPasswords(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://ta:hunter2@db.example.com:5432/ta?sslmode=require",
		"host=db.example.com user=ta password=hunter2 dbname=ta",
	} {
		c := Config{DatabaseURL: dsn}
		require.NotContains(t, c.String(), "hunter2", dsn)
		require.Contains(t, c.String(), "db.example.com")
	}
}

// TestSecuritySSHPolicyCoversCobraCommands: commands cobra adds at execution (__complete,
// __completeNoDesc) go through the SSH policy like the rest, and another user's keys get the same
// answer whether that user exists or not (security review finding 6).
func TestSecuritySSHPolicyCoversCobraCommands(t *testing.T) {
	t.Parallel()
	w := newSSHWorld(t)
	addr := w.serveInProcess(t, "--no-engine")
	for _, command := range []string{"__complete runs ''", "__completeNoDesc runs ''", "__complete users add x", "--json __complete runs ''"} {
		r := sshExec(t, addr, w.alice, command)
		require.Equal(t, 3, r.code, "%s: %s%s", command, r.stdout, r.stderr)
		require.Contains(t, r.stderr, "is not available over SSH", command)
		require.Empty(t, r.stdout, command)
	}
	exists := sshExec(t, addr, w.alice, "keys list admin")
	missing := sshExec(t, addr, w.alice, "keys list nosuch")
	require.Equal(t, 3, exists.code, exists.stderr)
	require.Equal(t, exists.code, missing.code, "unknown and forbidden users answer alike: %s / %s", exists.stderr, missing.stderr)
	require.Equal(t, exists.stderr, missing.stderr)
	own := sshExec(t, addr, w.alice, "keys list alice")
	require.Equal(t, 0, own.code, own.stderr)
}
