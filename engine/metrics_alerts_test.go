package engine_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/store"
)

// promtool returns the path of Prometheus's promtool (Debian package prometheus, installed by
// scripts/ensure-deps.sh).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool not found: run scripts/ensure-deps.sh (Debian package prometheus)")
	return p
}

// TestMetricsGraphTenantsAndPromtool: Graph requests are counted by family and final status,
// throttled responses and retries as graphsim answers them, a retry the budget refuses as
// exhaustion; the per-tenant gauges come from the database; and /metrics passes
// `promtool check metrics`.
func TestMetricsGraphTenantsAndPromtool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim, err := graphsim.New(graphsim.Options{Seed: 7, Tenants: []graphsim.TenantSpec{{Groups: 20}}})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	db := setup(t).db
	metrics := engine.NewMetrics(db)
	svc, err := engine.NewService(db, engine.ServiceOptions{Metrics: metrics, Sealer: newSealer(t)})
	require.NoError(t, err)
	b := &simBundle{testBundle: &testBundle{db: db, svc: svc}, sim: sim}
	b.admin, err = svc.ActorByName(ctx, "")
	require.NoError(t, err)
	b.startEngine(t, engine.Config{Graph: sim.GraphConfig(), RetryBudget: 5 * time.Second})
	tenant, st := b.addSimTenant(t, 0, "contoso")

	// Two 429s honoured (Retry-After 1 s each), then the sync succeeds.
	st.AddFault(graphsim.Fault{Kind: graphsim.FaultThrottle, Endpoint: "groups.list", Count: 2, RetryAfter: 1})
	run := b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)
	require.Equal(t, store.OutcomeSucceeded, outcome(run), deref(run.ReasonDetail))
	// A Retry-After longer than the 5 s budget: refused, the run ends provider_throttled.
	st.AddFault(graphsim.Fault{Kind: graphsim.FaultThrottle, Endpoint: "groups", Count: 1, RetryAfter: 60})
	throttled := b.runOnce(t, engine.TypeDirectoryGroupsSync, tenant.ID)
	require.Equal(t, "provider_throttled", throttled.Reason())

	require.Equal(t, float64(2), sample(t, metrics, "tenantatlas_graph_retries_total", `family="groups",status="429"`))
	require.Equal(t, float64(3), sample(t, metrics, "tenantatlas_graph_throttled_total", `family="groups"`))
	require.Equal(t, float64(1), sample(t, metrics, "tenantatlas_graph_retry_budget_exhausted_total", `family="groups"`))
	require.Equal(t, float64(1), sample(t, metrics, "tenantatlas_graph_requests_total", `family="groups",status="429"`))

	srv := httptest.NewServer(promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	text := string(body)
	require.Contains(t, text, `tenantatlas_graph_requests_total{family="groups",status="200"}`)
	require.Contains(t, text, `tenantatlas_tenant_connection_status{status="unverified",tenant="contoso",workspace="default"} 1`)
	require.Contains(t, text, `tenantatlas_tenant_last_success_timestamp_seconds{tenant="contoso",type="directory_groups.sync",workspace="default"}`)
	require.Contains(t, text, `tenantatlas_tenant_open_incidents{tenant="contoso",workspace="default"} 0`)
	require.Contains(t, text, `tenantatlas_tenant_drifted_items{tenant="contoso",workspace="default"} 0`)
	require.Contains(t, text, "tenantatlas_engines_alive 1")
	require.NotContains(t, text, "tenantatlas_tenant_backup_age_seconds{", "never backed up: no age")

	cmd := exec.Command(promtool(t), "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "promtool has no complaint")
}

// sample is the value of one series of a counter or gauge, by its labels written as in the text
// format (`family="groups",status="429"`); 0 when absent.
func sample(t *testing.T, m *engine.Metrics, name, labels string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			var parts []string
			for _, l := range s.GetLabel() {
				parts = append(parts, l.GetName()+"=\""+l.GetValue()+"\"")
			}
			if strings.Join(parts, ",") == labels {
				if s.GetCounter() != nil {
					return s.GetCounter().GetValue()
				}
				return s.GetGauge().GetValue()
			}
		}
	}
	return 0
}
