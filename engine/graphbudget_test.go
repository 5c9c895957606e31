package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/reason"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// TestGraphBudgetSharedAcrossEngines: a Retry-After that one engine gets holds back every engine
// of the cluster for that tenant, before their requests reach Graph; with budgets of their own
// (the baseline), the second engine walks into the same 429.
func TestGraphBudgetSharedAcrossEngines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		name         string
		shared       bool
		reachesGraph bool
	}{
		{"Shared", true, false},
		{"EachEngineItsOwn", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sim, err := graphsim.New(graphsim.Options{Seed: 3, Throttle: &graphsim.ThrottleLimits{Window: 20 * time.Second, Requests: 2, Writes: 1}})
			require.NoError(t, err)
			require.NoError(t, sim.Start())
			t.Cleanup(func() { _ = sim.Close() })
			db := pgtest.NewDB(t)
			cfg := sim.GraphConfig()
			cfg.Retry = graph.RetryPolicy{MaxRetries: 1, DelaySeconds: 1, Budget: time.Millisecond} // the 429 comes back at once
			engineClient := func() *graph.Client {
				limiters := graph.NewLimiters(graph.DefaultLimits())
				if c.shared {
					limiters = graph.NewSharedLimiters(graph.DefaultLimits(), store.NewGraphBudget(db))
				}
				client, err := graph.NewClient(cfg, sim.Tenants()[0].Credentials(), limiters)
				require.NoError(t, err)
				t.Cleanup(client.Close)
				return client
			}
			first, second := engineClient(), engineClient()

			for range 2 {
				_, err := first.Get(ctx, "deviceConfigurations.probe", nil, nil)
				require.NoError(t, err)
			}
			_, err = first.Get(ctx, "deviceConfigurations.probe", nil, nil)
			var gerr *graph.Error
			require.ErrorAs(t, err, &gerr)
			require.Equal(t, reason.ProviderThrottled, gerr.Reason)
			seen := sim.ThrottleStats().Requests

			// The second engine's run has budget to wait out the hold, and gives up after 300 ms.
			short, cancel := context.WithTimeout(graph.WithRetryBudget(ctx, graph.NewRetryBudget(time.Minute)), 300*time.Millisecond)
			defer cancel()
			_, err = second.Get(short, "deviceConfigurations.probe", nil, nil)
			require.Error(t, err)
			if c.reachesGraph {
				require.Equal(t, seen+1, sim.ThrottleStats().Requests, "the other engine sent its request into the throttling")
				return
			}
			require.ErrorContains(t, err, "Retry-After")
			require.Equal(t, seen, sim.ThrottleStats().Requests, "held back before it reached Graph")
			// `engines` and :engines name the tenant as throttled while the hold lasts.
			storetest.Tenant(ctx, t, db.Pool, &storetest.TenantOpts{Name: "held", TenantGUID: strings.ToUpper(sim.Tenants()[0].ID)})
			pulse, err := store.EnginePulse(ctx, db.Pool)
			require.NoError(t, err)
			require.Equal(t, []string{"held"}, pulse.ThrottledTenants)
		})
	}
}
