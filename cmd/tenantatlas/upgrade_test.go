package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// previousRelease builds the tenantatlas of the commit before the newest migration was added: the
// release whose engines are running when an operator upgrades (docs/operations.md#safe-upgrades).
// It returns the binary and the commit, or skips the test when there is no git history to build
// from.
func previousRelease(t *testing.T) (bin, commit string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("previous-release test: git is not installed")
	}
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skip("previous-release test: not in a git work tree")
	}
	repo := strings.TrimSpace(string(root))
	latest := fmt.Sprintf("migrations/%05d_", store.LatestSchemaVersion())
	matches, _ := filepath.Glob(filepath.Join(repo, latest+"*.sql"))
	require.Len(t, matches, 1, "the newest migration file")
	rel, _ := filepath.Rel(repo, matches[0])
	added, err := exec.Command("git", "-C", repo, "log", "-1", "--format=%H", "--diff-filter=A", "--", rel).Output()
	if err != nil || len(strings.TrimSpace(string(added))) == 0 {
		t.Skipf("previous-release test: %s is not committed yet (commit it, then the test builds the release before it)", rel)
	}
	commit = strings.TrimSpace(string(added)) + "^"
	if err := exec.Command("git", "-C", repo, "rev-parse", "--verify", "--quiet", commit).Run(); err != nil {
		t.Skipf("previous-release test: the history before %s is not in this clone (shallow?)", rel)
	}
	hash, err := exec.Command("git", "-C", repo, "rev-parse", commit).Output()
	require.NoError(t, err)
	// One build per commit and machine: the source goes to a fixed directory so that Go's build
	// cache serves later runs, and the binary is kept beside it.
	dir := filepath.Join(os.TempDir(), "tenantatlas-previous-"+strings.TrimSpace(string(hash))[:12])
	bin = filepath.Join(dir, "tenantatlas-previous")
	if _, err := os.Stat(bin); err == nil {
		return bin, commit
	}
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	archive := exec.Command("git", "-C", repo, "archive", "--format=tar", commit)
	untar := exec.Command("tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	require.NoError(t, err)
	untar.Stdin = pipe
	require.NoError(t, untar.Start())
	require.NoError(t, archive.Run())
	require.NoError(t, untar.Wait())
	build := exec.Command("go", "build", "-buildvcs=false", "-o", bin+".tmp", "./cmd/tenantatlas")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the previous release (%s): %s", commit, out)
	require.NoError(t, os.Rename(bin+".tmp", bin))
	return bin, commit
}

