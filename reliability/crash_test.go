package reliability_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/store"
)

// The crash suite runs engines in child processes (this test binary re-executed) and SIGKILLs them.
// A child is configured only through the environment an operator would use: the database, the
// secret key, TENANTATLAS_GRAPH_URL / TENANTATLAS_LOGIN_URL and SSL_CERT_FILE for the simulator.
const (
	childDSNEnv  = "TENANTATLAS_RELIABILITY_CHILD_DSN"
	childNameEnv = "TENANTATLAS_RELIABILITY_CHILD_NAME"
)

func runChildEngine() int {
	ctx := context.Background()
	fail := func(err error) int {
		fmt.Println("error", err)
		return 1
	}
	db, err := store.Open(ctx, os.Getenv(childDSNEnv), store.Options{MaxConns: 20})
	if err != nil {
		return fail(err)
	}
	key, err := engine.ParseSecretKey(os.Getenv("TENANTATLAS_SECRET_KEY"))
	if err != nil {
		return fail(err)
	}
	sealer, err := engine.NewSealer(key)
	if err != nil {
		return fail(err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	svc, err := engine.NewService(db, engine.ServiceOptions{Sealer: sealer, Logger: logger})
	if err != nil {
		return fail(err)
	}
	e, err := engine.NewEngine(svc, engine.Config{Name: os.Getenv(childNameEnv), HeartbeatInterval: 100 * time.Millisecond,
		StaleAfter: time.Second, Graph: graph.ConfigFromEnv(os.Getenv), RetryBudget: 10 * time.Second,
		MaxWorkers: 24}) // above the submission rate, so time to terminal measures recovery, not a backlog
	if err != nil {
		return fail(err)
	}
	if err := e.Start(ctx); err != nil {
		return fail(err)
	}
	fmt.Println("ready")
	select {}
}

// child is one engine process.
type child struct {
	cmd  *exec.Cmd
	name string
}

func startChild(t *testing.T, name string, env []string, stderr io.Writer) *child {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, childNameEnv+"="+name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	c := &child{cmd: cmd, name: name}
	t.Cleanup(c.kill)
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line, "child engine %s did not start", name)
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return c
}

func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
}

