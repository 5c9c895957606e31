package tui

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
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
	// historyRounds is how many times each read is measured on each history (medians reported): the
	// reads take milliseconds, and on a shared machine seven of them spread 2–10 ms.
	historyRounds = 15
	// historyLoaders write the history side by side: on a machine shared with other work, the
	// load's share of the cores grows with them (two cores, 100M events: 20–40 minutes).
	historyLoaders = 3
)

// BenchmarkHistory measures years of history (issue #20 item 4): a 200-tenant workspace with two
// years of runs, BENCH_HISTORY_RUNS of them (default 10,000,000) with ten events each, next to the
// baseline: the same fleet at the same daily rate with a tenth of the history (its last 73 days).
// Each is in its own database, both measured in the same run, the rounds alternating between the
// two: home's first frame, the triage load behind it, `runs list` (its first page, and failed runs
// of one tenant), the operations screen's tab counts, and Start's rate. Then what retention costs: the product's prune of the oldest
// three days at both sizes; and, on a copy of the baseline's events partitioned by month, a month
// removed by DELETE and by dropping its partition, and a run's log read across the partitions.
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
	small := seedHistory(b, runs/10, historyDays/10)
	smallLoad := time.Since(t0)
	// The alternative first, on the baseline: its events in a table partitioned by month, measured
	// and dropped before the large history takes the disk.
	logPart := eventsRead(b, small, "run_events_by_month", partitionedCopy)
	logBeside := eventsRead(b, small, "run_events", nil) // the same runs' logs, unpartitioned, in the same state of the caches
	part := dropPartitionedCopy(b, small)
	t0 = time.Now()
	large := seedHistory(b, runs, historyDays)
	largeLoad := time.Since(t0)

	type sizes struct{ small, large []time.Duration }
	var home, triage, list, listFailed, counts sizes
	both := func(s *sizes, f func(*historyBundle) time.Duration) {
		s.small = append(s.small, f(small))
		s.large = append(s.large, f(large))
	}
	for range historyRounds {
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
		both(&counts, func(h *historyBundle) time.Duration {
			t0 := time.Now()
			n, err := h.svc.CountRuns(ctx, h.admin, engine.RunQuery{}) // the operations screen's tab counts
			require.NoError(b, err)
			require.Positive(b, n[string(store.OutcomeSucceeded)])
			return time.Since(t0)
		})
	}
	b.Logf("history: home %v / %v, triage %v / %v, runs list %v / %v (large / baseline)", home.large, home.small, triage.large, triage.small, list.large, list.small)
	var startSmall, startLarge []float64
	for round := range rateRounds + 1 {
		s, l := startRate(b, small), startRate(b, large)
		if round > 0 { // the first round warms the pools and caches
			startSmall, startLarge = append(startSmall, s), append(startLarge, l)
		}
	}

	// A run's log, as the run detail reads it, then the oldest days pruned by the product.
	logSmall, logLarge := eventsRead(b, small, "run_events", nil), eventsRead(b, large, "run_events", nil)
	b.Logf("history: Start per second %v (large), %v (baseline)", startLarge, startSmall)
	pruneSmall, pruneLarge := pruneOldest(b, small), pruneOldest(b, large)

	b.ReportMetric(float64(runs), "runs")
	b.ReportMetric(float64(large.events), "run_events")
	b.ReportMetric(largeLoad.Seconds(), "load_s")
	b.ReportMetric(smallLoad.Seconds(), "load_baseline_s")
	b.ReportMetric(float64(large.bytes)/(1<<30), "db_gib")
	report := func(s sizes, name string) {
		l, sm := pct(s.large, 0.5), pct(s.small, 0.5)
		b.Logf("history: %s %s, baseline %s", name, l, sm)
		b.ReportMetric(ms(l), name+"_ms")
		b.ReportMetric(ms(sm), name+"_baseline_ms")
		b.ReportMetric(100*float64(l)/float64(sm), name+"_pct")
	}
	report(home, "first_frame_home")
	report(triage, "triage")
	report(list, "runs_list")
	report(listFailed, "runs_list_failed")
	report(counts, "runs_counts")
	sr, lr := median(startSmall), median(startLarge)
	b.ReportMetric(lr, "start_per_s")
	b.ReportMetric(sr, "start_baseline_per_s")
	b.ReportMetric(100*lr/sr, "start_pct")
	b.ReportMetric(ms(logLarge), "run_log_ms")
	b.ReportMetric(ms(logSmall), "run_log_baseline_ms")
	b.ReportMetric(ms(logPart), "run_log_partitioned_baseline_ms")
	b.ReportMetric(ms(logBeside), "run_log_unpartitioned_baseline_ms")
	b.ReportMetric(pruneLarge.took.Seconds(), "prune_3d_s")
	b.ReportMetric(float64(pruneLarge.runs), "prune_3d_runs")
	b.ReportMetric(float64(pruneLarge.events), "prune_3d_events")
	b.ReportMetric(pruneSmall.took.Seconds(), "prune_3d_baseline_s")
	b.ReportMetric(float64(pruneLarge.sizeAfter)/float64(pruneLarge.sizeBefore)*100, "prune_events_size_after_pct")
	b.ReportMetric(float64(part.monthEvents), "partition_month_events_baseline")
	b.ReportMetric(part.delete.Seconds(), "partition_delete_month_baseline_s")
	b.ReportMetric(float64(part.sizeAfterDelete)/float64(part.sizeBefore)*100, "partition_size_after_delete_pct")
	b.ReportMetric(ms(part.drop), "partition_drop_month_baseline_ms")
	b.ReportMetric(part.load.Seconds(), "partitioned_copy_baseline_s")
}

