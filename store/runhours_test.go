package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// rollupDrift lists the rows where the runs-per-hour rollup and a count over the runs themselves
// disagree (both directions), as text; empty means the rollup is exact.
func rollupDrift(ctx context.Context, t *testing.T, db *store.DB) []string {
	t.Helper()
	// Raw SQL on purpose: the truth the rollup must equal, counted the slow way.
	rows, err := db.Pool.Query(ctx, `
		WITH truth AS (
			SELECT workspace_id, date_trunc('hour', coalesce(finished_at, created_at), 'UTC') AS hour, tenant_id, type, outcome,
			       reason_code, count(*) AS runs, max(id) AS last_run_id
			FROM operation_runs WHERE status = 'completed' GROUP BY 1, 2, 3, 4, 5, 6),
		rollup AS (SELECT workspace_id, hour, tenant_id, type, outcome, reason_code, runs, last_run_id FROM operation_run_hours),
		diff AS ((SELECT 'missing', * FROM truth EXCEPT SELECT 'missing', * FROM rollup)
		         UNION ALL (SELECT 'extra', * FROM rollup EXCEPT SELECT 'extra', * FROM truth))
		SELECT format('%s %s', d, row(workspace_id, hour, tenant_id, type, outcome, reason_code, runs, last_run_id)) FROM diff d(d)`)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestRunHoursRollup: the runs-per-hour rollup equals a count over the runs after every kind of
// write (a run finishing, progress, an outcome rewritten, a bulk insert, a delete), and the home
// screen's reads and the tab counts from it equal those counted over the runs.
func TestRunHoursRollup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	w := storetest.DefaultWorkspace(ctx, t, db.Pool)
	tenant := storetest.Tenant(ctx, t, db.Pool, nil).ID
	now := time.Now().UTC()
	throttled, denied := "provider_throttled", "provider_permission_denied"

	var ids []int64
	for _, step := range []struct {
		name  string
		write func(t *testing.T)
	}{
		{"QueuedAndRunningAreNotCounted", func(t *testing.T) {
			ids = append(ids, storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{TenantID: &tenant}).ID)
			ids = append(ids, storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{TenantID: &tenant, Status: store.StatusRunning}).ID)
		}},
		{"FinishingCounts", func(t *testing.T) {
			storetest.UpdateRun(ctx, t, db.Pool, ids[1], &storetest.RunOpts{Outcome: store.OutcomeFailed, ReasonCode: &throttled,
				FinishedAt: new(now.Add(-2 * time.Hour))})
		}},
		{"ProgressTouchesNothing", func(t *testing.T) {
			storetest.UpdateRun(ctx, t, db.Pool, ids[0], &storetest.RunOpts{Status: store.StatusRunning,
				Progress: &store.Progress{Processed: 5}})
		}},
		{"AnOutcomeRewrittenMoves", func(t *testing.T) {
			storetest.UpdateRun(ctx, t, db.Pool, ids[1], &storetest.RunOpts{Outcome: store.OutcomeBlocked, ReasonCode: &denied,
				FinishedAt: new(now.Add(-2 * time.Hour))})
		}},
		{"WorkspaceRunsWithoutTenant", func(t *testing.T) {
			ids = append(ids, storetest.Run(ctx, t, db.Pool, &storetest.RunOpts{Outcome: store.OutcomeSucceeded, FinishedAt: &now}).ID)
		}},
		{"BulkInsert", func(t *testing.T) {
			storetest.ManyRuns(ctx, t, db.Pool, &storetest.ManyRunsOpts{TenantIDs: []int64{tenant}, Count: 5000})
		}},
		{"Delete", func(t *testing.T) {
			// Raw SQL on purpose: no product path deletes one run, but a tenant's or workspace's
			// removal does, and the rollup must follow.
			_, err := db.Pool.Exec(ctx, `DELETE FROM operation_runs WHERE id = $1 OR id % 7 = 0`, ids[1])
			require.NoError(t, err)
		}},
	} {
		step.write(t)
		require.Empty(t, rollupDrift(ctx, t, db), step.name)
		require.Empty(t, totalsDrift(ctx, t, db), step.name)
	}

	// The reads from the rollup equal what the same questions over the runs answer.
	f := store.RunFilter{Scopes: []store.RunScope{{WorkspaceID: w.ID}}}
	since := now.Truncate(time.Hour).Add(-23 * time.Hour)
	hourly, err := store.HourlyOutcomes(ctx, db.Pool, f, since)
	require.NoError(t, err)
	var hourlyTotal int64
	for _, h := range hourly {
		require.False(t, h.Hour.Before(since), h.Hour)
		hourlyTotal += h.Count
	}
	problems, err := store.ProblemRunsByReason(ctx, db.Pool, f, since)
	require.NoError(t, err)
	require.NotEmpty(t, problems)
	var want struct{ finished, throttled, latest int64 }
	// Raw SQL on purpose: the slow count the rollup replaces.
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE reason_code = 'provider_throttled'),
		coalesce(max(id) FILTER (WHERE reason_code = 'provider_throttled'), 0)
		FROM operation_runs WHERE status = 'completed' AND finished_at >= $1`, since).Scan(&want.finished, &want.throttled, &want.latest))
	require.Equal(t, want.finished, hourlyTotal)
	for _, g := range problems {
		if g.ReasonCode == throttled {
			require.Equal(t, want.throttled, g.Count)
			require.Equal(t, want.latest, g.LatestRunID)
			require.Equal(t, int64(1), g.Tenants)
		}
	}

	counts, err := store.CountRuns(ctx, db.Pool, f)
	require.NoError(t, err)
	scanned, err := store.CountRuns(ctx, db.Pool, store.RunFilter{Scopes: f.Scopes, Search: "e"}) // every type has an e: a search counts over the runs
	require.NoError(t, err)
	require.Equal(t, scanned, counts)
	require.Equal(t, int64(1), counts["running"])
}
