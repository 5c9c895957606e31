package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t).db
	metrics := engine.NewMetrics(db)
	svc, err := engine.NewService(db, engine.ServiceOptions{Metrics: metrics})
	require.NoError(t, err)
	b := &testBundle{db: db, svc: svc}
	b.admin, err = svc.ActorByName(ctx, "")
	require.NoError(t, err)
	b.startEngine(t, engine.Config{})
	for _, params := range []map[string]any{{"steps": "1"}, {"fail": "true", "steps": "1"}} {
		res, err := svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: b.defaultWorkspace(t).ID, Params: params})
		require.NoError(t, err)
		b.waitRun(t, res.Run.ID, completed)
	}
	_, err = svc.Start(ctx, b.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: b.defaultWorkspace(t).ID, Params: map[string]any{"duration": "30s"}})
	require.NoError(t, err)

	// The worker counts a finish once its transaction committed, just after waitRun can see it.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.NoError(c, testutil.GatherAndCompare(metrics.Registry, strings.NewReader(`
# HELP tenantatlas_runs_started_total Operation runs created, by type.
# TYPE tenantatlas_runs_started_total counter
tenantatlas_runs_started_total{type="system.noop"} 3
# HELP tenantatlas_runs_finished_total Operation runs completed, by type and outcome.
# TYPE tenantatlas_runs_finished_total counter
tenantatlas_runs_finished_total{outcome="failed",type="system.noop"} 1
tenantatlas_runs_finished_total{outcome="succeeded",type="system.noop"} 1
`), "tenantatlas_runs_started_total", "tenantatlas_runs_finished_total"))
	}, 10*time.Second, 10*time.Millisecond)
	count, err := testutil.GatherAndCount(metrics.Registry, "tenantatlas_run_duration_seconds", "tenantatlas_runs_queued", "tenantatlas_runs_running")
	require.NoError(t, err)
	require.Equal(t, 3, count)
}
