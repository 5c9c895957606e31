package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
)

// hostileInputs go into every environment variable, flag and argument.
var hostileInputs = []string{
	`'; DROP TABLE operation_runs; --`,
	`%_\`,
	"\x01\x7f",
	"line\nbreak",
	`Ωmega ünïcødé 🚀`,
	strings.Repeat("x", 4096),
	"-",
	"--",
	"",
}

// keyTableCounts proves that a command changed nothing.
func keyTableCounts(t *testing.T, dsn string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, store.Options{MaxConns: 2})
	require.NoError(t, err)
	defer db.Close()
	out := map[string]int64{}
	for _, table := range []string{"workspaces", "users", "memberships", "tenants", "provider_connections", "operation_runs",
		"run_events", "audit_events", "backup_schedules", "river_job"} {
		var n int64
		require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n))
		out[table] = n
	}
	return out
}

// runWithTimeout is cli.run bounded by a deadline, so a command that would hang fails the test.
func (c *cli) runWithTimeout(stdin string, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return c.env[k] })
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// requireCleanFailure: a known exit code and, on failure, exactly one line on stderr.
func requireCleanFailure(t *testing.T, r result, what string) {
	t.Helper()
	require.Contains(t, []int{exitOK, exitError, exitUsage, exitForbidden, exitNotFound}, r.code, what)
	if r.code != exitOK {
		require.Equal(t, 1, strings.Count(r.stderr, "\n"), "%s: one line on stderr: %q", what, r.stderr)
		require.True(t, strings.HasPrefix(r.stderr, "tenantatlas: "), "%s: %q", what, r.stderr)
		require.NotContains(t, r.stderr, "goroutine ", "%s: no stack trace", what)
		require.NotContains(t, r.stderr, "SQLSTATE", "%s: no raw database error: %q", what, r.stderr)
	}
}

// TestSecurityConfigGarbage puts garbage into every TENANTATLAS_* variable and every global flag:
// each is refused (or ignored) with one clear line, and nothing in the database changes.
func TestSecurityConfigGarbage(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	dsn := c.env["TENANTATLAS_DATABASE_URL"]
	before := keyTableCounts(t, dsn)
	vars := []string{"TENANTATLAS_DATABASE_URL", "TENANTATLAS_DATA_DIR", "TENANTATLAS_USER", "TENANTATLAS_LOG_LEVEL",
		"TENANTATLAS_LOG_FORMAT", "TENANTATLAS_GRAPH_URL", "TENANTATLAS_LOGIN_URL", "TENANTATLAS_SECRET_KEY",
		"TENANTATLAS_SECRET_KEY_FILE", "TENANTATLAS_PREVIOUS_SECRET_KEY_FILE", "TENANTATLAS_METRICS_ADDR", "TENANTATLAS_SSH_ADDR"}
	garbage := append([]string{"http://", "postgres://u:p@[::1", "host=/nonexistent dbname=x connect_timeout=1", "0",
		"9999999999999999999999", "/dev/null", "1.2.3.4:99999"}, hostileInputs...)
	cases := 0
	for _, v := range vars {
		for _, g := range garbage {
			if v == "TENANTATLAS_DATABASE_URL" && (strings.HasPrefix(g, "host=") || strings.Contains(g, "postgres://")) {
				continue // a reachable-looking DSN is covered by UnreachableDatabase in cli_test.go
			}
			cc := &cli{t: t, env: map[string]string{}}
			for k, val := range c.env {
				cc.env[k] = val
			}
			cc.env[v] = g
			what := fmt.Sprintf("%s=%.30q", v, g)
			r := cc.runWithTimeout("", "runs", "list", "--limit", "5")
			requireCleanFailure(t, r, what)
			cases++
		}
	}
	flags := []string{"--database-url", "--data-dir", "--as", "--log-level", "--log-format", "--graph-url", "--login-url",
		"--secret-key-file", "--metrics-addr", "--ssh-addr", "--limit", "--status", "--type", "--tenant", "--workspace"}
	for _, f := range flags {
		for _, g := range hostileInputs {
			if f == "--database-url" && g == "" {
				continue
			}
			r := c.runWithTimeout("", "runs", "list", f, g)
			requireCleanFailure(t, r, fmt.Sprintf("%s %.30q", f, g))
			cases++
		}
	}
	for _, args := range [][]string{{"--json=maybe", "runs", "list"}, {"runs", "list", "--limit"}, {"runs", "list", "--limit", "-1"},
		{"runs", "list", "--limit", "1001"}, {"runs", "show", "0"}, {"runs", "show", "-5"}, {"runs", "show", "1e9"},
		{"runs", "show", "99999999999999999999"}, {"runs", "cancel", "abc"}, {"runs", "start"}, {"runs", "start", "--param", "=x"},
		{"sync", "groups"}, {"sync", "nothing", "x"}, {"groups", "search", "x"}, {"members", "add", "a", "b"},
		{"schedules", "add", "--tenant", "x", "--name", "n", "--cron", "99 99 * * *"}, {"backups", "diff"},
		{"migrate", "down"}, {"--frob"}, {"runs", "--", "list"}, {"\x00"}} {
		r := c.runWithTimeout("", args...)
		requireCleanFailure(t, r, fmt.Sprintf("%q", args))
		require.NotEqual(t, exitOK, r.code, "%q", args)
		cases++
	}
	require.Equal(t, before, keyTableCounts(t, dsn), "no data changed")
	t.Logf("METRIC badinput.cli_cases %d cases", cases)
}

// TestSecurityHostileCLIArguments sends quote-and-semicolon strings, wildcards and unicode into
// every filter and search argument of the read commands.
func TestSecurityHostileCLIArguments(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.run("s3cret-"+t.Name(), "tenants", "add", "--name", "contoso", "--tenant-id", "6e0c1a2b-0000-4000-8000-000000000001",
		"--client-id", "3f2a0000-0000-4000-8000-000000000002", "--secret-file", "-")
	c.ok("sync", "groups", "contoso")
	dsn := c.env["TENANTATLAS_DATABASE_URL"]
	before := keyTableCounts(t, dsn)
	cases := 0
	for _, h := range append(hostileInputs, "\x00", `" OR 1=1 --`, "$1") {
		for _, args := range [][]string{
			{"runs", "list", "--tenant", h}, {"runs", "list", "--type", h}, {"runs", "list", "--status", h},
			{"runs", "list", "--workspace", h}, {"groups", "search", "contoso", h}, {"groups", "search", h, "x"},
			{"roles", "list", h}, {"tenants", "show", h}, {"members", "list", h}, {"keys", "list", h},
			{"inventory", h}, {"schedules", "list", "--tenant", h}, {"backups", "list", "--tenant", h}, {"backups", "show", h},
			{"runs", "show", h}, {"runs", "watch", h}, {"members", "remove", h, h}, {"schedules", "pause", h},
		} {
			for _, json := range []bool{false, true} {
				if json {
					args = append(args, "--json")
				}
				r := c.runWithTimeout("", args...)
				requireCleanFailure(t, r, fmt.Sprintf("%.80q", args))
				cases++
			}
		}
	}
	require.Equal(t, before, keyTableCounts(t, dsn), "no data changed")
	t.Logf("METRIC badinput.cli_argument_cases %d cases", cases)
}

