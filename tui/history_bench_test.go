package tui

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/storetest"
)

// EnvHistoryRuns sizes BenchmarkHistory: the runs of the large history (its baseline has a tenth).
// The default is issue #20's size; development runs small (BENCH_HISTORY_RUNS=100000).
const EnvHistoryRuns = "BENCH_HISTORY_RUNS"

const (
	defaultHistoryRuns = 10_000_000
	historyTenants     = 200
	historyDays        = 730
	historyEventsPer   = 10
)

// BenchmarkHistory measures years of history (issue #20 item 4): two workspaces' worth of two years
// of runs, the large one with BENCH_HISTORY_RUNS runs (default 10,000,000) and ten events each, the
// baseline with a tenth of both, each in its own database and measured in the same run, the rounds
// alternating between the two: home's first frame, the triage load behind it, `runs list` (its
// first page, and failed runs of one tenant), and Start's rate. Then what retention costs: the
// product's prune of the oldest month at both sizes; and, on a copy of the baseline's events
// partitioned by month, what dropping that month costs instead and what a run's log read costs
// across the partitions.
func BenchmarkHistory(b *testing.B) {
	ctx := context.Background()
	runs := int64(defaultHistoryRuns)
	if v := os.Getenv(EnvHistoryRuns); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(b, err, "%s=%q: want a count of runs", EnvHistoryRuns, v)
		require.GreaterOrEqual(b, n, int64(10_000), "%s: at least 10000 runs", EnvHistoryRuns)
		runs = n
	}
	t0 := time.Now()
	small := seedHistory(b, runs/10)
	smallLoad := time.Since(t0)
	t0 = time.Now()
	large := seedHistory(b, runs)
	largeLoad := time.Since(t0)

	type sizes struct{ small, large []time.Duration }
	var home, triage, list, listFailed sizes
	both := func(s *sizes, f func(*historyBundle) time.Duration) {
		s.small = append(s.small, f(small))
		s.large = append(s.large, f(large))
	}
	for range 7 {
		both(&home, func(h *historyBundle) time.Duration { return homeFirstFrame(b, h.env) })
		both(&triage, func(h *historyBundle) time.Duration {
			t0 := time.Now()
			_, err := h.svc.Triage(ctx, h.admin, time.Now())
			require.NoError(b, err)
			return time.Since(t0)
		})
		both(&list, func(h *historyBundle) time.Duration {
			t0 := time.Now()
			rs, err := h.svc.ListRuns(ctx, h.admin, engine.RunQuery{Limit: 50}) // `runs list`'s default page
			require.NoError(b, err)
			require.Len(b, rs, 50)
			return time.Since(t0)
		})
		both(&listFailed, func(h *historyBundle) time.Duration {
			t0 := time.Now()
			_, err := h.svc.ListRuns(ctx, h.admin, engine.RunQuery{Limit: 50, TenantID: h.smallTenant,
				Outcomes: []store.Outcome{store.OutcomeFailed}}) // `runs list --tenant T --status failed`
			require.NoError(b, err)
			return time.Since(t0)
		})
	}
	var startSmall, startLarge []float64
	for round := range rateRounds + 1 {
		s, l := startRate(b, small), startRate(b, large)
		if round > 0 { // the first round warms the pools and caches
			startSmall, startLarge = append(startSmall, s), append(startLarge, l)
		}
	}

	// A run's log, as the run detail reads it, then the oldest month pruned by the product.
	logSmall, logLarge := eventsRead(b, small, "run_events"), eventsRead(b, large, "run_events")
	pruneSmall, pruneLarge := pruneOldestMonth(b, small), pruneOldestMonth(b, large)

	// The alternative: the baseline's events in a table partitioned by month.
	partLoad, partDrop := partitionedCopy(b, small)
	logPart := eventsRead(b, small, "run_events_by_month")

	b.ReportMetric(float64(runs), "runs")
	b.ReportMetric(float64(large.events), "run_events")
	b.ReportMetric(largeLoad.Seconds(), "load_s")
	b.ReportMetric(smallLoad.Seconds(), "load_baseline_s")
	b.ReportMetric(float64(large.bytes)/(1<<30), "db_gib")
	report := func(s sizes, name string) {
		l, sm := pct(s.large, 0.5), pct(s.small, 0.5)
		b.ReportMetric(ms(l), name+"_ms")
		b.ReportMetric(ms(sm), name+"_baseline_ms")
		b.ReportMetric(100*float64(l)/float64(sm), name+"_pct")
	}
	report(home, "first_frame_home")
	report(triage, "triage")
	report(list, "runs_list")
	report(listFailed, "runs_list_failed")
	sr, lr := median(startSmall), median(startLarge)
	b.ReportMetric(lr, "start_per_s")
	b.ReportMetric(sr, "start_baseline_per_s")
	b.ReportMetric(100*lr/sr, "start_pct")
	b.ReportMetric(ms(logLarge), "run_log_ms")
	b.ReportMetric(ms(logSmall), "run_log_baseline_ms")
	b.ReportMetric(ms(logPart), "run_log_partitioned_baseline_ms")
	b.ReportMetric(pruneLarge.took.Seconds(), "prune_month_s")
	b.ReportMetric(float64(pruneLarge.events), "prune_month_events")
	b.ReportMetric(pruneSmall.took.Seconds(), "prune_month_baseline_s")
	b.ReportMetric(float64(pruneLarge.sizeAfter)/float64(pruneLarge.sizeBefore)*100, "prune_events_size_after_pct")
	b.ReportMetric(ms(partDrop), "partition_drop_month_ms")
	b.ReportMetric(partLoad.Seconds(), "partitioned_copy_s")
}

