package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine"
	"github.com/tenantatlas/tenantatlas/engine/graph"
	"github.com/tenantatlas/tenantatlas/engine/graphsim"
	"github.com/tenantatlas/tenantatlas/store"
	"github.com/tenantatlas/tenantatlas/store/pgtest"
)

// BenchmarkInventoryBackup5000 syncs the inventory of a ~5,000-policy tenant (in-process graphsim),
// backs it up twice and reports wall time, Graph requests and the bytes the unchanged second
// backup stored. One iteration is the whole scenario (bounded: run with -benchtime=1x).
func BenchmarkInventoryBackup5000(b *testing.B) {
	ctx := context.Background()
	const perFamily = 250 // 20 Intune families × 250 ≈ 5,000 policies
	for b.Loop() {
		db := pgtest.NewDB(b)
		svc, err := engine.NewService(db, engine.ServiceOptions{Sealer: newSealer(b)})
		require.NoError(b, err)
		admin, err := svc.ActorByName(ctx, "")
		require.NoError(b, err)
		sim, err := graphsim.New(graphsim.Options{Seed: 1, Tenants: []graphsim.TenantSpec{{PoliciesPerFamily: perFamily, Groups: 500}}})
		require.NoError(b, err)
		require.NoError(b, sim.Start())
		st := sim.Tenants()[0]
		e, err := engine.NewEngine(svc, engine.Config{Graph: sim.GraphConfig(),
			GraphLimits: graph.Limits{RequestsPerSecond: 100_000, Burst: 100_000, WritesPerSecond: 1000, WriteBurst: 1000}})
		require.NoError(b, err)
		require.NoError(b, e.Start(ctx))
		creds := st.Credentials()
		v, err := svc.AddTenant(ctx, admin, engine.AddTenantRequest{Name: "bench", TenantGUID: st.ID, ClientID: creds.ClientID,
			ClientSecret: []byte(creds.ClientSecret)})
		require.NoError(b, err)
		policies := 0
		for _, f := range graph.IntuneFamilies() {
			policies += len(st.Policies(f))
		}
		requests := func() int {
			n := 0
			for _, r := range graph.Contracts() {
				n += st.RequestCount(r.Name)
			}
			return n + st.RequestCount("$batch")
		}
		wait := func(res engine.StartResult) store.Run {
			var run store.Run
			require.Eventually(b, func() bool {
				run, err = store.GetRun(ctx, db.Pool, res.Run.ID)
				require.NoError(b, err)
				return !run.Active()
			}, 5*time.Minute, 20*time.Millisecond)
			require.Equal(b, store.OutcomeSucceeded, *run.Outcome, "%v", run.ReasonDetail)
			return run
		}

		start := time.Now()
		r0 := requests()
		res, err := svc.Start(ctx, admin, engine.StartRequest{Type: engine.TypeInventorySync, TenantID: v.ID})
		require.NoError(b, err)
		wait(res)
		invTime, invReq := time.Since(start), requests()-r0

		start, r0 = time.Now(), requests()
		b0 := st.RequestCount("$batch")
		res, err = svc.StartBackup(ctx, admin, "", v.ID, nil)
		require.NoError(b, err)
		first := wait(res)
		backupTime, backupReq, envelopes := time.Since(start), requests()-r0, st.RequestCount("$batch")-b0

		start = time.Now()
		res, err = svc.StartBackup(ctx, admin, "", v.ID, nil)
		require.NoError(b, err)
		second := wait(res)
		secondTime := time.Since(start)
		set2, err := store.GetBackupSet(ctx, db.Pool, int64(second.Result["backup_set_id"].(float64)))
		require.NoError(b, err)
		set1, err := store.GetBackupSet(ctx, db.Pool, int64(first.Result["backup_set_id"].(float64)))
		require.NoError(b, err)
		var itemRowBytes int64
		require.NoError(b, db.Pool.QueryRow(ctx, `SELECT coalesce(sum(pg_column_size(i.*)), 0) FROM backup_items i WHERE set_id = $1`, set2.ID).Scan(&itemRowBytes))

		b.ReportMetric(float64(policies), "policies")
		b.ReportMetric(invTime.Seconds(), "inventory_s")
		b.ReportMetric(float64(invReq), "inventory_requests")
		b.ReportMetric(backupTime.Seconds(), "backup_s")
		b.ReportMetric(float64(backupReq), "backup_graph_calls") // sub-requests counted one by one
		b.ReportMetric(float64(envelopes), "backup_batch_envelopes")
		b.ReportMetric(float64(set1.NewBytes), "backup1_payload_bytes")
		b.ReportMetric(secondTime.Seconds(), "backup2_s")
		b.ReportMetric(float64(set2.NewBytes), "backup2_new_payload_bytes")
		b.ReportMetric(float64(itemRowBytes), "backup2_item_row_bytes")

		e.Stop()
		_ = sim.Close()
	}
}
