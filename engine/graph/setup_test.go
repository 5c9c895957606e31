package graph_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
)

// testBundle is a started simulator with one tenant and a client for it.
type testBundle struct {
	sim    *graphsim.Server
	tenant *graphsim.Tenant
	client *graph.Client
}

type setupOpts struct {
	spec   graphsim.TenantSpec
	limits graph.Limits
	retry  graph.RetryPolicy
}

func setup(t *testing.T, o setupOpts) *testBundle {
	t.Helper()
	sim, err := graphsim.New(graphsim.Options{Seed: 42, Tenants: []graphsim.TenantSpec{o.spec}})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	b := &testBundle{sim: sim, tenant: sim.Tenants()[0]}
	b.client = b.newClient(t, b.tenant.Credentials(), o)
	return b
}

// newClient builds a client with fast test limits and retry delays.
func (b *testBundle) newClient(t *testing.T, creds graph.Credentials, o setupOpts) *graph.Client {
	t.Helper()
	cfg := b.sim.GraphConfig()
	cfg.Retry = o.retry
	if cfg.Retry.DelaySeconds == 0 {
		cfg.Retry.DelaySeconds = 1
	}
	if cfg.Retry.Budget == 0 {
		cfg.Retry.Budget = 10 * time.Second
	}
	limits := o.limits
	if limits.RequestsPerSecond == 0 {
		limits = graph.Limits{RequestsPerSecond: 10_000, Burst: 10_000, WritesPerSecond: 1000, WriteBurst: 1000}
	}
	c, err := graph.NewClient(cfg, creds, graph.NewLimiters(limits))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}
