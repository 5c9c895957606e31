package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

const testSecretKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// cli runs the command line in-process against one test database.
type cli struct {
	t   *testing.T
	env map[string]string
}

type result struct {
	code   int
	stdout string
	stderr string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	return &cli{t: t, env: map[string]string{
		"TENANTATLAS_DATABASE_URL": pgtest.NewDSN(t),
		"TENANTATLAS_SECRET_KEY":   testSecretKey,
		"TENANTATLAS_DATA_DIR":     t.TempDir(),
	}}
}

func (c *cli) run(stdin string, args ...string) result {
	c.t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return c.env[k] })
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run("", args...)
	require.Equal(c.t, 0, r.code, "tenantatlas %v: %s", args, r.stderr)
	return r.stdout
}

func (c *cli) jsonOut(v any, args ...string) {
	c.t.Helper()
	require.NoError(c.t, json.Unmarshal([]byte(c.ok(append(args, "--json")...)), v), args)
}

func TestCLIUsageErrors(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: map[string]string{"TENANTATLAS_DATABASE_URL": "postgres://x:y@127.0.0.1:1/none?connect_timeout=1"}}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		msg  string
	}{
		{"UnknownCommand", []string{"frobnicate"}, nil, 2, `unknown command "frobnicate"`},
		{"UnknownFlag", []string{"runs", "list", "--frob"}, nil, 2, "unknown flag: --frob"},
		{"MissingArgument", []string{"runs", "show"}, nil, 2, "usage: tenantatlas runs show ID"},
		{"BadRunID", []string{"runs", "show", "abc"}, nil, 2, `run id "abc": expected a positive number`},
		{"BadLimit", []string{"runs", "list", "--limit", "0"}, nil, 2, "--limit 0: expected 1 to 1000"},
		{"BadLogLevel", []string{"version", "--log-level", "loud"}, nil, 2, `log level "loud" is not one of debug, info, warn, error`},
		{"BadLogFormatEnv", []string{"version"}, map[string]string{"TENANTATLAS_LOG_FORMAT": "xml"}, 2, `log format "xml"`},
		{"BadGraphURL", []string{"version", "--graph-url", "graph.microsoft.com"}, nil, 2, "must be an absolute https:// URL"},
		{"BadDatabaseURL", []string{"runs", "list"}, map[string]string{"TENANTATLAS_DATABASE_URL": "mysql:dsn"}, 2, "database URL must look like postgres://"},
		{"UnreachableDatabase", []string{"runs", "list"}, nil, 1, "cannot reach the database at 127.0.0.1:1"},
		{"TenantsAddNeedsSecretSource", []string{"tenants", "add", "--name", "a", "--tenant-id", "x", "--client-id", "y"}, nil, 2, "exactly one of --secret-file and --certificate-file"},
		{"MigrateBadArg", []string{"migrate", "sideways"}, nil, 2, `invalid argument "sideways"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cc := &cli{t: t, env: map[string]string{}}
			for k, v := range c.env {
				cc.env[k] = v
			}
			for k, v := range tc.env {
				cc.env[k] = v
			}
			r := cc.run("", tc.args...)
			require.Equal(t, tc.code, r.code, r.stderr)
			require.Contains(t, r.stderr, tc.msg)
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			require.NotContains(t, r.stderr, "y@127", "no password echoed")
			require.Empty(t, r.stdout)
		})
	}
}

func TestCLIAdministration(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	require.Contains(t, c.ok("version"), "tenantatlas ")
	require.Contains(t, c.ok("migrate", "status"), "00001_init.sql")

	c.ok("workspaces", "add", "fabrikam")
	c.ok("users", "add", "alice")
	keyFile := filepath.Join(t.TempDir(), "alice.pub")
	require.NoError(t, os.WriteFile(keyFile, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop\n"), 0o644))
	out := c.ok("keys", "add", "alice", keyFile)
	require.Contains(t, out, "added key SHA256:")
	c.ok("members", "add", "fabrikam", "alice", "operator")

	var members []map[string]any
	c.jsonOut(&members, "members", "list", "fabrikam")
	require.Len(t, members, 2)

	var keys []map[string]any
	c.jsonOut(&keys, "keys", "list", "alice")
	require.Len(t, keys, 1)
	require.Equal(t, "alice@laptop", keys[0]["comment"])

	r := c.run("", "keys", "add", "alice", "-")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "not an OpenSSH public key")

	r = c.run("", "members", "add", "fabrikam", "alice", "superuser")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, `unknown role "superuser" (expected owner, manager, operator or readonly)`)

	c.env["TENANTATLAS_USER"] = "alice"
	r = c.run("", "users", "add", "mallory")
	require.Equal(t, 3, r.code, "forbidden")
	r = c.run("", "members", "list", "default")
	require.Equal(t, 4, r.code, "alice is no member of default: not found")
	require.Contains(t, r.stderr, `workspace "default"`)
}

func TestCLITenantsAndRuns(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	secret := "Zx8Q~very.secret.value-" + t.Name()
	r := c.run(secret, "tenants", "add", "--name", "contoso", "--tenant-id", "6e0c1a2b-0000-4000-8000-000000000001",
		"--client-id", "3f2a0000-0000-4000-8000-000000000002", "--secret-file", "-", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	require.NotContains(t, r.stdout, secret)
	require.NotContains(t, r.stdout, "ciphertext")

	for _, args := range [][]string{{"tenants", "list"}, {"tenants", "show", "contoso"}, {"tenants", "show", "contoso", "--json"}, {"tenants", "list", "--json"}} {
		out := c.ok(args...)
		require.NotContains(t, out, secret, args)
		require.Contains(t, out, "contoso")
	}

	var started map[string]any
	c.jsonOut(&started, "sync", "groups", "contoso")
	require.Equal(t, true, started["created"])
	require.Equal(t, "queued", started["status"])
	var again map[string]any
	c.jsonOut(&again, "runs", "start", "--tenant", "contoso", "--type", "directory_groups.sync")
	require.Equal(t, false, again["created"], "dedupe returns the active run")
	require.Equal(t, started["id"], again["id"])

	var runs []map[string]any
	c.jsonOut(&runs, "runs", "list", "--tenant", "contoso", "--status", "queued")
	require.Len(t, runs, 1)
	require.Equal(t, "directory_groups.sync", runs[0]["type"])

	id := jsonNumber(started["id"])
	out := c.ok("runs", "cancel", id)
	require.Contains(t, out, "cancelled")
	var shown map[string]any
	c.jsonOut(&shown, "runs", "show", id)
	require.Equal(t, "cancelled", shown["outcome"])
	require.NotEmpty(t, shown["events"])

	r = c.run("", "runs", "show", "999999")
	require.Equal(t, 4, r.code)
	require.Contains(t, r.stderr, "run 999999")

	r = c.run("", "runs", "start", "--tenant", "contoso", "--type", "nonsense.type")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, `unknown operation type "nonsense.type"`)

	r = c.run("", "runs", "start", "--tenant", "contoso", "--type", "system.noop", "--param", "novalue")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, `expected key=value`)

	c.ok("users", "add", "rita")
	c.ok("members", "add", "default", "rita", "readonly")
	c.env["TENANTATLAS_USER"] = "rita"
	r = c.run("", "sync", "groups", "contoso")
	require.Equal(t, 3, r.code, r.stderr)
	require.Contains(t, r.stderr, "directory.sync")
	c.env["TENANTATLAS_USER"] = "nobody-here"
	r = c.run("", "runs", "list")
	require.Equal(t, 4, r.code)
	require.Contains(t, r.stderr, `user "nobody-here" does not exist`)
}

func TestCLINeedsSecretKeyWithExternalDatabase(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	delete(c.env, "TENANTATLAS_SECRET_KEY")
	r := c.run("s3cret", "tenants", "add", "--name", "a", "--tenant-id", "6e0c1a2b-0000-4000-8000-000000000001",
		"--client-id", "3f2a0000-0000-4000-8000-000000000002", "--secret-file", "-")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "no secret key")
	require.Contains(t, r.stderr, "TENANTATLAS_SECRET_KEY")
	require.Contains(t, c.ok("tenants", "list"), "none (the list is empty)", "nothing was half-created; reads still work")
	require.NotContains(t, c.ok("tenants", "list"), " a ")

	c.env["TENANTATLAS_SECRET_KEY"] = "too-short"
	r = c.run("", "tenants", "list")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "TENANTATLAS_SECRET_KEY: the secret key must be 32 random bytes")
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestCLILegacyImport(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	dir := t.TempDir()
	csvFile := filepath.Join(dir, "history.csv")
	require.NoError(t, os.WriteFile(csvFile, []byte("source,id,tenant,status,started_at,finished_at,items_total,items_failed,failure_reason\n"+
		"group_sync,g-1,contoso,Failed,2025-06-03T01:00:00Z,,10,10,TooManyRequests\n"+
		"backup_schedule,b-1,contoso,Completed,2025-06-03T03:00:00Z,,40,0,\n"), 0o644))
	var res map[string]any
	c.jsonOut(&res, "legacy", "import", csvFile)
	require.EqualValues(t, 2, res["imported"])
	out := c.ok("legacy", "import", csvFile)
	require.Contains(t, out, "imported 0, skipped 2 already imported")

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`[{"source": "printer", "id": "1"}]`), 0o644))
	r := c.run("", "legacy", "import", bad)
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, `row 1: source "printer"`)
	r = c.run("", "legacy", "import", filepath.Join(dir, "missing.json"))
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "cannot read")
}

// TestCLIPapercuts: the dashboard's flags work without `tui`, an unknown command suggests the
// nearest, a bad number says what was wanted, an empty list says it is empty, and --wait with no
// engine alive says so and stops.
func TestCLIPapercuts(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	r := c.run("", "runz")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, `unknown command "runz" (did you mean runs?)`)
	r = c.run("", "runs", "list", "--limit", "abc")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, `--limit wants a whole number, not "abc"`)
	require.NotContains(t, r.stderr, "strconv")
	r = c.run("", "runs", "list")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "none (the list is empty)\n", r.stdout)
	for _, args := range [][]string{{"--no-engine", "--help"}, {"--theme", "light", "--help"}, {"demo", "--theme", "light", "--help"}} {
		r = c.run("", args...)
		require.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
	}
	r = c.run("s3cret", "tenants", "add", "--name", "contoso", "--tenant-id", "6e0c1a2b-0000-4000-8000-000000000001", "--client-id", "3f2a0000-0000-4000-8000-000000000002", "--secret-file", "-")
	require.Equal(t, 0, r.code, r.stderr)
	r = c.run("", "tenants", "verify", "contoso", "--wait")
	require.Equal(t, exitError, r.code)
	require.Contains(t, r.stderr, "no engine is running, so --wait stops waiting")
}

// fakeEngine is an engine with n runs in flight.
type fakeEngine struct {
	n       int
	stopped bool
}

func (f *fakeEngine) InFlight() int { return f.n }
func (f *fakeEngine) Stop()         { f.stopped = true }

// TestQuitSaysTheEngineIsStopping: quitting the dashboard with runs in flight says so while they
// finish, instead of a blank terminal; with none it says nothing.
func TestQuitSaysTheEngineIsStopping(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	e := &fakeEngine{n: 2}
	stopEngine(&out, e)
	require.True(t, e.stopped)
	require.Equal(t, "stopping engine — 2 run(s) finishing…\nengine stopped\n", out.String())
	out.Reset()
	idle := &fakeEngine{}
	stopEngine(&out, idle)
	require.True(t, idle.stopped)
	require.Empty(t, out.String())
}

// TestSecurityLegacyImportNeverTruncates: the review's 20,000-row CSV (about 2 MiB, over the old
// silent 1 MiB cut) imports every row intact; input over the stated limit is refused with an error and
// nothing is imported, from a file and from standard input (security review finding 8).
func TestSecurityLegacyImportNeverTruncates(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	dir := t.TempDir()
	const header = "source,id,tenant,status,started_at,finished_at,items_total,items_failed,failure_reason\n"
	rows := func(n int) string {
		var b strings.Builder
		b.WriteString(header)
		for i := range n {
			fmt.Fprintf(&b, "group_sync,g-%d,contoso,Failed,2025-06-03T01:00:00Z,,10,10,TooManyRequests: please retry this request later on\n", i)
		}
		return b.String()
	}
	big := filepath.Join(dir, "big.csv")
	data := rows(20000)
	require.Greater(t, len(data), 1<<20)
	require.NoError(t, os.WriteFile(big, []byte(data), 0o644))
	var res map[string]any
	c.jsonOut(&res, "legacy", "import", big)
	require.EqualValues(t, 20000, res["imported"])

	tooBig := strings.Repeat("x", 64<<20+1)
	over := filepath.Join(dir, "over.csv")
	require.NoError(t, os.WriteFile(over, []byte(header+tooBig), 0o644))
	for _, tc := range []struct{ name, stdin, arg string }{{"File", "", over}, {"Stdin", header + tooBig, "-"}} {
		r := c.run(tc.stdin, "legacy", "import", "--format", "csv", tc.arg)
		require.Equal(t, 2, r.code, tc.name)
		require.Contains(t, r.stderr, "is larger than the limit of 64 MiB: nothing was read or imported", tc.name)
		require.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	}
	c.jsonOut(&res, "legacy", "import", big)
	require.EqualValues(t, 0, res["imported"], "nothing new: the refused inputs imported nothing")
	require.EqualValues(t, 20000, res["skipped"])
}

// TestCLIRetention: `workspaces retention` shows and sets a workspace's retention, refuses bad
// values with the bound and changes nothing, and only an owner may set it or prune.
func TestCLIRetention(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	out := c.ok("workspaces", "retention", "default")
	require.Regexp(t, `default\s+400d\s+90d\s+forever`, out)

	for _, bad := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--runs", "3d"}, "runs are kept at least 7d"},
		{[]string{"--runs", "forever"}, "--runs cannot be forever (only --audit can)"},
		{[]string{"--audit", "a while"}, `--audit: invalid request: retention "a while": want a count of days, weeks or years (400d, 12w, 2y) or a duration (36h)`},
		{[]string{"--run-events", "500d"}, "run events (500d) cannot be kept longer than their runs (400d)"},
	} {
		r := c.run("", append([]string{"workspaces", "retention", "default"}, bad.args...)...)
		require.Equal(t, 2, r.code, r.stderr)
		require.Contains(t, r.stderr, bad.msg)
	}
	require.Regexp(t, `default\s+400d\s+90d\s+forever`, c.ok("workspaces", "retention", "default"), "nothing changed")

	out = c.ok("workspaces", "retention", "default", "--runs", "2y", "--run-events", "30d", "--audit", "3y")
	require.Regexp(t, `default\s+730d\s+30d\s+1095d`, out)
	var shown map[string]any
	c.jsonOut(&shown, "workspaces", "retention", "default")
	require.Equal(t, map[string]any{"workspace": "default", "runs": "730d", "run_events": "30d", "audit": "1095d",
		"kept_whatever_their_age": store.KeptRunsRule}, shown)
	require.Contains(t, c.ok("workspaces", "prune", "default"), "pruned workspace default: 0 runs, 0 run events, 0 audit events, 0 alert incidents")

	c.ok("users", "add", "mel")
	c.ok("members", "add", "default", "mel", "manager")
	c.env["TENANTATLAS_USER"] = "mel"
	require.Regexp(t, `default\s+730d`, c.ok("workspaces", "retention", "default"), "a manager may read it")
	for _, args := range [][]string{{"workspaces", "retention", "default", "--runs", "30d"}, {"workspaces", "prune", "default"}} {
		r := c.run("", args...)
		require.Equal(t, 3, r.code, "forbidden: %s", r.stderr)
		require.Contains(t, r.stderr, "retention.manage")
	}
}

// TestCLIFleet: tags group tenants; --tag and --all start one run per tenant with one line each,
// a refused tenant gets its reason and a non-zero exit while the others start; a tag that matches
// nothing is an error; a command needs exactly one target.
func TestCLIFleet(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	for i, name := range []string{"contoso", "fabrikam", "northwind"} {
		r := c.run("secret-"+name, "tenants", "add", "--name", name, "--tenant-id", fmt.Sprintf("6e0c1a2b-0000-4000-8000-00000000000%d", i+1),
			"--client-id", "3f2a0000-0000-4000-8000-000000000002", "--secret-file", "-")
		require.Equal(t, 0, r.code, r.stderr)
	}
	require.Contains(t, c.ok("tenants", "tag", "contoso", "eu", "tier-1"), "tenant contoso: tags eu,tier-1")
	c.ok("tenants", "tag", "fabrikam", "eu")
	require.Contains(t, c.ok("tenants", "untag", "contoso", "tier-1"), "tenant contoso: tags eu")
	out := c.ok("tenants", "list", "--tag", "eu")
	require.Contains(t, out, "contoso")
	require.Contains(t, out, "fabrikam")
	require.NotContains(t, out, "northwind")

	var starts []map[string]any
	c.jsonOut(&starts, "sync", "inventory", "--tag", "eu")
	require.Len(t, starts, 2)
	for _, s := range starts {
		require.Equal(t, true, s["result"].(map[string]any)["created"], s["tenant"])
	}
	out = c.ok("backups", "run", "--all")
	for _, name := range []string{"contoso", "fabrikam", "northwind"} {
		require.Contains(t, out, name)
	}

	c.ok("users", "add", "ops")
	c.ok("members", "add", "default", "ops", "readonly")
	c.env["TENANTATLAS_USER"] = "ops"
	r := c.run("", "sync", "groups", "--tag", "eu")
	require.Equal(t, 1, r.code, r.stderr)
	require.Contains(t, r.stderr, "2 of 2 tenants refused")
	require.Regexp(t, `contoso\s+-\s+refused\s+.*directory.sync`, r.stdout)
	delete(c.env, "TENANTATLAS_USER")

	for _, bad := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"sync", "groups", "--tag", "apac"}, 4, `tag "apac" matches no tenant in workspace default`},
		{[]string{"sync", "groups", "contoso", "--all"}, 2, "name one target: TENANT, --tag TAG or --all"},
		{[]string{"sync", "groups"}, 2, "name one target"},
		{[]string{"tenants", "tag", "contoso", "EU"}, 2, `tag "EU": use lower case letters`},
	} {
		r := c.run("", bad.args...)
		require.Equal(t, bad.code, r.code, "%v: %s", bad.args, r.stderr)
		require.Contains(t, r.stderr, bad.msg, bad.args)
	}
}
