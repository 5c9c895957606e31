package engine_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/engine/op/directory"
	"github.com/tenantatlas/tenantatlas/store"
)

// BenchmarkGroupsSync syncs 100k and 1M groups from an in-process graphsim and reports groups/s and
// peak RSS, next to baselines measured in the same run on the same database: one
// INSERT … ON CONFLICT per group (as an ORM would), a raw COPY into an unindexed table (the
// ceiling), and — for reference — a raw COPY into a table with the cache's indexes and the Graph
// listing alone, writing nothing. It then runs a delta sync of the unchanged tenant.
func BenchmarkGroupsSync(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) { benchGroupsSync(b, n) })
	}
}

func benchGroupsSync(b *testing.B, n int) {
	ctx := context.Background()
	sim, err := graphsim.New(graphsim.Options{Seed: 3, Tenants: []graphsim.TenantSpec{{Groups: n}}})
	require.NoError(b, err)
	require.NoError(b, sim.Start())
	defer sim.Close()
	bundle := setup(b)
	e, err := engine.NewEngine(bundle.svc, engine.Config{Graph: sim.GraphConfig()})
	require.NoError(b, err)
	require.NoError(b, e.Start(ctx))
	defer e.Stop()
	st := sim.Tenants()[0]
	creds := st.Credentials()
	tenant, err := bundle.svc.AddTenant(ctx, bundle.admin, engine.AddTenantRequest{Name: "bench", TenantGUID: creds.TenantID,
		ClientID: creds.ClientID, ClientSecret: []byte(creds.ClientSecret)})
	require.NoError(b, err)

	resetPeakRSS()
	rssBefore := peakRSSMB()
	full := runAndWait(b, bundle, tenant.ID)
	peak := peakRSSMB()
	require.Equal(b, store.OutcomeSucceeded, deref(full.Outcome), deref(full.ReasonDetail))
	require.EqualValues(b, n, full.Created)
	fullSecs := full.FinishedAt.Sub(*full.StartedAt).Seconds()

	delta := runAndWait(b, bundle, tenant.ID)
	require.Equal(b, store.OutcomeSucceeded, deref(delta.Outcome))
	deltaSecs := delta.FinishedAt.Sub(*delta.StartedAt).Seconds()

	listRate := listOnlyRate(b, sim, n)
	perRow := perRowRate(b, bundle.db, min(n, 20_000))
	copyRate := copyCeiling(b, bundle.db, n)
	indexedRate := indexedCopyRate(b, bundle.db, n)
	rate := float64(n) / fullSecs
	b.ReportMetric(rate, "groups_per_s")
	b.ReportMetric(perRow, "perrow_baseline_per_s")
	b.ReportMetric(rate/perRow, "x_perrow")
	b.ReportMetric(copyRate, "copy_ceiling_per_s")
	b.ReportMetric(100*rate/copyRate, "pct_of_copy")
	b.ReportMetric(listRate, "list_only_per_s")
	b.ReportMetric(100*listRate/copyRate, "list_only_pct_of_copy")
	b.ReportMetric(indexedRate, "indexed_copy_per_s")
	b.ReportMetric(100*rate/indexedRate, "pct_of_indexed_copy")
	b.ReportMetric(peak, "peak_rss_mb")
	b.ReportMetric(peak-rssBefore, "rss_growth_mb")
	b.ReportMetric(deltaSecs*1000, "delta_unchanged_ms")
	b.ReportMetric(float64(delta.Created+delta.Updated+delta.Deleted), "delta_rows_written")
}

func runAndWait(b *testing.B, bundle *testBundle, tenantID int64) store.Run {
	b.Helper()
	res, err := bundle.svc.Start(context.Background(), bundle.admin, engine.StartRequest{Type: engine.TypeDirectoryGroupsSync, TenantID: tenantID})
	require.NoError(b, err)
	for {
		r, err := store.GetRun(context.Background(), bundle.db.Pool, res.Run.ID)
		require.NoError(b, err)
		if !r.Active() {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listOnlyRate lists the tenant's n groups from the simulator the way a sync does (same client, rate
// limits, decoding and content hash) and writes nothing: the Graph side alone, which bounds any sync.
func listOnlyRate(b *testing.B, sim *graphsim.Server, n int) float64 {
	client, err := graph.NewClient(sim.GraphConfig(), sim.Tenants()[0].Credentials(), graph.NewLimiters(graph.DefaultLimits()))
	require.NoError(b, err)
	defer client.Close()
	start := time.Now()
	listed, err := directory.ListGroups(context.Background(), client)
	require.NoError(b, err)
	require.Equal(b, n, listed)
	return float64(n) / time.Since(start).Seconds()
}

func benchGroupRow(i int) []any {
	name := fmt.Sprintf("Group %07d", i)
	sum := sha256.Sum256([]byte(name))
	return []any{fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), name, "bench group", []string{}, true, false, sum[:]}
}

// perRowRate is the ORM baseline: one INSERT … ON CONFLICT round trip per group, into a copy of the
// cache table with the same indexes.
func perRowRate(b *testing.B, db *store.DB, n int) float64 {
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, `CREATE TABLE bench_perrow (LIKE directory_groups INCLUDING ALL)`)
	require.NoError(b, err)
	start := time.Now()
	for i := range n {
		r := benchGroupRow(i)
		// Raw SQL on purpose: the per-row baseline the batched directory write is compared with.
		_, err := db.Pool.Exec(ctx, `INSERT INTO bench_perrow (tenant_id, graph_id, display_name, description, group_types,
			security_enabled, mail_enabled, content_hash) VALUES (1, $1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (tenant_id, graph_id) DO UPDATE SET display_name = EXCLUDED.display_name, content_hash = EXCLUDED.content_hash`,
			r...)
		require.NoError(b, err)
	}
	return float64(n) / time.Since(start).Seconds()
}

// copyCeiling is COPY of n rows into an unindexed table: no merge, no index can beat it.
func copyCeiling(b *testing.B, db *store.DB, n int) float64 {
	return copyRate(b, db, n, "bench_copy", `CREATE TABLE bench_copy (tenant_id bigint, graph_id text, display_name text,
		description text, group_types text[], security_enabled boolean, mail_enabled boolean, content_hash bytea)`)
}

// indexedCopyRate is COPY of n ready-made rows into a table with the cache's indexes (the primary
// key, the name index and the trigram index search needs): what PostgreSQL alone can absorb, with no
// Graph, JSON or merge in front of it. Reported next to the unindexed ceiling to show where the time
// of a sync goes.
func indexedCopyRate(b *testing.B, db *store.DB, n int) float64 {
	return copyRate(b, db, n, "bench_copy_indexed", `CREATE TABLE bench_copy_indexed (LIKE directory_groups INCLUDING ALL)`)
}

// copyRate creates table and measures COPY of n generated groups into it.
func copyRate(b *testing.B, db *store.DB, n int, table, create string) float64 {
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, create)
	require.NoError(b, err)
	start := time.Now()
	i := 0
	copied, err := db.Pool.CopyFrom(ctx, pgx.Identifier{table},
		[]string{"tenant_id", "graph_id", "display_name", "description", "group_types", "security_enabled", "mail_enabled", "content_hash"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			return append([]any{int64(1)}, benchGroupRow(i)...), nil
		}))
	require.NoError(b, err)
	require.EqualValues(b, n, copied)
	return float64(n) / time.Since(start).Seconds()
}

// resetPeakRSS resets the kernel's high-water mark of this process's RSS (Linux).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMB reads VmHWM, the peak RSS since the last reset, in MB.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
