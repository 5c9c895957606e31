package store

import (
	"context"
	"fmt"
	"time"
)

// GraphBudget is the cluster's Graph request budget in PostgreSQL (migration 00017): it
// implements graph.SharedBudget, so that every engine leases a tenant's tokens from the same
// bucket and a Retry-After seen by one engine holds back all of them. The database's clock is the
// only clock: engines with skewed clocks still share one budget.
type GraphBudget struct{ db *DB }

// NewGraphBudget returns the budget kept in db.
func NewGraphBudget(db *DB) *GraphBudget { return &GraphBudget{db: db} }

// Take takes n tokens from the tenant's bucket, refilled at rate per second up to burst since it
// was last touched, and returns how long to wait before using them (the time the debt takes to
// refill) and what is left of the tenant's hold. One statement, one row lock held for its duration.
func (b *GraphBudget) Take(ctx context.Context, tenant, bucket string, n int, rate float64, burst int) (debt, hold time.Duration, err error) {
	var debtSecs, holdSecs float64
	err = b.db.Pool.QueryRow(ctx, `WITH took AS (
			INSERT INTO graph_budgets AS g (tenant, bucket, tokens, refilled_at) VALUES ($1, $2, $5::float8 - $3, clock_timestamp())
			ON CONFLICT (tenant, bucket) DO UPDATE SET
				tokens = least($5::float8, g.tokens + $4::float8 * extract(epoch FROM clock_timestamp() - g.refilled_at)::float8) - $3,
				refilled_at = clock_timestamp()
			RETURNING tokens)
		SELECT greatest(0, -(SELECT tokens FROM took) / $4::float8),
			greatest(0, coalesce((SELECT extract(epoch FROM held_until - clock_timestamp())::float8 FROM graph_holds WHERE tenant = $1), 0))`,
		tenant, bucket, n, rate, burst).Scan(&debtSecs, &holdSecs)
	if err != nil {
		return 0, 0, fmt.Errorf("error taking %d tokens of tenant %s's %s budget: %w", n, tenant, bucket, err)
	}
	return time.Duration(debtSecs * float64(time.Second)), time.Duration(holdSecs * float64(time.Second)), nil
}

// Hold makes every engine's next lease for tenant wait at least d from now (a longer hold stays).
func (b *GraphBudget) Hold(ctx context.Context, tenant string, d time.Duration) error {
	_, err := b.db.Pool.Exec(ctx, `INSERT INTO graph_holds AS h (tenant, held_until) VALUES ($1, clock_timestamp() + make_interval(secs => $2))
		ON CONFLICT (tenant) DO UPDATE SET held_until = greatest(h.held_until, EXCLUDED.held_until)`, tenant, d.Seconds())
	if err != nil {
		return fmt.Errorf("error holding tenant %s's Graph budget for %s: %w", tenant, d, err)
	}
	return nil
}