// TestPreviousEngineSurvivesUpgrade is the expand rule enforced: an engine of the previous release,
// running when the new binary migrates the database, keeps claiming and finishing runs started by
// the new binary, and stops cleanly.
func TestPreviousEngineSurvivesUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the previous release")
	}
	t.Parallel()
	bin, commit := previousRelease(t)
	dsn := pgtest.NewEmptyDSN(t)
	env := []string{"TENANTATLAS_DATABASE_URL=" + dsn, "TENANTATLAS_SECRET_KEY=" + testSecretKey,
		"TENANTATLAS_DATA_DIR=" + t.TempDir(), "HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}

	// The previous release migrates to its schema and starts its engine.
	mig := exec.Command(bin, "migrate")
	mig.Env = env
	out, err := mig.CombinedOutput()
	require.NoError(t, err, "previous release (%s) migrate: %s", commit, out)
	db, err := store.Open(context.Background(), dsn, store.Options{})
	require.NoError(t, err)
	defer db.Close()
	oldSchema, err := store.SchemaVersion(context.Background(), db.Pool)
	require.NoError(t, err)
	old := exec.Command(bin, "engine", "--shutdown-timeout", "5s", "--log-format", "json")
	old.Env = env
	stderr, err := old.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, old.Start())
	logs := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs <- sc.Text()
		}
		close(logs)
	}()
	t.Cleanup(func() { _ = old.Process.Kill(); _ = old.Wait() })
	waitLog(t, logs, "engine started", 60*time.Second)

	// The new binary migrates with the old engine alive: every migration since is expand-only.
	c := &cli{t: t, env: map[string]string{"TENANTATLAS_DATABASE_URL": dsn, "TENANTATLAS_SECRET_KEY": testSecretKey, "TENANTATLAS_DATA_DIR": t.TempDir()}}
	require.Contains(t, c.ok("migrate"), "schema is up to date")
	var status []store.MigrationStatus
	c.jsonOut(&status, "migrate", "status")
	for _, s := range status {
		require.True(t, s.Applied, "%s %d", s.Component, s.Version)
	}

	// Runs started by the new binary are run by the old engine alone.
	for i := range 3 {
		var run struct {
			ID      int64  `json:"id"`
			Status  string `json:"status"`
			Outcome string `json:"outcome"`
		}
		r := c.run("", "runs", "start", "--type", "system.noop", "--workspace", "default", "--param", "steps=2", "--wait", "--json")
		require.Equal(t, 0, r.code, "run %d on the previous engine: %s %s", i, r.stdout, r.stderr)
		dec := json.NewDecoder(strings.NewReader(r.stdout)) // the queued run, then the finished one
		for dec.More() {
			require.NoError(t, dec.Decode(&run), r.stdout)
		}
		require.Equal(t, "succeeded", run.Outcome)
	}
	// Schedules: the old engine keeps firing a tenant's schedule while a fleet schedule (migration
	// 00019: no tenant) exists. A release before 00019 does not see the fleet schedule (its inner
	// join on tenants), and no engine of this binary runs, so it has no run; a release that has
	// 00019 fires it for the tenant like its own.
	tenant := storetest.Tenant(context.Background(), t, db.Pool, nil) // no connection: its backups end blocked at once
	var fleet, own struct {
		ID int64 `json:"id"`
	}
	c.jsonOut(&fleet, "schedules", "add", "--all", "--name", "fleet-every-second", "--cron", "* * * * * *")
	c.jsonOut(&own, "schedules", "add", "--tenant", tenant.Name, "--name", "own-every-second", "--cron", "* * * * * *")
	// Read from the database, not the old engine's log: a previous release words its lines its own way.
	require.Eventually(t, func() bool {
		var runs int
		require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM operation_runs WHERE schedule_id = $1`, own.ID).Scan(&runs))
		return runs > 0
	}, 60*time.Second, 100*time.Millisecond, "the previous engine fires the tenant's schedule")
	fleetRuns := func() int {
		var n int
		require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM operation_runs WHERE schedule_id = $1`, fleet.ID).Scan(&n))
		return n
	}
	if oldSchema < 19 {
		require.Zero(t, fleetRuns(), "a previous engine before migration 00019 does not see fleet schedules")
	} else {
		require.Eventually(t, func() bool { return fleetRuns() > 0 }, 60*time.Second, 100*time.Millisecond,
			"a previous engine with migration 00019 (schema %d) fires the fleet schedule", oldSchema)
	}
	_ = c.ok("schedules", "pause", "own-every-second")
	_ = c.ok("schedules", "pause", "fleet-every-second")

	// The previous release predates the registry, or registers in it: either way no engine of
	// this binary ran them (none runs in this test).
	_ = c.ok("engines")

	// And it stops as it always did.
	require.NoError(t, old.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() {
		for range logs {
			// drain until the process closes stderr
		}
		done <- old.Wait()
	}()
	select {
	case err := <-done:
		require.NoError(t, err, "the previous engine exits cleanly")
	case <-time.After(30 * time.Second):
		t.Fatal("the previous engine did not stop within 30 s of SIGTERM")
	}
}

// waitLog waits for a log line containing want and every one of also.
func waitLog(t *testing.T, logs <-chan string, want string, timeout time.Duration, also ...string) {
	t.Helper()
	deadline := time.After(timeout)
	var seen []string
	for {
		select {
		case line, ok := <-logs:
			if !ok {
				t.Fatalf("process exited before logging %q:\n%s", want, strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
			if strings.Contains(line, want) && !slices.ContainsFunc(also, func(a string) bool { return !strings.Contains(line, a) }) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q within %s:\n%s", want, timeout, strings.Join(seen, "\n"))
		}
	}
}