// historyBundle is one database with a history, and the dashboard environment over it.
type historyBundle struct {
	*testBundle
	env         *Env
	smallTenant int64 // a tenant with few runs (the skew's tail)
	events      int64
	bytes       int64
}

func seedHistory(b *testing.B, runs int64) *historyBundle {
	ctx := context.Background()
	bundle := setup(b)
	tenants := make([]int64, historyTenants)
	for i := range tenants {
		opts := &storetest.ConnectionOpts{Status: "ok"}
		if i%20 == 7 {
			opts.Status, opts.MissingPermissions = "blocked", []string{"DeviceManagementConfiguration.Read.All"}
		}
		tenants[i] = storetest.Connection(ctx, b, bundle.db.Pool, opts).TenantID
	}
	storetest.History(ctx, b, bundle.db, &storetest.HistoryOpts{TenantIDs: tenants, UserID: bundle.admin.UserID,
		Runs: runs, Days: historyDays, EventsPerRun: historyEventsPer})
	h := &historyBundle{testBundle: bundle, smallTenant: tenants[len(tenants)-1],
		env: &Env{Svc: bundle.svc, Actor: bundle.admin, Theme: ThemeNamed("dark"), Width: 160, Height: 48, EngineEmbedded: true}}
	// Raw SQL on purpose: the benchmark reports the size of what it built.
	require.NoError(b, bundle.db.Pool.QueryRow(ctx, `SELECT (SELECT reltuples::bigint FROM pg_class WHERE oid = 'run_events'::regclass),
		pg_database_size(current_database())`).Scan(&h.events, &h.bytes))
	warmPool(b, bundle.db, store.LongRunningMinConns)
	return h
}

// homeFirstFrame is the dashboard's start on home until its first frame with the triage drawn.
func homeFirstFrame(b *testing.B, c *Env) time.Duration {
	t0 := time.Now()
	m := New(c, nil)
	defer m.Close()
	driveUntil(b, m, m.top().Init(), func() bool {
		h, ok := m.top().(*home)
		return ok && h.triage != nil
	})
	_ = m.Render()
	return time.Since(t0)
}

// rateRounds is how many rounds each Start rate is measured (the median is reported), after one
// warm-up round; startCallers start runs at once, as dashboards, the CLI and schedulers do.
const (
	rateRounds   = 3
	startCallers = 4
	startsRound  = 1000
)

