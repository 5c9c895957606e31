package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/run"
	"github.com/tenantatlas/tenantatlas/store"
)

// BenchmarkRunFinishWithAlertRules measures what alert evaluation adds to a run's lifecycle (start
// to completed, one run at a time): in a workspace without rules (the baseline), with ten rules
// that do not match the run, and with ten rules that fire on it (an incident update and a delivery
// queued per rule, on a route nobody listens on). The three alternate run by run.
func BenchmarkRunFinishWithAlertRules(b *testing.B) {
	ctx := context.Background()
	bundle := setup(b)
	workspaces := map[string]int64{}
	for _, name := range []string{"baseline", "nomatch", "firing"} {
		w, err := bundle.svc.CreateWorkspace(ctx, bundle.admin, "bench-"+name)
		require.NoError(b, err)
		workspaces[name] = w.ID
	}
	for i := range 10 {
		_, err := bundle.svc.AddAlertRule(ctx, bundle.admin, engine.AlertRuleRequest{Workspace: "bench-nomatch", Name: fmt.Sprintf("r%d", i),
			Condition: engine.ConditionRunFailed, RunTypes: []string{engine.TypeBackupRun}})
		require.NoError(b, err)
	}
	_, err := bundle.svc.AddAlertRoute(ctx, bundle.admin, engine.AlertRouteRequest{Workspace: "bench-firing", Name: "nobody",
		Kind: engine.RouteWebhook, URL: "https://127.0.0.1:1/", Secret: "k"})
	require.NoError(b, err)
	for i := range 10 {
		_, err := bundle.svc.AddAlertRule(ctx, bundle.admin, engine.AlertRuleRequest{Workspace: "bench-firing", Name: fmt.Sprintf("r%d", i),
			Condition: engine.ConditionRunFailed, Routes: []string{"nobody"}})
		require.NoError(b, err)
	}
	e, err := engine.NewEngine(bundle.svc, engine.Config{AlertRetryBackoff: time.Hour, Executors: map[string]run.Executor{
		engine.TypeNoop: func(context.Context, *run.RunContext) (run.Result, error) {
			return run.Result{}, run.Failure("provider_unavailable", "benchmark failure")
		}}})
	require.NoError(b, err)
	require.NoError(b, e.Start(ctx))
	defer e.Stop()

	lat := map[string][]time.Duration{}
	b.ResetTimer()
	for range b.N {
		for _, name := range []string{"baseline", "nomatch", "firing"} {
			began := time.Now()
			res, err := bundle.svc.Start(ctx, bundle.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: workspaces[name]})
			require.NoError(b, err)
			for {
				r, err := store.GetRun(ctx, bundle.db.Pool, res.Run.ID)
				require.NoError(b, err)
				if r.Status == store.StatusCompleted {
					break
				}
				time.Sleep(time.Millisecond)
			}
			lat[name] = append(lat[name], time.Since(began))
		}
	}
	b.StopTimer()
	for _, name := range []string{"baseline", "nomatch", "firing"} {
		b.ReportMetric(ms(percentile(lat[name], 0.50)), name+"_p50_ms")
	}
}