// TestReliabilityCrash starts a stream of mixed runs (no-ops with durations, failures and blocks,
// plus group and role-definition syncs against graphsim) while the only engine, a child process,
// is SIGKILLed at random moments and restarted. Every run must end, exactly once, with consistent
// counts and one run.start audit event.
func TestReliabilityCrash(t *testing.T) {
	ctx := context.Background()
	totalRuns := pick(300, 1000)
	kills := pick(5, 15)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))

	b := setup(t)
	sim, err := graphsim.New(graphsim.Options{Seed: 11, Tenants: []graphsim.TenantSpec{{Groups: 400}, {Groups: 400}, {Groups: 400}}})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	caFile := filepath.Join(t.TempDir(), "graphsim-ca.pem")
	require.NoError(t, sim.WriteCAFile(caFile))
	var tenantIDs []int64
	var secrets []string
	for i, st := range sim.Tenants() {
		creds := st.Credentials()
		v, err := b.svc.AddTenant(ctx, b.admin, engine.AddTenantRequest{Name: fmt.Sprintf("crash-%d", i), TenantGUID: creds.TenantID,
			ClientID: creds.ClientID, ClientSecret: []byte(creds.ClientSecret)})
		require.NoError(t, err)
		tenantIDs = append(tenantIDs, v.ID)
		secrets = append(secrets, creds.ClientSecret)
	}
	env := append(sim.Env(caFile), childDSNEnv+"="+b.dsn, "TENANTATLAS_SECRET_KEY="+b.keyHex())
	var childLog lockedBuffer
	generation := 1
	current := startChild(t, "engine-1", env, &childLog)

	// Kill moments, spread over the submission window.
	submitEvery := 40 * time.Millisecond
	window := time.Duration(totalRuns) * submitEvery
	var killAt []time.Duration
	for range kills {
		killAt = append(killAt, time.Duration(rng.Int64N(int64(window))))
	}
	slices.Sort(killAt)

	type expect struct {
		steps               int
		fail, blocked, noop bool
	}
	expected := map[int64]expect{}
	began := time.Now()
	var starts, deduped int
	for len(expected) < totalRuns {
		for len(killAt) > 0 && time.Since(began) >= killAt[0] {
			killAt = killAt[1:]
			current.kill()
			generation++
			time.Sleep(time.Duration(rng.Int64N(int64(300 * time.Millisecond))))
			current = startChild(t, fmt.Sprintf("engine-%d", generation), env, &childLog)
		}
		starts++
		var req engine.StartRequest
		var exp expect
		switch r := rng.IntN(100); {
		case r < 8:
			req = engine.StartRequest{Type: engine.TypeDirectoryGroupsSync, TenantID: tenantIDs[rng.IntN(len(tenantIDs))]}
		case r < 12:
			req = engine.StartRequest{Type: engine.TypeDirectoryRoleDefsSync, TenantID: tenantIDs[rng.IntN(len(tenantIDs))]}
		default:
			exp = expect{noop: true, steps: 1 + rng.IntN(10), fail: r < 20, blocked: r >= 20 && r < 24}
			params := map[string]any{"duration": fmt.Sprintf("%dms", rng.IntN(1500)), "steps": fmt.Sprint(exp.steps)}
			if exp.fail {
				params["fail"] = "true"
			}
			if exp.blocked {
				params["blocked"] = "true"
			}
			req = engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: b.workspaceID(t), Params: params}
		}
		res, err := b.svc.Start(ctx, b.admin, req)
		require.NoError(t, err)
		if !res.Created {
			deduped++
		} else {
			expected[res.Run.ID] = exp
		}
		time.Sleep(submitEvery)
	}
	for range killAt { // kills not reached yet (the loop ended early): do them now
		current.kill()
		generation++
		current = startChild(t, fmt.Sprintf("engine-%d", generation), env, &childLog)
	}
	submitted := time.Since(began)
	b.waitAllCompleted(t, 90*time.Second)
	drained := time.Since(began)

	// Exactly the runs Start created exist, each completed once.
	var runs, audits, distinctAudits int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM operation_runs`).Scan(&runs))
	require.Equal(t, len(expected), runs, "no run was created by anything but Start")
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT target_id) FROM audit_events WHERE action = 'run.start'`).Scan(&audits, &distinctAudits))
	require.Equal(t, runs, audits, "one run.start audit event per run")
	require.Equal(t, runs, distinctAudits)

	rows, err := b.db.Pool.Query(ctx, `SELECT r.id, r.attempt, r.outcome, coalesce(r.reason_code, ''), r.progress_processed, r.count_succeeded,
		extract(epoch FROM r.finished_at - r.created_at),
		(SELECT count(*) FROM run_events e WHERE e.run_id = r.id AND e.message LIKE 'finished:%')
		FROM operation_runs r ORDER BY r.id`)
	require.NoError(t, err)
	defer rows.Close() // a failed assertion mid-loop must not leave the connection checked out
	var maxTerminal float64
	var resumed, interrupted int
	outcomes := map[string]int{}
	for rows.Next() {
		var id, processed, succeeded int64
		var attempt int
		var out, code string
		var secs float64
		var finishes int
		require.NoError(t, rows.Scan(&id, &attempt, &out, &code, &processed, &succeeded, &secs, &finishes))
		require.Contains(t, expected, id)
		require.Equal(t, 1, finishes, "run %d finished exactly once", id)
		maxTerminal = max(maxTerminal, secs)
		outcomes[out+"/"+code]++
		if attempt > 1 {
			resumed++
		}
		exp := expected[id]
		if code == "run_interrupted" {
			interrupted++
			require.Equal(t, "failed", out)
			continue
		}
		if !exp.noop {
			require.Equal(t, store.OutcomeSucceeded, store.Outcome(out), "sync run %d: %s", id, code)
			continue
		}
		switch {
		case exp.blocked:
			require.Equal(t, "blocked/provider_permission_denied", out+"/"+code, "run %d", id)
		case exp.fail:
			require.Equal(t, "failed/internal_error", out+"/"+code, "run %d", id)
		default:
			require.Equal(t, store.OutcomeSucceeded, store.Outcome(out), "run %d: %s", id, code)
		}
		require.EqualValues(t, exp.steps, processed, "run %d: progress neither lost nor doubled across %d attempts", id, attempt)
		require.EqualValues(t, exp.steps, succeeded, "run %d: counts consistent", id)
	}
	require.NoError(t, rows.Err())
	require.Less(t, maxTerminal, 30.0, "every run ends within a bound")
	for _, s := range secrets {
		require.NotContains(t, childLog.String(), s, "an engine log carries a client secret")
	}
	metric(t, "crash.runs", runs, "runs")
	metric(t, "crash.starts", starts, "starts")
	metric(t, "crash.deduped_starts", deduped, "starts")
	metric(t, "crash.kills", kills, "SIGKILLs")
	metric(t, "crash.resumed_runs", resumed, "runs")
	metric(t, "crash.interrupted_runs", interrupted, "runs")
	metric(t, "crash.duplicates", 0, "runs")
	metric(t, "crash.max_time_to_terminal", fmt.Sprintf("%.2f", maxTerminal), "s")
	metric(t, "crash.submit_window", submitted.Round(time.Millisecond), "")
	metric(t, "crash.all_terminal_after", drained.Round(time.Millisecond), "")
	var keys []string
	for k := range outcomes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		metric(t, "crash.outcome."+strings.TrimSuffix(k, "/"), outcomes[k], "runs")
	}
}
