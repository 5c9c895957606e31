package store_test

import (
	"context"
	"os"
	"slices"
	"strconv"
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

// EnvCountsRuns sizes BenchmarkRunCounts: the runs of the large history (its baseline has a tenth).
const EnvCountsRuns = "BENCH_COUNTS_RUNS"

const (
	countsTenants = 500
	countsDays    = 730
	pruneWindow   = 6 // days of history each prune expires
)

// countsBundle is one database with a history for BenchmarkRunCounts.
type countsBundle struct {
	db              *store.DB
	ws              int64
	big, small      int64 // the tenant with the most runs, and one with few (the skew's tail)
	days            int
	hoursRows, runs int64
	totalsRows      int64
}

// BenchmarkRunCounts measures the operations screen's tab counts (store.CountRuns) and retention's
// prune with years of history (issue #20 item 4): a 500-tenant workspace with BENCH_COUNTS_RUNS
// runs over two years (default 300,000), next to its baseline, the same fleet at the same daily rate
// with a tenth of the history (its last 73 days), both in the same run, the rounds alternating
// between the two. Beside each count from the run totals (migration 00027), the same count the way
// it was read before, summing the runs-per-hour rollup over all time. Then, on the large history,
// in turns with the rollup's row trigger of 00009 (00027 rolled back) and with the statement trigger
// of 00027 (applied again, its back-fill timed), twice each: the time PostgreSQL spends in the
// delete trigger for the same 500 old runs (deleted and rolled back), retention's prune of the
// next six days of history, and a run's finish (the median of 201 store.FinishRun).
func BenchmarkRunCounts(b *testing.B) {
	ctx := context.Background()
	runs := int64(300_000)
	if v := os.Getenv(EnvCountsRuns); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(b, err, "%s=%q: want a count of runs", EnvCountsRuns, v)
		require.GreaterOrEqual(b, n, int64(10_000), "%s: at least 10000 runs", EnvCountsRuns)
		runs = n
	}
	small, large := seedCounts(b, runs/10, countsDays/10), seedCounts(b, runs, countsDays)
	b.Logf("run counts: baseline %d runs, %d rollup rows, %d totals rows; large %d runs, %d rollup rows, %d totals rows",
		small.runs, small.hoursRows, small.totalsRows, large.runs, large.hoursRows, large.totalsRows)
	b.ReportMetric(float64(large.totalsRows), "totals_rows")
	b.ReportMetric(float64(small.totalsRows), "totals_rows_baseline")
	b.ReportMetric(float64(large.hoursRows), "rollup_rows")

	type reading struct {
		name string
		f    func(h *countsBundle) store.RunFilter
	}
	readings := []reading{
		{"all", func(h *countsBundle) store.RunFilter {
			return store.RunFilter{Scopes: []store.RunScope{{WorkspaceID: h.ws}}}
		}},
		{"tenant_big", func(h *countsBundle) store.RunFilter {
			return store.RunFilter{Scopes: []store.RunScope{{WorkspaceID: h.ws}}, TenantID: h.big}
		}},
		{"tenant_small", func(h *countsBundle) store.RunFilter {
			return store.RunFilter{Scopes: []store.RunScope{{WorkspaceID: h.ws}}, TenantID: h.small}
		}},
	}
	type sizes struct{ small, large, smallRollup, largeRollup []time.Duration }
	got := make([]sizes, len(readings))
	timed := func(f func()) time.Duration {
		t0 := time.Now()
		f()
		return time.Since(t0)
	}
	for range 9 {
		for i, r := range readings {
			for _, h := range []*countsBundle{small, large} {
				f := r.f(h)
				var counts, before map[string]int64
				d := timed(func() {
					var err error
					counts, err = store.CountRuns(ctx, h.db.Pool, f)
					require.NoError(b, err)
				})
				dr := timed(func() { before = countsFromRollup(ctx, b, h.db, f) })
				require.Equal(b, before, counts, "the totals and the rollup agree")
				if h == small {
					got[i].small, got[i].smallRollup = append(got[i].small, d), append(got[i].smallRollup, dr)
				} else {
					got[i].large, got[i].largeRollup = append(got[i].large, d), append(got[i].largeRollup, dr)
				}
			}
		}
	}
	for i, r := range readings {
		s := got[i]
		l, sm, lr, smr := medianOf(s.large), medianOf(s.small), medianOf(s.largeRollup), medianOf(s.smallRollup)
		b.Logf("run counts %s: totals %v (baseline %v), rollup %v (baseline %v)", r.name, l, sm, lr, smr)
		b.ReportMetric(msOf(l), "counts_"+r.name+"_ms")
		b.ReportMetric(msOf(sm), "counts_"+r.name+"_baseline_ms")
		b.ReportMetric(msOf(lr), "counts_"+r.name+"_rollup_ms")
		b.ReportMetric(msOf(smr), "counts_"+r.name+"_rollup_baseline_ms")
	}

	// Retention and finishing, with the triggers of 00009 (00027 rolled back) and of 00027, in turns:
	// two prune windows each, oldest first, and between them a run's finish.
	sqlDB := stdlib.OpenDBFromPool(large.db.Pool)
	defer sqlDB.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS, goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true))
	require.NoError(b, err)
	type cost struct {
		runs           int64
		prune, trigger time.Duration
		finish         []time.Duration
	}
	var rowTrigger, stmtTrigger cost
	var migrate []time.Duration
	batch := oldRuns(b, large, 500)
	window := 0
	for range 2 {
		for _, with := range []bool{false, true} {
			t0 := time.Now()
			_, err = provider.ApplyVersion(ctx, 27, with)
			require.NoError(b, err)
			c := &rowTrigger
			if with {
				migrate = append(migrate, time.Since(t0))
				c = &stmtTrigger
			}
			c.trigger += deleteTriggerTime(b, large, batch)
			c.finish = append(c.finish, finishCost(b, large))
			window += pruneWindow
			n, took := pruneDays(b, large, window)
			c.runs, c.prune = c.runs+n, c.prune+took
		}
	}
	b.Logf("prune: row trigger %d runs in %v (the trigger: %v of two 500-run deletes), statement trigger %d runs in %v (%v); 00027 applied in %v",
		rowTrigger.runs, rowTrigger.prune, rowTrigger.trigger, stmtTrigger.runs, stmtTrigger.prune, stmtTrigger.trigger, migrate)
	b.ReportMetric(float64(rowTrigger.prune.Microseconds())/1000/float64(rowTrigger.runs), "prune_row_trigger_ms_per_run")
	b.ReportMetric(float64(stmtTrigger.prune.Microseconds())/1000/float64(stmtTrigger.runs), "prune_ms_per_run")
	deleted := float64(2 * len(batch))
	b.ReportMetric(msOf(rowTrigger.trigger)/deleted, "delete_row_trigger_ms_per_run")
	b.ReportMetric(msOf(stmtTrigger.trigger)/deleted, "delete_trigger_ms_per_run")
	b.ReportMetric(float64(rowTrigger.runs), "prune_row_trigger_runs")
	b.ReportMetric(float64(stmtTrigger.runs), "prune_runs")
	b.ReportMetric(msOf(medianOf(migrate)), "migration_00027_ms")
	b.ReportMetric(msOf(medianOf(stmtTrigger.finish)), "finish_ms")
	b.ReportMetric(msOf(medianOf(rowTrigger.finish)), "finish_before_00027_ms")
	b.ReportMetric(float64(runs), "runs")
}

