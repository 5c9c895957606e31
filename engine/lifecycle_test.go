package engine_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

func noopRequest(b *testBundle, t *testing.T, params map[string]any) engine.StartRequest {
	return engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: b.defaultWorkspace(t).ID, Params: params}
}

func TestRunLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("SucceedsWithProgressAndTimeline", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.startEngine(t, engine.Config{})
		res, err := b.svc.Start(ctx, b.admin, noopRequest(b, t, map[string]any{"duration": "300ms", "steps": "6"}))
		require.NoError(t, err)
		run := b.waitRun(t, res.Run.ID, completed)
		require.Equal(t, store.OutcomeSucceeded, outcome(run))
		require.EqualValues(t, 6, run.ProgressProcessed)
		require.EqualValues(t, 6, run.Succeeded)
		require.NotNil(t, run.StartedAt)
		require.NotNil(t, run.FinishedAt)
		events, err := b.svc.RunEvents(ctx, b.admin, store.EventFilter{RunID: run.ID})
		require.NoError(t, err)
		var msgs []string
		for _, e := range events {
			msgs = append(msgs, e.Message)
		}
		require.Contains(t, strings.Join(msgs, "|"), "queued by admin|started on")
		require.Contains(t, msgs[len(msgs)-1], "finished: succeeded")
	})

	t.Run("FailureAndBlockedCarryReasonCodes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.startEngine(t, engine.Config{})
		failed, err := b.svc.Start(ctx, b.admin, noopRequest(b, t, map[string]any{"fail": "true", "steps": "1"}))
		require.NoError(t, err)
		blocked, err := b.svc.Start(ctx, b.admin, noopRequest(b, t, map[string]any{"blocked": "true", "steps": "1"}))
		require.NoError(t, err)
		f := b.waitRun(t, failed.Run.ID, completed)
		require.Equal(t, store.OutcomeFailed, outcome(f))
		require.Equal(t, "internal_error", *f.ReasonCode)
		bl := b.waitRun(t, blocked.Run.ID, completed)
		require.Equal(t, store.OutcomeBlocked, outcome(bl))
		require.Equal(t, "provider_permission_denied", *bl.ReasonCode)
		require.Contains(t, *bl.ReasonDetail, "DeviceManagementConfiguration.Read.All")
	})

	t.Run("RunWithoutConnectionEndsBlocked", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tenant, err := store.InsertTenant(ctx, b.db.Pool, store.Tenant{WorkspaceID: b.defaultWorkspace(t).ID, Name: "bare", TenantGUID: "bare.example.com"})
		require.NoError(t, err)
		b.startEngine(t, engine.Config{Executors: map[string]run.Executor{
			engine.TypeDirectoryGroupsSync: func(context.Context, *run.RunContext) (run.Result, error) {
				t.Error("executor must not run without a connection")
				return run.Result{}, nil
			}}})
		res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeDirectoryGroupsSync, TenantID: tenant.ID})
		require.NoError(t, err)
		run := b.waitRun(t, res.Run.ID, completed)
		require.Equal(t, store.OutcomeBlocked, outcome(run))
		require.Equal(t, "provider_connection_missing", *run.ReasonCode)
	})

	t.Run("CancelQueuedRunAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t) // no engine: the run stays queued
		res, err := b.svc.Start(ctx, b.admin, noopRequest(b, t, nil))
		require.NoError(t, err)
		run, err := b.svc.Cancel(ctx, b.admin, res.Run.ID)
		require.NoError(t, err)
		require.Equal(t, store.StatusCompleted, run.Status)
		require.Equal(t, store.OutcomeCancelled, outcome(run))
		var state string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, *run.RiverJobID).Scan(&state))
		require.Equal(t, "cancelled", state)

		_, err = b.svc.Cancel(ctx, b.admin, res.Run.ID)
		require.ErrorIs(t, err, engine.ErrInvalid, "already completed")
	})

	t.Run("CancelRunningRun", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.startEngine(t, engine.Config{})
		res, err := b.svc.Start(ctx, b.admin, noopRequest(b, t, map[string]any{"duration": "60s", "steps": "600"}))
		require.NoError(t, err)
		b.waitRun(t, res.Run.ID, running)
		_, err = b.svc.Cancel(ctx, b.admin, res.Run.ID)
		require.NoError(t, err)
		run := b.waitRun(t, res.Run.ID, completed)
		require.Equal(t, store.OutcomeCancelled, outcome(run))
		require.Equal(t, "run_cancelled", *run.ReasonCode)
	})

	t.Run("RetryStartsSameParams", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.startEngine(t, engine.Config{})
		res, err := b.svc.Start(ctx, b.admin, noopRequest(b, t, map[string]any{"fail": "true", "steps": "1"}))
		require.NoError(t, err)
		b.waitRun(t, res.Run.ID, completed)
		retry, err := b.svc.Retry(ctx, b.admin, res.Run.ID)
		require.NoError(t, err)
		require.True(t, retry.Created)
		require.Equal(t, res.Run.ID, *retry.Run.RetryOfRunID)
		require.Equal(t, "true", retry.Run.Params["fail"])
	})

	t.Run("JobsNeverFallbackCreate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		client, err := river.NewClient(riverpgxv5.New(b.db.Pool), &river.Config{})
		require.NoError(t, err)
		job, err := client.Insert(ctx, engine.RunArgs{RunID: 987654}, nil)
		require.NoError(t, err)
		b.startEngine(t, engine.Config{})
		require.Eventually(t, func() bool {
			var state string
			require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, job.Job.ID).Scan(&state))
			return state == "completed"
		}, 10*time.Second, 10*time.Millisecond, "the job ends without retry")
		var runs int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM operation_runs`).Scan(&runs))
		require.Zero(t, runs, "no run was created")
	})

	t.Run("GracefulShutdownRequeuesRunsInFlight", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := b.startEngine(t, engine.Config{ShutdownTimeout: 200 * time.Millisecond})
		res, err := b.svc.Start(ctx, b.admin, noopRequest(b, t, map[string]any{"duration": "3s", "steps": "30"}))
		require.NoError(t, err)
		b.waitRun(t, res.Run.ID, func(r store.Run) bool { return r.Status == store.StatusRunning && r.ProgressProcessed > 0 })
		first.Stop()
		run, err := store.GetRun(ctx, b.db.Pool, res.Run.ID)
		require.NoError(t, err)
		require.Equal(t, store.StatusQueued, run.Status, "never left running")

		b.startEngine(t, engine.Config{})
		run = b.waitRun(t, res.Run.ID, completed)
		require.Equal(t, store.OutcomeSucceeded, outcome(run))
		require.Equal(t, 2, run.Attempt)
		require.EqualValues(t, 30, run.ProgressProcessed, "resumed from its progress, not doubled")
	})
}

// The crash test runs an engine in a child process (the test binary re-executed) and SIGKILLs it.
const engineChildEnv = "TENANTATLAS_ENGINE_CHILD_DSN"

func runEngineChild() int {
	ctx := context.Background()
	db, err := store.Open(ctx, os.Getenv(engineChildEnv), store.Options{})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	svc, err := engine.NewService(db, engine.ServiceOptions{})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	e, err := engine.NewEngine(svc, engine.Config{Name: "doomed", HeartbeatInterval: 50 * time.Millisecond})
	if err != nil || e.Start(ctx) != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("ready")
	select {}
}

func TestKilledEngineRunIsFinishedByAnother(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	db, err := store.Open(ctx, dsn, store.Options{})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	svc, err := engine.NewService(db, engine.ServiceOptions{})
	require.NoError(t, err)
	b := &testBundle{db: db, svc: svc}
	b.admin, err = svc.ActorByName(ctx, "")
	require.NoError(t, err)

	child := startChild(t, engineChildEnv+"="+dsn)

	res, err := svc.Start(ctx, b.admin, noopRequest(b, t, map[string]any{"duration": "2s", "steps": "20"}))
	require.NoError(t, err)
	b.waitRun(t, res.Run.ID, func(r store.Run) bool { return r.Status == store.StatusRunning && r.ProgressProcessed > 0 })
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()

	b.startEngine(t, engine.Config{Name: "survivor", StaleAfter: 500 * time.Millisecond})
	run := b.waitRun(t, res.Run.ID, completed)
	require.Equal(t, store.OutcomeSucceeded, outcome(run), "an idempotent run resumes")
	require.Equal(t, 2, run.Attempt)
	var runs int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM operation_runs`).Scan(&runs))
	require.Equal(t, 1, runs, "resumed, not duplicated")
	events, err := svc.RunEvents(ctx, b.admin, store.EventFilter{RunID: run.ID})
	require.NoError(t, err)
	var timeline []string
	for _, e := range events {
		timeline = append(timeline, e.Message)
	}
	joined := strings.Join(timeline, "|")
	require.Contains(t, joined, "started on doomed")
	require.Contains(t, joined, "survivor re-queued it to resume")
	require.Contains(t, joined, "resumed on survivor (attempt 2)")
}
