package engine_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
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

// The dead-engine test runs an engine's Graph budget in a child process (the test binary
// re-executed) and SIGKILLs it while it holds tokens and a tenant's hold.
const budgetChildEnv = "TENANTATLAS_BUDGET_CHILD_DSN"

// deadEngineLimits: a bucket of 10 tokens refilled at 10 per second.
var deadEngineLimits = graph.Limits{RequestsPerSecond: 10, Burst: 10}

const deadEngineTenant = "6e0c1a2b-0000-4000-8000-00000000dead"

// runBudgetChild takes the tenant's whole bucket, records a Retry-After of 2 s as a throttled
// request does, says "ready" and waits to be killed, releasing nothing.
func runBudgetChild() int {
	ctx := context.Background()
	db, err := store.Open(ctx, os.Getenv(budgetChildEnv), store.Options{})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	tl := graph.NewSharedLimiters(deadEngineLimits, store.NewGraphBudget(db)).Tenant(deadEngineTenant)
	if err := tl.Wait(ctx, graph.ServiceIntune, deadEngineLimits.Burst, 0); err != nil {
		fmt.Println("error", err)
		return 1
	}
	if err := tl.Hold(ctx, 2*time.Second); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("ready")
	select {}
}

// TestGraphBudgetDeadEngine (issue #20, bad input): an engine that dies holding the tenant's
// tokens and a Retry-After blocks the other engines only until the hold is over and the tokens
// have refilled — by time, with nothing released by the dead engine and nothing to clean up.
func TestGraphBudgetDeadEngine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDSN(t)
	child := startChild(t, budgetChildEnv+"="+dsn)
	held := time.Now()
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()

	db, err := store.Open(ctx, dsn, store.Options{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	budget := store.NewGraphBudget(db)
	_, hold, err := budget.Take(ctx, deadEngineTenant, "write", 0, 1, 1)
	require.NoError(t, err)
	require.Positive(t, hold, "the dead engine's hold outlives it")

	// Another engine's request waits out the rest of the hold, then goes: nobody had to release it.
	survivor := graph.NewSharedLimiters(deadEngineLimits, store.NewGraphBudget(db)).Tenant(deadEngineTenant)
	wctx, cancel := context.WithTimeout(graph.WithRetryBudget(ctx, graph.NewRetryBudget(time.Minute)), 30*time.Second)
	defer cancel()
	require.NoError(t, survivor.Wait(wctx, graph.ServiceIntune, 1, 0))
	waited := time.Since(held)
	require.GreaterOrEqual(t, waited, 1500*time.Millisecond, "held back by the dead engine's Retry-After")
	require.Less(t, waited, 20*time.Second)

	// The tokens the dead engine took have come back by time: a full bucket pays at once.
	require.Eventually(t, func() bool {
		debt, hold, err := budget.Take(ctx, deadEngineTenant, "any", 0, deadEngineLimits.RequestsPerSecond, deadEngineLimits.Burst)
		return err == nil && debt == 0 && hold == 0
	}, 10*time.Second, 100*time.Millisecond)
	debt, _, err := budget.Take(ctx, deadEngineTenant, "any", deadEngineLimits.Burst, deadEngineLimits.RequestsPerSecond, deadEngineLimits.Burst)
	require.NoError(t, err)
	require.Zero(t, debt, "the whole bucket is back: nothing of it stayed with the dead engine")
}