// historyBundle is one database with a history, and the dashboard environment over it.
type historyBundle struct {
	*testBundle
	env         *Env
	days        int   // the history's span, ending now
	smallTenant int64 // a tenant with few runs (the skew's tail)
	events      int64
	bytes       int64
	// The partitioned copy of the events, while it exists.
	months          []time.Time
	partitionedLoad time.Duration
}

func seedHistory(b *testing.B, runs int64, days int) *historyBundle {
	ctx := context.Background()
	bundle := setup(b)
	requireDisk(b, runs)
	tenants := make([]int64, historyTenants)
	for i := range tenants {
		opts := &storetest.ConnectionOpts{Status: "ok"}
		if i%20 == 7 {
			opts.Status, opts.MissingPermissions = "blocked", []string{"DeviceManagementConfiguration.Read.All"}
		}
		tenants[i] = storetest.Connection(ctx, b, bundle.db.Pool, opts).TenantID
	}
	storetest.History(ctx, b, bundle.db, &storetest.HistoryOpts{TenantIDs: tenants, UserID: bundle.admin.UserID,
		Runs: runs, Days: days, EventsPerRun: historyEventsPer, Parallel: historyLoaders})
	h := &historyBundle{testBundle: bundle, days: days, smallTenant: tenants[len(tenants)-1],
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
func eventsRead(b *testing.B, h *historyBundle, table string, build func(*testing.B, *historyBundle)) time.Duration {
	ctx := context.Background()
	if build != nil {
		build(b, h)
	}
	var ids []int64
	// Raw SQL on purpose: the same statement as store.ListRunEvents, pointed at the table compared.
	rows, err := h.db.Pool.Query(ctx, `SELECT id FROM operation_runs WHERE status = 'completed'
		AND id % (SELECT max(id) / 50 FROM operation_runs WHERE status = 'completed') = 0 LIMIT 50`)
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
		if n > 0 { // a run pruned meanwhile has none
			took = append(took, time.Since(t0))
		}
	}
	require.NotEmpty(b, took, "runs with events in %s", table)
	d := pct(took, 0.5)
	b.Logf("history: a run's log from %s in %s (median of %d runs)", table, d, len(took))
	return d
}

type pruned struct {
	took                  time.Duration
	runs, events          int64
	sizeBefore, sizeAfter int64
}

// pruneDays is how many of the oldest days pruneOldest expires: at 10M runs over two years, 41,000
// runs and 410,000 events, a tenth of a month (the prune walks in batches, so a month costs ten
// times this).
const pruneDays = 3

// pruneOldest sets the run retention so that the oldest pruneDays of runs have expired and applies
// it as the engines do (store.PruneRuns: batches of runs, their events in chunks).
func pruneOldest(b *testing.B, h *historyBundle) pruned {
	ctx := context.Background()
	var ws int64
	require.NoError(b, h.db.Pool.QueryRow(ctx, `SELECT id FROM workspaces WHERE name = 'default'`).Scan(&ws))
	keep := time.Duration(h.days-pruneDays) * 24 * time.Hour
	require.NoError(b, store.SetRetention(ctx, h.db.Pool, ws, store.Retention{Runs: keep, RunEvents: min(keep, store.DefaultRunEventRetention)}))
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
	p.runs, p.events = res.Runs, res.RunEvents
	p.sizeAfter = size()
	b.Logf("history: pruned the oldest %d days, %d runs and %d events, in %s; run_events %d → %d bytes", pruneDays, p.runs, p.events, p.took, p.sizeBefore, p.sizeAfter)
	return p
}

type partitioned struct {
	load, delete, drop          time.Duration
	monthEvents                 int64
	sizeBefore, sizeAfterDelete int64
}

// partitionedCopy copies the bundle's events into run_events_by_month, partitioned by month of
// `at` with the indexes run_events has (the primary key must then include `at`) and its foreign key.
func partitionedCopy(b *testing.B, h *historyBundle) {
	ctx := context.Background()
	t0 := time.Now()
	// Raw SQL on purpose: a table that is not the product's, built only to be compared with it.
	_, err := h.db.Pool.Exec(ctx, `CREATE TABLE run_events_by_month (LIKE run_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
		PARTITION BY RANGE (at)`)
	require.NoError(b, err)
	var from, to time.Time
	require.NoError(b, h.db.Pool.QueryRow(ctx, `SELECT date_trunc('month', min(at)), date_trunc('month', max(at)) + interval '2 months' FROM run_events`).Scan(&from, &to))
	h.months = nil
	for m := from; m.Before(to); m = m.AddDate(0, 1, 0) {
		h.months = append(h.months, m)
		_, err := h.db.Pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s PARTITION OF run_events_by_month FOR VALUES FROM ('%s') TO ('%s')`,
			monthPartition(m), m.Format(time.RFC3339), m.AddDate(0, 1, 0).Format(time.RFC3339)))
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
	h.partitionedLoad = time.Since(t0)
}

// dropPartitionedCopy removes one whole month of run_events_by_month twice over: the second-oldest
// with a DELETE (what a prune does without partitions) and the oldest by detaching and dropping its
// partition; then the copy goes.
func dropPartitionedCopy(b *testing.B, h *historyBundle) partitioned {
	ctx := context.Background()
	p := partitioned{load: h.partitionedLoad}
	size := func() (n int64) {
		require.NoError(b, h.db.Pool.QueryRow(ctx, `SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('run_events_by_month')`).Scan(&n))
		return n
	}
	p.sizeBefore = size()
	t0 := time.Now()
	tag, err := h.db.Pool.Exec(ctx, `DELETE FROM run_events_by_month WHERE at >= $1 AND at < $2`, h.months[1], h.months[2])
	require.NoError(b, err)
	p.delete, p.monthEvents = time.Since(t0), tag.RowsAffected()
	p.sizeAfterDelete = size()
	t0 = time.Now()
	_, err = h.db.Pool.Exec(ctx, `ALTER TABLE run_events_by_month DETACH PARTITION `+monthPartition(h.months[0]))
	require.NoError(b, err)
	_, err = h.db.Pool.Exec(ctx, `DROP TABLE `+monthPartition(h.months[0]))
	require.NoError(b, err)
	p.drop = time.Since(t0)
	b.Logf("history: partitioned copy in %s; a month (%d events) deleted in %s (size %d → %d bytes), a month's partition dropped in %s",
		p.load, p.monthEvents, p.delete, p.sizeBefore, p.sizeAfterDelete, p.drop)
	_, err = h.db.Pool.Exec(ctx, `DROP TABLE run_events_by_month`)
	require.NoError(b, err)
	return p
}

// historyBytesPerRun is what a run with its ten events takes on disk, indexes and rollup included
// (measured: 7.64 GiB at 2M runs; the rollup's share shrinks as the daily rate grows).
const historyBytesPerRun = 4100

// requireDisk stops the benchmark before it fills the disk the package's database lives on: the
// history needs historyBytesPerRun per run, and 8 GiB stay free for everything else.
func requireDisk(b *testing.B, runs int64) {
	c := pgtest.Cluster(b)
	if c == nil {
		return // an external server: its disk is its operator's business
	}
	var fs syscall.Statfs_t
	require.NoError(b, syscall.Statfs(c.Dir(), &fs))
	free, need := int64(fs.Bavail)*fs.Bsize, runs*historyBytesPerRun+8<<30
	require.Greater(b, free, need, "%d runs need %.1f GiB free (8 GiB kept for others) where the test database lives (%s); %.1f GiB are: set %s lower",
		runs, float64(need)/(1<<30), c.Dir(), float64(free)/(1<<30), EnvHistoryRuns)
}

func monthPartition(m time.Time) string { return "run_events_" + m.Format("2006_01") }
