package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
)

// metricRef finds the TenantAtlas metric names an expression uses.
var metricRef = regexp.MustCompile(`tenantatlas_[a-z_]+`)

// servedMetrics are the metric families /metrics can serve (a histogram's series included).
func servedMetrics() []string {
	var out []string
	for _, n := range engine.NewMetrics(&store.DB{}).Names() {
		out = append(out, n, n+"_bucket", n+"_sum", n+"_count")
	}
	return out
}

// TestPrometheusRules: deploy/prometheus/alerts.yml passes `promtool check rules` and its unit
// tests (`promtool test rules alerts_test.yml`), and uses only metrics TenantAtlas serves.
func TestPrometheusRules(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool not found: run scripts/ensure-deps.sh (Debian package prometheus)")
	dir := filepath.Join("..", "..", "deploy", "prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool %v:\n%s", args, out)
	}
	rules, err := os.ReadFile(filepath.Join(dir, "alerts.yml"))
	require.NoError(t, err)
	served := servedMetrics()
	for _, line := range strings.Split(string(rules), "\n") {
		if expr, ok := strings.CutPrefix(strings.TrimSpace(line), "expr:"); ok {
			for _, name := range metricRef.FindAllString(expr, -1) {
				require.Contains(t, served, name, "alerts.yml uses a metric TenantAtlas does not serve")
			}
		}
	}
}

// TestGrafanaDashboardUsesServedMetrics: every query of deploy/grafana/tenantatlas.json reads only
// metrics TenantAtlas serves, and each served family except the scrape-error counter has a panel.
func TestGrafanaDashboardUsesServedMetrics(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "tenantatlas.json"))
	require.NoError(t, err)
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.Equal(t, "TenantAtlas", dash.Title)
	served := servedMetrics()
	used := map[string]bool{}
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			for _, name := range metricRef.FindAllString(tg.Expr, -1) {
				require.Contains(t, served, name, "panel %q", p.Title)
				used[strings.TrimSuffix(name, "_bucket")] = true
			}
		}
	}
	for _, name := range engine.NewMetrics(&store.DB{}).Names() {
		if name != "tenantatlas_scrape_errors_total" {
			require.True(t, used[name], "no panel shows %s", name)
		}
	}
	require.True(t, slices.Contains(served, "tenantatlas_graph_retry_budget_exhausted_total"))
}
