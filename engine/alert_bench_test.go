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
// that do not match the run, with ten rules that fire on it (an incident update and a delivery
// queued per rule, on a route nobody listens on), and with ten such rules scoped to a tag the run's
// tenant carries (the scope read at each firing). The four alternate run by run.
func BenchmarkRunFinishWithAlertRules(b *testing.B) {
	ctx := context.Background()
	bundle := setup(b)
	workspaces := map[string]int64{}
	variants := []string{"baseline", "nomatch", "firing", "tagged"}
	for _, name := range variants {
		w, err := bundle.svc.CreateWorkspace(ctx, bundle.admin, "bench-"+name)
		require.NoError(b, err)
		workspaces[name] = w.ID
	}
	tenant, err := bundle.svc.AddTenant(ctx, bundle.admin, engine.AddTenantRequest{Workspace: "bench-tagged", Name: "tagged",
		TenantGUID: "00000000-0000-0000-0000-00000000b001", ClientID: "11111111-2222-3333-4444-555555555555", ClientSecret: []byte("s3cret")})
	require.NoError(b, err)
	_, err = bundle.svc.TagTenant(ctx, bundle.admin, fmt.Sprint(tenant.ID), []string{"bench"}, nil)
	require.NoError(b, err)
	_, err = bundle.svc.AddAlertRoute(ctx, bundle.admin, engine.AlertRouteRequest{Workspace: "bench-tagged", Name: "nobody",
		Kind: engine.RouteWebhook, URL: "https://127.0.0.1:1/", Secret: "k"})
	require.NoError(b, err)
	for i := range 10 {
		_, err := bundle.svc.AddAlertRule(ctx, bundle.admin, engine.AlertRuleRequest{Workspace: "bench-tagged", Name: fmt.Sprintf("r%d", i),
			Condition: engine.ConditionRunFailed, Tag: "bench", Routes: []string{"nobody"}})
		require.NoError(b, err)
	}
	for i := range 10 {
		_, err := bundle.svc.AddAlertRule(ctx, bundle.admin, engine.AlertRuleRequest{Workspace: "bench-nomatch", Name: fmt.Sprintf("r%d", i),
			Condition: engine.ConditionRunFailed, RunTypes: []string{engine.TypeBackupRun}})
		require.NoError(b, err)
	}
	_, err = bundle.svc.AddAlertRoute(ctx, bundle.admin, engine.AlertRouteRequest{Workspace: "bench-firing", Name: "nobody",
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
		for _, name := range variants {
			began := time.Now()
			req := engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: workspaces[name]}
			if name == "tagged" {
				req.TenantID = tenant.ID
			}
			res, err := bundle.svc.Start(ctx, bundle.admin, req)
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
	for _, name := range variants {
		b.ReportMetric(ms(percentile(lat[name], 0.50)), name+"_p50_ms")
	}
}