// seedCounts writes a history of runs over days (four events each: the prune deletes them too).
func seedCounts(b *testing.B, runs int64, days int) *countsBundle {
	ctx := context.Background()
	db := pgtest.NewDB(b)
	q := db.Pool
	tenants := make([]int64, countsTenants)
	for i := range tenants {
		tenants[i] = storetest.Tenant(ctx, b, q, nil).ID
	}
	user := storetest.User(ctx, b, q, nil)
	storetest.History(ctx, b, db, &storetest.HistoryOpts{TenantIDs: tenants, UserID: user.ID, Runs: runs, Days: days, EventsPerRun: 4})
	h := &countsBundle{db: db, ws: storetest.DefaultWorkspace(ctx, b, q).ID, big: tenants[0], small: tenants[len(tenants)-1], days: days}
	// Raw SQL on purpose: the benchmark reports the size of what it built.
	require.NoError(b, q.QueryRow(ctx, `SELECT (SELECT count(*) FROM operation_runs), (SELECT count(*) FROM operation_run_hours),
		(SELECT count(*) FROM operation_run_totals)`).Scan(&h.runs, &h.hoursRows, &h.totalsRows))
	return h
}

// countsFromRollup is CountRuns as it read before migration 00027: the finished runs summed from
// the runs-per-hour rollup over all time.
func countsFromRollup(ctx context.Context, b *testing.B, db *store.DB, f store.RunFilter) map[string]int64 {
	b.Helper()
	// Raw SQL on purpose: the query being replaced, for its figures beside the new one's.
	rows, err := db.Pool.Query(ctx, `SELECT r.status, count(*) FROM operation_runs r WHERE r.workspace_id = $1 AND ($2 = 0 OR r.tenant_id = $2)
		AND r.status IN ('queued', 'running') GROUP BY 1
		UNION ALL SELECT r.outcome, sum(r.runs)::bigint FROM operation_run_hours r WHERE r.workspace_id = $1 AND ($2 = 0 OR r.tenant_id = $2) GROUP BY 1`,
		f.Scopes[0].WorkspaceID, f.TenantID)
	require.NoError(b, err)
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		require.NoError(b, rows.Scan(&k, &n))
		out[k] = n
	}
	require.NoError(b, rows.Err())
	return out
}

