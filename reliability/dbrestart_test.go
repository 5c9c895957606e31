package reliability_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/tui"
)

// privateCluster starts a PostgreSQL server of the test's own, so restarting it disturbs no other test.
func privateCluster(t *testing.T) (*store.LocalCluster, *store.DB) {
	t.Helper()
	ctx := context.Background()
	parent, err := os.MkdirTemp("", "tenantatlas-reliability-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(parent) })
	require.NoError(t, os.Chmod(parent, 0o755)) // as root the cluster runs as postgres, which must reach it
	cluster, err := store.StartLocal(ctx, store.LocalOptions{Dir: filepath.Join(parent, "pg"), RemoveOnStop: true})
	require.NoError(t, err)
	t.Cleanup(cluster.Stop)
	require.NoError(t, cluster.Migrate(ctx)) // as the owner role; the test works as the runtime role
	db, err := store.Open(ctx, cluster.DSN(), store.Options{MaxConns: 20})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return cluster, db
}

// TestReliabilityDatabaseRestart restarts PostgreSQL while runs are in flight and a dashboard is
// open: the engine finishes every run without being restarted, the hub reconnects and tells its
// subscribers to reload, and the dashboard shows the final state without a keypress.
func TestReliabilityDatabaseRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster, db := privateCluster(t)
	b := newBundle(t, db, cluster.DSN(), nil)
	b.startEngine(t, engine.Config{StaleAfter: 3 * time.Second})
	hub := store.NewHub(db, nil)
	require.NoError(t, hub.Start(ctx))
	t.Cleanup(hub.Stop)
	require.Eventually(t, hub.Connected, 10*time.Second, 10*time.Millisecond)
	watcher := hub.Subscribe()
	t.Cleanup(watcher.Close)

	dash := newDashboard(t, &tui.Env{Svc: b.svc, Actor: b.admin, Theme: tui.ThemeNamed("dark"), Subscribe: hub.Subscribe,
		Width: 160, Height: 60, EngineEmbedded: true})
	dash.waitFor(10*time.Second, containsAll("● live"))
	dash.press("o")
	dash.waitFor(10*time.Second, containsAll("Queued 0", "Running 0"))

	const inFlight = 12
	ws := b.workspaceID(t)
	var ids []int64
	for range inFlight {
		res, err := b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: ws,
			Params: map[string]any{"duration": "4s", "steps": "20"}})
		require.NoError(t, err)
		ids = append(ids, res.Run.ID)
	}
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM operation_runs WHERE status = 'running' AND progress_processed > 0`).Scan(&n))
		return n >= 8
	}, 20*time.Second, 20*time.Millisecond)
	dash.waitFor(10*time.Second, containsAll("Running 8"))

	// Longer than StaleAfter in the full run: the engine's own heartbeats go stale meanwhile.
	down := pick(2*time.Second, 8*time.Second)
	restartBegan := time.Now()
	require.NoError(t, cluster.Restart(ctx, down))
	up := time.Now()
	dash.waitFor(10*time.Second, containsAll("○ reconnecting"))

	// The first Start that works after the server is back.
	var after engine.StartResult
	require.Eventually(t, func() bool {
		var err error
		after, err = b.svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: ws, Params: map[string]any{"steps": "2"}})
		return err == nil
	}, 30*time.Second, 50*time.Millisecond)
	firstStart := time.Since(up)
	ids = append(ids, after.Run.ID)

	// The hub reconnected and told its subscribers to reload.
	require.Eventually(t, func() bool { return hub.Connected() && hub.Reconnects() >= 1 }, 30*time.Second, 20*time.Millisecond)
	hubBack := time.Since(up)
	sawReload := false
	for !sawReload {
		select {
		case n := <-watcher.C:
			sawReload = n.Kind == store.KindReload
		case <-time.After(10 * time.Second):
			t.Fatal("no reload notification after the hub reconnected")
		}
	}

	b.waitAllCompleted(t, 60*time.Second)
	allDone := time.Since(up)
	outcomes := map[string]int{}
	resumed := 0
	for _, id := range ids {
		r, err := store.GetRun(ctx, db.Pool, id)
		require.NoError(t, err)
		outcomes[string(r.EndedAs())+"/"+r.Reason()]++
		if r.Attempt > 1 {
			resumed++
		}
		require.Equal(t, store.OutcomeSucceeded, deref(r.Outcome), "run %d: %s %s", id, deref(r.ReasonCode), deref(r.ReasonDetail))
		if r.Params["steps"] == "20" {
			require.EqualValues(t, 20, r.ProgressProcessed, "run %d: progress not lost", id)
		}
	}

	// The dashboard shows the final state without a keypress: nothing queued or running, every run succeeded.
	screen := dash.waitFor(20*time.Second, func(s string) bool {
		return containsAll("● live", "Queued 0", "Running 0", "Failed 0")(s) && !strings.Contains(s, "◌ queued") && !strings.Contains(s, "● running")
	})
	for _, id := range ids {
		require.Contains(t, screen, fmt.Sprint(id), "run %d is listed", id)
	}
	dashboardFinal := time.Since(up)

	metric(t, "dbrestart.runs_in_flight", inFlight, "runs")
	metric(t, "dbrestart.downtime", down, "")
	metric(t, "dbrestart.restart_call", up.Sub(restartBegan).Round(time.Millisecond), "")
	metric(t, "dbrestart.first_start_after_up", firstStart.Round(time.Millisecond), "")
	metric(t, "dbrestart.hub_reconnected_after_up", hubBack.Round(time.Millisecond), "")
	metric(t, "dbrestart.all_runs_terminal_after_up", allDone.Round(time.Millisecond), "")
	metric(t, "dbrestart.dashboard_final_after_up", dashboardFinal.Round(time.Millisecond), "")
	metric(t, "dbrestart.runs_resumed", resumed, "runs")
	for k, v := range outcomes {
		metric(t, "dbrestart.outcome."+k, v, "runs")
	}
}