func startRate(b *testing.B, h *historyBundle) float64 {
	ctx := context.Background()
	var ws int64
	require.NoError(b, h.db.Pool.QueryRow(ctx, `SELECT id FROM workspaces WHERE name = 'default'`).Scan(&ws))
	errs := make([]error, startCallers)
	var wg sync.WaitGroup
	t0 := time.Now()
	for g := range startCallers {
		wg.Go(func() {
			for i := g; i < startsRound && errs[g] == nil; i += startCallers {
				_, errs[g] = h.svc.Start(ctx, h.admin, engine.StartRequest{Type: engine.TypeNoop, WorkspaceID: ws})
			}
		})
	}
	wg.Wait()
	rate := startsRound / time.Since(t0).Seconds()
	for _, err := range errs {
		require.NoError(b, err)
	}
	return rate
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

// eventsRead is the median of reading the whole log of 50 runs spread over the history, one run
// at a time, with the run detail's query (store.ListRunEvents) on table.
func eventsRead(b *testing.B, h *historyBundle, table string) time.Duration {
	ctx := context.Background()
	var ids []int64
	// Raw SQL on purpose: the same statement as store.ListRunEvents, pointed at the table compared.
	rows, err := h.db.Pool.Query(ctx, `SELECT id FROM operation_runs WHERE status = 'completed' AND id % ((SELECT max(id) FROM operation_runs) / 50) = 0 LIMIT 50`)
	require.NoError(b, err)
	for rows.Next() {
		var id int64
		require.NoError(b, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(b, rows.Err())
	var took []time.Duration
	for _, id := range ids {
		t0 := time.Now()
		rows, err := h.db.Pool.Query(ctx, `SELECT id, run_id, at, kind, level, message, reason_code, item_ref, details FROM `+table+`
			WHERE run_id = $1 AND id > 0 ORDER BY id LIMIT 1000`, id)
		require.NoError(b, err)
		n := 0
		for rows.Next() {
			n++
		}
		require.NoError(b, rows.Err())
		require.Positive(b, n, "run %d has events in %s", id, table)
		took = append(took, time.Since(t0))
	}
	return pct(took, 0.5)
}

type pruned struct {
	took                  time.Duration
	events                int64
	sizeBefore, sizeAfter int64
}

// pruneOldestMonth sets the run retention so that the oldest 30 days of runs have expired and
// applies it as the engines do (store.PruneRuns: batches of runs, their events in chunks).
func pruneOldestMonth(b *testing.B, h *historyBundle) pruned {
	ctx := context.Background()
	var ws int64
	require.NoError(b, h.db.Pool.QueryRow(ctx, `SELECT id FROM workspaces WHERE name = 'default'`).Scan(&ws))
	require.NoError(b, store.SetRetention(ctx, h.db.Pool, ws, store.Retention{Runs: (historyDays - 30) * 24 * time.Hour, RunEvents: 90 * 24 * time.Hour}))
	var p pruned
	size := func() (n int64) {
		require.NoError(b, h.db.Pool.QueryRow(ctx, `SELECT pg_total_relation_size('run_events')`).Scan(&n))
		return n
	}
	p.sizeBefore = size()
	t0 := time.Now()
	res, err := store.PruneRuns(ctx, h.db, ws)
	p.took = time.Since(t0)
	require.NoError(b, err)
	require.Positive(b, res.Runs)
	p.events = res.RunEvents
	p.sizeAfter = size()
	return p
}

// partitionedCopy copies the bundle's events into run_events_by_month, partitioned by month of
// `at` with the indexes run_events has (the primary key must then include `at`), and returns how
// long the copy took and how long dropping its oldest month takes.
func partitionedCopy(b *testing.B, h *historyBundle) (load, drop time.Duration) {
	ctx := context.Background()
	t0 := time.Now()
	// Raw SQL on purpose: a table that is not the product's, built only to be compared with it.
	_, err := h.db.Pool.Exec(ctx, `CREATE TABLE run_events_by_month (LIKE run_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
		PARTITION BY RANGE (at)`)
	require.NoError(b, err)
	var from, to time.Time
	require.NoError(b, h.db.Pool.QueryRow(ctx, `SELECT date_trunc('month', min(at)), date_trunc('month', max(at)) + interval '2 months' FROM run_events`).Scan(&from, &to))
	var oldest string
	for m := from; m.Before(to); m = m.AddDate(0, 1, 0) {
		name := fmt.Sprintf("run_events_%s", m.Format("2006_01"))
		if oldest == "" {
			oldest = name
		}
		_, err := h.db.Pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s PARTITION OF run_events_by_month FOR VALUES FROM ('%s') TO ('%s')`,
			name, m.Format(time.RFC3339), m.AddDate(0, 1, 0).Format(time.RFC3339)))
		require.NoError(b, err)
	}
	for _, stmt := range []string{
		`INSERT INTO run_events_by_month SELECT * FROM run_events`,
		`ALTER TABLE run_events_by_month ADD PRIMARY KEY (id, at)`,
		`CREATE INDEX ON run_events_by_month (run_id, id)`,
		`ALTER TABLE run_events_by_month ADD FOREIGN KEY (run_id) REFERENCES operation_runs (id) ON DELETE CASCADE`,
		`VACUUM (ANALYZE) run_events_by_month`,
	} {
		_, err := h.db.Pool.Exec(ctx, stmt)
		require.NoError(b, err, stmt)
	}
	load = time.Since(t0)
	t0 = time.Now()
	_, err = h.db.Pool.Exec(ctx, `ALTER TABLE run_events_by_month DETACH PARTITION `+oldest)
	require.NoError(b, err)
	_, err = h.db.Pool.Exec(ctx, `DROP TABLE `+oldest)
	require.NoError(b, err)
	return load, time.Since(t0)
}