// TestSecuritySecretNotInCLIOutput plants a distinctive secret and runs every read command, with
// and without --json: the secret is in no stdout and no stderr.
func TestSecuritySecretNotInCLIOutput(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	secret := fmt.Sprintf("TA-CLI-PLANTED-%d~secret", time.Now().UnixNano())
	r := c.run(secret, "tenants", "add", "--name", "contoso", "--tenant-id", "6e0c1a2b-0000-4000-8000-000000000001",
		"--client-id", "3f2a0000-0000-4000-8000-000000000002", "--secret-file", "-", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var started map[string]any
	c.jsonOut(&started, "sync", "groups", "contoso")
	id := jsonNumber(started["id"])
	c.ok("schedules", "add", "--tenant", "contoso", "--name", "nightly", "--cron", "0 3 * * *")
	c.ok("runs", "cancel", id)
	outputs := []result{r}
	for _, args := range [][]string{
		{"tenants", "list"}, {"tenants", "show", "contoso"}, {"runs", "list"}, {"runs", "show", id}, {"runs", "watch", id},
		{"workspaces", "list"}, {"users", "list"}, {"members", "list", "default"}, {"keys", "list", "admin"},
		{"groups", "search", "contoso", "a"}, {"roles", "list", "contoso"}, {"schedules", "list"}, {"backups", "list"},
		{"inventory", "contoso"}, {"migrate", "status"}, {"version"},
		{"tenants", "verify", "contoso"}, {"runs", "start", "--tenant", "contoso", "--type", "directory_role_definitions.sync"},
	} {
		for _, json := range []bool{false, true} {
			a := args
			if json {
				a = append(append([]string{}, args...), "--json")
			}
			res := c.runWithTimeout("", a...)
			require.Contains(t, []int{0, 4}, res.code, "%v: %s", a, res.stderr)
			outputs = append(outputs, res)
		}
	}
	for i, o := range outputs {
		require.NotContains(t, o.stdout, secret, "stdout of command %d", i)
		require.NotContains(t, o.stderr, secret, "stderr of command %d", i)
		require.NotContains(t, o.stdout, secret[:16])
	}
	t.Logf("METRIC secrets.cli_outputs %d outputs", len(outputs))
}
