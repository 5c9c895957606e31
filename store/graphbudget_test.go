package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

// TestGraphBudget: a bucket starts full, goes into debt when more is taken than it holds (the
// wait is the debt's refill time), refills by time, and a hold makes every taker wait it out.
func TestGraphBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	b := store.NewGraphBudget(db)
	const tenant, rate, burst = "6e0c1a2b-0000-4000-8000-000000000001", 10.0, 10

	wait, hold, err := b.Take(ctx, tenant, "any", 10, rate, burst)
	require.NoError(t, err)
	require.Zero(t, wait, "a full bucket pays at once")
	require.Zero(t, hold)
	wait, _, err = b.Take(ctx, tenant, "any", 10, rate, burst)
	require.NoError(t, err)
	require.InDelta(t, time.Second, wait, float64(100*time.Millisecond), "ten tokens of debt at 10/s")
	// Another engine, another connection: the same bucket, now 20 in debt.
	other, err := store.Open(ctx, db.Pool.Config().ConnString(), store.Options{MaxConns: 1})
	require.NoError(t, err)
	t.Cleanup(other.Close)
	wait, _, err = store.NewGraphBudget(other).Take(ctx, tenant, "any", 10, rate, burst)
	require.NoError(t, err)
	require.InDelta(t, 2*time.Second, wait, float64(150*time.Millisecond))

	wait, _, err = b.Take(ctx, tenant, "write", 1, rate, burst)
	require.NoError(t, err)
	require.Zero(t, wait, "each bucket on its own")
	wait, _, err = b.Take(ctx, "another-tenant", "any", 1, rate, burst)
	require.NoError(t, err)
	require.Zero(t, wait, "each tenant on its own")

	require.NoError(t, store.NewGraphBudget(other).Hold(ctx, tenant, 5*time.Second))
	require.NoError(t, b.Hold(ctx, tenant, time.Second), "a shorter hold does not shorten a longer one")
	wait, hold, err = b.Take(ctx, tenant, "write", 1, rate, burst)
	require.NoError(t, err)
	require.Zero(t, wait, "a hold is no debt")
	require.InDelta(t, 5*time.Second, hold, float64(200*time.Millisecond), "the hold applies to every bucket of the tenant")
}
