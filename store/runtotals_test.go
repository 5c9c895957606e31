package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/migrations"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// totalsDrift lists the rows where the run totals and a count over the runs themselves disagree
// (both directions), as text; empty means the totals are exact.
func totalsDrift(ctx context.Context, t *testing.T, db *store.DB) []string {
	t.Helper()
	// Raw SQL on purpose: the truth the totals must equal, counted the slow way.
	rows, err := db.Pool.Query(ctx, `
		WITH truth AS (SELECT workspace_id, tenant_id, type, outcome, count(*) AS runs
			FROM operation_runs WHERE status = 'completed' GROUP BY 1, 2, 3, 4),
		totals AS (SELECT workspace_id, tenant_id, type, outcome, runs FROM operation_run_totals),
		diff AS ((SELECT 'missing', * FROM truth EXCEPT SELECT 'missing', * FROM totals)
		         UNION ALL (SELECT 'extra', * FROM totals EXCEPT SELECT 'extra', * FROM truth))
		SELECT format('%s %s', d, row(workspace_id, tenant_id, type, outcome, runs)) FROM diff d(d)`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// countedOverRuns is what CountRuns must answer for f, counted over the runs (a search that every
// run matches makes CountRuns scan them).
func countedOverRuns(ctx context.Context, t *testing.T, db *store.DB, f store.RunFilter) map[string]int64 {
	t.Helper()
	f.Search = "." // every type has a dot
	got, err := store.CountRuns(ctx, db.Pool, f)
	require.NoError(t, err)
	return got
}

// TestRunTotals: the run totals (migration 00027) and the runs-per-hour rollup equal a count over
// the runs after every write that moves a finished run — a run written finished, a run finishing,
// an outcome rewritten, a retention prune, a tenant removed (its runs stay, without a tenant), a
// workspace deleted, a bulk load rebuilt, a delete of many runs at once — and the operations
// screen's tab counts read from them equal those counted over the runs, for every filter the screen
// offers: all the actor's workspaces or one tenant, with the run types the actor's role may see.
func TestRunTotals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type fixture struct {
		db                *store.DB
		w, other          store.Workspace
		tenant, neighbour int64 // two tenants of w
		abroad            int64 // a tenant of other
		queued, running   int64 // runs of tenant
		old               []int64
	}
	setup := func(t *testing.T) *fixture {
		t.Helper()
		db := pgtest.NewDB(t)
		q := db.Pool
		fx := &fixture{db: db, w: storetest.Workspace(ctx, t, q, nil), other: storetest.Workspace(ctx, t, q, nil)}
		fx.tenant = storetest.Tenant(ctx, t, q, &storetest.TenantOpts{WorkspaceID: fx.w.ID}).ID
		fx.neighbour = storetest.Tenant(ctx, t, q, &storetest.TenantOpts{WorkspaceID: fx.w.ID}).ID
		fx.abroad = storetest.Tenant(ctx, t, q, &storetest.TenantOpts{WorkspaceID: fx.other.ID}).ID
		throttled := "provider_throttled"
		fx.queued = storetest.Run(ctx, t, q, &storetest.RunOpts{TenantID: &fx.tenant, Type: "inventory.sync"}).ID
		fx.running = storetest.Run(ctx, t, q, &storetest.RunOpts{TenantID: &fx.tenant, Type: "backup_schedule.run", Status: store.StatusRunning}).ID
		// A month of history in both workspaces, some of it in the same hours, every outcome.
		outcomes := store.Outcomes
		for i := range 60 {
			tenant := []int64{fx.tenant, fx.neighbour, fx.abroad}[i%3]
			o := &storetest.RunOpts{TenantID: &tenant, Type: []string{"inventory.sync", "directory_groups.sync", "provider.verification"}[i%3],
				Outcome: outcomes[i%len(outcomes)], FinishedAt: daysAgo(30 - i/4)}
			if o.Outcome == store.OutcomeFailed {
				o.ReasonCode = &throttled
			}
			fx.old = append(fx.old, storetest.Run(ctx, t, q, o).ID)
		}
		storetest.Run(ctx, t, q, &storetest.RunOpts{WorkspaceID: fx.w.ID, Type: "system.noop", Outcome: store.OutcomeSucceeded}) // a run of the workspace itself
		return fx
	}

	for _, tc := range []struct {
		name  string
		write func(t *testing.T, fx *fixture)
	}{
		{"WrittenFinished", func(t *testing.T, fx *fixture) {
			storetest.Run(ctx, t, fx.db.Pool, &storetest.RunOpts{TenantID: &fx.tenant, Type: "drift.check", Outcome: store.OutcomeBlocked})
		}},
		{"Finishing", func(t *testing.T, fx *fixture) {
			storetest.UpdateRun(ctx, t, fx.db.Pool, fx.running, &storetest.RunOpts{Outcome: store.OutcomeFailed})
			storetest.UpdateRun(ctx, t, fx.db.Pool, fx.queued, &storetest.RunOpts{Outcome: store.OutcomeCancelled})
		}},
		{"OutcomeRewritten", func(t *testing.T, fx *fixture) {
			for _, id := range fx.old[:10] {
				storetest.UpdateRun(ctx, t, fx.db.Pool, id, &storetest.RunOpts{Outcome: store.OutcomePartiallySucceeded})
			}
		}},
		{"Pruned", func(t *testing.T, fx *fixture) {
			require.NoError(t, store.SetRetention(ctx, fx.db.Pool, fx.w.ID, store.Retention{Runs: 10 * 24 * time.Hour, RunEvents: 24 * time.Hour}))
			p, err := store.PruneRuns(ctx, fx.db, fx.w.ID)
			require.NoError(t, err)
			require.Positive(t, p.Runs, "the prune deleted runs")
		}},
		{"TenantRemoved", func(t *testing.T, fx *fixture) {
			require.NoError(t, fx.db.InTx(ctx, func(tx pgx.Tx) error {
				removed, err := store.DeleteTenant(ctx, tx, fx.neighbour)
				require.Positive(t, removed.RunsKept)
				return err
			}))
		}},
		{"WorkspaceDeleted", func(t *testing.T, fx *fixture) {
			// Raw SQL on purpose: no product path deletes a workspace yet; its runs and rows go with it.
			_, err := fx.db.Pool.Exec(ctx, `DELETE FROM workspaces WHERE id = $1`, fx.other.ID)
			require.NoError(t, err)
		}},
		{"BulkLoadRebuilt", func(t *testing.T, fx *fixture) {
			storetest.ManyRuns(ctx, t, fx.db.Pool, &storetest.ManyRunsOpts{WorkspaceID: fx.w.ID, TenantIDs: []int64{fx.tenant, fx.neighbour}, Count: 3000})
		}},
		{"ManyDeletedAtOnce", func(t *testing.T, fx *fixture) {
			// Raw SQL on purpose: one statement deleting runs of many rows and hours, the newest of
			// some rollup rows among them, and an active run.
			_, err := fx.db.Pool.Exec(ctx, `DELETE FROM operation_runs WHERE id % 3 = 0 OR id = $1`, fx.queued)
			require.NoError(t, err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := setup(t)
			tc.write(t, fx)
			require.Empty(t, totalsDrift(ctx, t, fx.db), "totals")
			require.Empty(t, rollupDrift(ctx, t, fx.db), "runs per hour")

			// Every filter the operations screen offers: the actor's workspaces (all types, or the
			// types a role may see), or one tenant; the engine builds the scopes from the role.
			both := []store.RunScope{{WorkspaceID: fx.w.ID}, {WorkspaceID: fx.other.ID}}
			limited := []store.RunScope{{WorkspaceID: fx.w.ID, Types: []string{"inventory.sync", "backup_schedule.run"}},
				{WorkspaceID: fx.other.ID, Types: []string{"provider.verification"}}}
			for _, f := range []store.RunFilter{
				{Scopes: both},
				{Scopes: limited},
				{Scopes: both, TenantID: fx.tenant},
				{Scopes: limited, TenantID: fx.tenant},
				{Scopes: both, TenantID: fx.abroad},
				{Scopes: both, Types: []string{"directory_groups.sync"}},
				{Scopes: both, ReasonCode: "provider_throttled"},
				{WorkspaceIDs: []int64{fx.w.ID}, TenantID: fx.neighbour},
			} {
				label := fmt.Sprintf("%+v", f)
				got, err := store.CountRuns(ctx, fx.db.Pool, f)
				require.NoError(t, err, label)
				require.Equal(t, countedOverRuns(ctx, t, fx.db, f), got, label)
			}
		})
	}
}

// TestRunTotalsMigration: migration 00027 counts the history it finds, also while runs finish and
// are deleted during the upgrade, and its Down gives back the row trigger of 00009, which keeps the
// rollup exact again.
func TestRunTotalsMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	q := db.Pool
	sqlDB := stdlib.OpenDBFromPool(q)
	t.Cleanup(func() { sqlDB.Close() })
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS, goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true))
	require.NoError(t, err)
	_, err = provider.ApplyVersion(ctx, 27, false)
	require.NoError(t, err)

	// Before 00027: history written and changed under the triggers of 00009 alone.
	tenant := storetest.Tenant(ctx, t, q, nil).ID
	ws := storetest.DefaultWorkspace(ctx, t, q).ID
	var ids []int64
	for i := range 20 {
		ids = append(ids, storetest.Run(ctx, t, q, &storetest.RunOpts{TenantID: &tenant, Type: "inventory.sync",
			Outcome: store.Outcomes[i%len(store.Outcomes)], FinishedAt: daysAgo(i)}).ID)
	}
	storetest.Run(ctx, t, q, &storetest.RunOpts{Outcome: store.OutcomeFailed})
	// Raw SQL on purpose: a delete through the row trigger of 00009.
	_, err = q.Exec(ctx, `DELETE FROM operation_runs WHERE id = ANY($1)`, ids[:5])
	require.NoError(t, err)
	require.Empty(t, rollupDrift(ctx, t, db))

	// The upgrade while runs finish, start and go: none of them is missed or counted twice.
	done := make(chan struct{})
	type written struct {
		runs int
		err  error
	}
	wrote := make(chan written, 1)
	go func() {
		// The product's writes (Start, finish); a delete as a workspace's removal does one.
		var w written
		defer func() { wrote <- w }()
		for ; w.runs < 2000; w.runs++ {
			select {
			case <-done:
				return
			default:
			}
			r, err := store.InsertRun(ctx, q, store.NewRun{WorkspaceID: ws, TenantID: &tenant, Type: "directory_groups.sync", InitiatorKind: "system"})
			if err == nil {
				_, err = store.FinishRun(ctx, q, r.ID, store.Finish{Outcome: store.Outcomes[w.runs%len(store.Outcomes)]})
			}
			if err == nil && w.runs%3 == 0 {
				_, err = q.Exec(ctx, `DELETE FROM operation_runs WHERE id = $1`, r.ID)
			}
			if err != nil {
				w.err = err
				return
			}
		}
	}()
	_, err = provider.ApplyVersion(ctx, 27, true)
	close(done)
	require.NoError(t, err)
	w := <-wrote
	require.NoError(t, w.err)
	require.Positive(t, w.runs, "runs were written during the upgrade")
	require.Empty(t, totalsDrift(ctx, t, db), "the back-fill")
	_, err = q.Exec(ctx, `DELETE FROM operation_runs WHERE id = ANY($1)`, ids[5:10])
	require.NoError(t, err)
	require.Empty(t, totalsDrift(ctx, t, db))
	require.Empty(t, rollupDrift(ctx, t, db))
}