// pruneDays expires the history's oldest `oldest` days through the product's retention pass and
// reports how many runs went and how long it took.
func pruneDays(b *testing.B, h *countsBundle, oldest int) (int64, time.Duration) {
	ctx := context.Background()
	require.NoError(b, store.SetRetention(ctx, h.db.Pool, h.ws, store.Retention{Runs: time.Duration(h.days-oldest) * 24 * time.Hour,
		RunEvents: store.MinRunEventRetention}))
	t0 := time.Now()
	p, err := store.PruneRuns(ctx, h.db, h.ws)
	require.NoError(b, err)
	require.Positive(b, p.Runs)
	return p.Runs, time.Since(t0)
}

// oldRuns is the ids of n finished runs from the history's first months, past the days the prunes
// expire (the same runs are deleted and rolled back with each trigger).
func oldRuns(b *testing.B, h *countsBundle, n int) []int64 {
	// Raw SQL on purpose: the benchmark picks the runs it deletes and rolls back.
	rows, err := h.db.Pool.Query(context.Background(), `SELECT id FROM operation_runs WHERE workspace_id = $1 AND status = 'completed'
		AND finished_at < now() - make_interval(days => $3) ORDER BY finished_at DESC, id DESC LIMIT $2`, h.ws, n, h.days-8*pruneWindow)
	require.NoError(b, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(b, err)
	require.Len(b, ids, n)
	return ids
}

// deleteTriggerTime deletes the runs ids in one statement, in a transaction rolled back after, and
// reports the time PostgreSQL spent in the rollup's delete trigger (EXPLAIN ANALYZE's trigger times).
func deleteTriggerTime(b *testing.B, h *countsBundle, ids []int64) time.Duration {
	ctx := context.Background()
	tx, err := h.db.Pool.Begin(ctx)
	require.NoError(b, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	var plan []struct {
		Triggers []struct {
			Name string  `json:"Trigger Name"`
			Time float64 `json:"Time"`
		} `json:"Triggers"`
	}
	// Raw SQL on purpose: the statement PruneRuns sends, measured inside PostgreSQL.
	require.NoError(b, tx.QueryRow(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) DELETE FROM operation_runs WHERE id = ANY($1)`, ids).Scan(&plan))
	var ms float64
	for _, t := range plan[0].Triggers {
		if t.Name == "operation_runs_hours_delete" {
			ms += t.Time
		}
	}
	require.Positive(b, ms, "the delete trigger ran")
	return time.Duration(ms * float64(time.Millisecond))
}

// finishCost is the median time of store.FinishRun over 201 runs of the history's tenants: what the
// triggers add to every run's end.
func finishCost(b *testing.B, h *countsBundle) time.Duration {
	ctx := context.Background()
	var took []time.Duration
	for i := range 201 {
		tenant := []int64{h.big, h.small}[i%2]
		r, err := store.InsertRun(ctx, h.db.Pool, store.NewRun{WorkspaceID: h.ws, TenantID: &tenant, Type: "inventory.sync", InitiatorKind: "system"})
		require.NoError(b, err)
		t0 := time.Now()
		done, err := store.FinishRun(ctx, h.db.Pool, r.ID, store.Finish{Outcome: store.Outcomes[i%len(store.Outcomes)]})
		took = append(took, time.Since(t0))
		require.NoError(b, err)
		require.True(b, done)
	}
	return medianOf(took)
}

func medianOf(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
